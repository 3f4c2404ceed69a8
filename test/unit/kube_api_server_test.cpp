// The test Kubernetes API server (test/tools/kube_api) through a minimal
// HTTPS client that trusts its CA: the wire shapes a Kubernetes client relies
// on (Status bodies, lists, continue tokens, watch events and chunks), and
// the scripted failures (compaction, dropped watches, downtime, 401, 403).
#include "kube_api_server.h"

#include "kube_api_control.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <simdjson.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Every client operation gives up after this, so a broken server fails the
// test instead of hanging it.
constexpr auto kClientTimeout = 5s;
constexpr const char* kToken = "sluice-test-token";

using Response = http::response<http::string_body>;

// A parsed JSON document that keeps its own parser.
struct Json {
  explicit Json(const std::string& text) {
    if (parser.parse(simdjson::padded_string(text)).get(root) != simdjson::SUCCESS) {
      ADD_FAILURE() << "not JSON: " << text;
    }
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string str(std::string_view pointer) const {
    std::string_view s;
    return root.at_pointer(pointer).get_string().get(s) == simdjson::SUCCESS ? std::string(s) : std::string("<absent>");
  }
  int64_t num(std::string_view pointer) const {
    int64_t n = -1;
    return root.at_pointer(pointer).get_int64().get(n) == simdjson::SUCCESS ? n : -1;
  }
  bool has(std::string_view pointer) const { return root.at_pointer(pointer).error() == simdjson::SUCCESS; }
  size_t size(std::string_view pointer) const {
    simdjson::dom::array a;
    return root.at_pointer(pointer).get_array().get(a) == simdjson::SUCCESS ? a.size() : 0;
  }
};

// A blocking HTTPS client over Beast's async API: each call runs the
// io_context until the operation completes or the stream's timer fires.
class Client {
 public:
  explicit Client(const KubeApiServer& server, std::optional<std::pair<std::string, std::string>> cert = {})
      : tls_(ssl::context::tls_client) {
    tls_.add_certificate_authority(asio::buffer(server.ca_pem()));
    tls_.set_verify_mode(ssl::verify_peer);
    if (cert) {
      tls_.use_certificate(asio::buffer(cert->first), ssl::context::pem);
      tls_.use_private_key(asio::buffer(cert->second), ssl::context::pem);
    }
    stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, tls_);
    // The server certificate must name 127.0.0.1, as clients dial it.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream_->native_handle()), "127.0.0.1");
    lowest().expires_after(kClientTimeout);
    ec_ = run([&](auto h) {
      lowest().async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()), h);
    });
    if (!ec_) ec_ = run([&](auto h) { stream_->async_handshake(ssl::stream_base::client, h); });
  }

  bool connected() const { return !ec_; }
  beast::error_code error() const { return ec_; }

  // One request and its whole response.
  Response get(const std::string& target, std::optional<std::string> token = std::string(kToken)) {
    send(target, token);
    Response res;
    lowest().expires_after(kClientTimeout);
    ec_ = run([&](auto h) { http::async_read(*stream_, buffer_, res, h); });
    return res;
  }

  // Starts a streaming response (a watch): reads the header only.
  unsigned start(const std::string& target, std::optional<std::string> token = std::string(kToken)) {
    send(target, token);
    parser_.emplace();
    parser_->body_limit(boost::none);
    chunk_sizes_.clear();
    consumed_ = 0;
    chunk_cb_ = [this](uint64_t size, beast::string_view, beast::error_code&) { chunk_sizes_.push_back(size); };
    parser_->on_chunk_header(chunk_cb_);
    lowest().expires_after(kClientTimeout);
    ec_ = run([&](auto h) { http::async_read_header(*stream_, buffer_, *parser_, h); });
    return ec_ ? 0 : parser_->get().result_int();
  }

  // The next n lines of the stream (fewer if it ends or fails first).
  std::vector<std::string> lines(size_t n) {
    std::vector<std::string> out;
    for (;;) {
      std::string& body = parser_->get().body();
      size_t nl;
      while (out.size() < n && (nl = body.find('\n', consumed_)) != std::string::npos) {
        out.push_back(body.substr(consumed_, nl - consumed_));
        consumed_ = nl + 1;
      }
      if (out.size() == n || parser_->is_done() || ec_) return out;
      lowest().expires_after(kClientTimeout);
      ec_ = run([&](auto h) { http::async_read_some(*stream_, buffer_, *parser_, h); });
    }
  }

  // Reads until the stream ends (cleanly: true) or fails.
  bool finish() {
    while (!parser_->is_done() && !ec_) {
      lowest().expires_after(kClientTimeout);
      ec_ = run([&](auto h) { http::async_read_some(*stream_, buffer_, *parser_, h); });
    }
    return parser_->is_done() && !ec_;
  }

  const std::vector<uint64_t>& chunk_sizes() const { return chunk_sizes_; }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(*stream_); }

  // Raw bytes on the TLS stream, for malformed requests.
  void write_raw(const std::string& bytes) {
    lowest().expires_after(kClientTimeout);
    ec_ = run([&](auto h) { asio::async_write(*stream_, asio::buffer(bytes), h); });
  }
  Response read_response() {
    Response res;
    lowest().expires_after(kClientTimeout);
    ec_ = run([&](auto h) { http::async_read(*stream_, buffer_, res, h); });
    return res;
  }

 private:
  template <class Start>
  beast::error_code run(Start&& start) {
    beast::error_code result;
    bool done = false;
    start([&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    ioc_.restart();
    while (!done && ioc_.run_one() > 0) {
    }
    return result;
  }

  void send(const std::string& target, const std::optional<std::string>& token) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::accept, "application/json");
    if (token) req.set(http::field::authorization, "Bearer " + *token);
    lowest().expires_after(kClientTimeout);
    ec_ = run([&](auto h) { http::async_write(*stream_, req, h); });
  }

  asio::io_context ioc_;
  ssl::context tls_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  beast::error_code ec_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::function<void(uint64_t, beast::string_view, beast::error_code&)> chunk_cb_;
  std::vector<uint64_t> chunk_sizes_;
  size_t consumed_ = 0;
};

