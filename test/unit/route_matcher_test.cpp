// Route selection with Istio's VirtualService semantics: host lookup, match
// conditions, first-match-wins ordering and weighted destinations. Routes
// come from YAML through the real loader and snapshot builder, so the field
// names are the ones users write.
#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <map>
#include <random>
#include <string>

#include "route_matcher.h"
#include "snapshot_builder.h"

using namespace sluice;
using namespace sluice::config;
using namespace sluice::proxy;

namespace {

const std::string kFixtures = std::string(SLUICE_SOURCE_DIR) + "/test/fixtures/config";
const std::string kHost = "app.default.svc.cluster.local";

class MapHeaders : public HeaderSource {
 public:
  std::map<std::string, std::string> values;
  std::optional<std::string_view> header(std::string_view name) const override {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return std::string_view(it->second);
  }
};

// A request with owned storage, turned into RequestAttrs on demand.
struct Req {
  std::string method = "GET";
  std::string path = "/";
  std::string authority = "app";
  std::string scheme = "http";
  uint16_t port = 80;
  config::Labels labels;
  bool has_labels = true;
  std::string ns = "default";
  std::string gateway;
  MapHeaders headers;

  RequestAttrs attrs() const {
    RequestAttrs a;
    a.method = method;
    a.path = path;
    a.authority = authority;
    a.scheme = scheme;
    a.port = port;
    a.source_labels = has_labels ? &labels : nullptr;
    a.source_namespace = ns;
    a.gateway = gateway;
    a.headers = &headers;
    return a;
  }
  Req& with_path(std::string p) { path = std::move(p); return *this; }
  Req& with_header(const std::string& k, const std::string& v) { headers.values[k] = v; return *this; }
};

std::string all(const std::vector<Diagnostic>& diags) {
  std::string s;
  for (const auto& d : diags) s += d.to_string() + "\n";
  return s;
}

// A VirtualService named "vs" in namespace "default" for host "app", whose
// spec.http is `http` (YAML, indented by two spaces). Extra top-level spec
// lines (gateways) go in `spec_extra`.
struct Compiled {
  std::shared_ptr<MeshSnapshot> snap;
  std::shared_ptr<const CompiledRoutes> routes;

  // The name of the matched HTTPRoute, "" for none.
  std::string match(const Req& r) const {
    if (!routes) return "<not compiled>";
    const HttpRoute* hit = routes->match(r.attrs());
    return hit ? hit->spec->name() : "";
  }
};

Compiled compile(const std::string& http, const std::string& spec_extra = "", const std::string& table = "") {
  const std::string yaml =
      "apiVersion: networking.istio.io/v1\n"
      "kind: VirtualService\n"
      "metadata:\n"
      "  name: vs\n"
      "  namespace: default\n"
      "spec:\n"
      "  hosts:\n"
      "  - app\n" +
      spec_extra + "  http:\n" + http;
  LoadResult loaded;
  load_yaml_text(yaml, "vs.yaml", loaded);
  BuildResult built = build_snapshot(std::move(loaded), 1);
  Compiled c;
  c.snap = built.snapshot;
  EXPECT_TRUE(c.snap) << all(built.diagnostics) << yaml;
  if (!c.snap) return c;
  const RouteTable& t = table.empty() ? c.snap->mesh_routes : c.snap->gateway_routes.at(table);
  auto it = t.find(kHost);
  EXPECT_NE(it, t.end());
  if (it == t.end()) return c;
  c.routes = CompiledRoutes::build(it->second);
  EXPECT_TRUE(c.routes->problems().empty());
  return c;
}

// One route named `name` with the given match list (YAML under `match:`).
std::string route(const std::string& name, const std::string& match) {
  std::string s = "  - name: " + name + "\n";
  if (!match.empty()) s += "    match:\n" + match;
  s += "    route:\n    - destination:\n        host: app\n";
  return s;
}

}  // namespace

// --- ordering -------------------------------------------------------------

TEST(RouteMatch, FirstMatchingRouteWins) {
  Compiled c = compile(route("api-v1", "    - uri:\n        prefix: /api/v1\n") +
                       route("api", "    - uri:\n        prefix: /api\n") +
                       route("default", ""));
  EXPECT_EQ(c.match(Req().with_path("/api/v1/x")), "api-v1");
  EXPECT_EQ(c.match(Req().with_path("/api/v2")), "api");
  EXPECT_EQ(c.match(Req().with_path("/other")), "default");
}

