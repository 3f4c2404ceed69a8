#include "metrics_views.h"

#include <arpa/inet.h>

#include "tcp_metrics.h"

#include "json_writer.h"
#include "reason_names.h"

namespace sluice {

using telemetry::ExpositionWriter;

void write_kernel_metrics(ExpositionWriter& w, const PerCpuArrayHandle<uint64_t>& stats) {
  w.counter("sluice_kernel_decisions",
            "Verdicts of the socket load balancer's programs (connect4/6, sendmsg4, recvmsg4/6, getpeername4/6, sockops), "
            "by reason, summed over CPUs.");
  for (unsigned r = 0; r < SL_R__COUNT; ++r) {
    w.counter_sample("sluice_kernel_decisions", ExpositionWriter::label_text({{"reason", sl_reason_name(r)}}),
                     stats.sum(r));
  }
}

std::vector<telemetry::ServiceRtt> read_kernel_rtt(const MapHandle<sl_svc_key, sl_svc_rtt>& rtt) {
  std::vector<telemetry::ServiceRtt> out;
  rtt.for_each([&](const sl_svc_key& k, const sl_svc_rtt& v) {
    if (k.proto == SL_RTT_PROTO_ENDPOINT) return;  // the proxy's, drained by EndpointRtt
    telemetry::ServiceRtt r{.vip = ntohl(k.vip), .port = ntohs(k.port), .rtt_us_sum = v.rtt_us_sum,
                            .retransmits = v.retransmits, .retransmitting = v.retransmitting};
    static_assert(std::tuple_size_v<decltype(r.buckets)> == SL_RTT_BUCKETS);
    for (size_t i = 0; i < r.buckets.size(); ++i) r.buckets[i] = v.buckets[i];
    out.push_back(r);
  });
  return out;
}

std::vector<telemetry::TcpEdge> read_kernel_tcp_edges(const MapHandle<sl_edge_key, sl_edge_counters>& edges) {
  std::vector<telemetry::TcpEdge> out;
  edges.for_each([&](const sl_edge_key& k, const sl_edge_counters& c) {
    out.push_back({.src_ip = ntohl(k.src_ip), .dst_ip = ntohl(k.dst_ip), .vip = ntohl(k.svc.vip),
                   .port = ntohs(k.svc.port), .opened = c.opened, .closed = c.closed,
                   .bytes_to_backend = c.bytes_to_backend, .bytes_from_backend = c.bytes_from_backend});
  });
  return out;
}

void write_kernel_tcp_metrics(telemetry::ExpositionWriter& w,
                              const MapHandle<sl_edge_key, sl_edge_counters>& edges,
                              const config::MeshSnapshot& snap) {
  telemetry::write_tcp_metrics(w, read_kernel_tcp_edges(edges), snap);
}

std::string service_totals_json(const std::vector<telemetry::ServiceTotals>& totals) {
  JsonWriter w;
  w.begin_object().key("bounds_ms").begin_array();
  for (double b : telemetry::kEnvoyDefaultBuckets) w.value(b);
  w.end_array().key("services").begin_array();
  for (const auto& t : totals) {
    w.begin_object().key("service").value(t.service).key("requests").value(t.requests).key("errors").value(t.errors);
    w.key("duration_ms").begin_array();
    for (uint64_t c : t.duration_ms) w.value(c);
    w.end_array().end_object();
  }
  w.end_array().end_object();
  return std::move(w).str();
}

void write_socket_redirect_metrics(ExpositionWriter& w, const SockRedir& redir) {
  if (auto stats = redir.stats()) {
    w.counter("sluice_socket_redirect", "Socket redirection (sockops and sk_msg) counters, summed over CPUs.");
    for (unsigned i = 0; i < SL_RS__COUNT; ++i) {
      w.counter_sample("sluice_socket_redirect", ExpositionWriter::label_text({{"counter", sl_redir_stat_name(i)}}),
                       (*stats)[i]);
    }
  }
  if (auto fill = redir.sockhash_fill()) {
    w.gauge("sluice_sockhash_entries", "Sockets in the redirection sockhash.");
    w.sample("sluice_sockhash_entries", "", "", uint64_t{*fill});
    w.gauge("sluice_sockhash_capacity", "The redirection sockhash's capacity.");
    w.sample("sluice_sockhash_capacity", "", "", uint64_t{redir.sockhash_capacity()});
  }
}

void write_map_fill_metrics(ExpositionWriter& w, const std::vector<MapFill>& fills) {
  w.gauge("sluice_bpf_map_entries", "Entries in each of the kernel's tables that can fill up (walked at most every 10 s).");
  for (const MapFill& f : fills) {
    w.sample("sluice_bpf_map_entries", "", ExpositionWriter::label_text({{"map", f.name}}), uint64_t{f.entries});
  }
  w.gauge("sluice_bpf_map_capacity", "The capacity (max_entries) of each of those tables.");
  for (const MapFill& f : fills) {
    w.sample("sluice_bpf_map_capacity", "", ExpositionWriter::label_text({{"map", f.name}}), uint64_t{f.capacity});
  }
}

std::vector<MapFill> MapFillCache::get() {
  const std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!walked_ || now - at_ >= max_age_) {
    last_ = walk_();
    at_ = now;
    walked_ = true;
  }
  return last_;
}

