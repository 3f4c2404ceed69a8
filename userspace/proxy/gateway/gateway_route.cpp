#include "gateway_route.h"

#include <boost/beast/http.hpp>

namespace sluice::proxy {

namespace http = boost::beast::http;

RouteDecision gateway_decision(Worker& w, const config::SnapshotPtr& snap, const Downstream& ds, const Request& req,
                               RequestAttrs& attrs) {
  RouteDecision d;
  d.snapshot = snap;
  const std::string host = config::host_without_port(std::string_view(req[http::field::host].data(),
                                                                      req[http::field::host].size()));
  const config::GatewayServer* server = nullptr;
  if (ds.tls_server) {
    if (config::gateway_server_matches(*ds.tls_server, host)) server = ds.tls_server;
  } else if (snap) {
    const auto& servers = *w.servers_for(snap);
    if (auto it = servers.find(ds.gateway_port); it != servers.end()) {
      server = config::find_gateway_server(it->second, host, config::ServerKind::kPlain);
    }
  }
  if (!server) return local_answer(std::move(d), 404, telemetry::ResponseFlag::kNoRouteFound, "no gateway server for host " + host + "\n");
  if (!ds.tls_server && server->https_redirect) {
    d.local_headers.emplace_back("location", "https://" + host + std::string(req.target()));
    return local_answer(std::move(d), 301, {}, "");
  }
  attrs.scheme = ds.tls_server ? "https" : "http";
  attrs.port = ds.gateway_port;
  d = w.router.decide_gateway(snap, server->gateway, host, attrs, ds.peer_ip);
  // hosts: ["ns/name"] lets only VirtualServices of that namespace serve it.
  if (d.route) {
    const std::string& vs = d.route->virtual_service;  // "namespace/name"
    if (!config::gateway_server_allows(*server, host, std::string_view(vs).substr(0, vs.find('/')))) {
      RouteDecision refused;
      refused.snapshot = snap;
      return local_answer(std::move(refused), 404, telemetry::ResponseFlag::kNoRouteFound, "no route: VirtualService " + vs + " may not bind to this gateway host\n");
    }
  }
  return d;
}

}  // namespace sluice::proxy