TEST(RouteMatch, RouteWithoutMatchCatchesAllAndHidesLaterRoutes) {
  Compiled c = compile(route("all", "") + route("never", "    - uri:\n        prefix: /\n"));
  EXPECT_EQ(c.match(Req().with_path("/")), "all");
  EXPECT_EQ(c.match(Req().with_path("/anything?x=1")), "all");
}

TEST(RouteMatch, NoRouteWhenNothingMatches) {
  Compiled c = compile(route("a", "    - uri:\n        exact: /a\n"));
  EXPECT_EQ(c.match(Req().with_path("/b")), "");
}

TEST(RouteMatch, ConditionsAreAndedMatchesAreOred) {
  Compiled c = compile(route("r",
                             "    - uri:\n        prefix: /a\n"
                             "      headers:\n        x-env:\n          exact: canary\n"
                             "    - uri:\n        prefix: /b\n"));
  EXPECT_EQ(c.match(Req().with_path("/a").with_header("x-env", "canary")), "r");
  EXPECT_EQ(c.match(Req().with_path("/a")), "");                                  // header missing
  EXPECT_EQ(c.match(Req().with_path("/c").with_header("x-env", "canary")), "");  // uri fails
  EXPECT_EQ(c.match(Req().with_path("/b")), "r");                                 // second match
}

// --- uri ------------------------------------------------------------------

TEST(RouteMatch, UriExactPrefixIgnoreTheQueryString) {
  Compiled c = compile(route("exact", "    - uri:\n        exact: /productpage\n") +
                       route("prefix", "    - uri:\n        prefix: /static\n"));
  EXPECT_EQ(c.match(Req().with_path("/productpage")), "exact");
  EXPECT_EQ(c.match(Req().with_path("/productpage?u=normal")), "exact");
  EXPECT_EQ(c.match(Req().with_path("/productpage#frag")), "exact");
  EXPECT_EQ(c.match(Req().with_path("/productpage/")), "");
  EXPECT_EQ(c.match(Req().with_path("/static/css/a.css")), "prefix");
  EXPECT_EQ(c.match(Req().with_path("/staticfoo")), "prefix");  // plain string prefix, as in Envoy
  EXPECT_EQ(c.match(Req().with_path("/Static")), "");           // case-sensitive by default
}

TEST(RouteMatch, UriRegexIsAFullMatch) {
  Compiled c = compile(route("products", "    - uri:\n        regex: \"/api/v1/products(/[0-9]+)?\"\n"));
  EXPECT_EQ(c.match(Req().with_path("/api/v1/products")), "products");
  EXPECT_EQ(c.match(Req().with_path("/api/v1/products/3")), "products");
  EXPECT_EQ(c.match(Req().with_path("/api/v1/products/3?q=1")), "products");
  EXPECT_EQ(c.match(Req().with_path("/api/v1/products/x")), "");
  EXPECT_EQ(c.match(Req().with_path("/api/v1/products/3/reviews")), "");
  EXPECT_EQ(c.match(Req().with_path("/v2/api/v1/products")), "");
}

TEST(RouteMatch, IgnoreUriCaseAppliesToExactAndPrefixOnly) {
  Compiled c = compile(route("exact", "    - uri:\n        exact: /Login\n      ignoreUriCase: true\n") +
                       route("prefix", "    - uri:\n        prefix: /API/\n      ignoreUriCase: true\n") +
                       route("regex", "    - uri:\n        regex: /re[a-z]+\n      ignoreUriCase: true\n"));
  EXPECT_EQ(c.match(Req().with_path("/login")), "exact");
  EXPECT_EQ(c.match(Req().with_path("/LOGIN?next=/")), "exact");
  EXPECT_EQ(c.match(Req().with_path("/api/users")), "prefix");
  EXPECT_EQ(c.match(Req().with_path("/Api/users")), "prefix");
  EXPECT_EQ(c.match(Req().with_path("/regex")), "regex");
  EXPECT_EQ(c.match(Req().with_path("/REGEX")), "");  // Envoy: case_sensitive is ignored for safe_regex
}

// --- headers ----------------------------------------------------------------

