// The RTT of the node proxy's own upstream connections, by service. Its
// sockets carry no connect-time service state, so sockops files their RTT
// at close under the endpoint they reached (sl_svc_rtt, key proto
// SL_RTT_PROTO_ENDPOINT). Pods come and go, so those entries are drained:
// each is read and deleted, and its samples are added to the totals of the
// services (with a VIP) whose ports have that endpoint in the snapshot. The
// totals only grow, as a counter must; the kernel map keeps only what
// closed since the last drain. Samples of an endpoint that backs no
// service (a pod deleted since) are dropped.
#pragma once

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "map_handle.h"
#include "mesh_snapshot.h"
#include "sock_lb_types.h"
#include "tcp_metrics.h"

namespace sluice {

class EndpointRtt {
 public:
  explicit EndpointRtt(MapHandle<sl_svc_key, sl_svc_rtt> map) : map_(map) {}

  // From the daemon's loop, every few seconds.
  void drain(const config::MeshSnapshot& snap);
  // The totals so far, keyed as the kernel's service entries are (VIP and
  // port, host order). From the scrape's thread.
  std::vector<telemetry::ServiceRtt> totals() const;

 private:
  MapHandle<sl_svc_key, sl_svc_rtt> map_;
  mutable std::mutex mu_;
  std::map<std::pair<uint32_t, uint16_t>, telemetry::ServiceRtt> totals_;
};

}  // namespace sluice
