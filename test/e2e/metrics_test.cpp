// Prometheus metrics end to end: known traffic from a labelled client pod
// through sluiced's proxy, then /metrics must hold exactly those counts under
// Istio's names and labels, pass `promtool check metrics`, answer in
// OpenMetrics when asked, and feed a real Prometheus server. Privileged.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "l7_fixture.h"

using namespace std::chrono_literals;
using namespace sluice::test;

namespace {

constexpr uint16_t kMetricsPort = 15020;  // sluiced's default, inside the node netns
constexpr uint16_t kPrometheusPort = 19090;

// Routes /reviews to v1 and aborts /fail with 503 (fault: FI).
constexpr const char* kRoutes = R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match:
    - uri: {prefix: /fail}
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route:
    - destination: {host: reviews, subset: v1}
  - match:
    - uri: {prefix: /reviews}
    route:
    - destination: {host: reviews, subset: v1}
)";

// One sample line: its labels and value.
struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The samples of `name` (exact metric name) in a text exposition. Label
// values here hold no escapes, so a plain split suffices.
std::vector<Sample> samples(const std::string& text, const std::string& name) {
  std::vector<Sample> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(name + "{") && !line.starts_with(name + " ")) continue;
    Sample s;
    size_t at = name.size();
    if (line[at] == '{') {
      const size_t end = line.find("} ", at);
      std::string body = line.substr(at + 1, end - at - 1);
      for (size_t p = 0; p < body.size();) {
        const size_t eq = body.find("=\"", p);
        const size_t close = body.find('"', eq + 2);
        s.labels[body.substr(p, eq - p)] = body.substr(eq + 2, close - eq - 2);
        p = close + 2;  // past '",'
      }
      at = end + 1;
    }
    s.value = std::strtod(line.c_str() + at + 1, nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

// The samples whose labels include every one of `want`.
std::vector<Sample> matching(const std::vector<Sample>& all, const std::map<std::string, std::string>& want) {
  std::vector<Sample> out;
  for (const Sample& s : all) {
    bool ok = true;
    for (const auto& [k, v] : want) {
      auto it = s.labels.find(k);
      ok = ok && it != s.labels.end() && it->second == v;
    }
    if (ok) out.push_back(s);
  }
  return out;
}

// GET over loopback (inside the caller's netns) with an Accept header:
// status line, headers and body as one string.
std::string raw_get(uint16_t port, const std::string& target, const std::string& accept = "") {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string in;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    if (!accept.empty()) req += "Accept: " + accept + "\r\n";
    req += "\r\n";
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[16384];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) in.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return in;
}

