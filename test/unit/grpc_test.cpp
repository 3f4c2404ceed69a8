// gRPC's pure rules in the proxy: the grpc-timeout header, the timeout it
// gives a request under Istio's max_grpc_timeout, and the status mappings
// Envoy uses (local replies, outlier detection).
#include <gtest/gtest.h>

#include "grpc_local_reply.h"
#include "grpc_status.h"
#include "grpc_timeout.h"
#include "local_reply.h"

namespace sluice::proxy {
namespace {

using std::chrono::milliseconds;

TEST(GrpcTimeout, ParsesEveryUnit) {
  EXPECT_EQ(parse_grpc_timeout("1H"), milliseconds(3600000));
  EXPECT_EQ(parse_grpc_timeout("2M"), milliseconds(120000));
  EXPECT_EQ(parse_grpc_timeout("3S"), milliseconds(3000));
  EXPECT_EQ(parse_grpc_timeout("250m"), milliseconds(250));
  EXPECT_EQ(parse_grpc_timeout("1500u"), milliseconds(2));  // rounded up
  EXPECT_EQ(parse_grpc_timeout("1n"), milliseconds(1));     // never 0 (0 would mean none)
  EXPECT_EQ(parse_grpc_timeout("99999999m"), milliseconds(99999999));
}

TEST(GrpcTimeout, RejectsMalformedValues) {
  for (const char* bad : {"", "m", "10", "10x", "-5m", "1.5S", "123456789m", " 5m", "5 m"}) {
    EXPECT_FALSE(parse_grpc_timeout(bad)) << bad;
  }
}

TEST(GrpcTimeout, RouteTimeoutCapsTheHeaderAsIstioConfiguresEnvoy) {
  const auto h = [](int64_t ms) { return std::optional<milliseconds>(ms); };
  EXPECT_EQ(grpc_request_timeout_ms(0, std::nullopt), 0);  // neither: none
  EXPECT_EQ(grpc_request_timeout_ms(0, h(300)), 300);       // no route timeout: the header's
  EXPECT_EQ(grpc_request_timeout_ms(1000, std::nullopt), 1000);
  EXPECT_EQ(grpc_request_timeout_ms(1000, h(300)), 300);
  EXPECT_EQ(grpc_request_timeout_ms(1000, h(5000)), 1000);  // capped
  EXPECT_EQ(grpc_request_timeout_ms(1000, h(0)), 1000);     // 0: no deadline from the client
}

TEST(GrpcStatus, ContentTypesThatAreGrpc) {
  EXPECT_TRUE(is_grpc_content_type("application/grpc"));
  EXPECT_TRUE(is_grpc_content_type("application/grpc+proto"));
  EXPECT_TRUE(is_grpc_content_type("application/grpc;charset=utf-8"));
  EXPECT_FALSE(is_grpc_content_type("application/grpc-web"));
  EXPECT_FALSE(is_grpc_content_type("application/grpcx"));
  EXPECT_FALSE(is_grpc_content_type("application/json"));
  EXPECT_FALSE(is_grpc_content_type(""));
}

TEST(GrpcStatus, HttpToGrpcAsEnvoyMapsLocalReplies) {
  EXPECT_EQ(grpc_status_of_http(400), 13u);
  EXPECT_EQ(grpc_status_of_http(401), 16u);
  EXPECT_EQ(grpc_status_of_http(403), 7u);
  EXPECT_EQ(grpc_status_of_http(404), 12u);
  for (unsigned s : {429u, 502u, 503u, 504u}) EXPECT_EQ(grpc_status_of_http(s), 14u) << s;
  EXPECT_EQ(grpc_status_of_http(500), 2u);
  EXPECT_EQ(grpc_status_of_http(418), 2u);
}

TEST(GrpcStatus, GrpcToHttpAsEnvoyCountsThemForOutlierDetection) {
  EXPECT_EQ(http_status_of_grpc(0), 200u);
  EXPECT_EQ(http_status_of_grpc(1), 499u);
  EXPECT_EQ(http_status_of_grpc(4), 504u);
  EXPECT_EQ(http_status_of_grpc(8), 429u);
  EXPECT_EQ(http_status_of_grpc(13), 500u);
  EXPECT_EQ(http_status_of_grpc(14), 503u);
  EXPECT_EQ(http_status_of_grpc(16), 401u);
  EXPECT_EQ(http_status_of_grpc(17), 500u);  // unknown codes
}

TEST(GrpcStatus, NamesAndValues) {
  EXPECT_EQ(grpc_status_of_name("OK"), 0u);
  EXPECT_EQ(grpc_status_of_name("UNAVAILABLE"), 14u);
  EXPECT_EQ(grpc_status_of_name("UNAUTHENTICATED"), 16u);
  EXPECT_FALSE(grpc_status_of_name("unavailable"));
  EXPECT_EQ(parse_grpc_status("14"), 14u);
  EXPECT_FALSE(parse_grpc_status(""));
  EXPECT_FALSE(parse_grpc_status("14 "));
}

TEST(GrpcLocalReply, IsTrailersOnlyWithTheMappedStatus) {
  Response res = local_reply(503, 11, true, "upstream connect error\n");
  make_grpc_local_reply(res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[boost::beast::http::field::content_type], "application/grpc");
  EXPECT_EQ(res["grpc-status"], "14");
  EXPECT_EQ(res["grpc-message"], "upstream connect error");
  EXPECT_TRUE(res.body().empty());
}

TEST(GrpcLocalReply, KeepsAStatusTheReplySetAndEncodesTheMessage) {
  Response res = local_reply(200, 11, true, "100% broken\xff");
  res.set("grpc-status", "8");
  make_grpc_local_reply(res);
  EXPECT_EQ(res["grpc-status"], "8");
  EXPECT_EQ(res["grpc-message"], "100%25 broken%FF");
}

}  // namespace
}  // namespace sluice::proxy