TEST(RouteMatch, HeaderExactPrefixRegex) {
  Compiled c = compile(route("exact", "    - headers:\n        end-user:\n          exact: jason\n") +
                       route("prefix", "    - headers:\n        user-agent:\n          prefix: curl/\n") +
                       route("regex", "    - headers:\n        x-version:\n          regex: \"v[0-9]+\"\n"));
  EXPECT_EQ(c.match(Req().with_header("end-user", "jason")), "exact");
  EXPECT_EQ(c.match(Req().with_header("end-user", "Jason")), "");  // values are case-sensitive
  EXPECT_EQ(c.match(Req().with_header("user-agent", "curl/8.1")), "prefix");
  EXPECT_EQ(c.match(Req().with_header("x-version", "v12")), "regex");
  EXPECT_EQ(c.match(Req().with_header("x-version", "v12-beta")), "");  // full match
  EXPECT_EQ(c.match(Req()), "");
}

TEST(RouteMatch, EmptyHeaderMatchMeansPresent) {
  Compiled c = compile(route("present", "    - headers:\n        x-debug: {}\n"));
  EXPECT_EQ(c.match(Req().with_header("x-debug", "")), "present");
  EXPECT_EQ(c.match(Req().with_header("x-debug", "anything")), "present");
  EXPECT_EQ(c.match(Req()), "");
}

TEST(RouteMatch, RegexStarIsPresentMatch) {
  // Istio's canBeConvertedToPresentMatch turns the regex "*" into
  // present_match. Validation rejects "*" (not RE2), so build the spec directly.
  istio::networking::HTTPRoute spec;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(name: "star"
           match { headers { key: "x-trace" value { regex: "*" } } }
           match { query_params { key: "debug" value { regex: "*" } } })pb",
      &spec));
  HostRoutes routes;
  routes.http.push_back(HttpRoute{"default/vs", &spec, {}});
  auto compiled = CompiledRoutes::build(routes);
  EXPECT_TRUE(compiled->problems().empty());
  EXPECT_NE(compiled->match(Req().with_header("x-trace", "").attrs()), nullptr);
  EXPECT_NE(compiled->match(Req().with_path("/?debug").attrs()), nullptr);
  EXPECT_EQ(compiled->match(Req().with_path("/?other=1").attrs()), nullptr);
}

TEST(RouteMatch, UppercaseHeaderNamesAreLowercased) {
  Compiled c = compile(route("r", "    - headers:\n        X-Env:\n          exact: prod\n"));
  EXPECT_EQ(c.match(Req().with_header("x-env", "prod")), "r");
}

TEST(RouteMatch, WithoutHeaders) {
  Compiled c = compile(route("not-jason", "    - withoutHeaders:\n        end-user:\n          exact: jason\n") +
                       route("fallback", ""));
  EXPECT_EQ(c.match(Req()), "not-jason");  // absent: Istio sets treat_missing_header_as_empty
  EXPECT_EQ(c.match(Req().with_header("end-user", "mike")), "not-jason");
  EXPECT_EQ(c.match(Req().with_header("end-user", "jason")), "fallback");
}

TEST(RouteMatch, WithoutHeadersPresentMeansAbsent) {
  Compiled c = compile(route("no-debug", "    - withoutHeaders:\n        x-debug: {}\n") + route("fallback", ""));
  EXPECT_EQ(c.match(Req()), "no-debug");
  EXPECT_EQ(c.match(Req().with_header("x-debug", "")), "fallback");
  EXPECT_EQ(c.match(Req().with_header("x-debug", "1")), "fallback");
}

TEST(RouteMatch, WithoutHeadersMissingHeaderCountsAsEmpty) {
  // A missing header is the empty string, which exact "" matches, so the
  // inverted condition fails (Envoy's treat_missing_header_as_empty).
  Compiled c = compile(route("r", "    - withoutHeaders:\n        x-a:\n          exact: \"\"\n") + route("fallback", ""));
  EXPECT_EQ(c.match(Req()), "fallback");
  EXPECT_EQ(c.match(Req().with_header("x-a", "v")), "r");
}

