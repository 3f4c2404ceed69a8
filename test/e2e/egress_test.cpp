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
#include <sstream>

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
  # TCP: the egress table alone decides (an HTTP port's connects would go
  # to the proxy: EgressTlsTest).
  ports: [{number: 80, name: tcp, protocol: TCP}]
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

namespace {

// TLS origination (docs/egress.md) toward the "internet": a netns of its
// own (<prefix>-ext, torn down with the node) reached through the node,
// where `openssl s_server` serves api.dns.test (10.111.50.1) on 443 with a
// certificate from a CA made here. s_server speaks nothing but TLS, so a
// 200 from it means the wire carried TLS. The application calls
// http://api.dns.test (the resolved address, port 80), as in Istio's
// egress TLS-origination task; the pods still have no route there, so only
// the proxy can reach it.
class EgressTlsTest : public EgressTest {
 protected:
  void SetUp() override {
    EgressTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const ExternalLink link = add_external_client(*node_);
    for (const std::string& step : {"ip -n " + link.ns + " addr add 10.111.50.1/32 dev lo",
                                    "ip -n " + node_->node_ns() + " route add 10.111.50.0/24 via " + link.client_ip,
                                    "ip -n " + link.ns + " route add 10.200.0.0/16 via " + link.node_ip}) {
      ASSERT_EQ(run_quietly(step), 0) << step;
    }
    const std::string d = "cd " + dir_ + " && ";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    for (const std::string& step :
         {d + "openssl req -x509" + ec + " -days 1 -subj /CN=sluice-test-ca -keyout ca.key -out ca.crt",
          d + "openssl req -x509" + ec + " -days 1 -subj /CN=sluice-wrong-ca -keyout wrong.key -out wrong-ca.crt",
          d + "openssl req" + ec + " -subj /CN=api.dns.test -keyout srv.key -out srv.csr",
          d + "printf 'subjectAltName=DNS:api.dns.test\\n' > san.ext",
          d + "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out srv.crt"}) {
      ASSERT_EQ(run_quietly(step), 0) << step;
    }
    start_https();
  }

  // `openssl s_server` on 443 in the internet netns (replacing one started
  // before), with extra flags; back once it listens.
  void start_https(const std::vector<std::string>& extra = {}) {
    const std::string ns = node_->prefix() + "-ext";
    if (!tls_servers_.empty()) {
      node_->stop(tls_servers_.back());
      tls_servers_.pop_back();
    }
    std::vector<std::string> argv = {"openssl", "s_server", "-accept", "443", "-cert", dir_ + "/srv.crt",
                                     "-key", dir_ + "/srv.key", "-www", "-quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    tls_servers_.push_back(node_->spawn(ns, argv, dir_ + "/s_server.log"));
    ASSERT_TRUE(wait_for([&] { return run_quietly("ip netns exec " + ns + " ss -ltnH | grep -q ':443 '") == 0; }, 5s))
        << "s_server never listened";
  }

  // The task's ServiceEntry and DestinationRule, with these tls fields;
  // `port80`: the entry's port 80 (HTTP to 443 in the task).
  static std::string task(const std::string& tls_fields, const std::string& more = "",
                          const std::string& port80 = "name: http-port, protocol: HTTP") {
    return R"(---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api-dns, namespace: default}
spec:
  hosts: [api.dns.test]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, )" + port80 + R"(, targetPort: 443}
  - {number: 443, name: https-port, protocol: HTTPS}
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api-dns, namespace: default}
spec:
  host: api.dns.test
  trafficPolicy:
    portLevelSettings:
    - port: {number: 80}
      tls: {mode: SIMPLE)" + tls_fields + "}\n" + more;
  }

  // GET http://api.dns.test<path> from pod 1, to the resolved address.
  HttpReply call_api(const std::string& path = "/") {
    const int fd = node_->tcp_socket_in_pod(1);
    HttpReply r;
    if (connect_to(fd, "10.111.50.1", 80) == 0) {
      r = raw_request(fd, "GET " + path + " HTTP/1.1\r\nHost: api.dns.test\r\nConnection: close\r\n\r\n");
    }
    close(fd);
    return r;
  }

  // sluiced (started afresh) with these tls fields answers 503 UF, and its
  // access log says why the handshake failed.
  void expect_handshake_refused(const std::string& tls_fields, const std::string& logged) {
    if (daemon_ > 0) {
      node_->stop(daemon_);
      daemon_ = -1;
      std::filesystem::remove(dir_ + "/sluiced.log");
    }
    start(bookinfo(route_with("")) + task(tls_fields));
    const HttpReply r = first_proxied_answer();
    EXPECT_EQ(r.status, 503u) << tls_fields << "\n" << r.body << "\n" << log();
    EXPECT_TRUE(log_has("\"flags\":\"UF")) << log();  // with URX once the default retry is used up
    EXPECT_TRUE(log_has(logged)) << log();
  }

  // The first answer once sluiced has resolved the host and the kernel sends
  // its connects to the proxy (before that they find no route).
  HttpReply first_proxied_answer(const std::string& path = "/") {
    HttpReply r;
    wait_for([&] { return (r = call_api(path)).status != 0; }, 10s);
    return r;
  }
};

