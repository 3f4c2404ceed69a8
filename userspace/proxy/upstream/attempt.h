// One attempt of a request at one endpoint (Envoy's upstream request): a
// pooled or new connection under the cluster's circuit breaker, the request
// out, the response headers in.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "retry_policy.h"
#include "streaming_body.h"
#include "upstream_conn.h"
#include "worker.h"

namespace sluice::proxy {

// Every socket the proxy dials from: no Nagle, and the proxy's mark (so
// connect4 lets it through), plus the no-redirect bit when the
// destination's service opted out of the sockhash fast path.
void open_upstream(const Worker& w, Socket& s, bool socket_redirect, boost::beast::error_code& ec);

// Opens `s` (open_upstream) and connects it to `ep` under the target's
// connectTimeout, which stays set on the stream for the caller to clear.
Task<void> connect_upstream(const Worker& w, TcpStream& s, const RouteTarget& target, const config::Endpoint& ep,
                            boost::beast::error_code& ec);

// The TLS handshake of a new connection that originates TLS, over its
// connected `tcp` (whose expiry, the connect timeout, bounds it): the stream
// every byte of the connection goes through from now on. `alpn`: the one
// protocol offered in ALPN ("h2" for an HTTP/2 upstream), which the server
// must select, or "" to offer none. A failure sets ec, says why in
// `failure_reason` (for the access log), and returns null.
Task<std::unique_ptr<UpstreamTlsStream>> originate_tls(TcpStream& tcp, const OriginationContext& tls,
                                                       std::string_view alpn, std::string& failure_reason,
                                                       boost::beast::error_code& ec);

// The attempt's result; on a response, `reply` holds its connection and
// parser. `deadline`: the per-try or route deadline, if any. `streamed`: the
// body bytes a streaming request sent.
Task<AttemptOutcome> attempt(Worker& w, const config::Endpoint& ep, Request& req, StreamingBody* streaming,
                             UpstreamReply& reply, const RouteDecision& d,
                             std::optional<RetryClock::time_point> deadline, uint64_t& streamed);

}  // namespace sluice::proxy