TEST(RouteMatch, HeadersAndWithoutHeadersTogether) {
  Compiled c = compile(route("r",
                             "    - headers:\n        x-user:\n          prefix: team-\n"
                             "      withoutHeaders:\n        x-user:\n          exact: team-blocked\n"));
  EXPECT_EQ(c.match(Req().with_header("x-user", "team-a")), "r");
  EXPECT_EQ(c.match(Req().with_header("x-user", "team-blocked")), "");
  EXPECT_EQ(c.match(Req()), "");
}

TEST(RouteMatch, PseudoHeadersInTheHeaderMap) {
  Compiled c = compile(route("r", "    - headers:\n        \":method\":\n          exact: POST\n"));
  Req post;
  post.method = "POST";
  EXPECT_EQ(c.match(post), "r");
  EXPECT_EQ(c.match(Req()), "");
}

TEST(RouteMatch, NoHeaderSourceMeansNoHeaders) {
  Compiled c = compile(route("r", "    - withoutHeaders:\n        x-a: {}\n"));
  RequestAttrs a = Req().attrs();
  a.headers = nullptr;
  const HttpRoute* hit = c.routes->match(a);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->spec->name(), "r");
}

// --- query parameters -------------------------------------------------------

TEST(RouteMatch, QueryParams) {
  Compiled c = compile(route("exact", "    - queryParams:\n        v:\n          exact: \"2\"\n") +
                       route("prefix", "    - queryParams:\n        user:\n          prefix: adm\n") +
                       route("regex", "    - queryParams:\n        id:\n          regex: \"[0-9]+\"\n") +
                       route("present", "    - queryParams:\n        debug: {}\n"));
  EXPECT_EQ(c.match(Req().with_path("/x?v=2")), "exact");
  EXPECT_EQ(c.match(Req().with_path("/x?a=1&v=2&b")), "exact");
  EXPECT_EQ(c.match(Req().with_path("/x?v=20")), "");
  EXPECT_EQ(c.match(Req().with_path("/x?user=admin")), "prefix");
  EXPECT_EQ(c.match(Req().with_path("/x?id=42")), "regex");
  EXPECT_EQ(c.match(Req().with_path("/x?id=42a")), "");
  EXPECT_EQ(c.match(Req().with_path("/x?debug")), "present");
  EXPECT_EQ(c.match(Req().with_path("/x?debug=")), "present");
  EXPECT_EQ(c.match(Req().with_path("/x")), "");
  EXPECT_EQ(c.match(Req().with_path("/x?notdebug=1")), "");
}

TEST(RouteMatch, QueryParamFirstOccurrenceWinsAndIsNotDecoded) {
  // Envoy's route matcher uses QueryParamsMulti::parseQueryString: values are
  // compared as sent (no percent-decoding), and the first occurrence counts.
  Compiled c = compile(route("raw", "    - queryParams:\n        q:\n          exact: a%20b\n") +
                       route("first", "    - queryParams:\n        k:\n          exact: one\n"));
  EXPECT_EQ(c.match(Req().with_path("/?q=a%20b")), "raw");
  EXPECT_EQ(c.match(Req().with_path("/?q=a b")), "");
  EXPECT_EQ(c.match(Req().with_path("/?k=one&k=two")), "first");
  EXPECT_EQ(c.match(Req().with_path("/?k=two&k=one")), "");
}

// --- method, authority, scheme, port ---------------------------------------

TEST(RouteMatch, MethodAuthorityScheme) {
  Compiled c = compile(route("method", "    - method:\n        exact: DELETE\n") +
                       route("authority", "    - authority:\n        exact: app:8080\n") +
                       route("authority-prefix", "    - authority:\n        prefix: api.\n") +
                       route("scheme", "    - scheme:\n        exact: https\n"));
  Req del;
  del.method = "DELETE";
  EXPECT_EQ(c.match(del), "method");

  // :authority is matched as the client sent it, port included (Istio maps
  // `authority` to a ":authority" header matcher; gateways keep the port
  // unless ISTIO_GATEWAY_STRIP_HOST_PORT is set).
  Req with_port;
  with_port.authority = "app:8080";
  EXPECT_EQ(c.match(with_port), "authority");
  Req without_port;
  without_port.authority = "app";
  EXPECT_EQ(c.match(without_port), "");
  Req api;
  api.authority = "api.example.com";
  EXPECT_EQ(c.match(api), "authority-prefix");

  Req tls;
  tls.scheme = "https";
  EXPECT_EQ(c.match(tls), "scheme");
}