TEST_F(EgressTlsTest, TlsOriginationReachesTheHttpsServerWithVerification) {
  start(bookinfo(route_with("")) + task(", caCertificates: " + dir_ + "/ca.crt"));
  const HttpReply r = first_proxied_answer();
  ASSERT_EQ(r.status, 200u) << r.body << "\n" << log();
  EXPECT_NE(r.body.find("Cipher is"), std::string::npos) << "not s_server's page: " << r.body;
  EXPECT_TRUE(log_has("\"upstream\":\"10.111.50.1:443\"")) << log();
  // Keep-alive pooling: a second request works as well.
  EXPECT_EQ(call_api().status, 200u);
}

TEST_F(EgressTlsTest, AWrongCaFailsCleanlyWith503UF) {
  expect_handshake_refused(", caCertificates: " + dir_ + "/wrong-ca.crt",
                           "\"upstream_transport_failure_reason\":\"TLS_error: certificate verify failed");
  // And again: nothing hangs, nothing is left half open.
  EXPECT_EQ(call_api().status, 503u);
}

TEST_F(EgressTlsTest, ASubjectAltNameOrSniTheCertificateLacksFails) {
  expect_handshake_refused(", caCertificates: " + dir_ + "/ca.crt, subjectAltNames: [other.example.test]",
                           "hostname mismatch");
  // The same through `sni`: with no subjectAltNames, the SNI name is checked.
  expect_handshake_refused(", caCertificates: " + dir_ + "/ca.crt, sni: wrong.example.test", "hostname mismatch");
}

TEST_F(EgressTlsTest, MutualTlsPresentsTheClientCertificate) {
  // A server that insists on a client certificate from the test CA.
  const std::string d = "cd " + dir_ + " && ";
  for (const std::string& step :
       {d + "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=sluice-client"
            " -keyout client.key -out client.csr",
        d + "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out client.crt"}) {
    ASSERT_EQ(run_quietly(step), 0) << step;
  }
  start_https({"-Verify", "1", "-verify_return_error", "-CAfile", dir_ + "/ca.crt"});
  start(bookinfo(route_with("")) + R"(---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api-dns, namespace: default}
spec:
  hosts: [api.dns.test]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 443}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api-dns, namespace: default}
spec:
  host: api.dns.test
  trafficPolicy:
    tls: {mode: MUTUAL, caCertificates: )" + dir_ + "/ca.crt, clientCertificate: " + dir_ +
        "/client.crt, privateKey: " + dir_ + "/client.key}\n");
  const HttpReply r = first_proxied_answer();
  EXPECT_EQ(r.status, 200u) << r.body << "\n" << log();
  EXPECT_NE(r.body.find("Cipher is"), std::string::npos) << r.body;
}

TEST_F(EgressTlsTest, AVirtualServiceFaultAppliesToADnsServiceEntryHost) {
  const std::string vs = R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api-dns, namespace: default}
spec:
  hosts: [api.dns.test]
  http:
  - match: [{uri: {prefix: /teapot}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: api.dns.test}}]
  - match: [{uri: {prefix: /retried}}]
    route: [{destination: {host: api.dns.test}}]
    retries: {attempts: 4, retryOn: connect-failure}
  - route: [{destination: {host: api.dns.test}}]
    timeout: 5s
)";
  start(bookinfo(route_with("")) + task(", caCertificates: " + dir_ + "/ca.crt", vs));
  ASSERT_EQ(first_proxied_answer().status, 200u) << log();
  const HttpReply r = call_api("/teapot");
  EXPECT_EQ(r.status, 418u) << r.body;
  EXPECT_TRUE(log_has("\"flags\":\"FI\"")) << log();
  EXPECT_TRUE(log_has("\"route\":\"default/api-dns\"")) << log();

  // The route's retries too: with the HTTPS server gone, the call is tried
  // 1 + 4 times before the 503.
  node_->stop(tls_servers_.back());
  tls_servers_.pop_back();
  const HttpReply gone = call_api("/retried");
  EXPECT_EQ(gone.status, 503u) << gone.body;
  EXPECT_TRUE(log_has("\"attempts\":5")) << log();
  EXPECT_TRUE(log_has("URX")) << log();
}

