// The fixture of the L7 end-to-end tests: a simulated node with sluice-echo
// pods (versions v1..v3 of "reviews") and sluiced in front of them, plus raw
// HTTP helpers that speak from inside a pod. Privileged.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "admin_client.h"
#include "daemon_admin.h"
#include "external_client.h"  // run_quietly
#include "node_sim.h"
#include "pod_sockets.h"

namespace sluice::test {

using namespace std::chrono_literals;


inline constexpr uint16_t kAdminPort = 15000;
inline constexpr uint16_t kProxyPort = 15001;
inline constexpr const char* kVip = "10.96.0.20";
inline constexpr uint16_t kPort = 9080;

struct HttpReply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

// A raw HTTP/1.1 exchange from inside a pod, so the test exercises exactly
// what an application in the pod would send.
inline HttpReply raw_request(int fd, const std::string& request) {
  HttpReply r;
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return r;
  std::string in;
  char buf[8192];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) in.append(buf, static_cast<size_t>(n));
  std::istringstream s(in);
  std::string line;
  if (!std::getline(s, line)) return r;
  r.status = static_cast<unsigned>(std::atoi(line.substr(9, 3).c_str()));
  while (std::getline(s, line) && line != "\r") {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    if (!value.empty() && value.back() == '\r') value.pop_back();
    r.headers[name] = value;
  }
  r.body.assign(std::istreambuf_iterator<char>(s), {});
  return r;
}

class L7Test : public NodeTest {
 protected:
  int pod_count() const override { return 4; }

  void SetUp() override {
    NodeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    node_->join_cgroup();
    dir_ = "/tmp/" + node_->prefix() + "-l7";
    std::filesystem::create_directories(dir_ + "/config");
    for (int i : {2, 3, 4}) start_echo(i);
  }

