// VirtualService tcp routes: opaque TCP through sluiced's L4 proxy, as in
// Istio's TCP traffic shifting task (weights 80/20 to two subsets), and a
// TCP port without tcp routes staying in the kernel.
#include "l7_fixture.h"

namespace sluice::test {
namespace {

constexpr const char* kTcpVip = "10.96.0.50";
constexpr uint16_t kTcpPort = 9000;

class TcpRouteTest : public L7Test {
 protected:
  // bookinfo's pods (p2 v1, p3 v2, p4 v3) behind a plain TCP Service too.
  std::string tcp_echo(const std::string& tcp_routes) {
    std::string y = bookinfo(
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: tcp-echo, namespace: default}\n"
        "spec: {clusterIP: 10.96.0.50, selector: {app: reviews}, ports: [{name: tcp, port: 9000, targetPort: 8080}]}\n"
        "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: tcp-echo, namespace: default}\n"
        "spec:\n  host: tcp-echo\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n");
    if (!tcp_routes.empty()) {
      y += "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: tcp-echo, namespace: default}\n"
           "spec:\n  hosts: [tcp-echo]\n  tcp:\n" + tcp_routes;
    }
    return y;
  }

  // One connection from pod 1 to the TCP Service carrying an HTTP request
  // (sluice-echo speaks HTTP; to the proxy it is opaque bytes).
  HttpReply over_tcp() {
    int fd = node_->tcp_socket_in_pod(1);
    HttpReply r;
    if (connect_to(fd, kTcpVip, kTcpPort) == 0) {
      r = raw_request(fd, "GET /tcp HTTP/1.1\r\nHost: tcp-echo\r\nConnection: close\r\n\r\n");
    }
    close(fd);
    return r;
  }
};

TEST_F(TcpRouteTest, WeightsShiftTcpTrafficBetweenSubsets) {
  start(tcp_echo("  - match: [{port: 9000}]\n    route:\n"
                 "    - {destination: {host: tcp-echo, subset: v1}, weight: 80}\n"
                 "    - {destination: {host: tcp-echo, subset: v2}, weight: 20}\n"));
  std::map<std::string, int> seen;
  constexpr int kConnections = 200;
  for (int i = 0; i < kConnections; ++i) {
    HttpReply r = over_tcp();
    ++seen[r.status == 200 ? r.headers["x-echo-version"] : "status:" + std::to_string(r.status)];
    if (i == 0) {
      // Through the daemon: the backend sees the node's address, and the
      // bytes were not parsed as HTTP (no x-request-id was added).
      EXPECT_NE(r.body.find("\"remote_addr\":\"" + node_->node_ip()), std::string::npos) << r.body;
      EXPECT_EQ(r.body.find("x-request-id"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(seen["v1"] + seen["v2"], kConnections) << "only v1 and v2, every connection served";
  // 20% of 200 is 40, with a standard deviation of about 5.7.
  EXPECT_GE(seen["v2"], 17);
  EXPECT_LE(seen["v2"], 63);
  EXPECT_TRUE(log_has("\"route\":\"default/tcp-echo\"")) << "access log line of a TCP connection";
}

TEST_F(TcpRouteTest, AMatchOnSourceLabelsPicksItsRouteAndOthersFallThrough) {
  // Pod 1 has no labels: the first route's match misses, the second has none.
  start(tcp_echo("  - match: [{port: 9000, sourceLabels: {app: nobody}}]\n    route:\n"
                 "    - {destination: {host: tcp-echo, subset: v1}}\n"
                 "  - route:\n    - {destination: {host: tcp-echo, subset: v2}}\n"));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(over_tcp().headers["x-echo-version"], "v2");
}

TEST_F(TcpRouteTest, AnIdleConnectionIsClosedAfterTcpIdleTimeout) {
  std::string config = tcp_echo("  - route:\n    - {destination: {host: tcp-echo, subset: v1}}\n");
  const std::string rule_head = "spec:\n  host: tcp-echo\n";
  config.replace(config.find(rule_head), rule_head.size(),
                 rule_head + "  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 1s}}}\n");
  start(config);
  int fd = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(connect_to(fd, kTcpVip, kTcpPort), 0);
  // sluice-echo keeps an idle connection for 300 s: an end within 10 s is
  // the proxy's.
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << "closed by the proxy";
  char c;
  EXPECT_LE(read(fd, &c, 1), 0);
  close(fd);
  ASSERT_TRUE(log_has("\"route\":\"default/tcp-echo\""));
  const std::string l = log();
  const size_t at = l.find("\"duration_ms\":", l.find("\"route\":\"default/tcp-echo\""));
  ASSERT_NE(at, std::string::npos) << l;
  EXPECT_GE(std::atof(l.c_str() + at + 14), 1000.0) << "it lasted the idle timeout: " << l.substr(at, 40);
}

TEST_F(TcpRouteTest, ATcpPortWithoutTcpRoutesStaysInTheKernel) {
  start(tcp_echo(""));
  HttpReply r = over_tcp();
  ASSERT_EQ(r.status, 200u);
  // Balanced by connect4 and connected directly: the backend sees pod 1.
  EXPECT_NE(r.body.find("\"remote_addr\":\"" + node_->pod_ip(1)), std::string::npos) << r.body;
}

}  // namespace
}  // namespace sluice::test
