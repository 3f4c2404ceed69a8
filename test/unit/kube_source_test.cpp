// sluiced's Kubernetes client (k8s/kube_source.h) against the test API
// server (test/tools/kube_api), over real HTTPS on loopback: paginated
// lists, watch events split at odd byte boundaries, 410 Gone and the relist,
// a server that goes away and comes back, token rotation, 401 and 403.
// Waits are bounded polls; nothing asserts on timing.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "kube_api_server.h"
#include "kube_source.h"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

std::string service(const std::string& name, const std::string& ip) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: shop}\nspec:\n  clusterIP: " + ip +
         "\n  ports: [{name: http, port: 80}]\n";
}

// Polls cond for up to 20 s.
template <class F>
bool eventually(F cond) {
  for (int i = 0; i < 1000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

class KubeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = sluice::testing::KubeApiServer::start({});
    ASSERT_TRUE(s) << s.error().to_string();
    server_ = std::move(*s);
    ASSERT_TRUE(server_->write_client_files());
  }

  void start_client() {
    kube::ClusterAccess access;
    access.server = server_->url();
    access.host = "127.0.0.1";
    access.port = std::to_string(server_->port());
    access.ca_pem = server_->ca_pem();
    access.token_file = server_->dir() + "/serviceaccount/token";
    kube::KubeSourceOptions o{.access = access, .debounce = 10ms};
    o.reflector.page_size = 3;
    o.reflector.backoff_initial = 20ms;
    o.reflector.backoff_max = 200ms;
    auto started = kube::KubeSource::start(o, [this] { ++changes_; });
    ASSERT_TRUE(started) << started.error().to_string();
    source_ = std::move(*started);
  }

  size_t services() { return source_->load().resources.services.size(); }
  bool has_service(const std::string& name, const std::string& ip) {
    for (const auto& s : source_->load().resources.services) {
      if (s->meta.name == name) return s->object.spec().cluster_ip() == ip;
    }
    return false;
  }
  uint64_t failures() {
    uint64_t n = 0;
    for (const auto& t : source_->status()) n += t.failures;
    return n;
  }

  std::unique_ptr<sluice::testing::KubeApiServer> server_;
  std::unique_ptr<kube::KubeSource> source_;
  std::atomic<int> changes_{0};
};

}  // namespace

TEST_F(KubeSourceTest, ListsInPagesThenFollowsTheWatch) {
  std::string all;
  for (int i = 0; i < 10; ++i) all += "---\n" + service("s" + std::to_string(i), "10.96.0." + std::to_string(10 + i));
  ASSERT_TRUE(server_->apply(all));
  server_->set_watch_chunk_bytes(7);  // events cut anywhere, even mid-line
  start_client();
  ASSERT_TRUE(source_->wait_synced(20s));
  EXPECT_EQ(services(), 10u);
  EXPECT_GE(server_->requests("list", "/api/v1/services"), 4u) << "10 objects in pages of 3";

  ASSERT_TRUE(server_->apply(service("s0", "10.96.1.1") + "---\n" + service("new", "10.96.1.2")));
  EXPECT_TRUE(eventually([&] { return has_service("s0", "10.96.1.1") && has_service("new", "10.96.1.2"); }));
  ASSERT_TRUE(server_->remove("services", "shop", "s1"));
  EXPECT_TRUE(eventually([&] { return services() == 10u; }));
  // The store has the events as they arrive; the change callback follows
  // after the debounce (it flaked when read at once).
  EXPECT_TRUE(eventually([&] { return changes_.load() > 0; }));
  EXPECT_EQ(failures(), 0u);
}

TEST_F(KubeSourceTest, GoneLeadsToARelistThatLosesNothing) {
  ASSERT_TRUE(server_->apply(service("a", "10.96.0.1") + "---\n" + service("b", "10.96.0.2")));
  start_client();
  ASSERT_TRUE(source_->wait_synced(20s));
  // Changes the client does not see as events: the watches drop, the
  // history is compacted, and the next watch from the old version is 410.
  // One watch per type the server serves (an absent type is only listed).
  auto served = [&] {
    size_t n = 0;
    for (const auto& t : source_->status()) n += !t.absent;
    return n;
  };
  ASSERT_TRUE(eventually([&] { return server_->open_watches() >= served(); }));
  server_->go_down();
  ASSERT_TRUE(server_->apply(service("c", "10.96.0.3")));
  ASSERT_TRUE(server_->remove("services", "shop", "a"));
  server_->compact();
  server_->come_up();
  EXPECT_TRUE(eventually([&] { return has_service("c", "10.96.0.3") && !has_service("a", "10.96.0.1") && services() == 2; }));
  uint64_t relists = 0;
  for (const auto& t : source_->status()) relists += t.relists_gone;
  EXPECT_GE(relists, 1u);
}

TEST_F(KubeSourceTest, AServerThatGoesAwayKeepsTheStateAndResyncs) {
  ASSERT_TRUE(server_->apply(service("a", "10.96.0.1")));
  start_client();
  ASSERT_TRUE(source_->wait_synced(20s));
  server_->go_down();
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(has_service("a", "10.96.0.1")) << "the last state stays while the server is away";
  ASSERT_TRUE(server_->apply(service("a", "10.96.0.9")));
  server_->come_up();
  EXPECT_TRUE(eventually([&] { return has_service("a", "10.96.0.9"); }));
  EXPECT_GT(failures(), 0u);
}

TEST_F(KubeSourceTest, ARotatedTokenIsReadFromTheFile) {
  start_client();
  ASSERT_TRUE(source_->wait_synced(20s));
  // Only the new token is accepted from now on; the server rewrites the
  // projected token file, and every watch is cut so it must authenticate anew.
  server_->set_token("rotated-token");
  server_->drop_watches();
  ASSERT_TRUE(server_->apply(service("after", "10.96.0.5")));
  EXPECT_TRUE(eventually([&] { return has_service("after", "10.96.0.5"); }));
}

TEST_F(KubeSourceTest, ATypeTheServerDoesNotServeCountsAsEmpty) {
  // The test API server has no sluice.io types, as a cluster without the
  // RateLimitPolicy CRD: the rest still syncs.
  start_client();
  ASSERT_TRUE(source_->wait_synced(20s));
  bool absent = false;
  for (const auto& t : source_->status()) {
    if (t.type == "ratelimitpolicies") absent = t.absent && t.synced;
    if (t.type == "pods") {
      EXPECT_FALSE(t.absent);
    }
  }
  EXPECT_TRUE(absent);
}

TEST_F(KubeSourceTest, ForbiddenIsRetriedUntilAllowed) {
  server_->forbid("pods");
  start_client();
  EXPECT_FALSE(source_->wait_synced(1s)) << "a type that cannot be listed keeps the source unsynced";
  bool saw_forbidden = false;
  for (const auto& t : source_->status()) {
    if (t.type == "pods") saw_forbidden = t.last_error.find("403") != std::string::npos;
  }
  EXPECT_TRUE(saw_forbidden);
  server_->forbid("pods", false);
  EXPECT_TRUE(source_->wait_synced(20s));
}

TEST_F(KubeSourceTest, AWrongTokenIsUnauthorizedAndRetried) {
  {
    std::ofstream(server_->dir() + "/serviceaccount/token") << "wrong";
  }
  start_client();
  EXPECT_FALSE(source_->wait_synced(1s));
  EXPECT_GT(server_->responses(401), 0u);
  ASSERT_TRUE(server_->write_client_files());  // the right token again
  EXPECT_TRUE(source_->wait_synced(20s));
}
