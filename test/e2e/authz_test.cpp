// AuthorizationPolicy enforced by sluiced's proxy (docs/security.md): a pod
// calls reviews through its VIP, and the policies of the reviews workload
// decide by path, method, namespace and service account; and by the kernel at
// connect(), for policies that need only L4 facts. Privileged.
#include <filesystem>
#include <fstream>

#include "daemon_admin.h"
#include "l7_fixture.h"
#include "sock_lb_loader.h"

using namespace std::chrono_literals;
using namespace sluice::test;

namespace {

class AuthzTest : public L7Test {
 protected:
  // bookinfo, the client pod 1 as a Pod of `ns` with service account `sa`,
  // and `policies`.
  std::string mesh(const std::string& policies, const std::string& ns = "default",
                   const std::string& sa = "productpage") {
    return bookinfo(route_with("", kAllPods)) + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: " +
           ns + ", labels: {app: productpage}}\nspec: {serviceAccountName: " + sa +
           "}\nstatus: {phase: Running, podIP: " + node_->pod_ip(1) + "}\n" + policies;
  }
  static std::string policy(const std::string& name, const std::string& spec) {
    return "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
           ", namespace: default}\nspec:\n  selector: {matchLabels: {app: reviews}}\n" + spec;
  }
  // Replaces the config in one rename, and waits until `ready` holds.
  void reconfigure(const std::string& text, const std::function<bool()>& ready) {
    std::ofstream(dir_ + "/config/mesh.yaml.tmp") << text;
    std::filesystem::rename(dir_ + "/config/mesh.yaml.tmp", dir_ + "/config/mesh.yaml");
    EXPECT_TRUE(wait_for(ready, 10s)) << "the new config never applied";
  }
  unsigned status(const std::string& method, const std::string& path) {
    return request(method + " " + path + " HTTP/1.1\r\nHost: reviews:9080\r\nConnection: close\r\n\r\n").status;
  }
};

TEST_F(AuthzTest, PathAndMethodRulesGive403WithTheRbacFlag) {
  start(mesh(policy("get-reviews", "  action: ALLOW\n  rules:\n  - to:\n    - operation: {methods: [GET], paths: "
                                   "[\"/reviews/{*}\"]}\n")));
  EXPECT_EQ(status("GET", "/reviews/1"), 200u);
  const HttpReply post = request("POST /reviews/1 HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(post.status, 403u);
  EXPECT_EQ(post.body, "RBAC: access denied");
  EXPECT_EQ(status("GET", "/admin"), 403u);
  EXPECT_TRUE(log_has("\"flags\":\"RBAC\"")) << log();
}

TEST_F(AuthzTest, AnAllowWithoutRulesDeniesEverything) {
  start(mesh(policy("allow-nothing", "  action: ALLOW\n")));
  EXPECT_EQ(status("GET", "/reviews/1"), 403u);
}

TEST_F(AuthzTest, DenyByNamespaceAppliesLive) {
  const std::string deny_foo = policy("deny-foo", "  action: DENY\n  rules:\n  - from:\n    - source: {namespaces: [foo]}\n");
  start(mesh(deny_foo, "default"));
  EXPECT_EQ(status("GET", "/reviews/1"), 200u);
  // The client pod moves to namespace foo: denied, without a restart.
  reconfigure(mesh(deny_foo, "foo"), [&] { return status("GET", "/reviews/1") == 403u; });
  // The policy goes: allowed again.
  reconfigure(mesh("", "foo"), [&] { return status("GET", "/reviews/1") == 200u; });
}

TEST_F(AuthzTest, PrincipalsComeFromTheClientPodsServiceAccount) {
  const std::string only_productpage = policy(
      "from-productpage", "  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/productpage]}\n");
  start(mesh(only_productpage, "default", "productpage"));
  EXPECT_EQ(status("GET", "/reviews/1"), 200u);
  reconfigure(mesh(only_productpage, "default", "intruder"), [&] { return status("GET", "/reviews/1") == 403u; });
}

// While sluiced is away, an HTTP port that policies guard refuses connects
// (they would skip the policies at L4); an L4 port keeps balancing.
TEST_F(AuthzTest, FailsClosedWhileSluicedIsDown) {
  start(mesh(policy("get-only", "  rules:\n  - to:\n    - operation: {methods: [GET]}\n") +
             "---\napiVersion: v1\nkind: Service\nmetadata: {name: reviews-tcp, namespace: default}\n"
             "spec: {clusterIP: 10.96.0.21, selector: {app: reviews}, ports: [{name: tcp, port: 9080, targetPort: 8080}]}\n"));
  EXPECT_EQ(status("GET", "/reviews/1"), 200u);
  node_->stop(daemon_);  // SIGTERM: the drain empties the proxy slot, then it exits
  daemon_ = -1;
  int fd = node_->tcp_socket_in_pod(1);
  EXPECT_EQ(connect_to(fd, kVip, kPort), -EPERM) << "the guarded port fell back to L4";
  close(fd);
  fd = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(connect_to(fd, "10.96.0.21", 9080), 0) << "the L4 port stopped balancing";
  const HttpReply direct = raw_request(fd, "GET /reviews/1 HTTP/1.1\r\nHost: reviews\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(direct.status, 200u);
  close(fd);
}

// L4 policies in the kernel: a DENY from namespace foo to port 8080 makes a
// foo pod's connects to reviews fail at once (EACCES, or EPERM before 6.1; no
// packet sent), through
// the L4 service or straight to a pod, while a pod of another namespace
// passes; the proxy answers the same policy with 403 on the HTTP port; and a
// change applies live.
class KernelAuthzTest : public AuthzTest {
 protected:
  int pod_count() const override { return 5; }

  void SetUp() override {
    AuthzTest::SetUp();
    // Only this test's pods: other tests' namespaces may share /run/netns.
    daemon_flags_ = {"--pod-netns-prefix", node_->prefix() + "-p"};
  }

  // Pod 1 in foo, pod 5 in default, and an L4 service in front of reviews.
  std::string mesh_with(const std::string& policies) {
    return mesh(policies, "foo", "client") +
           "---\napiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: default, labels: {app: other}}\n"
           "status: {phase: Running, podIP: " + node_->pod_ip(5) + "}\n"
           "---\napiVersion: v1\nkind: Service\nmetadata: {name: reviews-tcp, namespace: default}\n"
           "spec: {clusterIP: 10.96.0.21, selector: {app: reviews}, ports: [{name: tcp, port: 9080, targetPort: 8080}]}\n";
  }
  int connect_from(int pod, const std::string& ip, uint16_t port) {
    const int fd = node_->tcp_socket_in_pod(pod);
    const int rc = connect_to(fd, ip, port);
    close(fd);
    return rc;
  }
  uint64_t kernel_count(const std::string& reason) {
    const auto [code, body] = admin_get(*node_, kAdminPort, "/metrics");
    const std::string key = "sluice_kernel_decisions_total{reason=\"" + reason + "\"} ";
    const size_t at = body.find(key);
    return at == std::string::npos ? 0 : std::stoull(body.substr(at + key.size()));
  }
  uint64_t denied_count() { return kernel_count("connect_policy_denied"); }

  const int denied_ = sluice::policy_denial_errno();  // EACCES on 6.1+, else EPERM
};

TEST_F(KernelAuthzTest, AnL4DenyRefusesTheConnectInTheKernel) {
  const std::string deny_foo = policy("deny-foo-8080", "  action: DENY\n  rules:\n  - from:\n    - source: "
                                                       "{namespaces: [foo]}\n    to:\n    - operation: {ports: [\"8080\"]}\n");
  start(mesh_with(deny_foo));
  ASSERT_TRUE(wait_for([&] { return connect_from(1, "10.96.0.21", 9080) == -denied_; }, 10s))
      << "the kernel never refused foo's connect";
  const uint64_t before = denied_count();
  EXPECT_GE(before, 1u);
  EXPECT_EQ(connect_from(1, node_->pod_ip(3), 8080), -denied_) << "straight to a reviews pod";
  EXPECT_EQ(connect_from(1, node_->pod_ip(3), 8080), -denied_);
  EXPECT_EQ(denied_count(), before + 2);
  EXPECT_EQ(connect_from(5, "10.96.0.21", 9080), 0) << "another namespace passes";
  EXPECT_EQ(connect_from(5, node_->pod_ip(2), 8080), 0);
  EXPECT_EQ(status("GET", "/reviews/1"), 403u) << "the HTTP port goes to the proxy, which enforces it too";

  // The policy goes: foo connects again, without a restart.
  reconfigure(mesh_with(""), [&] { return connect_from(1, "10.96.0.21", 9080) == 0; });
  EXPECT_EQ(connect_from(1, node_->pod_ip(3), 8080), 0);
  EXPECT_EQ(status("GET", "/reviews/1"), 200u);
}

// The destination's side, wired by sluiced: connections that passed no
// connect4 (sockets made outside the sluice cgroup, as from a node without
// sluice or a hostNetwork process) meet the same L4 policy when their SYN
// reaches the reviews pod: foo's is dropped, default's passes, and the node's
// address (where sluice proxies dial from) is trusted.
TEST_F(KernelAuthzTest, TheDestinationSideDropsWhatNoConnect4Judged) {
  const std::string deny_foo = policy("deny-foo-8080", "  action: DENY\n  rules:\n  - from:\n    - source: "
                                                       "{namespaces: [foo]}\n    to:\n    - operation: {ports: [\"8080\"]}\n");
  start(mesh_with(deny_foo));
  ASSERT_TRUE(wait_for([&] { return connect_from(1, "10.96.0.21", 9080) == -denied_; }, 10s))
      << "the policy never reached the kernel";
  auto connect_within = [&](int fd) {
    timeval tv{0, 700000};  // a dropped SYN is sent again after 1 s: this gives up first
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    const int rc = connect_to(fd, node_->pod_ip(3), 8080);
    close(fd);
    return rc;
  };
  node_->leave_cgroup();
  const int from_foo = node_->tcp_socket_in_pod(1);
  const int from_default = node_->tcp_socket_in_pod(5);
  const int from_node = node_->in_node([] { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
  node_->join_cgroup();
  EXPECT_NE(connect_within(from_foo), 0) << "foo's SYN reached reviews without a connect4 and was let in";
  EXPECT_EQ(connect_within(from_default), 0) << "a pod of default is allowed by its address's identity";
  EXPECT_EQ(connect_within(from_node), 0) << "the node's address is trusted";
  EXPECT_GE(kernel_count("ingress_policy_denied"), 1u) << "foo's SYN is counted";
}

// RateLimitPolicy connectionBucket: the kernel refuses a burst of connects
// from the selected pod past its bucket, and the limit goes with the policy.
TEST_F(KernelAuthzTest, AConnectionBucketRefusesABurstInTheKernel) {
  // Pod 5 ("other", default): pod 1 is the fixture's client and must keep
  // its connects for the readiness checks.
  const std::string bucket =
      "---\napiVersion: sluice.io/v1alpha1\nkind: RateLimitPolicy\nmetadata: {name: other-connects, namespace: default}\n"
      "spec:\n  sourceSelector: {matchLabels: {app: other}}\n"
      "  connectionBucket: {maxTokens: 3, tokensPerFill: 3, fillInterval: 60s}\n";
  start(mesh_with(bucket));
  ASSERT_TRUE(wait_for([&] { return log_has("1 connection bucket(s)"); }, 10s)) << log();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(connect_from(5, "10.96.0.21", 9080), 0) << i;
  EXPECT_EQ(connect_from(5, "10.96.0.21", 9080), -EPERM);
  EXPECT_EQ(connect_from(5, node_->pod_ip(2), 8080), -EPERM) << "every destination counts";
  EXPECT_EQ(connect_from(1, "10.96.0.21", 9080), 0) << "pod 1 has no bucket";
  EXPECT_EQ(status("GET", "/reviews/1"), 200u);
  reconfigure(mesh_with(""), [&] { return connect_from(5, "10.96.0.21", 9080) == 0; });
}

}  // namespace
