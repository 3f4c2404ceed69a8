// The HTTP/2 server side (H2Connection) against nghttp2's client, in memory:
// requests decoded into HTTP/1.1 requests, responses with bodies in pieces,
// and each limit against hostile input (h2_limits.h). No sockets, no root.
#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>

#include <memory>
#include <string>
#include <vector>

#include "h2_connection.h"
#include "h2_limits.h"
#include "h2_preface.h"
#include "h2_test_client.h"

namespace sluice::proxy {
namespace {

using test::H2TestClient;
namespace http = boost::beast::http;

TEST(H2Preface, TellsH2cFromHttp1ByTheFirstBytes) {
  EXPECT_EQ(match_h2_preface(kH2ClientPreface), PrefaceMatch::kHttp2);
  EXPECT_EQ(match_h2_preface(std::string(kH2ClientPreface) + "\x00\x00\x12"), PrefaceMatch::kHttp2);
  EXPECT_EQ(match_h2_preface(""), PrefaceMatch::kNeedMore);
  EXPECT_EQ(match_h2_preface("PRI * HTTP/2"), PrefaceMatch::kNeedMore);
  EXPECT_EQ(match_h2_preface("POST / HTTP/1.1\r\n"), PrefaceMatch::kNotHttp2);
  EXPECT_EQ(match_h2_preface("GET"), PrefaceMatch::kNotHttp2);
}

// A server connection and a client, wired back to back.
class H2ConnectionTest : public ::testing::Test {
 protected:
  H2ConnectionTest() : server_([this](std::shared_ptr<H2Stream> s) { requests_.push_back(std::move(s)); }) {}

  // Moves bytes both ways until neither side has any. False: the server
  // gave up on the connection.
  bool exchange() {
    bool ok = true;
    for (int round = 0; round < 1000; ++round) {
      const std::string to_server = client_.take_output();
      if (!to_server.empty() && ok) ok = server_.receive(to_server);
      std::string to_client;
      server_.take_output(to_client, 1 << 20);
      if (!to_client.empty()) client_.receive(to_client);
      if (to_server.empty() && to_client.empty()) break;
    }
    return ok;
  }

  H2TestClient client_;
  std::vector<std::shared_ptr<H2Stream>> requests_;
  H2Connection server_;
};

TEST_F(H2ConnectionTest, AStreamBecomesAnHttp1RequestWithAuthorityAsHost) {
  const std::string body = "{\"a\":1}";
  const int32_t id = client_.request("POST", "/reviews/1?x=1", "reviews:9080",
                                     {{"end-user", "jason"}, {"cookie", "a=1"}, {"cookie", "b=2"}}, true, &body);
  ASSERT_TRUE(exchange());
  ASSERT_EQ(requests_.size(), 1u);
  const Request& req = requests_[0]->request;
  EXPECT_EQ(requests_[0]->id, id);
  EXPECT_EQ(requests_[0]->reject_status, 0u);
  EXPECT_EQ(req.method_string(), "POST");
  EXPECT_EQ(req.target(), "/reviews/1?x=1");
  EXPECT_EQ(req[http::field::host], "reviews:9080");
  EXPECT_EQ(req["end-user"], "jason");
  EXPECT_EQ(req[http::field::cookie], "a=1; b=2");
  EXPECT_EQ(req.body(), body);
  EXPECT_EQ(req.version(), 11u);
}

TEST_F(H2ConnectionTest, AResponseBodyGoesOutPieceByPieceUnderFlowControl) {
  const int32_t id = client_.request("GET", "/", "web");
  ASSERT_TRUE(exchange());
  ASSERT_EQ(requests_.size(), 1u);
  H2Stream& st = *requests_[0];
  int progress = 0;
  st.on_progress = [&] { ++progress; };
  Fields headers;
  headers.set(http::field::content_type, "text/plain");
  headers.set(http::field::connection, "keep-alive");  // HTTP/1 only: never sent on h2
  headers.set(http::field::transfer_encoding, "chunked");
  server_.respond(st, 200, headers, true);
  exchange();
  EXPECT_EQ(client_.stream(id).status, 200);
  EXPECT_FALSE(client_.stream(id).closed) << "the body is still to come";
  // Pieces larger than the client's 64 KiB window arrive as the client
  // acknowledges them.
  const std::string piece(40000, 'x');
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(st.out_drained());
    server_.push_body(st, piece, i == 4);
    exchange();
  }
  EXPECT_TRUE(client_.stream(id).closed);
  EXPECT_EQ(client_.stream(id).body.size(), 5 * piece.size());
  EXPECT_EQ(client_.stream(id).headers.count("connection"), 0u);
  EXPECT_EQ(client_.stream(id).headers.count("transfer-encoding"), 0u);
  EXPECT_EQ(client_.stream(id).headers["content-type"], "text/plain");
  EXPECT_GE(progress, 4) << "the relay heard each piece taken";
  EXPECT_FALSE(st.aborted);
}

TEST_F(H2ConnectionTest, StreamsPastMaxConcurrentStreamsAreRefused) {
  std::vector<int32_t> ids;
  for (uint32_t i = 0; i < kH2MaxConcurrentStreams + 20; ++i) {
    ids.push_back(client_.request("GET", "/", "web", {}, /*end_stream=*/false));
  }
  exchange();
  size_t refused = 0;
  for (int32_t id : ids) refused += client_.stream(id).reset == NGHTTP2_REFUSED_STREAM;
  EXPECT_EQ(refused, 20u);
  EXPECT_EQ(server_.open_streams(), kH2MaxConcurrentStreams);
  EXPECT_FALSE(client_.goaway()) << "refusing streams does not end the connection";
}

TEST_F(H2ConnectionTest, AnOversizedHeaderListIsAnswered431NotForwarded) {
  const std::string big(kH2MaxHeaderListBytes / 4, 'a');
  client_.request("GET", "/", "web", {{"x-1", big}, {"x-2", big}, {"x-3", big}, {"x-4", big}, {"x-5", big}});
  exchange();
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0]->reject_status, 431u);
  EXPECT_FALSE(client_.goaway());
}

