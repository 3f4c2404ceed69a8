// The HTTP/2 upstream client (H2ClientSession) against sluice's own server
// side (H2Connection), in memory: requests out with their bodies, response
// heads, DATA, trailers, refused streams and GOAWAY as the client sees them,
// and the window it holds shut until the relay consumes. No sockets.
#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "h2_client_session.h"
#include "h2_connection.h"
#include "h2_fields.h"
#include "h2_upstream_limits.h"

namespace sluice::proxy {
namespace {

namespace http = boost::beast::http;

class H2ClientSessionTest : public ::testing::Test {
 protected:
  H2ClientSessionTest() : server_([this](std::shared_ptr<H2Stream> s) { requests_.push_back(std::move(s)); }) {}

  void exchange() {
    for (int round = 0; round < 1000; ++round) {
      std::string to_server;
      ASSERT_TRUE(client_.take_output(to_server, 1 << 20));
      if (!to_server.empty()) {
        ASSERT_TRUE(server_.receive(to_server));
      }
      std::string to_client;
      server_.take_output(to_client, 1 << 20);
      if (!to_client.empty()) {
        ASSERT_TRUE(client_.receive(to_client));
      }
      if (to_server.empty() && to_client.empty()) break;
    }
  }

  std::shared_ptr<H2UpstreamStream> post(const std::string& path, const std::string& body) {
    Request req;
    req.method(http::verb::post);
    req.target(path);
    req.set(http::field::host, "grpc-echo:50051");
    req.set(http::field::content_type, "application/grpc");
    req.set(http::field::te, "trailers");
    req.set(http::field::connection, "keep-alive");  // connection-specific: never sent on h2
    req.body() = body;
    keep_.push_back(std::move(req));
    auto st = std::make_shared<H2UpstreamStream>();
    EXPECT_TRUE(client_.submit(keep_.back(), "http", st));
    return st;
  }

