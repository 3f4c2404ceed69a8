// AuthorizationPolicy evaluation (userspace/policy/authz_policy.h): Istio's
// order and the forms of each field, as tables.
#include <gtest/gtest.h>

#include <string>

#include "authz_policy.h"
#include "ip_text.h"
#include "resource_loader.h"
#include "string_match.h"

namespace sluice::policy {
namespace {

AuthzPolicies compile_yaml(const std::string& yaml) {
  config::LoadResult loaded;
  config::load_yaml_text(yaml, "authz.yaml", loaded);
  EXPECT_TRUE(loaded.diagnostics.empty()) << loaded.diagnostics.front().to_string();
  return AuthzPolicies::compile(loaded.resources.authorization_policies);
}

std::string policy(const std::string& name, const std::string& ns, const std::string& spec) {
  return "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec;
}

uint32_t ip(const char* text) {
  uint32_t out = 0;
  EXPECT_TRUE(parse_ipv4(text, out));
  return out;
}

struct Case {
  RequestFacts req;
  config::Labels labels{{"app", "reviews"}};
  Destination dst() const { return {"default", &labels, "default", "reviews"}; }
};

// A GET /reviews/1 from a pod in `ns` with service account `sa`.
Case from(const std::string& ns = "default", const std::string& sa = "productpage") {
  static thread_local std::string ns_store, sa_store;
  ns_store = ns;
  sa_store = sa;
  Case c;
  c.req.source_ip = ip("10.200.1.5");
  c.req.source_known = true;
  c.req.source_namespace = ns_store;
  c.req.source_service_account = sa_store;
  c.req.host = "reviews:9080";
  c.req.method = "GET";
  c.req.path = "/reviews/1";
  c.req.destination_port = 8080;
  return c;
}

bool allowed(const AuthzPolicies& p, const Case& c) { return p.check(c.dst(), c.req).allowed; }

TEST(StringMatch, IstioForms) {
  EXPECT_TRUE(StringMatch("abc").matches("abc"));
  EXPECT_FALSE(StringMatch("abc").matches("abcd"));
  EXPECT_TRUE(StringMatch("ab*").matches("abcd"));
  EXPECT_TRUE(StringMatch("*cd").matches("abcd"));
  EXPECT_TRUE(StringMatch("*").matches(""));
  EXPECT_FALSE(StringMatch("*").matches("", false)) << "presence: an absent value never matches";
}

TEST(PathMatch, Templates) {
  EXPECT_TRUE(PathMatch("/reviews/{*}").matches("/reviews/1"));
  EXPECT_FALSE(PathMatch("/reviews/{*}").matches("/reviews/1/x"));
  EXPECT_FALSE(PathMatch("/reviews/{*}").matches("/reviews/"));
  EXPECT_TRUE(PathMatch("/reviews/{*}/rating").matches("/reviews/7/rating"));
  EXPECT_TRUE(PathMatch("/api/{**}").matches("/api/a/b/c"));
  EXPECT_FALSE(PathMatch("/api/{**}").matches("/api"));
  EXPECT_TRUE(PathMatch("/reviews*").matches("/reviews/1"));
}

TEST(AuthzPolicies, NoPolicyAllowsEverything) {
  EXPECT_TRUE(allowed(compile_yaml(""), from()));
}

TEST(AuthzPolicies, AnAllowWithNoRulesAllowsNothing) {
  auto p = compile_yaml(policy("allow-nothing", "default", "  action: ALLOW\n"));
  EXPECT_FALSE(allowed(p, from()));
  // An empty rule is another thing: it matches every request.
  EXPECT_TRUE(allowed(compile_yaml(policy("allow-all", "default", "  rules:\n  - {}\n")), from()));
}

TEST(AuthzPolicies, ADenyWithNoRulesDeniesNothing) {
  EXPECT_TRUE(allowed(compile_yaml(policy("deny-nothing", "default", "  action: DENY\n")), from()));
}

TEST(AuthzPolicies, DenyWinsOverAllow) {
  auto p = compile_yaml(policy("allow-all", "default", "  rules:\n  - {}\n") +
                        policy("deny-foo", "default",
                               "  action: DENY\n  rules:\n  - from:\n    - source: {namespaces: [foo]}\n"));
  EXPECT_TRUE(allowed(p, from("default")));
  Case c = from("foo");
  const Decision d = p.check(c.dst(), c.req);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.policy, "default/deny-foo");
}

TEST(AuthzPolicies, PathAndMethodRules) {
  auto p = compile_yaml(policy("get-reviews", "default",
                               "  action: ALLOW\n  rules:\n  - to:\n    - operation: {methods: [GET], paths: "
                               "[\"/reviews/{*}\"]}\n"));
  Case c = from();
  EXPECT_TRUE(allowed(p, c));
  c.req.method = "POST";
  EXPECT_FALSE(allowed(p, c));
  c = from();
  c.req.path = "/admin";
  EXPECT_FALSE(allowed(p, c));
}

TEST(AuthzPolicies, NotFormsMustAllMiss) {
  auto p = compile_yaml(policy("not-admin", "default",
                               "  action: DENY\n  rules:\n  - to:\n    - operation: {notPaths: [\"/reviews/*\", "
                               "\"/health\"]}\n"));
  Case c = from();
  EXPECT_TRUE(allowed(p, c));
  c.req.path = "/admin";
  EXPECT_FALSE(allowed(p, c));
  c.req.path = "/health";
  EXPECT_TRUE(allowed(p, c));
}

TEST(AuthzPolicies, PrincipalsAndServiceAccountsFromThePod) {
  auto p = compile_yaml(policy("from-productpage", "default",
                               "  rules:\n  - from:\n    - source: {principals: "
                               "[cluster.local/ns/default/sa/productpage]}\n") +
                        policy("from-sa", "default",
                               "  selector: {matchLabels: {app: ratings}}\n  rules:\n  - from:\n    - source: "
                               "{serviceAccounts: [reviewer]}\n"));
  EXPECT_TRUE(allowed(p, from("default", "productpage")));
  EXPECT_FALSE(allowed(p, from("default", "other")));
  Case unknown = from();
  unknown.req.source_known = false;  // not a pod of the cluster: no principal
  EXPECT_FALSE(allowed(p, unknown));
  Case ratings = from("default", "reviewer");
  ratings.labels = {{"app", "ratings"}};
  EXPECT_TRUE(allowed(p, ratings)) << "serviceAccounts without a namespace mean the policy's";
}

TEST(AuthzPolicies, IpBlocksPortsAndHosts) {
  auto p = compile_yaml(policy("narrow", "default",
                               "  rules:\n  - from:\n    - source: {ipBlocks: [10.200.1.0/24], notIpBlocks: "
                               "[10.200.1.9]}\n    to:\n    - operation: {ports: [\"8080\"], hosts: [REVIEWS]}\n"));
  Case c = from();
  EXPECT_TRUE(allowed(p, c)) << "the host matches case-insensitively and without its port";
  c.req.source_ip = ip("10.200.1.9");
  EXPECT_FALSE(allowed(p, c));
  c = from();
  c.req.destination_port = 9090;
  EXPECT_FALSE(allowed(p, c));
  c = from();
  c.req.source_ip = ip("10.200.2.5");
  EXPECT_FALSE(allowed(p, c));
}

TEST(AuthzPolicies, RemoteIpBlocksReadTheOriginalClient) {
  auto p = compile_yaml(policy("office", "default",
                               "  action: DENY\n  rules:\n  - from:\n    - source: {remoteIpBlocks: [203.0.113.0/24]}\n"));
  Case c = from();
  EXPECT_TRUE(allowed(p, c)) << "without a forwarded client, the peer is the remote";
  c.req.remote_ip = ip("203.0.113.7");  // X-Forwarded-For behind a trusted proxy
  EXPECT_FALSE(allowed(p, c));
  c.req.source_ip = ip("203.0.113.8");
  c.req.remote_ip = ip("198.51.100.1");
  EXPECT_TRUE(allowed(p, c)) << "ipBlocks would see the peer; remoteIpBlocks sees the client";
}

TEST(AuthzPolicies, WhenConditions) {
  auto p = compile_yaml(policy("when", "default",
                               "  rules:\n  - when:\n    - {key: \"request.headers[x-tier]\", values: [gold]}\n"
                               "    - {key: source.ip, notValues: [10.200.1.9]}\n"
                               "    - {key: source.namespace, values: [\"def*\"]}\n"));
  Case c = from();
  c.req.header = [](std::string_view name) -> std::optional<std::string> {
    if (name == "x-tier") return "gold";
    return std::nullopt;
  };
  EXPECT_TRUE(allowed(p, c));
  c.req.source_ip = ip("10.200.1.9");
  EXPECT_FALSE(allowed(p, c));
  Case no_header = from();
  EXPECT_FALSE(allowed(p, no_header));
}

TEST(AuthzPolicies, ScopeSelectorAndRootNamespace) {
  auto p = compile_yaml(policy("other-ns", "prod", "  action: ALLOW\n") +
                        policy("other-app", "default", "  selector: {matchLabels: {app: ratings}}\n  action: ALLOW\n"));
  EXPECT_TRUE(allowed(p, from())) << "neither applies to default/reviews";
  auto root = compile_yaml(policy("mesh-deny", "istio-system",
                                  "  action: DENY\n  rules:\n  - from:\n    - source: {notNamespaces: [default]}\n"));
  EXPECT_TRUE(allowed(root, from("default")));
  EXPECT_FALSE(allowed(root, from("foo"))) << "a root-namespace policy applies everywhere";
}

TEST(AuthzPolicies, AuditOnlyMarksAndCustomIsNotEnforced) {
  auto p = compile_yaml(policy("audit", "default", "  action: AUDIT\n  rules:\n  - {}\n") +
                        policy("ext", "default", "  action: CUSTOM\n  provider: {name: ext}\n  rules:\n  - {}\n"));
  Case c = from();
  const Decision d = p.check(c.dst(), c.req);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.audited, std::vector<std::string>{"default/audit"});
  EXPECT_EQ(p.not_enforced(), std::vector<std::string>{"default/ext"});
}

