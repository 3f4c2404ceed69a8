// Gateway ingress end to end: an external client netns reaches the node
// over a veth the test created and talks to sluiced's Gateway listeners on
// the node's external address, over HTTP and HTTPS (certificates from a test
// CA generated at test time, in kubernetes.io/tls Secrets). A VirtualService
// bound to the Gateway routes /productpage and /api/v1/products to different
// services and sends end-user jason to v2. Privileged.
//
//   client netns <P>-ext   eth0 10.111.250.2/24 ── veth ── ext0 10.111.250.1/24 (node netns)
//   sluiced --gateway-address 10.111.250.1: :8080 HTTP, :8081 GRPC (plain), :8443 HTTPS (SNI), :9443 HTTPS MUTUAL,
//   :10443 TLS PASSTHROUGH (to openssl s_server pods)
#include <cstdio>
#include <string>

#include "external_client.h"
#include "l7_fixture.h"

using namespace sluice::test;

namespace {

constexpr const char* kGatewayIp = "10.111.250.1";

const char* kGateway = R"(---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: [bookinfo.example.com]
  - port: {number: 8080, name: http-secure, protocol: HTTP}
    hosts: [secure.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 8443, name: https-bookinfo, protocol: HTTPS}
    hosts: [bookinfo.example.com]
    tls: {mode: SIMPLE, credentialName: bookinfo-cert}
  - port: {number: 8443, name: https-secure, protocol: HTTPS}
    hosts: [secure.example.com]
    tls: {mode: SIMPLE, credentialName: secure-cert, minProtocolVersion: TLSV1_3}
  - port: {number: 8443, name: https-grpc, protocol: HTTPS}
    hosts: [grpc.example.com]
    tls: {mode: SIMPLE, credentialName: grpc-cert}
  - port: {number: 9443, name: https-mtls, protocol: HTTPS}
    hosts: [mtls.example.com]
    tls: {mode: MUTUAL, credentialName: mtls-cert}
  - port: {number: 8081, name: grpc-plain, protocol: GRPC}
    hosts: [grpc.example.com]
  - port: {number: 10443, name: tls-passthrough, protocol: TLS}
    hosts: [pass.example.com, "*.wild.example.com"]
    tls: {mode: PASSTHROUGH}
---
apiVersion: v1
kind: Service
metadata: {name: tls-v1, namespace: default}
spec: {clusterIP: 10.96.0.23, selector: {version: v1}, ports: [{name: tls, port: 443, targetPort: 8443}]}
---
apiVersion: v1
kind: Service
metadata: {name: tls-v2, namespace: default}
spec: {clusterIP: 10.96.0.24, selector: {version: v2}, ports: [{name: tls, port: 443, targetPort: 8443}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: passthrough, namespace: default}
spec:
  hosts: [pass.example.com, "*.wild.example.com"]
  gateways: [bookinfo-gateway]
  tls:
  - match: [{port: 10443, sniHosts: [pass.example.com]}]
    route: [{destination: {host: tls-v1, port: {number: 443}}}]
  - match: [{sniHosts: ["*.wild.example.com"]}]
    route: [{destination: {host: tls-v2}}]
---
apiVersion: v1
kind: Service
metadata: {name: grpc-echo, namespace: default}
spec: {clusterIP: 10.96.0.30, selector: {app: grpc-echo}, ports: [{name: grpc, port: 50051, targetPort: 50051}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc-gateway, namespace: default}
spec:
  hosts: [grpc.example.com]
  gateways: [bookinfo-gateway]
  http:
  - route: [{destination: {host: grpc-echo, port: {number: 50051}}}]
---
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: default}
spec: {clusterIP: 10.96.0.21, selector: {version: v3}, ports: [{name: http, port: 9080, targetPort: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: [bookinfo.example.com, secure.example.com, mtls.example.com]
  gateways: [bookinfo-gateway]
  http:
  - match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2, port: {number: 9080}}
  - match:
    - uri: {exact: /productpage}
    route:
    - destination: {host: productpage, port: {number: 9080}}
  - match:
    - uri: {prefix: /api/v1/products}
    route:
    - destination: {host: reviews, subset: v1, port: {number: 9080}}
)";

class GatewayTest : public L7Test {
 protected:
  void SetUp() override {
    L7Test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_THROW(link_ = add_external_client(*node_, kGatewayIp));
    tls_ = dir_ + "/tls";
    std::filesystem::create_directories(tls_);
    ASSERT_EQ(run_quietly("cd " + tls_ +
                          " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
                          " -subj '/CN=sluice test CA' -keyout ca.key -out ca.crt"),
              0);
    for (const char* name : {"bookinfo.example.com", "secure.example.com", "mtls.example.com", "grpc.example.com", "client"}) {
      ASSERT_EQ(issue(name, name), 0) << name;
    }
    daemon_flags_ = {"--gateway-address", kGatewayIp};
  }

  // A certificate for `cn` (with that DNS name) signed by the test CA, as <file>.crt/.key.
  int issue(const std::string& cn, const std::string& file) {
    return run_quietly("cd " + tls_ + " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=" +
                       cn + "' -keyout " + file + ".key -out " + file + ".csr && printf 'subjectAltName=DNS:" + cn +
                       "' > " + file + ".ext && openssl x509 -req -in " + file + ".csr -CA ca.crt -CAkey ca.key -set_serial 0x" +
                       std::to_string(++serial_) + " -days 1 -extfile " + file + ".ext -out " + file + ".crt");
  }

  std::string b64(const std::string& file) { return run_capture("openssl base64 -A -in " + tls_ + "/" + file); }

  std::string secret(const std::string& name, const std::string& file, bool with_ca = false) {
    std::string y = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: " + name +
                    ", namespace: default}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: " + b64(file + ".crt") +
                    "\n  tls.key: " + b64(file + ".key") + "\n";
    if (with_ca) y += "  ca.crt: " + b64("ca.crt") + "\n";
    return y;
  }

  std::string config() {
    return bookinfo(kGateway) + secret("bookinfo-cert", "bookinfo.example.com") +
           secret("secure-cert", "secure.example.com") + secret("mtls-cert", "mtls.example.com", true) +
           secret("grpc-cert", "grpc.example.com") +
           // The gRPC server of the h2 tests on pod 2 (started by them only).
           "---\napiVersion: v1\nkind: Pod\nmetadata: {name: grpc-echo-2, namespace: default, labels: {app: grpc-echo}}\n"
           "status: {phase: Running, podIP: " + node_->pod_ip(2) + "}\n";
  }

  void start_gateway() {
    start(config());
    // Listeners open after the first config: wait for them.
    for (int i = 0; i < 100 && curl("http://bookinfo.example.com:8080/productpage").find("200") != 0; ++i) {
      std::this_thread::sleep_for(50ms);
    }
  }

  // curl from the external client; returns "<status> <x-echo-version>" or
  // "error <curl exit code>". Host names resolve to the gateway address.
  std::string curl(const std::string& url, const std::string& extra = "") {
    int status = 0;
    const std::string out = run_capture(
        "ip netns exec " + link_.ns + " curl -s -o /dev/null -m 5 --cacert " + tls_ + "/ca.crt" +
            " --resolve bookinfo.example.com:8080:" + kGatewayIp + " --resolve secure.example.com:8080:" + kGatewayIp +
            " --resolve other.example.com:8080:" + kGatewayIp + " --resolve features.example.com:8080:" + kGatewayIp + " --resolve bookinfo.example.com:8443:" + kGatewayIp +
            " --resolve secure.example.com:8443:" + kGatewayIp + " --resolve mtls.example.com:9443:" + kGatewayIp +
            " -D - " + extra + " '" + url + "' | tr -d '\\r' | awk 'NR==1 {s=$2} tolower($1)==\"x-echo-version:\" {v=$2}"
            " tolower($1)==\"location:\" {l=$2} END {print s, v, l}'",
        &status);
    std::string line = out.substr(0, out.find('\n'));
    return line.empty() || line == "  " ? "error " + std::to_string(status) : line;
  }

  // The HTTP version curl negotiated (ALPN) and the status: "2 200".
  std::string curl_version(const std::string& url, const std::string& extra) {
    return run_capture("ip netns exec " + link_.ns + " curl -s -o /dev/null -m 5 --cacert " + tls_ + "/ca.crt" +
                       " --resolve bookinfo.example.com:8443:" + kGatewayIp + " -w '%{http_version} %{http_code}' " +
                       extra + " '" + url + "'");
  }

  // Subject CN and serial of the certificate the gateway presents for `sni` on `port`.
  std::string presented(const std::string& sni, int port) {
    return run_capture("echo | ip netns exec " + link_.ns + " openssl s_client -connect " + kGatewayIp + ":" +
                       std::to_string(port) + " -servername " + sni +
                       " 2>/dev/null | openssl x509 -noout -subject -serial 2>/dev/null | tr '\\n' ' '");
  }

  ExternalLink link_;
  std::string tls_;
  int serial_ = 0;
};

TEST_F(GatewayTest, HttpRoutesByPathAndHeader) {
  start_gateway();
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/productpage"), "200 v3 ");
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/api/v1/products/1"), "200 v1 ");
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/productpage", "-H 'end-user: jason'"), "200 v2 ");
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/nothing-here"), "404  ") << "no route";
  EXPECT_EQ(curl("http://other.example.com:8080/productpage"), "404  ") << "host of no gateway server";
}

// Istio's ingress behaviour: the Gateway appends the client to
// X-Forwarded-For and sets X-Forwarded-Proto; behind one trusted load
// balancer (--gateway-trusted-proxies 1) the client is the header's last
// entry, which AuthorizationPolicy's remoteIpBlocks matches.
TEST_F(GatewayTest, ForwardedForReachesTheAppAndRemoteIpBlocksReadIt) {
  daemon_flags_.insert(daemon_flags_.end(), {"--gateway-trusted-proxies", "1"});
  start(config() + R"(---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-docs-net, namespace: default}
spec:
  selector: {matchLabels: {version: v3}}
  action: DENY
  rules:
  - from:
    - source: {remoteIpBlocks: [203.0.113.0/24]}
)");
  for (int i = 0; i < 100 && curl("http://bookinfo.example.com:8080/productpage").find("200") != 0; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/productpage", "-H 'X-Forwarded-For: 203.0.113.7'"), "403  ");
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/productpage", "-H 'X-Forwarded-For: 198.51.100.1'"), "200 v3 ");
  // What the application saw.
  const std::string body = run_capture("ip netns exec " + link_.ns + " curl -s -m 5 --resolve bookinfo.example.com:8080:" +
                                       kGatewayIp + " -H 'X-Forwarded-For: 198.51.100.1' -H 'X-Forwarded-Proto: https' "
                                       "http://bookinfo.example.com:8080/productpage");
  EXPECT_NE(body.find("\"x-forwarded-for\":\"198.51.100.1," + link_.client_ip + "\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"x-forwarded-proto\":\"https\""), std::string::npos) << "the trusted balancer's scheme: " << body;
  // Without the header the client is the connection's peer, outside the block.
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/productpage"), "200 v3 ");
}

TEST_F(GatewayTest, HttpsRedirect) {
  start_gateway();
  EXPECT_EQ(curl("http://secure.example.com:8080/productpage?x=1"), "301  https://secure.example.com/productpage?x=1");
}

TEST_F(GatewayTest, HttpsWithSniPickingTheCertificate) {
  start_gateway();
  EXPECT_EQ(curl("https://bookinfo.example.com:8443/productpage"), "200 v3 ") << "verified against the test CA";
  EXPECT_EQ(curl("https://bookinfo.example.com:8443/productpage", "-H 'end-user: jason'"), "200 v2 ");
  EXPECT_NE(presented("bookinfo.example.com", 8443).find("CN = bookinfo.example.com"), std::string::npos);
  EXPECT_NE(presented("secure.example.com", 8443).find("CN = secure.example.com"), std::string::npos);
  // minProtocolVersion TLSV1_3 on secure.example.com only.
  EXPECT_EQ(curl("https://secure.example.com:8443/productpage", "--tls-max 1.2").substr(0, 5), "error");
  EXPECT_EQ(curl("https://bookinfo.example.com:8443/productpage", "--tls-max 1.2"), "200 v3 ");
  EXPECT_EQ(curl("https://secure.example.com:8443/productpage"), "200 v3 ");
}

TEST_F(GatewayTest, PassthroughRoutesBySniWithoutTerminatingTls) {
  start_tls_server(2, "v1", 8443);
  start_tls_server(3, "v2", 8443);
  start_gateway();
  // The certificate the client sees is the pod's own: sluiced did not
  // terminate TLS, it routed the ClientHello by its server name.
  EXPECT_NE(presented("pass.example.com", 10443).find("CN = v1"), std::string::npos) << presented("pass.example.com", 10443);
  EXPECT_NE(presented("a.wild.example.com", 10443).find("CN = v2"), std::string::npos);
  EXPECT_EQ(presented("other.example.com", 10443), "") << "no server for the name: closed";
  EXPECT_TRUE(log_has("\"requested_server_name\":\"pass.example.com\""));
  EXPECT_TRUE(log_has("\"flags\":\"NR\""));
  // The terminating ports are unaffected.
  EXPECT_EQ(curl("https://bookinfo.example.com:8443/productpage"), "200 v3 ");
}

TEST_F(GatewayTest, MutualTlsNeedsAClientCertificateFromTheCa) {
  start_gateway();
  EXPECT_EQ(curl("https://mtls.example.com:9443/productpage").substr(0, 5), "error") << "no client certificate";
  EXPECT_EQ(curl("https://mtls.example.com:9443/productpage",
                 "--cert " + tls_ + "/client.crt --key " + tls_ + "/client.key"),
            "200 v3 ");
}

TEST_F(GatewayTest, ABadHandshakeDoesNotWedgeTheGateway) {
  start_gateway();
  // Plain HTTP on the TLS port is refused; a client that connects and says
  // nothing is held by its own handshake timeout only. Meanwhile real
  // handshakes go through on the same (single-threaded) workers.
  int garbage = -1, silent = -1;
  node_->in_netns(link_.ns, [&] {
    garbage = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    silent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  });
  ASSERT_EQ(connect_to(garbage, kGatewayIp, 8443), 0);
  ASSERT_EQ(connect_to(silent, kGatewayIp, 8443), 0);
  const std::string junk = "GET / HTTP/1.1\r\nHost: bookinfo.example.com\r\n\r\n";
  ASSERT_EQ(write(garbage, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  timeval tv{5, 0};
  setsockopt(garbage, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  ssize_t n;
  while ((n = read(garbage, buf, sizeof buf)) > 0) {
  }
  EXPECT_EQ(n, 0) << "the gateway closed the connection (a TLS alert at most), without waiting";
  close(garbage);
  EXPECT_EQ(curl("https://bookinfo.example.com:8443/productpage"), "200 v3 ") << "while a silent client is connected";
  close(silent);
}

TEST_F(GatewayTest, ACertificateChangeAppliesToNewHandshakes) {
  start_gateway();
  const std::string before = presented("bookinfo.example.com", 8443);
  ASSERT_NE(before.find("serial=01"), std::string::npos) << before;
  // A new certificate for the same name (the next serial), written like a Secret update.
  ASSERT_EQ(issue("bookinfo.example.com", "bookinfo-new"), 0);
  char serial[16];
  std::snprintf(serial, sizeof serial, "serial=%02X", serial_);
  const std::string updated = bookinfo(kGateway) + secret("bookinfo-cert", "bookinfo-new") +
                              secret("secure-cert", "secure.example.com") +
                              secret("mtls-cert", "mtls.example.com", true);
  std::ofstream(dir_ + "/config/mesh.yaml.tmp") << updated;
  std::filesystem::rename(dir_ + "/config/mesh.yaml.tmp", dir_ + "/config/mesh.yaml");
  std::string after;
  for (int i = 0; i < 100; ++i) {
    after = presented("bookinfo.example.com", 8443);
    if (after.find(serial) != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(after.find(serial), std::string::npos) << after;
  EXPECT_EQ(curl("https://bookinfo.example.com:8443/productpage"), "200 v3 ");
}

// The L7 features of mesh routes work on gateway routes too: weights,
// faults and retries here (the same forwarding code serves both).
TEST_F(GatewayTest, WeightsFaultsAndRetriesOnGatewayRoutes) {
  start_echo(3, {"--status", "503", "--fail-percent", "100"});  // v2 always fails
  start(bookinfo(R"(---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: features, namespace: default}
spec:
  hosts: [features.example.com]
  gateways: [gw]
  http:
  - match:
    - headers:
        x-fault: {exact: abort}
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route:
    - destination: {host: reviews, subset: v1}
  - match:
    - uri: {prefix: /retry}
    retries: {attempts: 3, retryOn: 5xx}
    route:
    - destination: {host: reviews}
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v3}
      weight: 50
)"));
  for (int i = 0; i < 100 && curl("http://features.example.com:8080/").find("200") != 0; ++i) std::this_thread::sleep_for(50ms);
  std::map<std::string, int> versions;
  for (int i = 0; i < 40; ++i) ++versions[curl("http://features.example.com:8080/")];
  EXPECT_GT(versions["200 v1 "], 5) << "weights";
  EXPECT_GT(versions["200 v3 "], 5) << "weights";
  EXPECT_EQ(curl("http://features.example.com:8080/", "-H 'x-fault: abort'"), "418  ");
  int ok = 0;
  for (int i = 0; i < 20; ++i) ok += curl("http://features.example.com:8080/retry").substr(0, 3) == "200";
  EXPECT_EQ(ok, 20) << "retries steer around the failing pod";
}

// HTTPS servers offer h2 and http/1.1 by ALPN, as Istio's gateways do: a
// client that picks h2 is served HTTP/2 over TLS, with the same routes.
TEST_F(GatewayTest, HttpsServesHttp2ToClientsThatPickItByAlpn) {
  start_gateway();
  EXPECT_EQ(curl_version("https://bookinfo.example.com:8443/productpage", "--http2"), "2 200");
  EXPECT_EQ(curl_version("https://bookinfo.example.com:8443/productpage", "--http1.1"), "1.1 200");
  EXPECT_EQ(curl("https://bookinfo.example.com:8443/productpage", "--http2"), "200 v3 ");
  EXPECT_EQ(curl("https://bookinfo.example.com:8443/productpage", "--http2 -H 'end-user: jason'"), "200 v2 ");
  EXPECT_EQ(curl("https://bookinfo.example.com:8443/nothing-here", "--http2"), "404  ");
  // One connection, several streams (curl multiplexes URLs given together).
  const std::string two = curl_version("https://bookinfo.example.com:8443/productpage", "--http2 --parallel -o /dev/null https://bookinfo.example.com:8443/api/v1/products/1");
  EXPECT_EQ(two, "2 2002 200") << "both over h2";
}

// A real gRPC client over TLS (ALPN h2) through the Gateway, routed by its
// :authority to a gRPC backend (HTTP/2 upstream: the port is named grpc).
TEST_F(GatewayTest, GrpcCallsGoThroughTheGatewayOverTls) {
  const pid_t grpc = node_->spawn(node_->pod_ns(2), {SLUICE_GRPC_ECHO_PATH, "serve", "--listen", "0.0.0.0:50051",
                                                     "--version", "gw"}, dir_ + "/grpc-echo.log");
  ASSERT_GT(grpc, 0);
  start_gateway();
  auto call = [&](const std::string& args) {
    return run_capture("ip netns exec " + link_.ns + " " + SLUICE_GRPC_ECHO_PATH + " call --target " + kGatewayIp +
                       ":8443 --ca " + tls_ + "/ca.crt --authority grpc.example.com " + args);
  };
  std::string unary;
  for (int i = 0; i < 50 && unary.find("ok version=gw") == std::string::npos; ++i) {
    unary = call("--method unary --calls 1 --text ping");  // until the server in pod 2 listens
    if (unary.find("ok version=gw") == std::string::npos) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(unary, "ok version=gw replies=1 text=ping\n");
  std::string five;
  for (int i = 0; i < 5; ++i) five += "ok version=gw replies=1 text=hi\n";
  EXPECT_EQ(call("--method unary --calls 5 --text hi"), five) << "five calls on one h2 connection";
  EXPECT_EQ(call("--method stream --count 300"), "ok version=gw replies=300 text=hello\n");
  EXPECT_EQ(call("--method bidi --count 4"), "ok version=gw replies=4 text=hello\n");
}

// Plain-text Gateway servers take h2c with prior knowledge as well as
// HTTP/1.1: curl's, with the same routes, and a gRPC client without TLS on
// a GRPC server.
TEST_F(GatewayTest, PlainPortsServeH2cWithPriorKnowledge) {
  const pid_t grpc = node_->spawn(node_->pod_ns(2), {SLUICE_GRPC_ECHO_PATH, "serve", "--listen", "0.0.0.0:50051",
                                                     "--version", "gw"}, dir_ + "/grpc-echo.log");
  ASSERT_GT(grpc, 0);
  start_gateway();
  const std::string resolve = std::string("--resolve bookinfo.example.com:8080:") + kGatewayIp;
  EXPECT_EQ(curl_version("http://bookinfo.example.com:8080/productpage", "--http2-prior-knowledge " + resolve), "2 200");
  EXPECT_EQ(curl_version("http://bookinfo.example.com:8080/productpage", resolve), "1.1 200");
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/productpage", "--http2-prior-knowledge"), "200 v3 ");
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/productpage", "--http2-prior-knowledge -H 'end-user: jason'"),
            "200 v2 ");
  EXPECT_EQ(curl("http://bookinfo.example.com:8080/nothing-here", "--http2-prior-knowledge"), "404  ");
  auto call = [&](const std::string& args) {
    return run_capture("ip netns exec " + link_.ns + " " + SLUICE_GRPC_ECHO_PATH + " call --target " + kGatewayIp +
                       ":8081 --authority grpc.example.com " + args);
  };
  std::string unary;
  for (int i = 0; i < 50 && unary.find("ok version=gw") == std::string::npos; ++i) {
    unary = call("--method unary --calls 1 --text plain");  // until the server in pod 2 listens
    if (unary.find("ok version=gw") == std::string::npos) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(unary, "ok version=gw replies=1 text=plain\n");
  EXPECT_EQ(call("--method stream --count 100"), "ok version=gw replies=100 text=hello\n");
  EXPECT_EQ(call("--method upload --count 20 --size 10000"), "ok version=gw replies=20 text=200000\n");
}

}  // namespace