TEST(RouteMatch, Port) {
  Compiled c = compile(route("p8080", "    - port: 8080\n") + route("any", ""));
  Req r;
  r.port = 8080;
  EXPECT_EQ(c.match(r), "p8080");
  r.port = 80;
  EXPECT_EQ(c.match(r), "any");
}

// --- source -----------------------------------------------------------------

TEST(RouteMatch, SourceLabelsAreASubsetMatch) {
  Compiled c = compile(route("v2-callers", "    - sourceLabels:\n        app: reviews\n        version: v2\n") +
                       route("fallback", ""));
  Req r;
  r.labels = {{"app", "reviews"}, {"version", "v2"}, {"pod-template-hash", "abc"}};
  EXPECT_EQ(c.match(r), "v2-callers");
  r.labels = {{"app", "reviews"}, {"version", "v1"}};
  EXPECT_EQ(c.match(r), "fallback");
  r.labels = {{"app", "reviews"}};
  EXPECT_EQ(c.match(r), "fallback");
  r.has_labels = false;
  EXPECT_EQ(c.match(r), "fallback");
}

TEST(RouteMatch, SourceNamespace) {
  Compiled c = compile(route("from-prod", "    - sourceNamespace: prod\n") + route("fallback", ""));
  Req r;
  r.ns = "prod";
  EXPECT_EQ(c.match(r), "from-prod");
  r.ns = "default";
  EXPECT_EQ(c.match(r), "fallback");
}

// --- gateways -----------------------------------------------------------------

TEST(RouteMatch, GatewaysInsideAMatch) {
  const std::string spec_extra = "  gateways:\n  - my-gw\n  - istio-system/shared\n  - mesh\n";
  const std::string http = route("short-name", "    - gateways:\n      - my-gw\n") +
                           route("qualified", "    - gateways:\n      - istio-system/shared\n") +
                           route("mesh-only", "    - gateways:\n      - mesh\n");
  Compiled mesh = compile(http, spec_extra);
  Req r;
  EXPECT_EQ(mesh.match(r), "mesh-only");
  r.gateway = "default/my-gw";  // short names resolve in the VirtualService's namespace
  EXPECT_EQ(mesh.match(r), "short-name");
  r.gateway = "istio-system/shared";
  EXPECT_EQ(mesh.match(r), "qualified");
  r.gateway = "other/my-gw";
  EXPECT_EQ(mesh.match(r), "");

  // The same routes as bound to a gateway's table.
  Compiled gw = compile(http, spec_extra, "default/my-gw");
  Req through_gw;
  through_gw.gateway = "default/my-gw";
  EXPECT_EQ(gw.match(through_gw), "short-name");
}

// ("./gw-a" is not among them: Istio's validation refuses "." as a
// namespace in VirtualService gateways.)
TEST(RouteMatch, GatewayNamesInOtherForms) {
  const std::string spec_extra = "  gateways:\n  - mesh\n  - gw-a\n  - gw-b.infra.svc.cluster.local\n";
  Compiled c = compile(route("same-namespace", "    - gateways:\n      - gw-a\n") +
                           route("legacy-fqdn", "    - gateways:\n      - gw-b.infra.svc.cluster.local\n"),
                       spec_extra);
  Req r;
  r.gateway = "default/gw-a";
  EXPECT_EQ(c.match(r), "same-namespace");
  r.gateway = "infra/gw-b";
  EXPECT_EQ(c.match(r), "legacy-fqdn");
}

TEST(RouteMatch, GatewaysOverrideSourceLabels) {
  // Istio's sourceMatchHTTP checks sourceLabels/sourceNamespace only when the
  // match names no gateways.
  Compiled c = compile(route("r",
                             "    - gateways:\n      - mesh\n"
                             "      sourceLabels:\n        app: never\n"
                             "      sourceNamespace: nowhere\n"));
  EXPECT_EQ(c.match(Req()), "r");
}

// --- compilation ------------------------------------------------------------