std::string service(const std::string& ns, const std::string& name, const std::string& app = "web") {
  return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
         "\n  labels:\n    app: " + app + "\nspec:\n  clusterIP: 10.96.0.1\n  ports:\n  - port: 80\n";
}

class KubeApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KubeApiOptions o;
    o.history_limit = 100;
    auto s = KubeApiServer::start(o);
    ASSERT_TRUE(s) << s.error().to_string();
    server_ = std::move(*s);
  }

  uint64_t apply(const std::string& text) {
    auto rv = server_->apply(text);
    EXPECT_TRUE(rv) << rv.error().message;
    return rv ? *rv : 0;
  }

  std::unique_ptr<KubeApiServer> server_;
};

TEST_F(KubeApiServerTest, UnauthorizedWithoutTheToken) {
  Client c(*server_);
  ASSERT_TRUE(c.connected()) << c.error().message();
  Response res = c.get("/api/v1/services", std::nullopt);
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_EQ(res.body(),
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})");
  EXPECT_EQ(c.get("/api/v1/services", std::string("wrong")).result_int(), 401);
  EXPECT_EQ(c.get("/healthz", std::nullopt).result_int(), 200);  // health needs no token
  EXPECT_EQ(c.get("/api/v1/services").result_int(), 200);        // same connection, now with it
}

TEST_F(KubeApiServerTest, TokenRotationWithGrace) {
  Client c(*server_);
  server_->set_token("second", 60s);
  EXPECT_EQ(c.get("/api/v1/pods", std::string(kToken)).result_int(), 200);  // old one, in grace
  EXPECT_EQ(c.get("/api/v1/pods", std::string("second")).result_int(), 200);
  server_->set_token("third");
  EXPECT_EQ(c.get("/api/v1/pods", std::string("second")).result_int(), 401);
  EXPECT_EQ(c.get("/api/v1/pods", std::string("third")).result_int(), 200);
}