TEST(AuthzPolicies, ServiceTargetRefs) {
  auto p = compile_yaml(policy("svc", "default",
                               "  targetRefs:\n  - {kind: Service, group: \"\", name: reviews}\n  action: DENY\n"
                               "  rules:\n  - to:\n    - operation: {methods: [DELETE]}\n"));
  Case c = from();
  EXPECT_TRUE(allowed(p, c));
  c.req.method = "DELETE";
  EXPECT_FALSE(allowed(p, c));
}

// The filter finds a destination's policies once and a source's principal
// strings once, then checks each request against them: the same decisions
// as check(dst, req), which walks every policy's scope.
TEST(AuthzPolicies, ApplicablePoliciesGiveTheSameDecisions) {
  auto p = compile_yaml(
      policy("deny-foo", "default", "  action: DENY\n  rules:\n  - from:\n    - source: {namespaces: [foo]}\n") +
      policy("deny-ratings", "default",
             "  selector: {matchLabels: {app: ratings}}\n  action: DENY\n  rules:\n  - {}\n") +
      policy("audit", "default", "  action: AUDIT\n  rules:\n  - to:\n    - operation: {methods: [POST]}\n") +
      policy("allow-pp", "default",
             "  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: [\"*/sa/productpage\"]}\n") +
      policy("other-ns", "prod", "  action: ALLOW\n"));
  const Case base = from();
  const AuthzPolicies::Applicable a = p.applicable(base.dst());
  ASSERT_EQ(a.deny.size(), 1u) << "deny-ratings selects another workload";
  EXPECT_EQ(a.deny[0]->id, "default/deny-foo");
  ASSERT_EQ(a.audit.size(), 1u);
  ASSERT_EQ(a.allow.size(), 1u) << "prod's policy is not in scope";
  EXPECT_EQ(a.allow[0]->id, "default/allow-pp");

  std::vector<Case> cases = {from(), from("foo"), from("default", "details"), from("default", "")};
  cases.push_back(from());
  cases.back().req.method = "POST";
  cases.push_back(from());
  cases.back().req.source_known = false;
  for (const Case& c : cases) {
    const Decision slow = p.check(c.dst(), c.req);
    const Decision fast = p.check(a, c.req, p.identity_of(c.req));
    EXPECT_EQ(fast.allowed, slow.allowed) << c.req.source_namespace << "/" << c.req.source_service_account;
    EXPECT_EQ(fast.policy, slow.policy);
    EXPECT_EQ(fast.audited, slow.audited);
  }
  EXPECT_TRUE(p.check(a, from().req, p.identity_of(from().req)).allowed);
  EXPECT_FALSE(p.check(a, from("foo").req, p.identity_of(from("foo").req)).allowed);
  EXPECT_EQ(p.identity_of(from().req).principal, "cluster.local/ns/default/sa/productpage");
  EXPECT_EQ(p.identity_of(from().req).service_account, "default/productpage");
}