// HTTP/2 over TLS origination (ALPN h2): a gRPC server over TLS at
// api.dns.test:443 (gRPC's TLS server takes only clients that offer h2),
// an h2c gRPC client in pod 1 calling the entry's GRPC port 80.
class EgressGrpcTlsTest : public EgressTlsTest {
 protected:
  // sluice-grpc-echo over TLS on 443 in the internet netns, in place of s_server.
  void start_grpc_tls() {
    const std::string ns = node_->prefix() + "-ext";
    node_->stop(tls_servers_.back());
    tls_servers_.pop_back();
    tls_servers_.push_back(node_->spawn(ns,
                                        {SLUICE_GRPC_ECHO_PATH, "serve", "--listen", "10.111.50.1:443", "--version",
                                         "ext", "--tls-cert", dir_ + "/srv.crt", "--tls-key", dir_ + "/srv.key"},
                                        dir_ + "/grpc-echo.log"));
    ASSERT_TRUE(wait_for([&] { return run_quietly("ip netns exec " + ns + " ss -ltnH | grep -q ':443 '") == 0; }, 5s))
        << "sluice-grpc-echo never listened";
  }

  // The entry's port 80 is GRPC: HTTP/2 upstream, TLS with ALPN h2.
  static std::string grpc_task(const std::string& tls_fields) {
    return task(tls_fields, "", "name: grpc, protocol: GRPC");
  }

  // The gRPC client in pod 1, h2c to http://api.dns.test (its resolved
  // address): one line per call.
  std::vector<std::string> grpc_call(const std::string& args) {
    const std::string out = run_capture("ip netns exec " + node_->pod_ns(1) + " " + SLUICE_GRPC_ECHO_PATH +
                                        " call --target 10.111.50.1:80 --authority api.dns.test --deadline-ms 5000 " +
                                        args);
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
  // The first call's line once the kernel sends the entry's connects to
  // the proxy (before sluiced resolves the host they find no route).
  std::string first_call(const std::string& args) {
    std::string line;
    wait_for([&] {
      const auto lines = grpc_call(args);
      line = lines.empty() ? "" : lines.front();
      // Unproxied, the connect finds no route: status 14 too, but no access log line.
      return line.rfind("ok", 0) == 0 || log().find("\"authority\":\"api.dns.test\"") != std::string::npos;
    }, 15s);
    return line;
  }
};

TEST_F(EgressGrpcTlsTest, GrpcCallsReachAGrpcServerOverTlsWithAlpnH2) {
  start_grpc_tls();
  start(bookinfo(route_with("")) + grpc_task(", caCertificates: " + dir_ + "/ca.crt"));
  const std::string first = first_call("--method unary --text hello");
  ASSERT_EQ(first.rfind("ok version=ext", 0), 0u) << first << "\n" << log();
  const auto unary = grpc_call("--method unary --calls 5 --text ping");
  ASSERT_EQ(unary.size(), 5u);
  for (const auto& l : unary) EXPECT_NE(l.find("ok version=ext replies=1 text=ping"), std::string::npos) << l;
  const auto stream = grpc_call("--method stream --count 500");
  ASSERT_EQ(stream.size(), 1u);
  EXPECT_NE(stream[0].find("ok version=ext replies=500"), std::string::npos) << stream[0];
  EXPECT_TRUE(log_has("\"upstream\":\"10.111.50.1:443\"")) << log();
  EXPECT_TRUE(log_has("\"protocol\":\"HTTP/2\"")) << log();
}

TEST_F(EgressGrpcTlsTest, AWrongCaIsUnavailableWithTheVerifyReason) {
  start_grpc_tls();
  start(bookinfo(route_with("")) + grpc_task(", caCertificates: " + dir_ + "/wrong-ca.crt"));
  const std::string first = first_call("--method unary");
  EXPECT_EQ(first.rfind("status=14", 0), 0u) << first << "\n" << log();
  EXPECT_TRUE(log_has("\"flags\":\"UF")) << log();
  EXPECT_TRUE(log_has("\"upstream_transport_failure_reason\":\"TLS_error: certificate verify failed")) << log();
}

// openssl s_server does not speak h2. Without ALPN of its own it ignores the
// offer (the proxy ends the connection after the handshake); with `-alpn
// http/1.1` it ends the handshake itself (no_application_protocol).
TEST_F(EgressGrpcTlsTest, AnHttpsServerThatDoesNotSelectH2IsATransportFailure) {
  start(bookinfo(route_with("")) + grpc_task(", caCertificates: " + dir_ + "/ca.crt"));
  const std::string first = first_call("--method unary");
  EXPECT_EQ(first.rfind("status=14", 0), 0u) << first << "\n" << log();
  EXPECT_TRUE(log_has("\"flags\":\"UF")) << log();
  EXPECT_TRUE(log_has("TLS_error: ALPN: the server did not select h2 (it selected none)")) << log();
  start_https({"-alpn", "http/1.1"});
  const auto lines = grpc_call("--method unary");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("status=14", 0), 0u) << lines[0];
  EXPECT_TRUE(log_has("TLS_error: tlsv1 alert no application protocol")) << log();
}

}  // namespace
