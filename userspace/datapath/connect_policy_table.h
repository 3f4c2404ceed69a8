// The kernel's L4 authorization tables (sl_pol_src, sl_pol_dst, sl_pol_rule;
// maps/sock_lb_types.h), kept equal to what policy/connect_policy.h compiled.
// Ids are given here and stay with their owner across syncs (a set keeps its
// id while its signature lives, a source while its namespace does), so a
// policy change rewrites only the verdicts that changed.
//
// The write order keeps every connect judged by a complete set: verdicts
// first, then the sources' ids (by namespace, and the peers' by address),
// then the destinations; removals in reverse.
// A source whose id is not written yet is judged as one with no identity
// (bpf/include/l4_policy.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "map_handle.h"
#include "result.h"
#include "sock_lb_types.h"

namespace sluice {

// The compiled policy, by meaning (policy/connect_policy.h): a pod address
// (host order) -> its set's signature; signature -> source namespace cookie
// (0: no identity) -> port (0: any other) -> allowed.
using GuardedPods = std::map<uint32_t, std::string>;
using SetVerdicts = std::map<std::string, std::map<uint64_t, std::map<uint16_t, bool>>>;
// Source cookie -> the shape of its connection bucket (sl_conn_rate): max
// tokens, tokens per fill, fill interval in ns.
struct ConnectionBucketShape {
  uint32_t max_tokens = 0;
  uint32_t tokens_per_fill = 1;
  uint64_t fill_interval_ns = 0;
  bool operator==(const ConnectionBucketShape&) const = default;
};
using ConnectionBuckets = std::map<uint64_t, ConnectionBucketShape>;
// The destination side's peers (sl_pol_peer): address (host order) -> the
// source key of `verdicts` it is judged as, or kTrustedPeerKey. Keys with
// the top bit set are peers' (identity classes), never namespace cookies.
using PeerSources = std::map<uint32_t, uint64_t>;
inline constexpr uint64_t kTrustedPeerKey = ~0ULL;
inline constexpr uint64_t kPeerKeyBit = 1ULL << 63;

class ConnectPolicyTable {
 public:
  // Starts from what the maps hold (an earlier run's entries); the first
  // sync rewrites or removes them.
  ConnectPolicyTable(MapHandle<uint64_t, uint32_t> sources, MapHandle<uint32_t, uint32_t> dests,
                     MapHandle<sl_pol_rule_key, uint32_t> rules, MapHandle<uint32_t, sl_conn_bucket> buckets,
                     MapHandle<uint32_t, uint32_t> peers);

  // The first failure; what could not be written stays as it was, and the
  // next sync retries it.
  // A bucket is written full when its source gets one or its shape changes;
  // otherwise the kernel's count is left alone.
  Status sync(const GuardedPods& guarded, const SetVerdicts& verdicts, const ConnectionBuckets& buckets = {},
              const PeerSources& peers = {});

  size_t rules() const { return rules_.size(); }
  size_t sources() const { return sources_.size(); }
  size_t guarded() const { return dests_.size(); }
  size_t buckets() const { return buckets_.size(); }
  size_t peers() const { return peers_.size(); }

 private:
  using RuleKey = std::tuple<uint32_t, uint32_t, uint16_t>;  // set, source, port

  uint32_t set_id(const std::string& signature);
  uint32_t source_id(uint64_t cookie);

  MapHandle<uint64_t, uint32_t> source_map_;
  MapHandle<uint32_t, uint32_t> dest_map_;
  MapHandle<sl_pol_rule_key, uint32_t> rule_map_;
  MapHandle<uint32_t, sl_conn_bucket> bucket_map_;
  MapHandle<uint32_t, uint32_t> peer_map_;
  // What the kernel holds.
  std::map<uint64_t, uint32_t> sources_;  // cookie -> id
  std::map<uint32_t, uint32_t> dests_;    // address (network order) -> set id
  std::map<RuleKey, uint32_t> rules_;     // -> SL_POL_ALLOW / _DENY
  std::map<uint32_t, ConnectionBucketShape> buckets_;  // source id -> shape
  std::map<uint32_t, uint32_t> peers_;                 // address (network order) -> source id or TRUSTED
  // Ids in use, by owner.
  std::map<std::string, uint32_t> set_ids_;
  std::map<uint64_t, uint32_t> source_ids_;
  uint32_t next_set_ = 1;
  uint32_t next_source_ = 1;
};

}  // namespace sluice
