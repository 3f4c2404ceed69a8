// The /metrics families of sluice's own parts (sluice_*), next to Istio's
// request metrics (telemetry/request_metrics.h): the kernel's verdict
// counters by their names from the one table (maps/reason_names.h), the
// socket redirection and XDP counters when they run, and the config's
// reload state. docs/observability.md lists them.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "config_reloader.h"
#include "exposition.h"
#include "l4_table_sync.h"
#include "map_fill.h"
#include "map_handle.h"
#include "mesh_snapshot.h"
#include "request_metrics.h"
#include "tcp_metrics.h"
#include "sock_lb_types.h"
#include "sock_redir_loader.h"
#include "xdp_daemon.h"

namespace sluice {

// sluice_kernel_decisions_total{reason}: the socket programs' sl_stats.
void write_kernel_metrics(telemetry::ExpositionWriter& w, const PerCpuArrayHandle<uint64_t>& stats);
// The kernel's RTT and retransmits per destination service (sl_svc_rtt),
// of the connections it balanced (the proxy's are EndpointRtt's).
std::vector<telemetry::ServiceRtt> read_kernel_rtt(const MapHandle<sl_svc_key, sl_svc_rtt>& rtt);
// The kernel's per-edge TCP counters (sl_edge_cnt), summed over CPUs.
std::vector<telemetry::TcpEdge> read_kernel_tcp_edges(const MapHandle<sl_edge_key, sl_edge_counters>& edges);
// istio_tcp_*: the kernel's per-edge counters (sl_edge_cnt) summed over CPUs,
// labelled from `snap` (telemetry/tcp_metrics.h).
void write_kernel_tcp_metrics(telemetry::ExpositionWriter& w,
                              const MapHandle<sl_edge_key, sl_edge_counters>& edges,
                              const config::MeshSnapshot& snap);
// /stats/services: each destination service's request and error counts and
// its duration histogram so far (`sluicectl top` takes two and diffs them).
std::string service_totals_json(const std::vector<telemetry::ServiceTotals>& totals);
// sluice_socket_redirect_total{counter}, sluice_sockhash_entries.
void write_socket_redirect_metrics(telemetry::ExpositionWriter& w, const SockRedir& redir);
// sluice_bpf_map_entries{map} and sluice_bpf_map_capacity{map}.
void write_map_fill_metrics(telemetry::ExpositionWriter& w, const std::vector<MapFill>& fills);

// The maps' fill levels, walked again only when the last walk is older than
// max_age: a walk costs a syscall per entry (a full 64k-entry LRU, tens of
// milliseconds), which every scrape should not pay. Thread-safe.
class MapFillCache {
 public:
  MapFillCache(std::function<std::vector<MapFill>()> walk, std::chrono::steady_clock::duration max_age)
      : walk_(std::move(walk)), max_age_(max_age) {}
  std::vector<MapFill> get();

 private:
  std::function<std::vector<MapFill>()> walk_;
  std::chrono::steady_clock::duration max_age_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point at_{};
  bool walked_ = false;
  std::vector<MapFill> last_;
};

// sluice_xdp_decisions_total{reason}.
void write_xdp_metrics(telemetry::ExpositionWriter& w, const XdpDaemon& xdp);
// sluice_config_*: version, reloads, rejections, last reload's success and
// duration, kernel sync failures.
void write_config_metrics(telemetry::ExpositionWriter& w, const config::ReloadStatus& reload,
                          const L4SyncStatus& kernel);

}  // namespace sluice
