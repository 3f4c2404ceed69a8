// Socket redirection with sluiced in the path: pod -> VIP (an HTTP service)
// -> kernel redirect to sluiced -> local backend pod, with the sockhash fast
// path on both hops. Responses must be byte-identical with it on and off,
// WebSocket tunnels keep working, and the counters move. Privileged.
#include <string>
#include <tuple>
#include <vector>

#include "external_client.h"  // run_capture
#include "http_stream_client.h"
#include "l7_fixture.h"

using namespace sluice::test;

namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;

class SockmapTest : public L7Test {
 protected:
  void start_with_redirect(const std::string& mode) {
    daemon_flags_ = {"--socket-redirect", mode, "--pod-cidr", "10.200.0.0/16"};
    start(bookinfo(route_with("")));
  }

  void stop_daemon() {
    node_->stop(daemon_);
    daemon_ = -1;
  }

  std::string admin(const std::string& path) {
    auto r = node_->in_node([&] { return sluice::http_get("127.0.0.1", kAdminPort, path, 1000ms); });
    return r.ok() && r->first == 200 ? r->second : "";
  }

  // One JSON counter of /redirect.
  uint64_t redirect_counter(const std::string& name) {
    const std::string body = admin("/redirect");
    const size_t at = body.find("\"" + name + "\":");
    return at == std::string::npos ? 0 : std::stoull(body.substr(at + name.size() + 3));
  }

  // The proxy finds the original destination (the route sends v1) and
  // uploads arrive whole, Content-Length and chunked.
  void expect_uploads_arrive_whole();

  // (status, bytes, FNV-1a, pattern ok, chunked) of every size and framing.
  using Row = std::tuple<unsigned, uint64_t, std::string, bool, bool>;
  std::vector<Row> download_all() {
    std::vector<Row> rows;
    for (uint64_t n : {kKiB, kMiB, 100 * kMiB}) {
      for (bool chunked : {false, true}) {
        int fd = node_->tcp_socket_in_pod(1);
        if (connect_to(fd, kVip, kPort) != 0) {
          close(fd);
          rows.emplace_back(0, 0, "connect failed", false, chunked);
          continue;
        }
        StreamedReply r = streamed_exchange(
            fd, "GET", "/d?body_bytes=" + std::to_string(n) + (chunked ? "&chunked=1" : ""), "Connection: close\r\n");
        EXPECT_EQ(r.error, "") << n << (chunked ? " chunked" : "");
        rows.emplace_back(r.status, r.body_bytes, r.body_hash.hex(), r.matches_echo_pattern, r.chunked);
      }
    }
    return rows;
  }
};

TEST_F(SockmapTest, ResponsesAreByteIdenticalWithTheRedirectOnProxyAndOff) {
  // on: both hops both ways skip the stack. proxy: only what sluiced
  // receives, so here the backend's responses to sluiced.
  std::vector<std::vector<Row>> fast;
  for (const char* mode : {"on", "proxy"}) {
    start_with_redirect(mode);
    fast.push_back(download_all());
    EXPECT_GT(redirect_counter("inserted"), 0u) << mode;
    EXPECT_GT(redirect_counter("bytes_redirected"), 200 * kMiB) << mode << ": the bodies skipped the stack";
    stop_daemon();
  }

  start_with_redirect("off");
  auto off_view = node_->in_node([] { return sluice::http_get("127.0.0.1", kAdminPort, "/redirect", 1000ms); });
  ASSERT_TRUE(off_view.ok());
  EXPECT_EQ(off_view->first, 404) << "off: the fast path is not loaded";
  const std::vector<Row> off = download_all();
  for (const std::vector<Row>& rows : fast) {
    ASSERT_EQ(rows.size(), off.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i], off[i]) << "row " << i;
      EXPECT_EQ(std::get<0>(rows[i]), 200u);
      EXPECT_TRUE(std::get<3>(rows[i])) << "row " << i << " is sluice-echo's pattern";
    }
  }
}

TEST_F(SockmapTest, UploadsAndRoutingWorkThroughTheFastPath) {
  start_with_redirect("on");
  expect_uploads_arrive_whole();
  // sluicectl status shows the fast path too.
  int rc = 0;
  const std::string status = run_capture(NodeSim::script_path() + " exec " + node_->prefix() + " node " +
                                             SLUICECTL_PATH + " status --admin 127.0.0.1:" + std::to_string(kAdminPort),
                                         &rc);
  EXPECT_EQ(rc, 0) << status;
  EXPECT_NE(status.find("redirect: {\"mode\":\"on\""), std::string::npos) << status;
}

