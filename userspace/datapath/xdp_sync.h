// LoadBalancer ingress IPs and externalIPs of Kubernetes Services -> the XDP
// load balancer's VIPs, Maglev tables and source ranges; diff and apply.
// Addresses and ports are in host byte order here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "consts.h"
#include "result.h"
#include "xdp_tables.h"

namespace sluice {

struct XdpBackendSpec {
  uint32_t addr = 0;
  uint16_t port = 0;
  uint32_t weight = 1;  // 0 takes it out of the table
  bool local = false;   // runs on this node
  bool operator==(const XdpBackendSpec&) const = default;
};

struct XdpSourceRange {
  uint32_t addr = 0;  // network, host order
  uint8_t len = 0;
  bool operator==(const XdpSourceRange&) const = default;
  auto operator<=>(const XdpSourceRange&) const = default;
};

struct XdpVipSpec {
  uint32_t addr = 0;
  uint16_t port = 0;
  uint8_t proto = 6;
  bool local_only = false;  // externalTrafficPolicy: Local
  std::vector<XdpSourceRange> source_ranges;  // empty: any source
  uint32_t maglev_size = SL_MAGLEV_DEFAULT_SIZE;
  std::vector<XdpBackendSpec> backends;  // sorted by (addr, port)
  std::string service;  // namespace/name, for dumps and logs
  bool operator==(const XdpVipSpec&) const = default;
};

using XdpVipKey = std::tuple<uint32_t, uint16_t, uint8_t>;
inline XdpVipKey xdp_vip_key(const XdpVipSpec& s) { return {s.addr, s.port, s.proto}; }
using XdpVipMap = std::map<XdpVipKey, XdpVipSpec>;

sl_xvip_key xdp_key(uint32_t addr, uint16_t port, uint8_t proto);

// The Maglev table of a VIP: local backends only under local_only; weight
// 0 backends never. Empty when no backend qualifies.
std::vector<sl_xbackend> xdp_maglev_table(const XdpVipSpec& vip);

struct XdpDiff {
  std::vector<XdpVipSpec> upserts;
  std::vector<XdpVipKey> removals;
  bool empty() const { return upserts.empty() && removals.empty(); }
};
XdpDiff diff_xdp(const XdpVipMap& before, const XdpVipMap& after);

// Owns the VIP id space, the last applied view, the prefilter's bit counts
// and the VIP generations (struct sl_xvip_gen: every change of a VIP ends
// with a new generation, so its tracked flows are admitted again).
// Constructed over tables that may already hold VIPs (pinned maps after a
// restart): those keep their ids, so their conntrack entries and counters
// stay meaningful, and are rewritten on the first apply; generations go on
// from the highest one found.
class XdpSync {
 public:
  XdpSync(XdpTables& tables, uint32_t max_vips);

  // Brings the tables to `next`, touching only what changed. Keeps going
  // past a failing VIP and reports the first error.
  Status apply(const XdpVipMap& next);

  const XdpVipMap& current() const { return current_; }
  std::optional<uint32_t> id_of(const XdpVipKey& key) const;

 private:
  Status upsert(const XdpVipSpec& spec);
  Status remove(const XdpVipKey& key);
  Status set_ranges(uint32_t id, const std::vector<XdpSourceRange>& want,
                    const std::vector<XdpSourceRange>& have);
  Status write_filter(const std::optional<XdpFilterWord>& word);

  XdpTables& tables_;
  uint32_t max_vips_;
  XdpVipMap current_;
  std::map<XdpVipKey, uint32_t> ids_;
  std::set<uint32_t> used_ids_;
  std::map<uint32_t, uint32_t> since_;  // VIP id -> sl_xvip_gen.since
  XdpVipFilter filter_;
  uint32_t revision_ = 0;  // the last generation handed out
};

}  // namespace sluice