std::string body_of(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

// `promtool check metrics` on a file: exit status and what it printed.
std::pair<int, std::string> promtool_check(const std::string& file) {
  std::string out;
  FILE* p = popen(("promtool check metrics < " + file + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class MetricsTest : public L7Test {
 protected:
  // bookinfo plus the client: pod 1 as a Deployment's pod of productpage v1.
  std::string mesh() {
    return bookinfo(kRoutes) +
           "---\napiVersion: v1\nkind: Pod\nmetadata: {name: productpage-v1-6b746f74dc-x2k9p, namespace: default, "
           "labels: {app: productpage, version: v1, pod-template-hash: 6b746f74dc}}\n"
           "status: {phase: Running, podIP: " + node_->pod_ip(1) + "}\n";
  }

  std::string scrape(uint16_t port, const std::string& accept = "") {
    return node_->in_node([&] { return raw_get(port, "/metrics", accept); });
  }

  // 20 requests answered by v1 and 5 aborted by the fault.
  void send_known_traffic() {
    for (int i = 0; i < 20; ++i) ASSERT_EQ(get("/reviews/1").status, 200u);
    for (int i = 0; i < 5; ++i) ASSERT_EQ(get("/fail").status, 503u);
  }

  const std::map<std::string, std::string> client_ = {
      {"reporter", "source"},
      {"source_workload", "productpage-v1"},
      {"source_workload_namespace", "default"},
      {"source_app", "productpage"},
      {"source_version", "v1"},
      {"source_principal", "unknown"},
      {"destination_service", "reviews.default.svc.cluster.local"},
      {"destination_service_name", "reviews"},
      {"destination_service_namespace", "default"},
      {"request_protocol", "http"},
      {"connection_security_policy", "unknown"},
  };
};

TEST_F(MetricsTest, KnownTrafficGivesExactCountsWithIstiosLabels) {
  start(mesh());
  send_known_traffic();
  const std::string response = scrape(kMetricsPort);
  ASSERT_NE(response.find("HTTP/1.1 200"), std::string::npos) << response;
  EXPECT_NE(response.find("text/plain; version=0.0.4"), std::string::npos) << response.substr(0, 300);
  const std::string text = body_of(response);

  auto ok = client_;
  ok.insert({{"destination_workload", "reviews-2"},
             {"destination_workload_namespace", "default"},
             {"destination_app", "reviews"},
             {"destination_version", "v1"},
             {"response_code", "200"},
             {"response_flags", "-"}});
  const auto requests = samples(text, "istio_requests_total");
  const auto ok_series = matching(requests, ok);
  ASSERT_EQ(ok_series.size(), 1u) << text;
  EXPECT_EQ(ok_series[0].value, 20);

  auto aborted = client_;
  aborted.insert({{"destination_workload", "unknown"}, {"response_code", "503"}, {"response_flags", "FI"}});
  const auto aborted_series = matching(requests, aborted);
  ASSERT_EQ(aborted_series.size(), 1u) << text;
  EXPECT_EQ(aborted_series[0].value, 5);

  // The histograms count the same requests; each has its +Inf bucket.
  const auto count = matching(samples(text, "istio_request_duration_milliseconds_count"), ok);
  ASSERT_EQ(count.size(), 1u);
  EXPECT_EQ(count[0].value, 20);
  auto inf = ok;
  inf["le"] = "+Inf";
  const auto inf_bucket = matching(samples(text, "istio_response_bytes_bucket"), inf);
  ASSERT_EQ(inf_bucket.size(), 1u);
  EXPECT_EQ(inf_bucket[0].value, 20);
  const auto response_sum = matching(samples(text, "istio_response_bytes_sum"), ok);
  ASSERT_EQ(response_sum.size(), 1u);
  EXPECT_GT(response_sum[0].value, 0) << "sluice-echo answers with a body";
  EXPECT_EQ(matching(samples(text, "istio_request_bytes_count"), aborted).at(0).value, 5);

  // The kernel redirected every one of those connections to the proxy.
  const auto redirected = matching(samples(text, "sluice_kernel_decisions_total"), {{"reason", "connect_redirected"}});
  ASSERT_EQ(redirected.size(), 1u) << text;
  EXPECT_GE(redirected[0].value, 25);
  EXPECT_EQ(samples(text, "sluice_config_last_reload_success").at(0).value, 1);
  EXPECT_EQ(samples(text, "sluice_proxy_connections").size(), 1u);
  const auto overflows = matching(samples(text, "sluice_circuit_breaker_overflows_total"),
                                  {{"cluster", "reviews.default.svc.cluster.local:9080/v1"}, {"resource", "connections"}});
  ASSERT_EQ(overflows.size(), 1u) << text;
  EXPECT_EQ(overflows[0].value, 0);
  EXPECT_GE(samples(text, "sluice_config_version").at(0).value, 1);
  // The kernel's tables' fill levels: the mesh's service port is in
  // sl_services, out of its default capacity.
  const auto services_map = matching(samples(text, "sluice_bpf_map_entries"), {{"map", "sl_services"}});
  ASSERT_EQ(services_map.size(), 1u) << text;
  EXPECT_GE(services_map[0].value, 1);
  EXPECT_EQ(matching(samples(text, "sluice_bpf_map_capacity"), {{"map", "sl_services"}}).at(0).value, 131072);

  // The admin API serves the same families.
  const std::string admin = body_of(scrape(kAdminPort));
  EXPECT_EQ(matching(samples(admin, "istio_requests_total"), ok).at(0).value, 20);

  // promtool, Prometheus' own checker, parses the exposition (exit 1 is a
  // parse error) and finds no lint but one: Istio's own name
  // istio_request_duration_milliseconds is not in base units (exit 3), which
  // Istio's sidecars are told too. Nothing else may be reported.
  const std::string file = dir_ + "/metrics.txt";
  std::ofstream(file) << text;
  const auto [rc, report] = promtool_check(file);
  EXPECT_TRUE(rc == 0 || rc == 3) << "promtool check metrics: exit " << rc << "\n" << report;
  std::istringstream lines(report);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    EXPECT_EQ(line, "istio_request_duration_milliseconds use base unit \"seconds\" instead of \"milliseconds\"")
        << "unexpected promtool finding";
  }
}

// istio_tcp_*: a plain TCP service is balanced by the kernel alone, and
// sockops counts the connection and its bytes per edge; the scrape labels
// the edge from the pods and the service.
TEST_F(MetricsTest, TcpConnectionsAndBytesAreCountedByTheKernel) {
  start(mesh() +
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: ratings-tcp, namespace: default}\n"
        "spec: {clusterIP: 10.96.0.30, selector: {app: reviews, version: v1}, ports: [{name: tcp-db, port: 7070, "
        "targetPort: 8080}]}\n");
  const std::string req = "GET /tcp HTTP/1.1\r\nHost: ratings-tcp\r\nConnection: close\r\n\r\n";
  size_t received = 0;
  {
    const int fd = node_->tcp_socket_in_pod(1);
    ASSERT_EQ(connect_to(fd, "10.96.0.30", 7070), 0);
    ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[16384];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) received += static_cast<size_t>(n);
    close(fd);  // after the server's FIN: the close completes at once
  }
  ASSERT_GT(received, 0u);
  auto edge = client_;
  edge.erase("destination_service");
  edge.erase("destination_service_name");
  edge.insert({{"destination_service", "ratings-tcp.default.svc.cluster.local"},
               {"destination_service_name", "ratings-tcp"},
               {"destination_workload", "reviews-2"},
               {"destination_app", "reviews"},
               {"destination_version", "v1"},
               {"response_flags", "-"}});
  edge["request_protocol"] = "tcp";
  std::string text;
  for (int i = 0; i < 100; ++i) {  // sockops sees the close when the last ACK is in
    text = body_of(scrape(kMetricsPort));
    const auto closed = matching(samples(text, "istio_tcp_connections_closed_total"), edge);
    if (!closed.empty() && closed[0].value == 1) break;
    std::this_thread::sleep_for(20ms);
  }
  const auto value = [&](const char* name) {
    const auto m = matching(samples(text, name), edge);
    EXPECT_EQ(m.size(), 1u) << name << "\n" << text;
    return m.empty() ? -1.0 : m[0].value;
  };
  EXPECT_EQ(value("istio_tcp_connections_opened_total"), 1);
  EXPECT_EQ(value("istio_tcp_connections_closed_total"), 1);
  // Istio's directions: received is the request, sent the response. The
  // kernel's bytes_acked and bytes_received count sequence space, so the
  // SYN and FIN may add one each.
  const double request_bytes = value("istio_tcp_received_bytes_total");
  const double response_bytes = value("istio_tcp_sent_bytes_total");
  EXPECT_GE(request_bytes, static_cast<double>(req.size()));
  EXPECT_LE(request_bytes, static_cast<double>(req.size() + 2));
  EXPECT_GE(response_bytes, static_cast<double>(received));
  EXPECT_LE(response_bytes, static_cast<double>(received + 2));
  // The HTTP port's connections went to the proxy: no TCP series for them.
  EXPECT_TRUE(matching(samples(text, "istio_tcp_connections_opened_total"),
                       {{"destination_service", "reviews.default.svc.cluster.local"}})
                  .empty());

  // The kernel's network view of the service: the connection's RTT, one
  // sample, inside the histogram's range; nothing retransmitted on a veth.
  const std::map<std::string, std::string> service = {
      {"destination_service", "ratings-tcp.default.svc.cluster.local"}, {"destination_service_name", "ratings-tcp"}};
  const auto rtt_count = matching(samples(text, "sluice_tcp_rtt_seconds_count"), service);
  ASSERT_EQ(rtt_count.size(), 1u) << text;
  EXPECT_EQ(rtt_count[0].value, 1);
  auto below_a_second = service;
  below_a_second["le"] = "1";
  EXPECT_EQ(matching(samples(text, "sluice_tcp_rtt_seconds_bucket"), below_a_second).at(0).value, 1);
  EXPECT_GT(matching(samples(text, "sluice_tcp_rtt_seconds_sum"), service).at(0).value, 0);
  EXPECT_EQ(matching(samples(text, "sluice_tcp_retransmitted_segments_total"), service).at(0).value, 0);
}

TEST_F(MetricsTest, OpenMetricsWhenAcceptAsksForIt) {
  start(mesh());
  send_known_traffic();
  const std::string response =
      scrape(kMetricsPort, "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
  EXPECT_NE(response.find("application/openmetrics-text; version=1.0.0"), std::string::npos) << response.substr(0, 300);
  const std::string text = body_of(response);
  EXPECT_TRUE(text.ends_with("# EOF\n")) << text.substr(text.size() > 200 ? text.size() - 200 : 0);
  EXPECT_NE(text.find("# TYPE istio_requests counter\n"), std::string::npos);
  auto ok = client_;
  ok["response_code"] = "200";
  EXPECT_EQ(matching(samples(text, "istio_requests_total"), ok).at(0).value, 20);
  auto le1 = ok;
  le1["le"] = "1000.0";
  EXPECT_EQ(matching(samples(text, "istio_request_duration_milliseconds_bucket"), le1).at(0).value, 20);
}

// A real Prometheus (Debian's) on the node's loopback scrapes sluiced; a
// PromQL query through its HTTP API sees the requests.
TEST_F(MetricsTest, PrometheusScrapesSluicedAndAnswersPromQL) {
  if (run_quietly("command -v prometheus") != 0) GTEST_SKIP() << "prometheus is not installed (scripts/setup.sh)";
  start(mesh());
  send_known_traffic();
  const std::string config = dir_ + "/prometheus.yml";
  std::ofstream(config) << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                           "scrape_configs:\n- job_name: sluiced\n  static_configs:\n  - targets: ['127.0.0.1:"
                        << kMetricsPort << "']\n";
  const pid_t prometheus = node_->spawn(
      node_->node_ns(),
      {"prometheus", "--config.file=" + config, "--storage.tsdb.path=" + dir_ + "/tsdb",
       "--web.listen-address=127.0.0.1:" + std::to_string(kPrometheusPort)},
      dir_ + "/prometheus.log");
  const std::string query =
      "/api/v1/query?query=sum(istio_requests_total%7Bsource_workload%3D%22productpage-v1%22%2C"
      "response_code%3D%22200%22%7D)";
  std::string answer;
  const bool seen = wait_for(
      [&] {
        answer = body_of(node_->in_node([&] { return raw_get(kPrometheusPort, query); }));
        return answer.find("\"20\"]") != std::string::npos;
      },
      30s);
  node_->stop(prometheus);
  EXPECT_TRUE(seen) << "last answer: " << answer << "\n" << log("prometheus.log");
}

}  // namespace
