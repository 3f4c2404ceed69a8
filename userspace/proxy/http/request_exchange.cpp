#include "request_exchange.h"

#include <boost/beast/http.hpp>

#include "beast_headers.h"
#include "gateway_route.h"
#include "grpc_local_reply.h"
#include "grpc_status.h"
#include "grpc_timeout.h"
#include "local_reply.h"
#include "request_id.h"
#include "retry_loop.h"

namespace sluice::proxy {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

RouteDecision route(Worker& w, const Request& req, const Downstream& ds, std::string_view scheme) {
  config::SnapshotPtr snap = w.snapshot();
  const BeastHeaders headers(req);
  RequestAttrs attrs;
  attrs.method = view(req.method_string());
  attrs.path = view(req.target());
  attrs.authority = view(req[http::field::host]);
  attrs.scheme = scheme;
  attrs.port = ds.dst ? ds.dst->port : 0;
  attrs.headers = &headers;
  return ds.gateway_port ? gateway_decision(w, snap, ds, req, attrs) : w.router.decide(snap, ds.dst, attrs, ds.peer_ip);
}

// The record's request fields, and an x-request-id for the request: both
// before routing, which may read the id (hash policies, matches).
telemetry::AccessLogEntry start_record(Worker& w, Request& req, const Downstream& ds) {
  telemetry::AccessLogEntry log;
  const bool logging = w.logging();
  if (logging) {
    log.method = std::string(view(req.method_string()));
    log.path = std::string(view(req.target()));
    log.downstream = ds.address;
    log.authority = std::string(view(req[http::field::host]));
  }
  log.request_bytes = req.body().size();
  if (req["x-request-id"].empty()) {
    std::array<char, 36> id;
    new_request_id(w.rng, id);
    req.set("x-request-id", beast::string_view(id.data(), id.size()));
  }
  if (logging) log.request_id = std::string(view(req["x-request-id"]));
  return log;
}

}  // namespace

Exchange::Exchange(Worker& w, Request& req, const Downstream& ds, std::string_view scheme,
                   std::chrono::steady_clock::time_point start, uint32_t remote_ip)
    : log(start_record(w, req, ds)),
      w_(w),
      req_(req),
      start_(start),
      decision_(route(w, req, ds, scheme)),
      ctx_{req, ds, decision_, w.rng, remote_ip, &log.trace},
      grpc_(is_grpc_content_type(view(req[http::field::content_type]))) {
  log.route = decision_.virtual_service;
  log.grpc = grpc_;
  if (grpc_) {
    decision_.timeout_ms = grpc_request_timeout_ms(decision_.timeout_ms, parse_grpc_timeout(view(req["grpc-timeout"])));
  }
}

Task<bool> Exchange::run_filters(const Hold& hold) {
  // A route that is already a local answer (no route, no upstream) skips
  // the filters but the ones that only observe it (tracing). Each filter
  // may hold the request, or answer it, which ends the chain.
  if (decision_.local_status) {
    for (const auto& filter : w_.filters.filters()) {
      if (filter->sees_router_replies()) (void)filter->on_request(ctx_);
    }
    co_return true;
  }
  for (const auto& filter : w_.filters.filters()) {
    FilterAction act = filter->on_request(ctx_);
    injected_.merge(act.flags);
    if (act.delay.count() > 0 && !co_await hold(act.delay)) {
      // Envoy drops a request whose client left while it was held: nothing
      // goes upstream, and the log says DC.
      log.flags = injected_;
      log.flags.set(telemetry::ResponseFlag::kDownstreamConnectionTermination);
      complete();
      co_return false;
    }
    if (act.local_status) {
      decision_.local_status = act.local_status;
      decision_.local_body = std::move(act.local_body);
      decision_.local_headers = std::move(act.local_headers);
      decision_.flags = injected_;
      break;
    }
  }
  co_return true;
}

Task<ForwardResult> Exchange::answer(StreamingBody* streaming, unsigned version, bool keep_alive) {
  ForwardResult result;
  if (decision_.local_status) {
    log.flags = decision_.flags;
    result.local = local_reply(decision_.local_status, version, keep_alive, decision_.local_body);
    for (const auto& [name, value] : decision_.local_headers) result.local->set(name, value);
  } else {
    result = co_await forward(w_, req_, streaming, decision_, log);
    // A body read for mirrors is read no further than the request needed.
    if (streaming) co_await streaming->release();
    log.flags.merge(injected_);
  }
  if (grpc_ && result.local) make_grpc_local_reply(*result.local);
  co_return std::move(result);
}

void Exchange::on_response(ResponseHeader& headers) {
  w_.filters.on_response(ctx_, headers);
  if (!grpc_) return;
  if (const auto st = parse_grpc_status(view(headers["grpc-status"]))) log.grpc_status = static_cast<int32_t>(*st);
}

void Exchange::on_trailers(const Fields& trailers) {
  if (!grpc_) return;
  if (const auto st = parse_grpc_status(view(trailers["grpc-status"]))) log.grpc_status = static_cast<int32_t>(*st);
}

void Exchange::complete() {
  // No grpc-status seen: Envoy's Grpc::Common::getGrpcStatus infers it from
  // the HTTP status, as for a local reply (a call cut before its end: 200
  // counts as UNKNOWN). No response at all: none.
  if (grpc_ && log.grpc_status < 0 && log.status != 0) log.grpc_status = static_cast<int32_t>(grpc_status_of_http(log.status));
  log.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  w_.filters.on_complete(ctx_, log);
}

}  // namespace sluice::proxy
