#include "connect_policy_table.h"

#include <arpa/inet.h>

#include <time.h>

#include <algorithm>
#include <set>
#include <vector>

namespace sluice {

namespace {

sl_pol_rule_key rule_key(uint32_t set, uint32_t src, uint16_t port) {
  sl_pol_rule_key k{};
  k.set = set;
  k.src = src;
  k.port = port;
  return k;
}

// Calls put for what `want` has and `have` lacks or holds otherwise.
template <class K, class V, class Put>
void put_changed(const std::map<K, V>& want, const std::map<K, V>& have, Put&& put) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) put(k, v);
  }
}

// Calls erase for what `have` holds and `want` lacks.
template <class K, class V, class Erase>
void erase_stale(const std::map<K, V>& want, std::map<K, V>& have, Erase&& erase) {
  std::vector<K> stale;
  for (const auto& [k, v] : have) {
    if (!want.contains(k)) stale.push_back(k);
  }
  for (const K& k : stale) erase(k);
}

}  // namespace

ConnectPolicyTable::ConnectPolicyTable(MapHandle<uint64_t, uint32_t> sources, MapHandle<uint32_t, uint32_t> dests,
                                       MapHandle<sl_pol_rule_key, uint32_t> rules,
                                       MapHandle<uint32_t, sl_conn_bucket> buckets,
                                       MapHandle<uint32_t, uint32_t> peers)
    : source_map_(std::move(sources)),
      dest_map_(std::move(dests)),
      rule_map_(std::move(rules)),
      bucket_map_(std::move(buckets)),
      peer_map_(std::move(peers)) {
  peer_map_.for_each([&](const uint32_t& addr, uint32_t id) { peers_[addr] = id; });
  bucket_map_.for_each([&](const uint32_t& id, const sl_conn_bucket& b) {
    buckets_[id] = {b.max_tokens, b.tokens_per_fill, b.interval_ns};
  });
  source_map_.for_each([&](const uint64_t& cookie, uint32_t id) { sources_[cookie] = id; });
  dest_map_.for_each([&](const uint32_t& addr, uint32_t set) { dests_[addr] = set; });
  rule_map_.for_each([&](const sl_pol_rule_key& k, uint32_t v) { rules_[{k.set, k.src, k.port}] = v; });
  // Ids an earlier run gave are not reused for other owners until its
  // entries are gone: new ones start past them.
  for (const auto& [cookie, id] : sources_) next_source_ = std::max(next_source_, id + 1);
  for (const auto& [key, v] : rules_) next_source_ = std::max(next_source_, std::get<1>(key) + 1);
  for (const auto& [key, v] : rules_) next_set_ = std::max(next_set_, std::get<0>(key) + 1);
}

uint32_t ConnectPolicyTable::set_id(const std::string& signature) {
  auto [it, fresh] = set_ids_.try_emplace(signature, next_set_);
  if (fresh) ++next_set_;
  return it->second;
}

uint32_t ConnectPolicyTable::source_id(uint64_t cookie) {
  if (cookie == 0) return SL_POL_SRC_UNKNOWN;
  auto [it, fresh] = source_ids_.try_emplace(cookie, next_source_);
  if (fresh) ++next_source_;
  return it->second;
}