  H2ClientSession client_;
  std::vector<std::shared_ptr<H2Stream>> requests_;
  std::deque<Request> keep_;  // stable: streams point into the bodies
  H2Connection server_;
};

TEST_F(H2ClientSessionTest, ARequestGoesOutWithPseudoHeadersAndItsBody) {
  auto st = post("/sluice.testing.Echo/Unary", std::string("\0\0\0\0\0", 5));
  exchange();
  ASSERT_EQ(requests_.size(), 1u);
  const Request& got = requests_[0]->request;
  EXPECT_EQ(got.method(), http::verb::post);
  EXPECT_EQ(got.target(), "/sluice.testing.Echo/Unary");
  EXPECT_EQ(got[http::field::host], "grpc-echo:50051");
  EXPECT_EQ(got[http::field::te], "trailers");
  EXPECT_TRUE(got[http::field::connection].empty());
  // A gRPC call: the server side hands it on at its HEADERS, the body piped.
  ASSERT_TRUE(requests_[0]->body_pipe);
  EXPECT_EQ(requests_[0]->body_pipe->received(), 5u);
  EXPECT_TRUE(requests_[0]->body_pipe->ended());
  EXPECT_FALSE(st->head_done);
}

TEST_F(H2ClientSessionTest, HeadDataAndTrailersArriveInOrder) {
  auto st = post("/s/M", "x");
  exchange();
  ASSERT_EQ(requests_.size(), 1u);
  H2Stream& down = *requests_[0];
  Fields head;
  head.set(http::field::content_type, "application/grpc");
  server_.respond(down, 200, head, true);
  server_.push_body(down, "message-1", false);
  exchange();
  EXPECT_TRUE(st->head_done);
  EXPECT_EQ(st->head.result_int(), 200u);
  EXPECT_EQ(st->head[http::field::content_type], "application/grpc");
  EXPECT_EQ(st->body, "message-1");
  EXPECT_FALSE(st->ended);
  Fields trailers;
  trailers.set("grpc-status", "0");
  trailers.set("grpc-message", "fine");
  server_.set_trailers(down, std::move(trailers));
  server_.push_body(down, "message-2", true);
  exchange();
  EXPECT_EQ(st->body, "message-1message-2");
  EXPECT_TRUE(st->ended);
  EXPECT_TRUE(st->closed);
  ASSERT_TRUE(st->has_trailers);
  EXPECT_EQ(st->trailers["grpc-status"], "0");
  EXPECT_EQ(st->trailers["grpc-message"], "fine");
  EXPECT_EQ(st->error_code, 0u);
}

TEST_F(H2ClientSessionTest, ATrailersOnlyResponseEndsWithItsHead) {
  auto st = post("/s/M", "x");
  exchange();
  Fields head;
  head.set("grpc-status", "14");
  server_.respond(*requests_[0], 200, head, false);
  exchange();
  EXPECT_TRUE(st->head_done);
  EXPECT_TRUE(st->ended);
  EXPECT_EQ(st->head["grpc-status"], "14");
  EXPECT_FALSE(st->has_trailers);
}

TEST_F(H2ClientSessionTest, AResetStreamReportsItsCodeAndRefusedIsRetriable) {
  auto a = post("/a", "x");
  auto b = post("/b", "x");
  exchange();
  ASSERT_EQ(requests_.size(), 2u);
  server_.reset(*requests_[0], NGHTTP2_REFUSED_STREAM);
  server_.reset(*requests_[1], NGHTTP2_INTERNAL_ERROR);
  exchange();
  EXPECT_TRUE(a->closed);
  EXPECT_TRUE(a->refused);
  EXPECT_TRUE(b->closed);
  EXPECT_FALSE(b->refused);
  EXPECT_EQ(b->error_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(client_.open_streams(), 0u);
}

TEST_F(H2ClientSessionTest, AConnectionLostBeforeAStreamWentOutRefusesItAndAfterResetsIt) {
  auto sent = post("/sent", "x");
  std::string out;
  ASSERT_TRUE(client_.take_output(out, 1 << 20));  // its HEADERS are on their way
  auto queued = post("/queued", "x");               // not taken yet when the connection breaks
  client_.fail_all(NGHTTP2_INTERNAL_ERROR);
  EXPECT_TRUE(sent->closed);
  EXPECT_FALSE(sent->refused);  // the server may have it: retried only under `reset`
  EXPECT_TRUE(queued->closed);
  EXPECT_TRUE(queued->refused);  // never seen: retried as refused-stream
}

TEST(H2HeaderListTest, NamesAreLowerCasedAndConnectionFieldsLeftOut) {
  Fields f;
  f.set(http::field::content_type, "application/grpc");
  f.set(http::field::host, "svc:80");                    // :authority instead
  f.set(http::field::connection, "keep-alive");          // HTTP/1 only
  f.set(http::field::transfer_encoding, "chunked");      // HTTP/1 only
  f.set(http::field::te, "trailers");                    // the one te h2 allows
  f.insert("X-Custom-ID", "AbC");                        // values keep their case
  H2HeaderList list;
  {
    const std::string status = "200";
    list.add(":status", status);  // copied: the string may go
  }
  list.add_fields(f);
  const nghttp2_nv* nv = list.data();
  std::vector<std::pair<std::string, std::string>> got;
  for (std::size_t i = 0; i < list.size(); ++i) {
    got.emplace_back(std::string(reinterpret_cast<const char*>(nv[i].name), nv[i].namelen),
                     std::string(reinterpret_cast<const char*>(nv[i].value), nv[i].valuelen));
  }
  const std::vector<std::pair<std::string, std::string>> want = {
      {":status", "200"}, {"content-type", "application/grpc"}, {"te", "trailers"}, {"x-custom-id", "AbC"}};
  EXPECT_EQ(got, want);
}

TEST_F(H2ClientSessionTest, GoawayStopsNewStreams) {
  exchange();
  EXPECT_EQ(client_.free_streams(), static_cast<std::size_t>(kH2UpstreamMaxStreams));
  server_.refuse_new_streams();
  exchange();
  EXPECT_TRUE(client_.going_away());
  EXPECT_EQ(client_.free_streams(), 0u);
}

TEST_F(H2ClientSessionTest, TheWindowStaysShutUntilTheRelayConsumes) {
  auto st = post("/big", "x");
  exchange();
  H2Stream& down = *requests_[0];
  server_.respond(down, 200, Fields{}, true);
  // More than a stream window: the server can send only the window.
  const std::string piece(kH2UpstreamStreamWindow + 100000, 'z');
  server_.push_body(down, piece, true);
  exchange();
  EXPECT_EQ(st->body.size(), kH2UpstreamStreamWindow);
  EXPECT_FALSE(st->ended);
  client_.consume(*st, st->body.size());
  st->body.clear();
  exchange();
  EXPECT_EQ(st->body.size(), 100000u);
  EXPECT_TRUE(st->ended);
}

}  // namespace
}  // namespace sluice::proxy