TEST(RouteMatch, InvalidRegexIsReportedAndNeverMatches) {
  istio::networking::HTTPRoute spec;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(name: "bad" match { uri { regex: "(unclosed" } } match { uri { exact: "/ok" } })pb", &spec));
  HostRoutes routes;
  routes.http.push_back(HttpRoute{"default/vs", &spec, {{"app.default.svc.cluster.local", "", 0, 100}}});
  auto compiled = CompiledRoutes::build(routes);
  ASSERT_EQ(compiled->problems().size(), 1u);
  EXPECT_NE(compiled->problems()[0].find("default/vs http[0].match[0].uri"), std::string::npos);
  RequestAttrs a;
  a.path = "(unclosed";
  EXPECT_EQ(compiled->match(a), nullptr);
  a.path = "/ok";
  EXPECT_EQ(compiled->match(a), &routes.http[0]);
}

TEST(RouteMatch, BookinfoGatewayFixture) {
  BuildResult r = load_snapshot({kFixtures + "/bookinfo"}, 1);
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  const RouteTable& gw = r.snapshot->gateway_routes.at("default/bookinfo-gateway");
  const HostRoutes* host = find_host(gw, "bookinfo.example.com:80");
  ASSERT_NE(host, nullptr);  // the "*" host
  auto compiled = CompiledRoutes::build(*host);
  Req req;
  req.gateway = "default/bookinfo-gateway";
  for (const char* path : {"/productpage", "/static/img.png", "/api/v1/products", "/api/v1/products/3"}) {
    req.path = path;
    const HttpRoute* hit = compiled->match(req.attrs());
    ASSERT_NE(hit, nullptr) << path;
    EXPECT_EQ(hit->destinations.at(0).host, "productpage.default.svc.cluster.local");
  }
  req.path = "/api/v1/products/x";
  EXPECT_EQ(compiled->match(req.attrs()), nullptr);

  // The mesh routes: jason gets v2, everyone else v1/v3.
  const HostRoutes* reviews = find_host(r.snapshot->mesh_routes, "reviews", "default");
  ASSERT_NE(reviews, nullptr);
  auto mesh = CompiledRoutes::build(*reviews);
  Req jason;
  jason.headers.values["end-user"] = "jason";
  EXPECT_EQ(mesh->match(jason.attrs())->destinations.at(0).subset, "v2");
  EXPECT_EQ(mesh->match(Req().attrs())->spec->name(), "default");
}

// --- hosts --------------------------------------------------------------------

namespace {

RouteTable host_table(std::initializer_list<const char*> hosts) {
  RouteTable t;
  for (const char* h : hosts) t[h];
  return t;
}

std::string found(const RouteTable& t, const HostRoutes* h) {
  if (!h) return "";
  for (const auto& [name, routes] : t) {
    if (&routes == h) return name;
  }
  return "?";
}

}  // namespace

TEST(FindHost, ExactThenLongestWildcardThenStar) {
  RouteTable t = host_table({"api.example.com", "*.example.com", "*.eu.example.com", "*.com", "*"});
  EXPECT_EQ(found(t, find_host(t, "api.example.com")), "api.example.com");
  EXPECT_EQ(found(t, find_host(t, "web.example.com")), "*.example.com");
  EXPECT_EQ(found(t, find_host(t, "a.eu.example.com")), "*.eu.example.com");
  EXPECT_EQ(found(t, find_host(t, "a.b.example.com")), "*.example.com");  // a wildcard spans labels
  EXPECT_EQ(found(t, find_host(t, "example.com")), "*.com");  // *.example.com needs a label before it
  EXPECT_EQ(found(t, find_host(t, "example.org")), "*");
}

TEST(FindHost, StripsPortAndIgnoresCase) {
  RouteTable t = host_table({"api.example.com", "*.example.com"});
  EXPECT_EQ(found(t, find_host(t, "api.example.com:8443")), "api.example.com");
  EXPECT_EQ(found(t, find_host(t, "API.Example.COM")), "api.example.com");
  EXPECT_EQ(found(t, find_host(t, "Web.Example.com:80")), "*.example.com");
  EXPECT_EQ(found(t, find_host(t, "example.org")), "");
  EXPECT_EQ(found(t, find_host(t, "")), "");
}

TEST(FindHost, Ipv6LiteralKeepsItsColons) {
  RouteTable t = host_table({"[fd00::1]"});
  EXPECT_EQ(found(t, find_host(t, "[fd00::1]:8080")), "[fd00::1]");
  EXPECT_EQ(found(t, find_host(t, "[fd00::1]")), "[fd00::1]");
}

