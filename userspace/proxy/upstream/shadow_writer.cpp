#include "shadow_writer.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/http.hpp>

#include "attempt.h"
#include "mirror_policy.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// One copy to one mirror endpoint, on a connection of its own that closes
// after the response headers.
Task<void> shadow(Worker& w, Request copy, MirrorTarget target, config::SnapshotPtr keep) {
  const config::Endpoint& ep = *target.endpoint;
  TcpStream stream(w.ioc);
  beast::error_code ec;
  open_upstream(w, stream.socket(), target.socket_redirect, ec);
  copy.keep_alive(false);
  stream.expires_after(kMirrorTimeout);
  co_await stream.async_connect(tcp::endpoint(asio::ip::address_v4(ep.ip), ep.port),
                                redirect(ec));
  if (!ec) co_await http::async_write(stream, copy, redirect(ec));
  if (!ec) {
    // The response is discarded: wait for its headers, then hang up.
    beast::flat_buffer buf;
    http::response_parser<http::empty_body> discard;
    co_await http::async_read_header(stream, buf, discard, redirect(ec));
  }
  (void)keep;  // the endpoint lives in this snapshot
}

}  // namespace

void send_shadows(Worker& w, const Request& req, const RouteDecision& d) {
  for (const MirrorTarget& m : w.router.mirror_endpoints(d, d.original_port)) {
    Request copy = req;
    const std::string host(req[http::field::host]);
    const size_t colon = host.rfind(':');
    copy.set(http::field::host, colon == std::string::npos ? host + "-shadow"
                                                           : host.substr(0, colon) + "-shadow" + host.substr(colon));
    asio::co_spawn(w.ioc, shadow(w, std::move(copy), m, d.snapshot), asio::detached);
  }
}

}  // namespace sluice::proxy