// sluiced's default: the client's request bytes go straight to sluiced.
TEST_F(SockmapTest, ProxyModeIsTheDefaultAndRedirectsUploads) {
  daemon_flags_ = {"--pod-cidr", "10.200.0.0/16"};
  start(bookinfo(route_with("")));
  EXPECT_NE(admin("/redirect").find("\"mode\":\"proxy\""), std::string::npos) << admin("/redirect");
  expect_uploads_arrive_whole();
  EXPECT_GT(redirect_counter("bytes_redirected"), 2 * kMiB) << "the uploads skipped the stack";
}

// The default mode is an optimisation: when it cannot load (here a pinned
// map of the wrong type where sl_proxyhash belongs), sluiced warns and
// serves without it; the mode given explicitly is required.
TEST_F(SockmapTest, TheDefaultModeFallsBackWhenItCannotLoad) {
  const std::string bogus = node_->pin_dir() + "/sl_proxyhash";
  std::filesystem::create_directories(node_->pin_dir());
  ASSERT_EQ(run_quietly("bpftool map create " + bogus + " type array key 4 value 4 entries 1 name sl_proxyhash"), 0);
  std::vector<std::string> explicit_flags = {SLUICED_PATH,  "--config",  dir_ + "/config", "--cgroup",
                                             node_->cgroup_path(), "--pin-dir", node_->pin_dir(),
                                             "--node-ip",   node_->node_ip(), "--admin-port", "0",
                                             "--socket-redirect", "proxy"};
  std::ofstream(dir_ + "/config/mesh.yaml") << bookinfo(route_with(""));
  int rc = 0;
  run_capture(NodeSim::script_path() + " exec " + node_->prefix() + " node timeout 20 " + [&] {
    std::string cmd;
    for (const std::string& a : explicit_flags) cmd += " '" + a + "'";
    return cmd;
  }() + " >/dev/null 2>&1", &rc);
  EXPECT_NE(rc, 0) << "an explicit mode that cannot load stops sluiced";
  daemon_flags_ = {"--pod-cidr", "10.200.0.0/16"};
  start(bookinfo(route_with("")));
  EXPECT_EQ(get("/").status, 200u);
  EXPECT_EQ(admin("/redirect"), "") << "no fast path";
  EXPECT_TRUE(log_has("socket redirection (proxy by default) is unavailable"));
}

void SockmapTest::expect_uploads_arrive_whole() {
  for (const Upload& u : {Upload{kMiB, 0}, Upload{kMiB, 100000}}) {
    int fd = node_->tcp_socket_in_pod(1);
    ASSERT_EQ(connect_to(fd, kVip, kPort), 0);
    StreamedReply r = streamed_exchange(fd, "POST", "/up", "Connection: close\r\n", u);
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.headers["x-echo-version"], "v1");
    EXPECT_NE(r.body_head.find("\"body_fnv1a\":\"" + u.hash() + "\""), std::string::npos) << r.body_head;
  }
  EXPECT_GT(redirect_counter("msg_redirected"), 0u);
}

TEST_F(SockmapTest, WebSocketTunnelsThroughTheFastPath) {
  start_with_redirect("on");
  const WebSocketEcho ws = websocket_echo("hello over a sockhash");
  ASSERT_EQ(ws.head.substr(0, 12), "HTTP/1.1 101") << ws.head;
  EXPECT_EQ(ws.echoed, "hello over a sockhash");
  EXPECT_GT(redirect_counter("msg_redirected"), 0u);
}

TEST_F(SockmapTest, TurningItOffAtRestartRemovesThePinnedFastPath) {
  start_with_redirect("on");
  ASSERT_EQ(get("/").status, 200u);
  stop_daemon();
  EXPECT_TRUE(std::filesystem::exists(node_->pin_dir() + "/sl_sockhash"));
  start_with_redirect("off");
  EXPECT_FALSE(std::filesystem::exists(node_->pin_dir() + "/sl_sockhash"));
  EXPECT_FALSE(std::filesystem::exists(node_->pin_dir() + "/links/sl_redir_sockops"));
  EXPECT_EQ(get("/").status, 200u);
}

}  // namespace