TEST_F(KubeApiServerTest, ClientCertificateAuthenticates) {
  auto cert = server_->client_certificate("sluiced");
  ASSERT_TRUE(cert) << cert.error().message;
  Client c(*server_, *cert);
  ASSERT_TRUE(c.connected()) << c.error().message();
  EXPECT_EQ(c.get("/api/v1/pods", std::nullopt).result_int(), 200);
}

TEST_F(KubeApiServerTest, ForbiddenPerResource) {
  server_->forbid("pods");
  Client c(*server_);
  Response res = c.get("/api/v1/namespaces/a/pods");
  EXPECT_EQ(res.result_int(), 403);
  Json j(res.body());
  EXPECT_EQ(j.str("/kind"), "Status");
  EXPECT_EQ(j.str("/reason"), "Forbidden");
  EXPECT_EQ(j.num("/code"), 403);
  EXPECT_EQ(j.str("/details/kind"), "pods");
  EXPECT_NE(j.str("/message").find("cannot list resource \"pods\""), std::string::npos) << res.body();
  EXPECT_EQ(c.get("/api/v1/services").result_int(), 200);
  server_->forbid("pods", false);
  EXPECT_EQ(c.get("/api/v1/pods").result_int(), 200);
}

TEST_F(KubeApiServerTest, ListShapeAndPagination) {
  std::string docs;
  for (const char* name : {"e", "a", "d", "b", "c"}) docs += service("alpha", name) + "---\n";
  docs += service("beta", "z");
  const uint64_t rv = apply(docs);
  Client c(*server_);

  Response all = c.get("/api/v1/services");
  ASSERT_EQ(all.result_int(), 200);
  Json list(all.body());
  EXPECT_EQ(list.str("/kind"), "ServiceList");
  EXPECT_EQ(list.str("/apiVersion"), "v1");
  EXPECT_EQ(list.str("/metadata/resourceVersion"), std::to_string(rv));
  EXPECT_FALSE(list.has("/metadata/continue"));
  ASSERT_EQ(list.size("/items"), 6u);
  EXPECT_FALSE(list.has("/items/0/kind"));  // items carry no kind/apiVersion
  EXPECT_FALSE(list.has("/items/0/apiVersion"));
  EXPECT_EQ(list.str("/items/0/metadata/name"), "a");  // key order: namespace, then name
  EXPECT_EQ(list.str("/items/5/metadata/namespace"), "beta");
  EXPECT_EQ(list.str("/items/0/metadata/uid").size(), 36u);
  EXPECT_TRUE(list.has("/items/0/metadata/creationTimestamp"));

  EXPECT_EQ(Json(c.get("/api/v1/namespaces/alpha/services").body()).size("/items"), 5u);

  // Pages of 2 stay at the first page's resourceVersion, even when objects
  // change in between, as etcd's snapshot does.
  std::vector<std::string> names;
  std::string cont;
  int pages = 0;
  do {
    Response page = c.get("/api/v1/services?limit=2" + (cont.empty() ? "" : "&continue=" + cont));
    ASSERT_EQ(page.result_int(), 200) << page.body();
    Json j(page.body());
    EXPECT_EQ(j.str("/metadata/resourceVersion"), std::to_string(rv));
    EXPECT_LE(j.size("/items"), 2u);
    for (size_t i = 0; i < j.size("/items"); ++i) names.push_back(j.str("/items/" + std::to_string(i) + "/metadata/name"));
    cont = j.has("/metadata/continue") ? j.str("/metadata/continue") : "";
    if (++pages == 1) {
      ASSERT_TRUE(server_->remove("services", "alpha", "e"));
      apply(service("alpha", "bb"));
    }
  } while (!cont.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "e", "z"}));

  // The server's page size caps the client's limit.
  server_->set_max_page_size(1);
  Json capped(c.get("/api/v1/services?limit=3").body());
  EXPECT_EQ(capped.size("/items"), 1u);
  EXPECT_TRUE(capped.has("/metadata/continue"));
}

