// Egress on the node simulator (docs/egress.md): under REGISTRY_ONLY, a
// ServiceEntry with `resolution: DNS` opens the addresses its host resolves
// to, asked by sluiced from a real DNS server (dnsmasq, in the node's
// namespace), and follows a changed record once its TTL runs out.
// Privileged.
//
// The "internet" addresses (10.111.50.0/24) have no route from the pods: a
// connect the kernel lets through fails with ENETUNREACH, one it refuses
// with EPERM, so nothing is sent anywhere.
#include <csignal>
#include <filesystem>
#include <fstream>

#include "l7_fixture.h"

using namespace std::chrono_literals;
using namespace sluice::test;

namespace {

constexpr const char* kRegistryOnly = R"(---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api-dns, namespace: default}
spec:
  hosts: [api.dns.test]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
)";

class EgressTest : public L7Test {
 protected:
  void SetUp() override {
    L7Test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    hosts_ = dir_ + "/dns-hosts";
    write_record("10.111.50.1");
    // No upstream and no system files: only the test's record is answered.
    dnsmasq_ = node_->spawn(node_->node_ns(),
                            {"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                             "--no-poll", "--addn-hosts=" + hosts_, "--listen-address=" + node_->node_ip(),
                             "--bind-interfaces", "--port=53", "--local-ttl=1", "--pid-file=", "--user=root",
                             "--group=root"},
                            dir_ + "/dnsmasq.log");
    daemon_flags_ = {"--dns-server", node_->node_ip() + ":53"};
  }
  void TearDown() override {
    if (node_ && dnsmasq_ > 0) node_->stop(dnsmasq_);
    L7Test::TearDown();
  }
  void write_record(const std::string& ip) {
    std::ofstream(hosts_ + ".tmp") << ip << " api.dns.test\n";
    std::filesystem::rename(hosts_ + ".tmp", hosts_);
  }
  int connect_from_pod(const std::string& ip) {
    const int fd = node_->tcp_socket_in_pod(1);
    const int rc = connect_to(fd, ip, 80);
    close(fd);
    return rc;
  }

  std::string hosts_;
  pid_t dnsmasq_ = -1;
};

TEST_F(EgressTest, ADnsServiceEntryFollowsItsRecord) {
  start(bookinfo(route_with("")) + kRegistryOnly);
  ASSERT_TRUE(wait_for([&] { return connect_from_pod("10.111.50.1") == -ENETUNREACH; }, 10s))
      << "the resolved address never opened\n" << log();
  EXPECT_EQ(connect_from_pod("10.111.50.2"), -EPERM) << "an address no ServiceEntry has";
  EXPECT_TRUE(log_has("api.dns.test resolves to 10.111.50.1")) << log();

  // The record changes; dnsmasq reads it again on SIGHUP. With a TTL of 1 s,
  // sluiced asks again within a second or two.
  write_record("10.111.50.2");
  ::kill(dnsmasq_, SIGHUP);
  ASSERT_TRUE(wait_for([&] { return connect_from_pod("10.111.50.2") == -ENETUNREACH; }, 10s))
      << "the new address never opened\n" << log();
  EXPECT_EQ(connect_from_pod("10.111.50.1"), -EPERM) << "the old address stayed open";
}

}  // namespace