// `when` values are compiled once: addresses that do not parse match
// nothing (and a list of only those still requires a match), header names
// match in any case, and destination.port compares the port's digits.
TEST(AuthzPolicies, CompiledWhenConditionsKeepTheirMeaning) {
  auto bad_ip = compile_yaml(policy("bad", "default",
                                    "  rules:\n  - when:\n    - {key: source.ip, values: [not-an-address]}\n"));
  EXPECT_FALSE(allowed(bad_ip, from())) << "no value of the list matches";
  auto header = compile_yaml(policy("hdr", "default",
                                    "  rules:\n  - when:\n    - {key: \"request.headers[X-Tier]\", values: [\"go*\"]}\n"));
  Case c = from();
  c.req.header = [](std::string_view name) -> std::optional<std::string> {
    if (name == "x-tier") return "gold";
    return std::nullopt;
  };
  EXPECT_TRUE(allowed(header, c)) << "the key's header name is looked up in lower case";
  auto port = compile_yaml(policy("port", "default",
                                  "  rules:\n  - when:\n    - {key: destination.port, values: [\"8080\"]}\n"));
  EXPECT_TRUE(allowed(port, from()));
  Case other = from();
  other.req.destination_port = 80;
  EXPECT_FALSE(allowed(port, other));
  auto host = compile_yaml(policy("host", "default", "  rules:\n  - to:\n    - operation: {hosts: [reviews]}\n"));
  Case upper = from();
  upper.req.host = "REVIEWS:9080";
  EXPECT_TRUE(allowed(host, upper)) << "hosts match in any case, without the port";
  auto long_name = compile_yaml(
      policy("long", "default", "  rules:\n  - to:\n    - operation: {hosts: [" + std::string(300, 'r') + "]}\n"));
  const std::string long_host(300, 'R');
  upper.req.host = long_host;
  EXPECT_TRUE(allowed(long_name, upper)) << "a host longer than the stack buffer is lowered too";
  EXPECT_FALSE(allowed(host, upper));
}

}  // namespace
}  // namespace sluice::policy