// A mirror's copy: the bytes so far, then each as it comes, and the end
// with the trailers; reading it never opens the client's window.
TEST(RequestBodyPipeTest, ATeeGetsEveryByteAndTheTrailers) {
  RequestBodyPipe pipe("ab", 64);
  std::size_t opened = 0;
  pipe.on_taken = [&](std::size_t n) { opened += n; };
  pipe.append("cd");
  auto copy = pipe.tee(16);
  ASSERT_TRUE(copy);
  pipe.append("ef");
  Fields trailers;
  trailers.insert("x-sum", "7");
  pipe.end(std::move(trailers));
  char buf[16];
  ASSERT_EQ(copy->read(0, buf, sizeof buf), 6u);
  EXPECT_EQ(std::string(buf, 6), "abcdef");
  EXPECT_TRUE(copy->done_at(6));
  ASSERT_TRUE(copy->trailers());
  EXPECT_EQ(std::string(copy->trailers()->at("x-sum")), "7");
  EXPECT_EQ(opened, 0u) << "only the request's own reader opens the window";
  ASSERT_EQ(pipe.read(0, buf, sizeof buf), 6u);
  EXPECT_EQ(opened, 4u);
}

// A copy whose reader falls past its budget is dropped: it fails, lets go of
// what it held and says so once; the request's own body goes on.
TEST(RequestBodyPipeTest, ALaggingTeeIsDroppedNotBuffered) {
  RequestBodyPipe pipe("", 1 << 20);
  auto copy = pipe.tee(8);
  ASSERT_TRUE(copy);
  int overruns = 0;
  copy->on_overrun = [&] { ++overruns; };
  pipe.append("12345");
  char buf[16];
  ASSERT_EQ(copy->read(0, buf, 2), 2u);  // 3 unread
  pipe.append("6789");                    // 7 unread: within 8
  EXPECT_FALSE(copy->failed());
  pipe.append("abc");                     // 10 > 8
  EXPECT_TRUE(copy->failed());
  EXPECT_TRUE(copy->overrun());
  EXPECT_EQ(copy->read(2, buf, sizeof buf), 0u) << "nothing held any more";
  pipe.append("def");
  pipe.end();
  EXPECT_EQ(overruns, 1);
  EXPECT_FALSE(pipe.failed());
  EXPECT_EQ(pipe.read(0, buf, sizeof buf), 15u);
}

