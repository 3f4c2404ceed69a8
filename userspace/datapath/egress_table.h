// The kernel's egress table (sl_egress, maps/sock_lb_types.h), kept equal to
// the config's egress policy (config/egress_policy.h). Under REGISTRY_ONLY it
// holds a default deny (0.0.0.0/0) and the ranges connects may reach: the
// cluster's, the node's, loopback and the ServiceEntries'. Under ALLOW_ANY it
// is empty, which connect4 reads as "allow".
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "egress_policy.h"
#include "map_handle.h"
#include "result.h"
#include "sock_lb_types.h"

namespace sluice {

// (prefix length, network in host order) -> SL_EGRESS_ALLOW or _DENY.
using EgressEntries = std::map<std::pair<uint8_t, uint32_t>, uint32_t>;

// The table for `policy`; `always_allowed`: the ranges of the cluster and
// the node, which no ServiceEntry lists.
EgressEntries egress_entries(const config::EgressPolicy& policy, const std::vector<config::Ipv4Range>& always_allowed);

class EgressTable {
 public:
  // Starts from what the map holds (an earlier run's entries), so the first
  // sync removes what is stale.
  explicit EgressTable(MapHandle<sl_egress_key, uint32_t> map);

  // Brings the map to `want` in an order that never blocks a connect that
  // both the old and the new table allow: new allows first, then the
  // default deny changes, stale allows last.
  Status sync(const EgressEntries& want);

  const EgressEntries& entries() const { return have_; }

 private:
  Status put(const std::pair<uint8_t, uint32_t>& range, uint32_t verdict);
  Status erase(const std::pair<uint8_t, uint32_t>& range);

  MapHandle<sl_egress_key, uint32_t> map_;
  EgressEntries have_;
};

}  // namespace sluice
