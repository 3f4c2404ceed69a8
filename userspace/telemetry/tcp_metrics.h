// Istio's TCP metrics (istio_tcp_connections_opened_total, _closed_total,
// istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total) for the
// connections the kernel balances without the proxy: sockops counts them per
// edge (client address, backend address, service; maps/sock_lb_types.h), and
// at scrape time each edge gets Istio's labels from the snapshot's pods and
// services. Edges with the same labels (two pods of one Deployment) add up.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "exposition.h"
#include "mesh_snapshot.h"
#include "request_metrics.h"

namespace sluice::telemetry {

struct TcpEdge {
  uint32_t src_ip = 0;  // host order
  uint32_t dst_ip = 0;
  uint32_t vip = 0;
  uint16_t port = 0;
  uint64_t opened = 0;
  uint64_t closed = 0;
  uint64_t bytes_to_backend = 0;    // the client's request direction
  uint64_t bytes_from_backend = 0;  // the response direction
};

void write_tcp_metrics(ExpositionWriter& w, const std::vector<TcpEdge>& edges, const config::MeshSnapshot& snap);

// The RTT histogram's bounds in microseconds: bpf/include/tcp_rtt.h's
// TCP_RTT_BOUNDS_US, which sockops buckets by (a unit test holds the two
// equal). Printed in seconds: sluice's own families follow Prometheus' base
// units (Istio's request durations keep Istio's milliseconds).
inline constexpr std::array<uint32_t, 15> kTcpRttBoundsUs = {25,    50,    100,    200,    500,    1000,   2000,   5000,
                                                             10000, 20000, 50000, 100000, 200000, 500000, 1000000};
inline constexpr std::array<double, kTcpRttBoundsUs.size()> kTcpRttBoundsSeconds = [] {
  std::array<double, kTcpRttBoundsUs.size()> s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = kTcpRttBoundsUs[i] / 1e6;
  return s;
}();

// The kernel's network view of one destination service (sl_svc_rtt): its
// closed connections' smoothed RTTs and retransmitted segments.
struct ServiceRtt {
  uint32_t vip = 0;  // host order
  uint16_t port = 0;
  std::array<uint64_t, kTcpRttBoundsUs.size() + 1> buckets{};  // per bucket, not cumulative
  uint64_t rtt_us_sum = 0;
  uint64_t retransmits = 0;     // segments
  uint64_t retransmitting = 0;  // connections with at least one
};

// sluice_tcp_rtt_seconds (histogram), sluice_tcp_retransmitted_segments_total
// and sluice_tcp_retransmitting_connections_total, by destination service.
void write_tcp_rtt_metrics(ExpositionWriter& w, const std::vector<ServiceRtt>& services, const config::MeshSnapshot& snap);

// The median RTT in milliseconds by destination_service, for the graph's
// edges; services with no sample are left out.
std::map<std::string, double> median_rtt_ms_by_service(const std::vector<ServiceRtt>& services,
                                                       const config::MeshSnapshot& snap);

// The same edges for the service graph, named as request edges are
// (request_metrics.h): `requests` counts connections opened.
std::vector<EdgeTotals> tcp_graph_edges(const std::vector<TcpEdge>& edges, const config::MeshSnapshot& snap);

}  // namespace sluice::telemetry