// A copy whose reader gave up (its mirror failed to connect) is freed with
// it: the body is not fed to it, and it is not dropped for lagging later.
TEST(RequestBodyPipeTest, ACopyWhoseReaderLetGoIsNeitherFedNorKept) {
  RequestBodyPipe pipe("ab", 1 << 20);
  auto copy = pipe.tee(4);
  ASSERT_TRUE(copy);
  int overruns = 0;
  copy->on_overrun = [&] { ++overruns; };
  const std::weak_ptr<RequestBodyPipe> weak = copy;
  copy.reset();
  EXPECT_TRUE(weak.expired());
  pipe.append("0123456789");  // past the copy's budget, had it lived
  pipe.end();
  EXPECT_EQ(overruns, 0);
  char buf[16];
  EXPECT_EQ(pipe.read(0, buf, sizeof buf), 12u);
}

// Once the request's reader took bytes past the retry buffer, the start of
// the body is gone: no copy can be made.
TEST(RequestBodyPipeTest, NoTeeOnceTheStartIsGone) {
  RequestBodyPipe pipe("", 4);
  pipe.append("123456");
  char buf[16];
  ASSERT_EQ(pipe.read(0, buf, sizeof buf), 6u);
  EXPECT_FALSE(pipe.tee(64));
}

TEST(RequestBodyPipeTest, ReplaysFromTheStartUntilTheRetryBufferOverflows) {
  RequestBodyPipe pipe("ab", 8);
  std::size_t opened = 0;
  pipe.on_taken = [&](std::size_t n) { opened += n; };
  pipe.append("cdef");
  char buf[16];
  ASSERT_EQ(pipe.read(0, buf, sizeof buf), 6u);
  EXPECT_EQ(std::string(buf, 6), "abcdef");
  EXPECT_EQ(opened, 4u) << "the first two were accounted for before the pipe";
  // A second attempt reads it all again, and opens no window twice.
  ASSERT_EQ(pipe.read(0, buf, 3), 3u);
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_EQ(opened, 4u);
  EXPECT_TRUE(pipe.replayable());
  pipe.append("ghij");  // 10 > 8: past the retry buffer
  EXPECT_FALSE(pipe.replayable());
  EXPECT_EQ(pipe.read(0, buf, sizeof buf), 0u) << "what was sent is gone";
  ASSERT_EQ(pipe.read(6, buf, sizeof buf), 4u);
  EXPECT_EQ(std::string(buf, 4), "ghij");
  EXPECT_FALSE(pipe.done_at(10));
  pipe.end();
  EXPECT_TRUE(pipe.done_at(10));
  pipe.append("late");
  EXPECT_EQ(pipe.received(), 10u) << "nothing after the end";
}

// Past the retry buffer the request goes on with its body piped: the client
// may send only as much as the upstream has taken, plus its window.
TEST_F(H2ConnectionTest, ABodyPastTheRetryBufferIsPipedUnderFlowControl) {
  std::string body(5 * kRetryBufferBytes, 'b');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  const int32_t id = client_.request("POST", "/", "web", {}, true, &body);
  for (int i = 0; i < 10 && requests_.empty(); ++i) exchange();
  ASSERT_EQ(requests_.size(), 1u);
  H2Stream& st = *requests_[0];
  ASSERT_TRUE(st.body_pipe);
  EXPECT_EQ(st.reject_status, 0u);
  RequestBodyPipe& pipe = *st.body_pipe;
  exchange();
  EXPECT_FALSE(pipe.replayable()) << "past the retry buffer";
  EXPECT_FALSE(pipe.ended());
  // Nothing taken upstream yet: the retry buffer and one stream window at most.
  EXPECT_LE(pipe.received(), kRetryBufferBytes + 65535u + 16384u);
  // The upstream takes it a piece at a time; each piece opens the window again.
  pipe.on_taken = [&](size_t n) { server_.consume(id, n); };
  std::string got;
  char buf[10000];
  for (int i = 0; i < 1000 && !pipe.done_at(got.size()); ++i) {
    for (size_t n; (n = pipe.read(got.size(), buf, sizeof buf)) > 0;) got.append(buf, n);
    exchange();
  }
  EXPECT_TRUE(pipe.ended());
  EXPECT_EQ(got.size(), body.size());
  EXPECT_TRUE(got == body);
}