TEST_F(KubeApiServerTest, SelectorsGetAndDiscovery) {
  apply(service("alpha", "a", "web") + "---\n" + service("alpha", "b", "db") +
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: cert, namespace: alpha}\ntype: kubernetes.io/tls\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: other, namespace: alpha}\ntype: Opaque\n");
  Client c(*server_);
  Json by_label(c.get("/api/v1/services?labelSelector=app%3Ddb").body());
  ASSERT_EQ(by_label.size("/items"), 1u);
  EXPECT_EQ(by_label.str("/items/0/metadata/name"), "b");
  Json by_set(c.get("/api/v1/services?labelSelector=app+in+(web,db)").body());
  EXPECT_EQ(by_set.size("/items"), 2u);
  Json tls(c.get("/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Ftls").body());
  ASSERT_EQ(tls.size("/items"), 1u);
  EXPECT_EQ(tls.str("/items/0/metadata/name"), "cert");
  EXPECT_EQ(c.get("/api/v1/pods?fieldSelector=spec.bogus%3Dx").result_int(), 400);

  Response one = c.get("/api/v1/namespaces/alpha/services/a");
  ASSERT_EQ(one.result_int(), 200);
  EXPECT_EQ(Json(one.body()).str("/kind"), "Service");
  Response missing = c.get("/api/v1/namespaces/alpha/services/nope");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(Json(missing.body()).str("/reason"), "NotFound");
  EXPECT_EQ(c.get("/api/v1/nothing").result_int(), 404);

  Json resources(c.get("/apis/networking.istio.io/v1beta1").body());
  EXPECT_EQ(resources.str("/kind"), "APIResourceList");
  EXPECT_EQ(resources.str("/groupVersion"), "networking.istio.io/v1beta1");
  EXPECT_EQ(c.get("/apis/security.istio.io/v1/authorizationpolicies").result_int(), 200);
}

TEST_F(KubeApiServerTest, BadRequestsGetStatus) {
  Client c(*server_);
  Response bad_limit = c.get("/api/v1/pods?limit=abc");
  EXPECT_EQ(bad_limit.result_int(), 400);
  EXPECT_EQ(Json(bad_limit.body()).str("/reason"), "BadRequest");
  EXPECT_EQ(c.get("/api/v1/pods?continue=garbage").result_int(), 400);
  EXPECT_EQ(c.get("/api/v1/pods?labelSelector=%zz").result_int(), 400);
  EXPECT_EQ(c.get("/api/v1/pods?watch=maybe").result_int(), 400);
  EXPECT_EQ(c.get("/api/v1/pods?watch=1&resourceVersion=x").result_int(), 400);
  EXPECT_EQ(c.get("/api/v1/pods?watch=1&sendInitialEvents=true").result_int(), 422);

  Client raw(*server_);
  raw.write_raw("GARBAGE\r\n\r\n");
  EXPECT_EQ(raw.read_response().result_int(), 400);
  EXPECT_TRUE(server_->apply("kind: Service\n").error().message.find("apiVersion") != std::string::npos);
  EXPECT_FALSE(server_->apply("{not json"));
  EXPECT_FALSE(server_->apply("apiVersion: v9\nkind: Nope\nmetadata: {name: x}\n"));
}