  // sluice-echo in pod i, version v<i-1>, with extra flags.
  void start_echo(int i, std::vector<std::string> extra = {}) {
    if (echo_[i] > 0) node_->stop(echo_[i]);
    std::vector<std::string> argv = {SLUICE_ECHO_PATH, "--listen", "0.0.0.0:8080", "--name", "p" + std::to_string(i),
                                     "--version", "v" + std::to_string(i - 1)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    echo_[i] = node_->spawn(node_->pod_ns(i), argv, dir_ + "/echo.log");
    // Ready when it answers.
    bool up = false;
    for (int t = 0; t < 100 && !up; ++t) {
      int fd = node_->tcp_socket_in_pod(1);
      up = connect_to(fd, node_->pod_ip(i), 8080) == 0;
      close(fd);
      if (!up) std::this_thread::sleep_for(10ms);
    }
    if (!up) ADD_FAILURE() << "sluice-echo in pod " << i << " never answered";
  }

  // `openssl s_server -www` in pod i on `port`, with a self-signed
  // certificate whose CN is `cn`: a real TLS endpoint for tls routes and
  // Gateway PASSTHROUGH. Stopped in TearDown.
  void start_tls_server(int i, const std::string& cn, uint16_t port) {
    ASSERT_EQ(run_quietly("cd " + dir_ + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                          " -days 1 -subj /CN=" + cn + " -keyout " + cn + ".key -out " + cn + ".crt"),
              0);
    tls_servers_.push_back(node_->spawn(node_->pod_ns(i),
                                        {"openssl", "s_server", "-accept", std::to_string(port), "-cert",
                                         dir_ + "/" + cn + ".crt", "-key", dir_ + "/" + cn + ".key", "-www", "-quiet"},
                                        dir_ + "/s_server.log"));
    bool up = false;
    for (int t = 0; t < 200 && !up; ++t) {
      int fd = node_->tcp_socket_in_pod(1);
      up = connect_to(fd, node_->pod_ip(i), port) == 0;
      close(fd);
      if (!up) std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(up) << "s_server in pod " << i << " never listened";
  }

  void TearDown() override {
    if (node_) {
      for (pid_t p : tls_servers_) node_->stop(p);
      if (daemon_ > 0) node_->stop(daemon_);
      std::filesystem::remove_all(node_->pin_dir() + "/links");
      if (HasFailure()) {
        for (const auto& e : std::filesystem::directory_iterator(dir_)) {
          const std::string name = e.path().filename().string();
          if (!name.starts_with("sluiced")) continue;  // sluiced.log, and a successor's in an upgrade
          std::ifstream in(e.path());
          std::cerr << "--- " << name << " ---\n" << in.rdbuf() << "--- end ---\n";
        }
      }
    }
    std::filesystem::remove_all(dir_);
    NodeTest::TearDown();
  }

  std::string bookinfo(const std::string& virtual_service) {
    std::string y =
        "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default}\n"
        "spec: {clusterIP: 10.96.0.20, selector: {app: reviews}, ports: [{name: http, port: 9080, targetPort: 8080}]}\n"
        "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\n"
        "spec:\n  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n"
        "  - {name: v3, labels: {version: v3}}\n";
    for (int i : {2, 3, 4}) {
      y += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: reviews-" + std::to_string(i) +
           ", namespace: default, labels: {app: reviews, version: v" + std::to_string(i - 1) +
           "}}\nstatus: {phase: Running, podIP: " + node_->pod_ip(i) + "}\n";
    }
    return y + virtual_service;
  }

  void start(const std::string& config) {
    std::ofstream(dir_ + "/config/mesh.yaml") << config;
    start_daemon({"--config", dir_ + "/config"});
  }

  // sluiced with this config source (--config DIR, --kubeconfig PATH), ready
  // and proxying.
  void start_daemon(const std::vector<std::string>& source) {
    spawn_daemon(source);
    wait_ready_and_proxying();
  }

  // sluiced started, not waited for; its output goes to `log_name` in dir_.
  void spawn_daemon(const std::vector<std::string>& source, const std::string& log_name = "sluiced.log") {
    std::vector<std::string> argv{SLUICED_PATH};
    argv.insert(argv.end(), source.begin(), source.end());
    argv.insert(argv.end(), {"--cgroup", node_->cgroup_path(), "--pin-dir",
                            node_->pin_dir(), "--admin-port", std::to_string(kAdminPort), "--node-ip",
                            node_->node_ip(), "--proxy-port", std::to_string(kProxyPort),
                            "--request-header-timeout-ms", "1000"});
    argv.insert(argv.end(), daemon_flags_.begin(), daemon_flags_.end());
    daemon_ = node_->spawn(node_->node_ns(), argv, dir_ + "/" + log_name);
  }

  void wait_ready_and_proxying() {
    bool ready = false;
    for (int i = 0; i < 250 && !ready; ++i) {
      auto r = node_->in_node([] { return sluice::http_get("127.0.0.1", kAdminPort, "/ready", 500ms); });
      ready = r.ok() && r->first == 200;
      if (!ready) std::this_thread::sleep_for(20ms);
    }
    if (!ready) ADD_FAILURE() << "sluiced never became ready";
    // Wait until the kernel redirects to the proxy (its listener is
    // registered): before that, HTTP ports are balanced at L4 and reach pods
    // directly.
    bool proxied = false;
    for (int i = 0; i < 250 && !(proxied = through_proxy(get("/"))); ++i) std::this_thread::sleep_for(20ms);
    if (!proxied) ADD_FAILURE() << "requests never went through sluiced's proxy";
  }

  // A proxied answer is either the proxy's own (server: sluice) or the
  // backend's echo of the x-request-id the proxy added; a direct one (L4,
  // kernel balanced) has neither.
  static bool through_proxy(const HttpReply& r) {
    const auto server = r.headers.find("server");
    const bool local = server != r.headers.end() && server->second == "sluice";
    return r.status != 0 && (local || r.body.find("x-request-id") != std::string::npos);
  }

  HttpReply request(const std::string& text) {
    int fd = node_->tcp_socket_in_pod(1);
    HttpReply r;
    if (connect_to(fd, kVip, kPort) == 0) r = raw_request(fd, text);
    close(fd);
    return r;
  }

  HttpReply get(const std::string& path, const std::string& extra_headers = "") {
    return request("GET " + path + " HTTP/1.1\r\nHost: reviews:9080\r\nConnection: close\r\n" + extra_headers + "\r\n");
  }

  std::map<std::string, int> versions(int n, const std::string& extra = "") {
    std::map<std::string, int> out;
    for (int i = 0; i < n; ++i) {
      HttpReply r = get("/reviews/1", extra);
      ++out[r.status == 200 ? r.headers["x-echo-version"] : "status:" + std::to_string(r.status)];
    }
    return out;
  }

  // bookinfo with a route to v1 mirrored to a "sink" Service on pod 4:9090.
  std::string mirrored_to_sink() {
    return bookinfo("---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\n"
                    "spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n"
                    "    mirror: {host: sink}\n"
                    "---\napiVersion: v1\nkind: Service\nmetadata: {name: sink, namespace: default}\n"
                    "spec: {clusterIP: 10.96.0.30, selector: {app: sink}, ports: [{name: http, port: 80, targetPort: 9090}]}\n"
                    "---\napiVersion: v1\nkind: Pod\nmetadata: {name: sink, namespace: default, labels: {app: sink}}\n"
                    "status: {phase: Running, podIP: " + node_->pod_ip(4) + "}\n");
  }

  // A WebSocket through the proxy from pod 1: the Upgrade handshake, then
  // one masked text frame (payload under 126 bytes) and its echo.
  struct WebSocketEcho {
    std::string head;    // the handshake response's header
    std::string echoed;  // the payload of the frame that came back
  };
  WebSocketEcho websocket_echo(const std::string& payload) {
    WebSocketEcho out;
    int fd = node_->tcp_socket_in_pod(1);
    if (connect_to(fd, kVip, kPort) != 0) {
      close(fd);
      return out;
    }
    const std::string handshake =
        "GET /reviews/ws HTTP/1.1\r\nHost: reviews:9080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char c;
    if (write(fd, handshake.data(), handshake.size()) == static_cast<ssize_t>(handshake.size())) {
      while (out.head.find("\r\n\r\n") == std::string::npos && read(fd, &c, 1) == 1) out.head += c;
    }
    if (out.head.substr(0, 12) == "HTTP/1.1 101") {
      const unsigned char mask[4] = {1, 2, 3, 4};
      std::string frame = {'\x81', static_cast<char>(0x80 | payload.size())};
      frame.append(reinterpret_cast<const char*>(mask), 4);
      for (size_t i = 0; i < payload.size(); ++i) frame += static_cast<char>(payload[i] ^ mask[i % 4]);
      unsigned char hdr[2];
      if (write(fd, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size()) && read(fd, hdr, 2) == 2 &&
          hdr[0] == 0x81) {
        out.echoed.assign(hdr[1] & 0x7f, '\0');
        if (read(fd, out.echoed.data(), out.echoed.size()) != static_cast<ssize_t>(out.echoed.size())) out.echoed.clear();
      }
    }
    close(fd);
    return out;
  }

  std::string log(const std::string& log_name = "sluiced.log") {
    std::ifstream in(dir_ + "/" + log_name);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  // Whether the daemon's log has `needle` within `limit`: access log lines
  // reach it in batches (--access-log-flush-ms, 100 ms by default).
  bool log_has(const std::string& needle, std::chrono::milliseconds limit = std::chrono::seconds(3),
               const std::string& log_name = "sluiced.log") {
    return wait_for([&] { return log(log_name).find(needle) != std::string::npos; }, limit);
  }

  std::string dir_;
  std::vector<std::string> daemon_flags_;  // extra sluiced flags for start()
  pid_t daemon_ = -1;
  std::map<int, pid_t> echo_;
  std::vector<pid_t> tls_servers_;
};

// A VirtualService with one route to `destination`, plus route fields.
inline std::string route_with(const std::string& extra, const std::string& destination = "{host: reviews, subset: v1}") {
  return "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\n"
         "spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: " + destination + "\n" + extra;
}

inline constexpr const char* kAllPods = "{host: reviews}";

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace sluice::test
