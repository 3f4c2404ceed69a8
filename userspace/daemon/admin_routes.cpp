#include "admin_routes.h"

#include "admin_views.h"
#include "config_dump.h"
#include "http_query.h"
#include "json_writer.h"
#include "graph_page.h"
#include "h2_stats.h"
#include "mirror_stats.h"
#include "mesh_views.h"
#include "metrics_views.h"

#include <spdlog/spdlog.h>

namespace sluice::daemon {

namespace {

// The kernel's RTT samples by service: the connections it balanced, and
// the proxy's upstream connections (the same family, summed by service).
std::vector<telemetry::ServiceRtt> all_rtt(const MapHandle<sl_svc_key, sl_svc_rtt>& kernel, const EndpointRtt* proxy) {
  std::vector<telemetry::ServiceRtt> out = read_kernel_rtt(kernel);
  if (proxy) {
    for (telemetry::ServiceRtt& r : proxy->totals()) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::map<std::string, AdminHandler> admin_routes(const AdminSources& from) {
  const std::function<Readiness()> readiness = from.readiness;
  const ConfigSync& sync = from.sync;
  const DatapathMaps& maps = from.maps;
  const PerCpuArrayHandle<uint64_t> stats = from.stats;
  std::map<std::string, AdminHandler> routes = {
      {"/ready",
       [readiness, features = from.features](const std::string& target) {
         const Readiness r = readiness();
         const unsigned status = r.ready ? 200u : 503u;
         // ?details: readiness, what it waits for and the kernel's feature
         // table, as JSON.
         if (http_query::param(http_query::query_of(target), "details")) {
           JsonWriter w;
           w.begin_object().key("ready").value(r.ready);
           if (features) features->write_json_fields(w);
           w.key("waiting_for").begin_array();
           for (const std::string& what : r.waiting_for) w.value(what);
           w.end_array().end_object();
           return AdminResponse{status, "application/json", std::move(w).str()};
         }
         if (r.ready) return AdminResponse{200, "text/plain", "ready\n"};
         std::string body = "not ready, waiting for:\n";
         for (const std::string& what : r.waiting_for) body += "- " + what + "\n";
         return AdminResponse{503, "text/plain", std::move(body)};
       }},
      {"/config",
       [&sync](const std::string&) {
         const ConfigStatus st = sync.status();
         return AdminResponse{200, "application/json", config_status_json(st, st)};
       }},
      {"/maps", [&maps, stats](const std::string&) { return AdminResponse{200, "application/json", kernel_maps_json(maps, stats)}; }},
  };
  if (const SockRedir* redir = from.redirect) {
    routes["/redirect"] = [redir](const std::string&) {
      return AdminResponse{200, "application/json", socket_redirect_json(*redir)};
    };
  }
  if (const XdpDaemon* xdp = from.xdp) {
    routes["/xdp"] = [xdp](const std::string&) { return AdminResponse{200, "application/json", xdp_json(*xdp)}; };
  }
  if (const kube::KubeSource* kube = from.kube) {
    routes["/kubernetes"] = [kube](const std::string&) {
      return AdminResponse{200, "application/json", kube_status_json(kube->synced(), kube->status(), kube->node_pods())};
    };
  }
  // The config in force, as the proxy and the kernel use it.
  routes["/routes"] = [&sync](const std::string& target) {
    const config::SnapshotPtr snap = sync.current();
    if (!snap) return AdminResponse{503, "text/plain", "no config yet\n"};
    const auto host = http_query::param(http_query::query_of(target), "host");
    return AdminResponse{200, "application/json", routes_json(*snap, host.value_or(""))};
  };
  // Every Istio and sluice resource in force, with the reload's diagnostics;
  // ?kind=VirtualService narrows it.
  routes["/config_dump"] = [&sync](const std::string& target) {
    const config::SnapshotPtr snap = sync.current();
    if (!snap) return AdminResponse{503, "text/plain", "no config yet\n"};
    const auto kind = http_query::param(http_query::query_of(target), "kind");
    return AdminResponse{200, "application/json", config_dump_json(*snap, kind.value_or(""))};
  };
  routes["/endpoints"] = [&sync, &maps](const std::string& target) {
    const config::SnapshotPtr snap = sync.current();
    if (!snap) return AdminResponse{503, "text/plain", "no config yet\n"};
    const auto service = http_query::param(http_query::query_of(target), "service");
    return AdminResponse{200, "application/json", endpoints_json(*snap, maps, service.value_or(""))};
  };
  routes["/stats/services"] = [metrics = from.metrics](const std::string&) {
    return AdminResponse{200, "application/json",
                         service_totals_json(metrics ? metrics->totals_by_service() : std::vector<telemetry::ServiceTotals>{})};
  };
  // The service graph: the page, and the edges it polls.
  routes["/graph"] = [](const std::string&) {
    return AdminResponse{200, "text/html; charset=utf-8", std::string(graph_page_html())};
  };
  routes["/stats/graph"] = [&sync, metrics = from.metrics, edges = from.edges, rtt = from.rtt,
                            proxy_rtt = from.proxy_rtt](const std::string&) {
    const config::SnapshotPtr snap = sync.current();
    std::vector<telemetry::EdgeTotals> tcp;
    std::map<std::string, double> rtt_ms;
    if (snap) {
      tcp = telemetry::tcp_graph_edges(read_kernel_tcp_edges(edges), *snap);
      rtt_ms = telemetry::median_rtt_ms_by_service(all_rtt(rtt, proxy_rtt), *snap);
    }
    return AdminResponse{200, "application/json",
                         graph_json(metrics ? metrics->totals_by_edge() : std::vector<telemetry::EdgeTotals>{}, tcp, rtt_ms)};
  };
  // /logging shows the level; /logging?level=debug changes it at once.
  routes["/logging"] = [](const std::string& target) {
    if (const auto level = http_query::param(http_query::query_of(target), "level")) {
      const auto l = spdlog::level::from_str(std::string(*level));
      // from_str answers "off" for a name it does not know.
      if (l == spdlog::level::off && *level != "off") {
        return AdminResponse{400, "text/plain", "level: one of trace, debug, info, warn, error, critical, off\n"};
      }
      spdlog::set_level(l);
      spdlog::info("admin: log level set to {}", *level);
    }
    const auto name = spdlog::level::to_string_view(spdlog::get_level());
    return AdminResponse{200, "text/plain", "level: " + std::string(name.data(), name.size()) + "\n"};
  };
  // The proxy's clusters (circuit breakers, outlier detection) are created
  // by the daemon so the admin API can show them next to the kernel's counters.
  routes["/metrics"] = metrics_route(from);
  routes["/clusters"] = [clusters = from.clusters](const std::string&) {
    return AdminResponse{200, "application/json", clusters->to_json()};
  };
  return routes;
}

AdminHandler metrics_route(const AdminSources& from) {
  auto fills = from.map_fills ? std::make_shared<MapFillCache>(from.map_fills, std::chrono::seconds(10)) : nullptr;
  return [&sync = from.sync, stats = from.stats, edges = from.edges, rtt = from.rtt, proxy_rtt = from.proxy_rtt, fills,
          redirect = from.redirect, xdp = from.xdp, metrics = from.metrics, spans = from.spans, clusters = from.clusters,
          proxy_connections = from.proxy_connections](const AdminRequest& req) {
    const telemetry::ExpositionFormat format = telemetry::format_for_accept(req.accept);
    telemetry::ExpositionWriter w(format);
    if (metrics) metrics->write(w);
    write_kernel_metrics(w, stats);
    if (const config::SnapshotPtr snap = sync.current()) {
      write_kernel_tcp_metrics(w, edges, *snap);
      telemetry::write_tcp_rtt_metrics(w, all_rtt(rtt, proxy_rtt), *snap);
    }
    if (fills) write_map_fill_metrics(w, fills->get());
    if (redirect) write_socket_redirect_metrics(w, *redirect);
    if (xdp) write_xdp_metrics(w, *xdp);
    const ConfigStatus st = sync.status();
    write_config_metrics(w, st, st);
    if (proxy_connections) proxy::write_h2_metrics(w);
    if (proxy_connections) proxy::write_mirror_metrics(w);
    if (proxy_connections) {
      w.gauge("sluice_proxy_connections", "Open downstream connections of the L7 proxy (mesh and gateway).");
      w.sample("sluice_proxy_connections", "", "", uint64_t{proxy_connections()});
    }
    if (clusters) clusters->write_metrics(w);
    if (metrics) {
      w.counter("sluice_metrics_series_dropped", "Request series not recorded: a worker's series table was full.");
      w.counter_sample("sluice_metrics_series_dropped", "", metrics->dropped());
    }
    if (spans) spans->write_metrics(w);
    return AdminResponse{200, std::string(telemetry::content_type(format)), std::move(w).finish()};
  };
}

}  // namespace sluice::daemon