TEST_F(KubeApiServerTest, WatchReplaysFromResourceVersion) {
  const uint64_t start = apply(service("ns", "a"));
  apply(service("ns", "b"));
  const uint64_t modified = apply(service("ns", "a", "api"));
  auto deleted = server_->remove("services", "ns", "b");
  ASSERT_TRUE(deleted);

  Client c(*server_);
  ASSERT_EQ(c.start("/api/v1/services?watch=1&resourceVersion=" + std::to_string(start)), 200u);
  std::vector<std::string> events = c.lines(3);
  ASSERT_EQ(events.size(), 3u);
  Json added(events[0]), mod(events[1]), del(events[2]);
  EXPECT_EQ(added.str("/type"), "ADDED");
  EXPECT_EQ(added.str("/object/metadata/name"), "b");
  EXPECT_EQ(added.str("/object/kind"), "Service");  // objects in events carry kind and apiVersion
  EXPECT_EQ(added.str("/object/apiVersion"), "v1");
  EXPECT_EQ(mod.str("/type"), "MODIFIED");
  EXPECT_EQ(mod.str("/object/metadata/resourceVersion"), std::to_string(modified));
  EXPECT_EQ(mod.str("/object/metadata/labels/app"), "api");
  EXPECT_EQ(del.str("/type"), "DELETED");
  EXPECT_EQ(del.str("/object/metadata/resourceVersion"), std::to_string(*deleted));

  // Live events follow the replay on the same stream.
  const uint64_t live = apply(service("ns", "c"));
  Json next(c.lines(1).at(0));
  EXPECT_EQ(next.str("/type"), "ADDED");
  EXPECT_EQ(next.str("/object/metadata/resourceVersion"), std::to_string(live));
  EXPECT_EQ(server_->requests("watch", "/api/v1/services"), 1u);
}

