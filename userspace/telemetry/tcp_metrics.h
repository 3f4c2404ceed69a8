// Istio's TCP metrics (istio_tcp_connections_opened_total, _closed_total,
// istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total) for the
// connections the kernel balances without the proxy: sockops counts them per
// edge (client address, backend address, service; maps/sock_lb_types.h), and
// at scrape time each edge gets Istio's labels from the snapshot's pods and
// services. Edges with the same labels (two pods of one Deployment) add up.
#pragma once

#include <cstdint>
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

// The same edges for the service graph, named as request edges are
// (request_metrics.h): `requests` counts connections opened.
std::vector<EdgeTotals> tcp_graph_edges(const std::vector<TcpEdge>& edges, const config::MeshSnapshot& snap);

}  // namespace sluice::telemetry
