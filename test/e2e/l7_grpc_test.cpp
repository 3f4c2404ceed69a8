// gRPC end to end: the real gRPC client (sluice-grpc-echo, Debian's
// libgrpc++) in a pod dials a Service VIP whose port is named "grpc"; the
// kernel redirects the connection to sluiced, which takes h2c by its preface
// and forwards each call over HTTP/2 to gRPC servers in two pods. Privileged.
#include <sstream>

#include "l7_fixture.h"

using namespace std::chrono_literals;
using namespace sluice::test;

namespace {

constexpr const char* kGrpcVip = "10.96.0.30";
constexpr uint16_t kGrpcPort = 50051;

class L7GrpcTest : public L7Test {
 protected:
  // sluice-grpc-echo servers in pods 2 (v1) and 3 (v2); `v1_fail`: the gRPC
  // status v1 answers every call with.
  void start_grpc(int v1_fail = 0) {
    for (int i : {2, 3}) {
      std::vector<std::string> argv{SLUICE_GRPC_ECHO_PATH, "serve", "--listen", "0.0.0.0:" + std::to_string(kGrpcPort),
                                    "--version", "v" + std::to_string(i - 1)};
      if (i == 2 && v1_fail) argv.insert(argv.end(), {"--fail", std::to_string(v1_fail)});
      grpc_[i] = node_->spawn(node_->pod_ns(i), argv, dir_ + "/grpc-echo.log");
      bool up = false;
      for (int t = 0; t < 200 && !up; ++t) {
        int fd = node_->tcp_socket_in_pod(1);
        up = connect_to(fd, node_->pod_ip(i), kGrpcPort) == 0;
        close(fd);
        if (!up) std::this_thread::sleep_for(10ms);
      }
      ASSERT_TRUE(up) << "sluice-grpc-echo in pod " << i << " never listened";
    }
  }

  void TearDown() override {
    for (pid_t p : grpc_) {
      if (p > 0 && node_) node_->stop(p);
    }
    L7Test::TearDown();
  }

  // bookinfo (the fixture's readiness check uses it), plus grpc-echo on
  // pods 2 and 3 with subsets v1 and v2, plus `istio`.
  std::string config(const std::string& istio) {
    std::string y = bookinfo("");
    y += "---\napiVersion: v1\nkind: Service\nmetadata: {name: grpc-echo, namespace: default}\n"
         "spec: {clusterIP: " + std::string(kGrpcVip) + ", selector: {app: grpc-echo}, ports: [{name: grpc, port: " +
         std::to_string(kGrpcPort) + ", targetPort: " + std::to_string(kGrpcPort) + "}]}\n"
         "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: grpc-echo, namespace: default}\n"
         "spec:\n  host: grpc-echo\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n";
    for (int i : {2, 3}) {
      y += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: grpc-echo-" + std::to_string(i) +
           ", namespace: default, labels: {app: grpc-echo, version: v" + std::to_string(i - 1) +
           "}}\nstatus: {phase: Running, podIP: " + node_->pod_ip(i) + "}\n";
    }
    return y + istio;
  }

  // The gRPC client in pod 1 (in the test cgroup, so the kernel redirects
  // it): one line per call. gRPC's C core dials an IPv4 address from a
  // dual-stack AF_INET6 socket (::ffff:a.b.c.d) whenever IPv6 loopback
  // works, as it does here: its connect runs cgroup/connect6.
  std::vector<std::string> call(const std::string& args) {
    const std::string out = run_capture("ip netns exec " + node_->pod_ns(1) + " " + SLUICE_GRPC_ECHO_PATH +
                                        " call --target " + kGrpcVip + ":" + std::to_string(kGrpcPort) + " " + args);
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
  static size_t count_with(const std::vector<std::string>& lines, const std::string& needle) {
    size_t n = 0;
    for (const auto& l : lines) n += l.find(needle) != std::string::npos;
    return n;
  }

  pid_t grpc_[5] = {};
};

TEST_F(L7GrpcTest, UnaryStreamingAndBidiCallsGoThroughSluiced) {
  start_grpc();
  if (HasFatalFailure()) return;
  start(config(""));
  const auto unary = call("--method unary --calls 10 --text ping");
  EXPECT_EQ(count_with(unary, "ok version=v"), 10u) << (unary.empty() ? "" : unary.front());
  const auto stream = call("--method stream --count 500");
  EXPECT_EQ(count_with(stream, "replies=500"), 1u) << (stream.empty() ? "" : stream.front());
  const auto bidi = call("--method bidi --count 5");
  EXPECT_EQ(count_with(bidi, "replies=5"), 1u) << (bidi.empty() ? "" : bidi.front());
  // The calls went through the proxy, over HTTP/2 from the client.
  EXPECT_TRUE(log_has("\"protocol\":\"HTTP/2\""));
  EXPECT_TRUE(log_has("/sluice.testing.Echo/Unary"));
}

TEST_F(L7GrpcTest, RetriesOnUnavailableAndGrpcAborts) {
  start_grpc(/*v1_fail=*/14);
  if (HasFatalFailure()) return;
  start(config(
      "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: grpc-echo, namespace: default}\n"
      "spec:\n  hosts: [grpc-echo]\n  http:\n"
      "  - {match: [{uri: {prefix: /sluice.testing.Echo/ServerStream}}], fault: {abort: {grpcStatus: PERMISSION_DENIED,"
      " percentage: {value: 100}}}, route: [{destination: {host: grpc-echo}}]}\n"
      "  - {route: [{destination: {host: grpc-echo}}], retries: {attempts: 3, retryOn: unavailable}}\n"));
  // v1 fails every call with UNAVAILABLE: retried on v2.
  const auto retried = call("--method unary --calls 20");
  EXPECT_EQ(count_with(retried, "ok version=v2"), 20u) << (retried.empty() ? "" : retried.front());
  // abort.grpcStatus, trailers-only.
  const auto aborted = call("--method stream --count 3");
  EXPECT_EQ(count_with(aborted, "status=7 message=fault filter abort"), 1u) << (aborted.empty() ? "" : aborted.front());
  EXPECT_TRUE(log_has("\"flags\":\"FI\""));
}

}  // namespace
