// append_http_head must produce exactly the bytes Beast's serializer writes
// for the same header: the proxy uses one for some messages and the other
// for the rest.
#include "http_head.h"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>

#include <sstream>

namespace sluice::proxy {
namespace {

namespace http = boost::beast::http;

template <bool isRequest>
std::string beast_head(const http::header<isRequest>& h) {
  std::ostringstream os;
  os << h;
  return os.str();
}

template <bool isRequest>
std::string our_head(const http::header<isRequest>& h) {
  std::string out = "prefix:";
  append_http_head(out, h);
  return out.substr(7);
}

TEST(HttpHead, RequestMatchesBeast) {
  http::request<http::string_body> req{http::verb::post, "/api/v1/products?x=1", 11};
  req.set(http::field::host, "reviews.default.svc.cluster.local:9080");
  req.set("x-request-id", "5d0c3a9e-1b2f-4c1e-9a7b-0123456789ab");
  req.insert("x-multi", "one");
  req.insert("x-multi", "two");
  req.body() = "hello";
  req.prepare_payload();
  EXPECT_EQ(our_head(req.base()), beast_head(req.base()));
  EXPECT_EQ(our_head(req.base()).substr(0, 38), "POST /api/v1/products?x=1 HTTP/1.1\r\nHo");
}

TEST(HttpHead, UnknownMethodAndHttp10) {
  http::request<http::empty_body> req;
  req.method_string("PURGE");
  req.target("/cache");
  req.version(10);
  EXPECT_EQ(our_head(req.base()), beast_head(req.base()));
  EXPECT_EQ(our_head(req.base()), "PURGE /cache HTTP/1.0\r\n\r\n");
}

TEST(HttpHead, ResponseKeepsAStoredReason) {
  http::response<http::empty_body> res{http::status::ok, 11};
  res.reason("Fine Thanks");
  res.set(http::field::content_length, "1024");
  res.set(http::field::server, "nginx");
  EXPECT_EQ(our_head(res.base()), beast_head(res.base()));
  EXPECT_EQ(our_head(res.base()).substr(0, 29), "HTTP/1.1 200 Fine Thanks\r\nCon");
}

TEST(HttpHead, ResponseWithoutReasonGetsTheStandardOne) {
  for (unsigned code : {100u, 204u, 301u, 404u, 431u, 503u, 599u}) {
    http::response<http::empty_body> res;
    res.result(code);
    res.version(11);
    res.set(http::field::content_length, "0");
    EXPECT_EQ(our_head(res.base()), beast_head(res.base())) << code;
  }
}

TEST(HttpHead, ParsedResponseRoundTrips) {
  const std::string wire =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\nX-Echo-Pod: p2\r\nset-cookie: a=1\r\n"
      "Set-Cookie: b=2\r\n\r\n";
  http::response_parser<http::empty_body> p;
  p.skip(true);
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(wire), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(our_head(p.get().base()), wire);
}

}  // namespace
}  // namespace sluice::proxy
