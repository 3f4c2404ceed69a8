// The HTTP/2 frame path of the proxy: H2Connection (nghttp2 with sluice's
// callbacks and limits) fed the client preface and then the input, as one
// downstream connection. Each request that comes out whole is answered: a
// local reply for a rejected one, else headers and a body in two pieces, the
// way the session relays an upstream response. The socket-driven session
// around it runs in the loopback tests (test/proxy/).
#include <boost/beast/http/field.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "h2_connection.h"
#include "h2_preface.h"

namespace {

constexpr size_t kMaxInputBytes = 256 * 1024;
// How many bytes one receive() takes: the input also arrives split, as
// from a socket, so frames straddle reads.
constexpr size_t kReadBytes = 4096;

void answer(sluice::proxy::H2Connection& conn, sluice::proxy::H2Stream& s) {
  sluice::proxy::Fields headers;
  headers.set(boost::beast::http::field::content_type, "text/plain");
  headers.set(boost::beast::http::field::connection, "close");
  if (s.reject_status) {
    conn.respond(s, s.reject_status, headers, false);
    return;
  }
  conn.respond(s, 200, headers, true);
  conn.push_body(s, s.request.target().empty() ? std::string_view("x") : std::string_view(s.request.target().data(), s.request.target().size()), false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return -1;
  std::vector<std::shared_ptr<sluice::proxy::H2Stream>> ready, open;
  sluice::proxy::H2Connection conn([&](std::shared_ptr<sluice::proxy::H2Stream> s) { ready.push_back(std::move(s)); });
  std::string in(sluice::proxy::kH2ClientPreface);
  in.append(reinterpret_cast<const char*>(data), size);
  std::string out;
  for (size_t at = 0; at < in.size() && conn.want_read(); at += kReadBytes) {
    const bool ok = conn.receive(std::string_view(in).substr(at, kReadBytes));
    for (auto& s : ready) {
      answer(conn, *s);
      open.push_back(std::move(s));
    }
    ready.clear();
    out.clear();
    if (!conn.take_output(out, 1 << 20) || !ok) break;
    // The second piece of each body, once the first was taken.
    for (auto& s : open) {
      if (!s->closed && s->out_drained() && !s->out_last) conn.push_body(*s, "end\n", true);
    }
  }
  out.clear();
  conn.take_output(out, 1 << 20);
  return 0;
}