TEST(FindHost, KubernetesShortNames) {
  RouteTable t = host_table({"reviews.default.svc.cluster.local", "ratings.prod.svc.cluster.local",
                             "*.svc.cluster.local", "*"});
  EXPECT_EQ(found(t, find_host(t, "reviews:9080", "default")), "reviews.default.svc.cluster.local");
  EXPECT_EQ(found(t, find_host(t, "ratings.prod", "default")), "ratings.prod.svc.cluster.local");
  EXPECT_EQ(found(t, find_host(t, "ratings.prod.svc", "default")), "ratings.prod.svc.cluster.local");
  EXPECT_EQ(found(t, find_host(t, "ratings", "prod")), "ratings.prod.svc.cluster.local");
  // A bare name can only be a short name, so its expansion may hit a wildcard.
  EXPECT_EQ(found(t, find_host(t, "ratings", "default")), "*.svc.cluster.local");
  // "example.org" might be name.namespace; only an exact service entry says so.
  EXPECT_EQ(found(t, find_host(t, "example.org", "default")), "*");
  EXPECT_EQ(found(t, find_host(t, "ratings.prod.svc.cluster.local", "default")), "ratings.prod.svc.cluster.local");
  // Without the namespace, short names are plain hosts.
  EXPECT_EQ(found(t, find_host(t, "reviews")), "*");
}

// --- weighted destinations ------------------------------------------------

namespace {

HttpRoute weighted(std::initializer_list<std::pair<const char*, int32_t>> dests) {
  HttpRoute r{"default/vs", nullptr, {}};
  for (const auto& [subset, w] : dests) r.destinations.push_back({"reviews.default.svc.cluster.local", subset, 0, w});
  return r;
}

}  // namespace

TEST(PickDestination, NinetyTenSplit) {
  HttpRoute r = weighted({{"v1", 90}, {"v3", 10}});
  std::mt19937 rng(12345);
  int v1 = 0;
  constexpr int kN = 10000;
  for (int i = 0; i < kN; ++i) {
    const RouteDestination* d = pick_destination(r, static_cast<uint32_t>(rng()));
    ASSERT_NE(d, nullptr);
    if (d->subset == "v1") ++v1;
  }
  // Binomial(10000, 0.9): sigma = 30; allow about 5 sigma.
  EXPECT_NEAR(v1, 9000, 150);
}

TEST(PickDestination, BoundariesFollowTheWeights) {
  HttpRoute r = weighted({{"v1", 90}, {"v3", 10}});
  EXPECT_EQ(pick_destination(r, 0)->subset, "v1");
  EXPECT_EQ(pick_destination(r, 89)->subset, "v1");
  EXPECT_EQ(pick_destination(r, 90)->subset, "v3");
  EXPECT_EQ(pick_destination(r, 99)->subset, "v3");
  EXPECT_EQ(pick_destination(r, 100)->subset, "v1");
}

TEST(PickDestination, ZeroWeightIsNeverPicked) {
  HttpRoute r = weighted({{"v1", 0}, {"v2", 100}, {"v3", 0}});
  for (uint32_t i = 0; i < 1000; ++i) EXPECT_EQ(pick_destination(r, i * 2654435761u)->subset, "v2");
}

TEST(PickDestination, SingleEmptyAndAllZero) {
  HttpRoute single = weighted({{"v1", 0}});  // Istio sends everything to a lone destination
  EXPECT_EQ(pick_destination(single, 7)->subset, "v1");
  HttpRoute none = weighted({});
  EXPECT_EQ(pick_destination(none, 7), nullptr);
  HttpRoute zeros = weighted({{"v1", 0}, {"v2", 0}});
  EXPECT_EQ(pick_destination(zeros, 7), nullptr);
}

TEST(PickDestination, FromYamlWeights) {
  Compiled c = compile(
      "  - name: split\n"
      "    route:\n"
      "    - destination:\n        host: app-a\n      weight: 75\n"
      "    - destination:\n        host: app-b\n      weight: 25\n");
  ASSERT_TRUE(c.routes);
  const HttpRoute* r = c.routes->match(Req().attrs());
  ASSERT_NE(r, nullptr);
  int a = 0;
  for (uint32_t i = 0; i < 100; ++i) a += pick_destination(*r, i)->host == "app-a.default.svc.cluster.local";
  EXPECT_EQ(a, 75);
}