// A gRPC call is handed on at its HEADERS: its messages follow as they come,
// and while they fit the retry buffer they stay for a retry.
TEST_F(H2ConnectionTest, AGrpcCallIsDispatchedBeforeItsBodyWithAReplayablePipe) {
  const int32_t id = client_.request("POST", "/pkg.Svc/Call", "svc", {{"content-type", "application/grpc"}}, false);
  exchange();
  ASSERT_EQ(requests_.size(), 1u);
  ASSERT_TRUE(requests_[0]->body_pipe);
  RequestBodyPipe& pipe = *requests_[0]->body_pipe;
  EXPECT_EQ(pipe.received(), 0u);
  EXPECT_TRUE(pipe.replayable());
  int woken = 0;
  pipe.on_data = [&] { ++woken; };
  client_.reset(id);
  exchange();
  EXPECT_TRUE(pipe.failed()) << "the client's reset cuts the body";
  EXPECT_GE(woken, 1);
}

TEST_F(H2ConnectionTest, RapidResetEndsTheConnectionWithEnhanceYourCalm) {
  // Each request goes out before its reset (nghttp2 would otherwise drop
  // both), the whole loop in one burst, as an attacker sends it.
  std::string burst;
  for (uint32_t i = 0; i < 4 * kH2ResetBurst; ++i) {
    const int32_t id = client_.request("GET", "/", "web");
    burst += client_.take_output();
    client_.reset(id);
    burst += client_.take_output();
  }
  server_.receive(burst);
  exchange();
  ASSERT_TRUE(client_.goaway());
  EXPECT_EQ(*client_.goaway(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_FALSE(server_.want_read());
}

TEST_F(H2ConnectionTest, AFewResetsAreFine) {
  for (int i = 0; i < 10; ++i) {
    const int32_t reset = client_.request("GET", "/", "web");
    exchange();
    client_.reset(reset);
  }
  const int32_t id = client_.request("GET", "/", "web");
  exchange();
  EXPECT_FALSE(client_.goaway());
  EXPECT_TRUE(server_.want_read());
  ASSERT_FALSE(requests_.empty());
  EXPECT_EQ(requests_.back()->id, id) << "the connection still takes requests";
}

// Raw frames: a 9-byte header then the payload.
std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  f += static_cast<char>(payload.size() >> 16);
  f += static_cast<char>(payload.size() >> 8);
  f += static_cast<char>(payload.size());
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  f += static_cast<char>(stream >> 24);
  f += static_cast<char>(stream >> 16);
  f += static_cast<char>(stream >> 8);
  f += static_cast<char>(stream);
  return f + payload;
}

TEST(H2ConnectionHostile, AContinuationFloodClosesTheConnection) {
  std::vector<std::shared_ptr<H2Stream>> requests;
  H2Connection server([&](std::shared_ptr<H2Stream> s) { requests.push_back(std::move(s)); });
  std::string in(kH2ClientPreface);
  in += frame(NGHTTP2_SETTINGS, 0, 0, "");
  // HEADERS without END_HEADERS, then CONTINUATIONs that never end it. Each
  // carries one literal header (never indexed, new name "a", value "b").
  const std::string field = std::string("\x10\x01" "a\x01" "b", 5);
  in += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, std::string("\x82\x86\x84", 3));
  for (size_t i = 0; i < 4 * kH2MaxContinuations; ++i) in += frame(NGHTTP2_CONTINUATION, 0, 1, field);
  EXPECT_FALSE(server.receive(in));
  std::string out;
  server.take_output(out, 1 << 20);
  EXPECT_FALSE(server.want_read());
  EXPECT_TRUE(requests.empty());
}

TEST(H2ConnectionHostile, APingFloodFromAClientThatDoesNotReadClosesTheConnection) {
  H2Connection server([](std::shared_ptr<H2Stream>) {});
  std::string in(kH2ClientPreface);
  in += frame(NGHTTP2_SETTINGS, 0, 0, "");
  for (size_t i = 0; i < 4 * kH2MaxOutboundAcks; ++i) in += frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
  // Nothing is taken from the server's output: its PING ACKs pile up.
  EXPECT_FALSE(server.receive(in));
}

TEST(H2ConnectionHostile, GarbageAfterThePrefaceIsAProtocolError) {
  H2Connection server([](std::shared_ptr<H2Stream>) {});
  std::string in(kH2ClientPreface);
  in += std::string("\x00\x00\x04\x09\x00\x00\x00\x00\x07" "abcd", 13);  // CONTINUATION out of place
  server.receive(in);
  std::string out;
  EXPECT_TRUE(server.take_output(out, 1 << 20));
  EXPECT_FALSE(server.want_read());
  EXPECT_NE(out.find(std::string("\x07", 1)), std::string::npos) << "a GOAWAY went out";
}

}  // namespace
}  // namespace sluice::proxy
