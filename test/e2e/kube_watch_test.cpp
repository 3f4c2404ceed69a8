// sluiced reading the cluster from the Kubernetes API (--kubeconfig) on a
// simulated node: the test API server (test/tools/kube_api) stands in for
// kube-apiserver, and everything else is real: sluiced, the kernel programs,
// the proxy and sluice-echo pods. Privileged.
#include <atomic>
#include <thread>

#include "kube_api_server.h"
#include "l7_fixture.h"

using namespace std::chrono_literals;
using namespace sluice::test;

namespace {

constexpr const char* kRatingsVip = "10.96.0.40";

class KubeWatchTest : public L7Test {
 protected:
  void SetUp() override {
    L7Test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // In the node's network namespace, where sluiced runs: its 127.0.0.1.
    auto s = node_->in_node([] { return sluice::testing::KubeApiServer::start({}); });
    ASSERT_TRUE(s) << s.error().to_string();
    api_ = std::move(*s);
    ASSERT_TRUE(api_->write_client_files());
  }
  void TearDown() override {
    if (api_) api_->stop();
    L7Test::TearDown();
  }

  void apply(const std::string& yaml) { ASSERT_TRUE(api_->apply(yaml)) << yaml; }

  // bookinfo's reviews as the API holds it: a Service, its EndpointSlice,
  // the Pods, and (unless without_rule) the DestinationRule with v1..v3.
  std::string reviews(bool with_rule = true) {
    std::string y = "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default}\n"
                    "spec: {clusterIP: 10.96.0.20, selector: {app: reviews}, ports: [{name: http, port: 9080, targetPort: 8080}]}\n"
                    "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: reviews-1, namespace: default,"
                    " labels: {kubernetes.io/service-name: reviews}}\naddressType: IPv4\nports: [{name: http, port: 8080}]\nendpoints:\n";
    for (int i : {2, 3, 4}) y += "- {addresses: [" + node_->pod_ip(i) + "], conditions: {ready: true}}\n";
    for (int i : {2, 3, 4}) {
      y += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: reviews-" + std::to_string(i) +
           ", namespace: default, labels: {app: reviews, version: v" + std::to_string(i - 1) +
           "}}\nstatus: {phase: Running, podIP: " + node_->pod_ip(i) + "}\n";
    }
    if (with_rule) y += "---\n" + rule();
    return y;
  }
  static std::string rule() {
    return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\n"
           "spec:\n  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n"
           "  - {name: v3, labels: {version: v3}}\n";
  }
  static std::string route_to(const std::string& subset, const std::string& extra = "") {
    return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\n"
           "spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: " + subset + "}\n" + extra;
  }
  // A "ratings" Service on pod 4 only, through an EndpointSlice.
  std::string ratings(const std::string& port = "8080") {
    return std::string("apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: default}\n"
                       "spec: {clusterIP: ") + kRatingsVip + ", ports: [{name: tcp-ratings, port: 9080, targetPort: " + port +
           "}]}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: ratings-1, namespace: default,"
           " labels: {kubernetes.io/service-name: ratings}}\naddressType: IPv4\nports: [{name: tcp-ratings, port: " + port +
           "}]\nendpoints:\n- {addresses: [" + node_->pod_ip(4) + "], conditions: {ready: true}}\n";
  }

  void start_with_api() { start_daemon({"--kubeconfig", api_->dir() + "/kubeconfig", "--debounce-ms", "20"}); }

  // Whether every one of n requests lands on `version`, within a second.
  bool converges_to(const std::string& version, int n = 10) {
    return wait_for([&] { return versions(n) == std::map<std::string, int>{{version, n}}; }, 1s);
  }

  // A TCP connect to the ratings VIP from pod 1: 0 or errno.
  int connect_ratings() {
    int fd = node_->tcp_socket_in_pod(1);
    const int rc = connect_to(fd, kRatingsVip, 9080) == 0 ? 0 : errno;
    close(fd);
    return rc;
  }

  std::string config_json() {
    auto r = node_->in_node([] { return sluice::http_get("127.0.0.1", kAdminPort, "/config", 2s); });
    return r.ok() ? r->second : "";
  }

  std::unique_ptr<sluice::testing::KubeApiServer> api_;
};

}  // namespace

