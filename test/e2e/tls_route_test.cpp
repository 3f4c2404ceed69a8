// VirtualService tls routes: real TLS clients (OpenSSL, in pod 1) through a
// Service port that tls routes take, to real TLS servers (openssl s_server
// in the reviews pods, each with its own certificate). sluiced routes each
// connection by its ClientHello's server name without terminating TLS: the
// certificate the client gets says which pod answered, and the handshake
// completing shows the hello went on byte for byte.
#include <openssl/ssl.h>

#include "l7_fixture.h"

namespace sluice::test {
namespace {

constexpr const char* kTlsVip = "10.96.0.60";
constexpr uint16_t kTlsPort = 443;
constexpr uint16_t kServerPort = 8443;

struct TlsReply {
  std::string error;     // empty: the handshake and one request worked
  std::string cn;        // the server certificate's common name
  std::string response;  // what the server answered to a GET
};

class TlsRouteTest : public L7Test {
 protected:
  void SetUp() override {
    L7Test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // Pods 2, 3, 4 (v1, v2, v3) serve TLS on 8443, each with a certificate
    // naming its version.
    for (int i : {2, 3, 4}) start_tls_server(i, "v" + std::to_string(i - 1), kServerPort);
  }

  // The bookinfo reviews pods behind a TLS Service port, with these routes
  // (tls and tcp sections of one VirtualService).
  std::string secure(const std::string& routes) {
    return bookinfo(
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: secure, namespace: default}\n"
        "spec: {clusterIP: 10.96.0.60, selector: {app: reviews}, ports: [{name: https, port: 443, targetPort: 8443}]}\n"
        "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: secure, namespace: default}\n"
        "spec:\n  host: secure\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n"
        "  - {name: v3, labels: {version: v3}}\n"
        "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: secure, namespace: default}\n"
        // The SNI hosts of the tls routes are among the hosts, as Istio requires.
        "spec:\n  hosts: [secure, a.example.com, '*.b.example.com']\n" + routes);
  }

  // One TLS connection from pod 1 to the Service, with this server name
  // (none if empty), and one GET over it.
  TlsReply connect_tls(const std::string& sni) {
    TlsReply out;
    int fd = node_->tcp_socket_in_pod(1);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect_to(fd, kTlsVip, kTlsPort) != 0) {
      close(fd);
      out.error = "connect failed";
      return out;
    }
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
    if (SSL_connect(ssl) != 1) {
      out.error = "handshake failed";
    } else {
      if (X509* cert = SSL_get1_peer_certificate(ssl)) {
        char cn[64] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        out.cn = cn;
        X509_free(cert);
      }
      const std::string get = "GET / HTTP/1.0\r\n\r\n";
      SSL_write(ssl, get.data(), static_cast<int>(get.size()));
      char buf[4096];
      for (int n; (n = SSL_read(ssl, buf, sizeof buf)) > 0;) out.response.append(buf, static_cast<size_t>(n));
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return out;
  }

};

const std::string kRoutes =
    "  tls:\n"
    "  - match: [{sniHosts: [a.example.com]}]\n    route: [{destination: {host: secure, subset: v1}}]\n"
    "  - match: [{sniHosts: ['*.b.example.com']}]\n    route: [{destination: {host: secure, subset: v2}}]\n"
    "  tcp:\n"
    "  - route: [{destination: {host: secure, subset: v3}}]\n";

TEST_F(TlsRouteTest, TheServerNameChoosesThePodAndTlsIsNotTerminated) {
  start(secure(kRoutes));
  for (int i = 0; i < 5; ++i) {
    TlsReply a = connect_tls("a.example.com");
    ASSERT_EQ(a.error, "");
    EXPECT_EQ(a.cn, "v1");
    EXPECT_NE(a.response.find("HTTP/1.0 200"), std::string::npos) << a.response.substr(0, 200);
    EXPECT_EQ(connect_tls("x.b.example.com").cn, "v2");
    EXPECT_EQ(connect_tls("a.b.example.com").cn, "v2") << "any depth under the wildcard's domain";
    EXPECT_EQ(connect_tls("b.example.com").cn, "v3") << "not the domain itself: the tcp route";
  }
  EXPECT_TRUE(log_has("\"requested_server_name\":\"a.example.com\"")) << "the access log names the SNI";
}

TEST_F(TlsRouteTest, OtherNamesAndHellosWithoutOneTakeTheTcpRoute) {
  start(secure(kRoutes));
  EXPECT_EQ(connect_tls("c.example.com").cn, "v3");
  EXPECT_EQ(connect_tls("").cn, "v3");
}

TEST_F(TlsRouteTest, AClientThatSendsNothingIsRoutedAfterTheHeaderTimeout) {
  // A server-first protocol on a port with tls routes: after the header
  // timeout (1 s in these tests) the connection takes the tcp route.
  start(secure(kRoutes));
  int fd = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(connect_to(fd, kTlsVip, kTlsPort), 0);
  std::this_thread::sleep_for(2000ms);
  // By now sluiced has connected to v3's s_server: a hello sent now is answered.
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "a.example.com");
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(SSL_connect(ssl), 1);
  X509* cert = SSL_get1_peer_certificate(ssl);
  ASSERT_TRUE(cert);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "v3") << "decided before the hello came";
  X509_free(cert);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
}

TEST_F(TlsRouteTest, PlainBytesOnATlsPortTakeTheTcpRoute) {
  start(secure(kRoutes));
  int fd = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(connect_to(fd, kTlsVip, kTlsPort), 0);
  // Not a ClientHello: no waiting for one; the bytes reach v3's s_server,
  // which closes the connection on them.
  const std::string junk = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 5000), 1) << "the server answered or closed";
  close(fd);
  ASSERT_TRUE(log_has("\"route\":\"default/secure\""));
  EXPECT_NE(log().find("\"upstream\":\"" + node_->pod_ip(4) + ":8443\""), std::string::npos) << log();
}

}  // namespace
}  // namespace sluice::test
