// The HTTP/2 upstream path of the proxy: H2ClientSession (nghttp2's client
// with sluice's callbacks) with two requests submitted, fed the input as the
// server's bytes. What a hostile or broken upstream sends must end in
// streams closed or answered, never a crash; the relay's consume() runs as
// the data arrives. The socket-driven connection around it runs in the
// loopback tests (test/proxy/grpc_loopback_test.cpp).
#include <boost/beast/http/field.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "h2_client_session.h"

namespace {

constexpr size_t kMaxInputBytes = 256 * 1024;
constexpr size_t kReadBytes = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return -1;
  namespace http = boost::beast::http;
  sluice::proxy::Request get;
  get.method(http::verb::get);
  get.target("/");
  get.set(http::field::host, "upstream");
  sluice::proxy::Request post = get;
  post.method(http::verb::post);
  post.set(http::field::te, "trailers");
  post.body() = std::string(20000, 'b');  // more than one DATA frame
  sluice::proxy::H2ClientSession session;
  auto a = std::make_shared<sluice::proxy::H2UpstreamStream>();
  auto b = std::make_shared<sluice::proxy::H2UpstreamStream>();
  session.submit(get, "http", a);
  session.submit(post, "http", b);
  std::string out;
  session.take_output(out, 1 << 20);
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (size_t at = 0; at < in.size(); at += kReadBytes) {
    const bool ok = session.receive(in.substr(at, kReadBytes));
    for (auto* s : {a.get(), b.get()}) {
      session.consume(*s, s->body.size());
      s->body.clear();
    }
    out.clear();
    if (!session.take_output(out, 1 << 20) || !ok) break;
  }
  session.fail_all(0);
  return 0;
}