TEST_F(KubeWatchTest, WatchedChangesReachKernelAndRoutingWithoutFailedConnects) {
  apply(reviews() + "---\n" + route_to("v1"));
  start_with_api();
  EXPECT_TRUE(converges_to("v1"));

  // Connects to reviews run the whole time the config changes under them.
  std::atomic<bool> stop{false};
  std::atomic<int> connects{0}, failed{0};
  std::thread load([&] {
    while (!stop) {
      int fd = node_->tcp_socket_in_pod(1);
      (connect_to(fd, kVip, kPort) == 0 ? connects : failed)++;
      close(fd);
      std::this_thread::sleep_for(2ms);
    }
  });

  apply(route_to("v2"));
  EXPECT_TRUE(converges_to("v2")) << "a VirtualService change through the watch routes within 1 s";

  apply(ratings());
  EXPECT_TRUE(wait_for([&] { return connect_ratings() == 0; }, 1s)) << "a new Service reaches the kernel within 1 s";
  ASSERT_TRUE(api_->remove("services", "default", "ratings"));
  ASSERT_TRUE(api_->remove("endpointslices", "default", "ratings-1"));
  EXPECT_TRUE(wait_for([&] { return connect_ratings() != 0; }, 1s)) << "a removed Service leaves the kernel within 1 s";

  // Endpoints that change: reviews loses pod 2 (v1) from its slice.
  apply("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: reviews-1, namespace: default,"
        " labels: {kubernetes.io/service-name: reviews}}\naddressType: IPv4\nports: [{name: http, port: 8080}]\nendpoints:\n"
        "- {addresses: [" + node_->pod_ip(3) + "], conditions: {ready: true}}\n");
  EXPECT_TRUE(converges_to("v2"));
  std::this_thread::sleep_for(300ms);
  stop = true;
  load.join();
  EXPECT_GT(connects.load(), 10);
  EXPECT_EQ(failed.load(), 0) << "no connect failed while the config changed";
}

TEST_F(KubeWatchTest, AnInvalidResourceIsRejectedAloneWhileAValidChangeApplies) {
  apply(reviews() + "---\n" + route_to("v1") + "---\n" + ratings());
  start_with_api();
  EXPECT_TRUE(converges_to("v1"));
  // One apply, one watch batch: reviews' route turns invalid (a negative
  // weight), ratings moves to a port nothing listens on.
  apply(route_to("v3", "      weight: -5\n") + "---\n" + ratings("8099"));
  EXPECT_TRUE(wait_for([&] { return connect_ratings() != 0; }, 1s)) << "the valid change applies";
  EXPECT_EQ(versions(10), (std::map<std::string, int>{{"v1", 10}})) << "reviews keeps its last good route";
  const std::string config = config_json();
  EXPECT_NE(config.find("VirtualService default/reviews"), std::string::npos) << config;
  EXPECT_NE(config.find("spec.http[0].route[0].weight: weight -5 < 0"), std::string::npos) << config;
  EXPECT_TRUE(log_has("config: rejected: kubernetes: VirtualService default/reviews"));
}

TEST_F(KubeWatchTest, VirtualServiceBeforeItsDestinationRuleConverges) {
  apply(reviews(/*with_rule=*/false) + "---\n" + route_to("v2"));
  start_with_api();
  // Istio's behaviour for a subset nobody defined yet: 503 NC.
  HttpReply r = get("/reviews/1");
  EXPECT_EQ(r.status, 503u);
  EXPECT_TRUE(log_has("\"flags\":\"NC\""));
  apply(rule());
  EXPECT_TRUE(converges_to("v2"));
}

TEST_F(KubeWatchTest, GoneAndAnAbsentApiServerLoseNothing) {
  apply(reviews() + "---\n" + route_to("v1"));
  start_with_api();
  EXPECT_TRUE(converges_to("v1"));

  // 410: the history is compacted while the watches are cut, so they come
  // back to a resourceVersion that is gone and list again.
  node_->in_node([&] { api_->go_down(); });
  apply(route_to("v3"));
  api_->compact();
  node_->in_node([&] { api_->come_up(); });
  EXPECT_TRUE(wait_for([&] { return versions(10) == std::map<std::string, int>{{"v3", 10}}; }, 10s));
  EXPECT_TRUE(log_has("too old (410 Gone); listing again"));

  // The API server away for 30 s: the data path serves the last state the
  // whole time, and picks up what changed meanwhile when it is back.
  node_->in_node([&] { api_->go_down(); });
  apply(route_to("v2"));
  const auto until = std::chrono::steady_clock::now() + 30s;
  int served = 0, wrong = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto v = versions(5);
    served += v["v3"];
    wrong += 5 - v["v3"];
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_GT(served, 0);
  EXPECT_EQ(wrong, 0) << "every request served by the last state while the API server was away";
  node_->in_node([&] { api_->come_up(); });
  EXPECT_TRUE(wait_for([&] { return versions(10) == std::map<std::string, int>{{"v2", 10}}; }, 60s))
      << "resynced after the outage (reconnect backoff is at most 30 s, jittered up to 45 s: the wait is longer than that)";
}