Status ConnectPolicyTable::sync(const GuardedPods& guarded, const SetVerdicts& verdicts,
                                const ConnectionBuckets& buckets, const PeerSources& peers) {
  std::map<RuleKey, uint32_t> want_rules;
  std::map<uint64_t, uint32_t> want_sources;
  std::map<uint32_t, uint32_t> want_dests;
  std::map<uint32_t, ConnectionBucketShape> want_buckets;
  std::map<uint32_t, uint32_t> want_peers;
  std::set<uint64_t> live;  // every source key with an id this sync
  for (const auto& [cookie, shape] : buckets) {
    if (cookie == 0 || shape.fill_interval_ns == 0) continue;
    const uint32_t src = source_id(cookie);
    want_sources[cookie] = src;
    want_buckets[src] = shape;
    live.insert(cookie);
  }
  for (const auto& [signature, by_source] : verdicts) {
    const uint32_t set = set_id(signature);
    for (const auto& [cookie, by_port] : by_source) {
      const uint32_t src = source_id(cookie);
      if (cookie != 0) live.insert(cookie);
      if (cookie != 0 && !(cookie & kPeerKeyBit)) want_sources[cookie] = src;
      for (const auto& [port, allowed] : by_port) want_rules[{set, src, port}] = allowed ? SL_POL_ALLOW : SL_POL_DENY;
    }
  }
  for (const auto& [addr, key] : peers) {
    if (key == kTrustedPeerKey) {
      want_peers[htonl(addr)] = SL_POL_SRC_TRUSTED;
    } else if (live.contains(key)) {  // a peer some set has verdicts for
      want_peers[htonl(addr)] = source_id(key);
    }
  }
  for (const auto& [addr, signature] : guarded) want_dests[htonl(addr)] = set_id(signature);
  // Owners that are gone give their ids up.
  std::erase_if(set_ids_, [&](const auto& e) { return !verdicts.contains(e.first); });
  std::erase_if(source_ids_, [&](const auto& e) { return !live.contains(e.first); });

  Status first;
  auto keep = [&](Status s) {
    if (!s && first) first = s;
  };
  put_changed(want_rules, rules_, [&](const RuleKey& k, uint32_t v) {
    Status s = rule_map_.update(rule_key(std::get<0>(k), std::get<1>(k), std::get<2>(k)), v);
    if (s) rules_[k] = v;
    keep(s);
  });
  // A source's bucket before its id: its first connect then finds it.
  put_changed(want_buckets, buckets_, [&](const uint32_t& id, const ConnectionBucketShape& shape) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);  // bpf_ktime_get_ns's clock
    const uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
    sl_conn_bucket b{};
    b.tokens = shape.max_tokens;
    b.epoch = now / shape.fill_interval_ns;
    b.interval_ns = shape.fill_interval_ns;
    b.max_tokens = shape.max_tokens;
    b.tokens_per_fill = shape.tokens_per_fill;
    Status s = bucket_map_.update(id, b);
    if (s) buckets_[id] = shape;
    keep(s);
  });
  put_changed(want_sources, sources_, [&](const uint64_t& k, uint32_t v) {
    Status s = source_map_.update(k, v);
    if (s) sources_[k] = v;
    keep(s);
  });
  put_changed(want_peers, peers_, [&](const uint32_t& k, uint32_t v) {
    Status s = peer_map_.update(k, v);
    if (s) peers_[k] = v;
    keep(s);
  });
  put_changed(want_dests, dests_, [&](const uint32_t& k, uint32_t v) {
    Status s = dest_map_.update(k, v);
    if (s) dests_[k] = v;
    keep(s);
  });
  erase_stale(want_dests, dests_, [&](const uint32_t& k) {
    Status s = dest_map_.erase(k);
    if (s) dests_.erase(k);
    keep(s);
  });
  erase_stale(want_peers, peers_, [&](const uint32_t& k) {
    Status s = peer_map_.erase(k);
    if (s) peers_.erase(k);
    keep(s);
  });
  erase_stale(want_sources, sources_, [&](const uint64_t& k) {
    Status s = source_map_.erase(k);
    if (s) sources_.erase(k);
    keep(s);
  });
  erase_stale(want_buckets, buckets_, [&](const uint32_t& k) {
    Status s = bucket_map_.erase(k);
    if (s) buckets_.erase(k);
    keep(s);
  });
  erase_stale(want_rules, rules_, [&](const RuleKey& k) {
    Status s = rule_map_.erase(rule_key(std::get<0>(k), std::get<1>(k), std::get<2>(k)));
    if (s) rules_.erase(k);
    keep(s);
  });
  return first;
}

}  // namespace sluice