TEST_F(KubeApiServerTest, InitialEventsAndBookmarks) {
  apply(service("ns", "a") + "---\n" + service("ns", "b"));
  Client c(*server_);
  ASSERT_EQ(c.start("/api/v1/namespaces/ns/services?watch=true&allowWatchBookmarks=true"), 200u);
  auto initial = c.lines(2);  // no resourceVersion: the state as ADDED events
  ASSERT_EQ(initial.size(), 2u);
  EXPECT_EQ(Json(initial[1]).str("/type"), "ADDED");
  server_->bookmark();
  Json bookmark(c.lines(1).at(0));
  EXPECT_EQ(bookmark.str("/type"), "BOOKMARK");
  EXPECT_EQ(bookmark.str("/object/kind"), "Service");
  EXPECT_EQ(bookmark.str("/object/metadata/resourceVersion"), std::to_string(server_->resource_version()));

  // Without allowWatchBookmarks there are none.
  Client plain(*server_);
  ASSERT_EQ(plain.start("/api/v1/services?watch=1&resourceVersion=" + std::to_string(server_->resource_version())), 200u);
  server_->bookmark();
  apply(service("ns", "c"));
  EXPECT_EQ(Json(plain.lines(1).at(0)).str("/type"), "ADDED");

  // A streaming list ends its initial events with an annotated bookmark.
  Client streaming(*server_);
  ASSERT_EQ(streaming.start("/api/v1/services?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                            "&allowWatchBookmarks=true"),
            200u);
  auto events = streaming.lines(4);
  ASSERT_EQ(events.size(), 4u);
  Json end(events[3]);
  EXPECT_EQ(end.str("/type"), "BOOKMARK");
  EXPECT_EQ(end.str("/object/metadata/annotations/k8s.io~1initial-events-end"), "true");
}

TEST_F(KubeApiServerTest, ExpiredAfterCompaction) {
  const uint64_t old = apply(service("ns", "a"));
  apply(service("ns", "b"));
  server_->compact();
  Client c(*server_);
  ASSERT_EQ(c.start("/api/v1/services?watch=1&resourceVersion=" + std::to_string(old)), 200u);
  auto events = c.lines(2);
  ASSERT_EQ(events.size(), 1u);
  Json error(events[0]);
  EXPECT_EQ(error.str("/type"), "ERROR");
  EXPECT_EQ(error.str("/object/kind"), "Status");
  EXPECT_EQ(error.num("/object/code"), 410);
  EXPECT_EQ(error.str("/object/reason"), "Expired");
  EXPECT_TRUE(c.finish());  // then the stream ends

  Response exact = c.get("/api/v1/services?resourceVersion=" + std::to_string(old) + "&resourceVersionMatch=Exact");
  EXPECT_EQ(exact.result_int(), 410);
  EXPECT_EQ(Json(exact.body()).str("/reason"), "Expired");
  // From the current version a watch is fine.
  Client now(*server_);
  EXPECT_EQ(now.start("/api/v1/services?watch=1&resourceVersion=" + std::to_string(server_->resource_version())), 200u);
}

TEST_F(KubeApiServerTest, ContinueTokenExpiresWithCompaction) {
  apply(service("ns", "a") + "---\n" + service("ns", "b"));
  Client c(*server_);
  Json first(c.get("/api/v1/services?limit=1").body());
  const std::string token = first.str("/metadata/continue");
  apply(service("ns", "c"));
  server_->compact();
  Response expired = c.get("/api/v1/services?limit=1&continue=" + token);
  EXPECT_EQ(expired.result_int(), 410);
  Json status(expired.body());
  EXPECT_EQ(status.str("/reason"), "Expired");
  // The token in the Status goes on from the latest state.
  Response rest = c.get("/api/v1/services?continue=" + status.str("/metadata/continue"));
  ASSERT_EQ(rest.result_int(), 200);
  EXPECT_EQ(Json(rest.body()).size("/items"), 2u);  // b and c
}

TEST_F(KubeApiServerTest, TimeoutSecondsEndsTheWatchCleanly) {
  Client c(*server_);
  ASSERT_EQ(c.start("/api/v1/pods?watch=1&timeoutSeconds=1"), 200u);
  EXPECT_TRUE(c.finish());  // the terminating chunk, no error
  EXPECT_EQ(c.get("/api/v1/pods").result_int(), 200);  // and the connection is reused
}

TEST_F(KubeApiServerTest, PartialChunksReassemble) {
  server_->set_watch_chunk_bytes(7);
  Client c(*server_);
  ASSERT_EQ(c.start("/api/v1/services?watch=1&resourceVersion=" + std::to_string(server_->resource_version())), 200u);
  apply(service("ns", "a"));
  Json added(c.lines(1).at(0));
  EXPECT_EQ(added.str("/type"), "ADDED");
  EXPECT_EQ(added.str("/object/metadata/name"), "a");
  ASSERT_GT(c.chunk_sizes().size(), 10u);  // one event over many chunks
  for (uint64_t size : c.chunk_sizes()) EXPECT_LE(size, 7u);
}

TEST_F(KubeApiServerTest, SeveralEventsInOneChunk) {
  Client c(*server_);
  ASSERT_EQ(c.start("/api/v1/services?watch=1&resourceVersion=" + std::to_string(server_->resource_version())), 200u);
  apply(service("ns", "a") + "---\n" + service("ns", "b") + "---\n" + service("ns", "c"));
  auto events = c.lines(3);
  ASSERT_EQ(events.size(), 3u);
  ASSERT_EQ(c.chunk_sizes().size(), 1u);  // one apply, one write
  EXPECT_EQ(c.chunk_sizes()[0], events[0].size() + events[1].size() + events[2].size() + 3);
}

TEST_F(KubeApiServerTest, DropWatchesClosesMidStream) {
  apply(service("ns", "a"));
  Client c(*server_);
  ASSERT_EQ(c.start("/api/v1/services?watch=1"), 200u);
  ASSERT_EQ(c.lines(1).size(), 1u);
  EXPECT_EQ(server_->drop_watches(), 1u);
  EXPECT_FALSE(c.finish());  // no terminating chunk: the read fails
  EXPECT_EQ(server_->open_watches(), 0u);
}

TEST_F(KubeApiServerTest, DownAndBackOnTheSamePort) {
  const uint16_t port = server_->port();
  Client before(*server_);
  ASSERT_EQ(before.start("/api/v1/services?watch=1"), 200u);
  server_->go_down();
  EXPECT_TRUE(server_->is_down());
  EXPECT_FALSE(before.finish());
  EXPECT_FALSE(Client(*server_).connected());  // refused
  server_->come_up();
  EXPECT_FALSE(server_->is_down());
  EXPECT_EQ(server_->port(), port);
  Client after(*server_);
  ASSERT_TRUE(after.connected());
  EXPECT_EQ(after.get("/api/v1/services").result_int(), 200);
}

TEST_F(KubeApiServerTest, LargeListIsChunkedAndComplete) {
  std::string list = R"({"apiVersion":"v1","kind":"PodList","items":[)";
  for (int i = 0; i < 3000; ++i) {
    if (i) list += ',';
    list += R"({"metadata":{"name":"pod-)" + std::to_string(i) +
            R"(","namespace":"big","labels":{"app":"x"}},"spec":{"nodeName":"node-1","containers":[{"name":"c","image":"busybox"}]},"status":{"podIP":"10.200.1.)" +
            std::to_string(i % 250) + R"("}})";
  }
  list += "]}";
  apply(list);
  EXPECT_EQ(server_->count("pods"), 3000u);
  Client c(*server_);
  Response res = c.get("/api/v1/pods");
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(Json(res.body()).size("/items"), 3000u);
  Json node(c.get("/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-2").body());
  EXPECT_EQ(node.size("/items"), 0u);
  EXPECT_EQ(server_->requests("list", "/api/v1/pods"), 2u);
}

