#include "tcp_proxy.h"

#include <boost/asio/write.hpp>

#include "attempt.h"
#include "client_hello_reader.h"
#include "endpoint_picker.h"
#include "ip_text.h"
#include "relay.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;

// Opaque TCP that a VirtualService's tcp or tls routes took: one upstream
// connection per client connection, under the cluster's maxConnections and
// connectTimeout, then bytes both ways until a side ends or the connection
// is idle for tcp.idleTimeout (Istio's default: 1 h). A connection that cannot be served
// is closed: TCP has no error response (Envoy resets it too). Where tls
// routes take the port, the ClientHello is read first and routed by its
// server name; TLS is not terminated, and the hello goes on untouched.
Task<void> tcp_proxy(Worker& w, Socket client, const Downstream& ds, config::SnapshotPtr snap) {
  const auto start = std::chrono::steady_clock::now();
  telemetry::AccessLogEntry log;
  log.downstream = ds.address;
  log.authority = format_endpoint(ds.dst->vip, ds.dst->port);
  std::string first;  // bytes read from the client before the decision
  std::optional<std::string> sni;
  if (w.router.wants_client_hello(snap, *ds.dst)) sni = co_await read_client_hello(w, client, first);
  if (sni) log.server_name = *sni;
  RouteDecision d = w.router.decide_tcp(std::move(snap), *ds.dst, ds.peer_ip, sni ? &*sni : nullptr);
  co_await relay_to_endpoint(w, client, first, d, log, start);
}

// The rest of an L4 connection once it is decided: a slot under
// maxConnections, a connect under connectTimeout, the bytes read so far,
// then both directions until a side ends or tcp.idleTimeout passes; one
// access-log line.
Task<void> relay_to_endpoint(Worker& w, Socket& client, const std::string& first, RouteDecision& d,
                             telemetry::AccessLogEntry& log, std::chrono::steady_clock::time_point start) {
  log.route = d.virtual_service;
  beast::error_code ec;
  auto up_bytes = std::make_shared<std::atomic<uint64_t>>(0);
  auto down_bytes = std::make_shared<std::atomic<uint64_t>>(0);
  if (!d.endpoint) {
    if (log.flags.empty()) log.flags = telemetry::ResponseFlag::kNoHealthyUpstream;
  } else if (std::optional<CircuitBreaker::Guard> slot = d.cluster().breaker.try_connection(); !slot) {
    log.flags = telemetry::ResponseFlag::kUpstreamOverflow;
  } else {
    const config::Endpoint& ep = *d.endpoint;
    const uint64_t id = EndpointPicker::endpoint_id(&ep);
    log.upstream = format_endpoint(ep.ip, ep.port);
    log.attempts = 1;
    TcpStream up(w.ioc);
    co_await connect_upstream(w, up, *d.target, ep, ec);
    up.expires_never();
    // For outlier detection a refused or timed-out connect is a local-origin
    // failure and an accepted one a success.
    d.cluster().outlier.report(id, ec ? OutlierDetector::kLocalOriginFailure : 200, OutlierDetector::Clock::now());
    if (!ec && !first.empty()) {
      co_await asio::async_write(up.socket(), asio::buffer(first), redirect(ec));
      *up_bytes += first.size();
    }
    if (ec) {
      log.flags = telemetry::ResponseFlag::kUpstreamConnectionFailure;
    } else {
      w.router.picker().started(&ep);
      co_await relay_both(w.ioc, client, up.socket(), up_bytes, down_bytes,
                          std::chrono::milliseconds(d.cluster().policy.connection_pool.tcp_idle_timeout_ms));
      w.router.picker().finished(&ep);
    }
  }
  log.request_bytes = *up_bytes;
  log.response_bytes = *down_bytes;
  log.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (w.logging()) w.options.access_log(telemetry::format_access_log(log));
}

}  // namespace sluice::proxy