void write_xdp_metrics(ExpositionWriter& w, const XdpDaemon& xdp) {
  w.counter("sluice_xdp_decisions", "Verdicts of the XDP load balancer and TC reverse NAT, by reason, summed over CPUs.");
  for (unsigned r = 0; r < SL_XR__COUNT; ++r) {
    w.counter_sample("sluice_xdp_decisions", ExpositionWriter::label_text({{"reason", sl_xreason_name(r)}}),
                     xdp.maps().stats.sum(r));
  }
}

void write_config_metrics(ExpositionWriter& w, const config::ReloadStatus& reload, const L4SyncStatus& kernel) {
  w.gauge("sluice_config_version", "Version of the config snapshot in force (0 before the first good one).");
  w.sample("sluice_config_version", "", "", reload.version);
  w.counter("sluice_config_reloads", "Config reload attempts.");
  w.counter_sample("sluice_config_reloads", "", reload.reloads);
  w.counter("sluice_config_reloads_rejected", "Config reloads that rejected at least one resource.");
  w.counter_sample("sluice_config_reloads_rejected", "", reload.rejected);
  w.gauge("sluice_config_rejected_resources", "Resources rejected by the snapshot in force (their last good version, "
                                              "if any, stays in force).");
  w.sample("sluice_config_rejected_resources", "", "", uint64_t{reload.last_errors.size()});
  w.gauge("sluice_config_rejected_resources_by_kind",
          "Resources rejected by the snapshot in force, by kind (\"file\": a file that did not parse).");
  for (const auto& [kind, n] : reload.rejected_by_kind) {
    w.sample("sluice_config_rejected_resources_by_kind", "", ExpositionWriter::label_text({{"kind", kind}}), uint64_t{n});
  }
  w.gauge("sluice_config_last_reload_success",
          "1 when the snapshot in force was built with no resource rejected and the kernel tables were written "
          "without failure, else 0.");
  const bool ok = reload.version > 0 && reload.last_errors.empty() && kernel.last_sync.failures == 0;
  w.sample("sluice_config_last_reload_success", "", "", uint64_t{ok ? 1u : 0u});
  w.gauge("sluice_config_last_reload_duration_seconds", "Duration of the last reload, up to the kernel write.");
  w.sample("sluice_config_last_reload_duration_seconds", "", "", reload.last_reload_ms / 1000.0);
  w.counter("sluice_kernel_sync_failures", "Kernel table writes that failed.");
  w.counter_sample("sluice_kernel_sync_failures", "", kernel.sync_failures);
  w.gauge("sluice_l4_services", "Services in the kernel's L4 tables.");
  w.sample("sluice_l4_services", "", "", uint64_t{kernel.l4_services});
}

}  // namespace sluice