// One plain HTTP request to the control port.
Response control(uint16_t port, http::verb verb, const std::string& target, const std::string& body = "") {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buffer;
  Response res;
  http::read(socket, buffer, res);
  return res;
}

TEST_F(KubeApiServerTest, ControlInterface) {
  auto ctl = KubeApiControl::start(*server_);
  ASSERT_TRUE(ctl) << ctl.error().to_string();
  const uint16_t port = (*ctl)->port();
  Response applied = control(port, http::verb::post, "/apply", service("ns", "a") + "---\n" + service("ns", "b"));
  ASSERT_EQ(applied.result_int(), 200) << applied.body();
  EXPECT_EQ(Json(applied.body()).str("/resourceVersion"), std::to_string(server_->resource_version()));
  EXPECT_EQ(server_->count("services"), 2u);
  EXPECT_EQ(control(port, http::verb::post, "/delete?resource=services&namespace=ns&name=a").result_int(), 200);
  EXPECT_EQ(control(port, http::verb::post, "/delete?resource=services&namespace=ns&name=a").result_int(), 404);
  EXPECT_EQ(control(port, http::verb::get, "/object?resource=services&namespace=ns&name=b").result_int(), 200);
  EXPECT_EQ(control(port, http::verb::post, "/apply", "kind: Nope\n").result_int(), 400);

  EXPECT_EQ(control(port, http::verb::post, "/forbid?resource=pods").result_int(), 200);
  EXPECT_EQ(control(port, http::verb::post, "/token?value=rotated").result_int(), 200);
  Client c(*server_);
  EXPECT_EQ(c.get("/api/v1/pods", std::string("rotated")).result_int(), 403);
  EXPECT_EQ(c.get("/api/v1/services", std::string("rotated")).result_int(), 200);
  EXPECT_EQ(c.get("/api/v1/services").result_int(), 401);

  Json stats(control(port, http::verb::get, "/stats").body());
  EXPECT_EQ(stats.num("/requests/list ~1api~1v1~1services"), 2);
  EXPECT_EQ(stats.num("/responses/403"), 1);
  EXPECT_EQ(stats.num("/objects/services"), 1);
  EXPECT_EQ(control(port, http::verb::post, "/down?seconds=0.2").result_int(), 200);
  EXPECT_TRUE(server_->is_down());
  EXPECT_EQ(control(port, http::verb::post, "/up").result_int(), 200);
  EXPECT_FALSE(server_->is_down());
  EXPECT_EQ(control(port, http::verb::get, "/compact").result_int(), 405);
  EXPECT_EQ(control(port, http::verb::post, "/nothing").result_int(), 404);
  EXPECT_EQ(control(port, http::verb::post, "/page-size?limit=x").result_int(), 400);
}

}  // namespace
}  // namespace sluice::testing
