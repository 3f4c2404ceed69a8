// L4 authorization: which policies the kernel takes (AuthzPolicies'
// connect view), the tables sluiced compiles for it (policy/connect_policy.h),
// and the verdict connect4 reads from them, with the same lookup order as
// bpf/include/l4_policy.h, which compiles in here.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>

#include "connect_policy.h"
#include "ip_text.h"
#include "conn_rate.h"
#include "l4_policy.h"
#include "resource_loader.h"

namespace sluice::policy {
namespace {

uint32_t ip(const char* text) {
  uint32_t out = 0;
  EXPECT_TRUE(parse_ipv4(text, out));
  return out;
}

const char* kPods = R"(
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: bar, labels: {app: web}}
status: {phase: Running, podIP: 10.200.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: bar, labels: {app: web}}
status: {phase: Running, podIP: 10.200.1.11}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, namespace: bar, labels: {app: db}}
status: {phase: Running, podIP: 10.200.1.20}
---
apiVersion: v1
kind: Pod
metadata: {name: client-foo, namespace: foo, labels: {app: client}}
spec: {serviceAccountName: client}
status: {phase: Running, podIP: 10.200.1.30}
---
apiVersion: v1
kind: Pod
metadata: {name: client-baz, namespace: baz, labels: {app: client}}
status: {phase: Running, podIP: 10.200.1.31}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: kube-system}
spec: {hostNetwork: true}
status: {phase: Running, podIP: 10.200.1.99}
)";

std::string policy(const std::string& name, const std::string& ns, const std::string& spec) {
  return "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec;
}

// The node's connecting pods: foo's client (cookie 1), baz's (cookie 2).
std::vector<ConnectSource> sources() {
  ConnectSource foo{1, ip("10.200.1.30"), true, "foo", "client"};
  ConnectSource baz{2, ip("10.200.1.31"), true, "baz", ""};
  return {foo, baz};
}

struct Compiled {
  config::LoadResult loaded;
  AuthzPolicies policies;
  ConnectPolicy table;
};

std::unique_ptr<Compiled> compile(const std::string& policies_yaml) {
  auto c = std::make_unique<Compiled>();
  config::load_yaml_text(std::string(kPods) + policies_yaml, "l4.yaml", c->loaded);
  EXPECT_TRUE(c->loaded.diagnostics.empty()) << c->loaded.diagnostics.front().to_string();
  c->policies = AuthzPolicies::compile(c->loaded.resources.authorization_policies);
  c->table = compile_connect_policy(c->policies, c->loaded.resources, sources());
  return c;
}

// What connect4 decides, run through the header's lookup order against the
// compiled table given ids the way datapath/connect_policy_table.h does.
class Kernel {
 public:
  explicit Kernel(const ConnectPolicy& p) {
    uint32_t next_set = 1;
    std::map<std::string, uint32_t> set_ids;
    for (const auto& [signature, by_source] : p.verdicts) {
      const uint32_t set = set_ids[signature] = next_set++;
      for (const auto& [cookie, by_port] : by_source) {
        for (const auto& [port, allowed] : by_port) {
          rules_[{set, static_cast<uint32_t>(cookie), port}] = allowed ? SL_POL_ALLOW : SL_POL_DENY;
        }
      }
    }
    for (const auto& [addr, signature] : p.guarded) dests_[addr] = set_ids.at(signature);
  }

  // Source ids are the cookies here (1, 2; 0: unknown).
  bool refuses(uint32_t src, const char* dst, uint16_t port) const {
    auto set = dests_.find(ip(dst));
    if (set == dests_.end()) return false;
    for (uint32_t step = 0; step < L4_POL_STEPS; ++step) {
      if (l4_pol_step_redundant(src, port, step)) continue;
      sl_pol_rule_key k{};
      l4_pol_key(&k, set->second, src, port, step);
      if (auto it = rules_.find({k.set, k.src, k.port}); it != rules_.end()) return l4_pol_refuses(it->second);
    }
    return false;
  }

 private:
  std::map<uint32_t, uint32_t> dests_;
  std::map<std::tuple<uint32_t, uint32_t, uint16_t>, uint32_t> rules_;
};

constexpr uint32_t kFoo = 1, kBaz = 2, kUnknown = SL_POL_SRC_UNKNOWN;

TEST(L4Policy, DenyFromANamespaceToAPort) {
  auto c = compile(policy("deny-foo", "bar", R"(
  selector: {matchLabels: {app: web}}
  action: DENY
  rules:
  - from: [{source: {namespaces: [foo]}}]
    to: [{operation: {ports: ["8080"]}}]
)"));
  const Kernel k(c->table);
  EXPECT_TRUE(k.refuses(kFoo, "10.200.1.10", 8080));
  EXPECT_TRUE(k.refuses(kFoo, "10.200.1.11", 8080)) << "the other pod of the workload too";
  EXPECT_FALSE(k.refuses(kFoo, "10.200.1.10", 9090)) << "another port";
  EXPECT_FALSE(k.refuses(kBaz, "10.200.1.10", 8080)) << "another namespace";
  EXPECT_FALSE(k.refuses(kUnknown, "10.200.1.10", 8080));
  EXPECT_FALSE(k.refuses(kFoo, "10.200.1.20", 8080)) << "a pod the selector does not pick";
  EXPECT_EQ(c->table.guarded.size(), 2u);
  EXPECT_EQ(c->table.verdicts.size(), 1u) << "the two web pods share one set";
}

TEST(L4Policy, AllowListsRefuseEveryoneElseAndUnknownSources) {
  auto c = compile(policy("allow-foo", "bar", R"(
  selector: {matchLabels: {app: db}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/foo/sa/client"]}}]
)"));
  const Kernel k(c->table);
  EXPECT_FALSE(k.refuses(kFoo, "10.200.1.20", 5432));
  EXPECT_TRUE(k.refuses(kBaz, "10.200.1.20", 5432));
  EXPECT_TRUE(k.refuses(kUnknown, "10.200.1.20", 5432));
  EXPECT_TRUE(k.refuses(7, "10.200.1.20", 5432)) << "a source with no rules yet is judged as unknown";
  EXPECT_FALSE(k.refuses(kBaz, "10.200.1.10", 8080)) << "web has no policy";
}

TEST(L4Policy, RulelessAllowRefusesAll) {
  auto c = compile(policy("nothing", "bar", "  selector: {matchLabels: {app: db}}\n  action: ALLOW\n"));
  const Kernel k(c->table);
  EXPECT_TRUE(k.refuses(kFoo, "10.200.1.20", 1));
  EXPECT_TRUE(k.refuses(kBaz, "10.200.1.20", 5432));
}

TEST(L4Policy, NotFormsAndPortsPerSource) {
  auto c = compile(policy("allow", "bar", R"(
  action: ALLOW
  rules:
  - from: [{source: {notNamespaces: [baz]}}]
    to: [{operation: {ports: ["8080"]}}]
  - to: [{operation: {notPorts: ["8080", "22"]}}]
)"));
  const Kernel k(c->table);
  EXPECT_FALSE(k.refuses(kFoo, "10.200.1.10", 8080));
  EXPECT_TRUE(k.refuses(kBaz, "10.200.1.10", 8080));
  EXPECT_TRUE(k.refuses(kFoo, "10.200.1.10", 22)) << "22 is in no rule's reach";
  EXPECT_FALSE(k.refuses(kBaz, "10.200.1.20", 443)) << "any other port is open to all";
}

TEST(L4Policy, RequestLevelPoliciesAreLeftToTheProxy) {
  // An ALLOW on paths could let a request through: the kernel must not
  // refuse the connect, and enforces only the L4 DENY next to it.
  auto c = compile(policy("allow-get", "bar", R"(
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET], paths: ["/productpage"]}}]
)") + policy("deny-baz", "bar", R"(
  selector: {matchLabels: {app: web}}
  action: DENY
  rules:
  - from: [{source: {namespaces: [baz]}}]
)") + policy("deny-post", "bar", R"(
  selector: {matchLabels: {app: db}}
  action: DENY
  rules:
  - to: [{operation: {methods: [POST]}}]
)"));
  const Kernel k(c->table);
  EXPECT_FALSE(k.refuses(kFoo, "10.200.1.10", 8080));
  EXPECT_TRUE(k.refuses(kBaz, "10.200.1.10", 8080));
  EXPECT_FALSE(k.refuses(kFoo, "10.200.1.20", 5432)) << "a request-level DENY is the proxy's";
  EXPECT_EQ(c->table.guarded.count(ip("10.200.1.20")), 0u);
}

TEST(L4Policy, RootNamespaceAndConditions) {
  auto c = compile(policy("mesh-deny", "istio-system", R"(
  action: DENY
  rules:
  - when:
    - {key: source.ip, values: ["10.200.1.31"]}
    - {key: destination.port, notValues: ["80"]}
)"));
  const Kernel k(c->table);
  EXPECT_TRUE(k.refuses(kBaz, "10.200.1.20", 5432));
  EXPECT_FALSE(k.refuses(kBaz, "10.200.1.20", 80));
  EXPECT_FALSE(k.refuses(kFoo, "10.200.1.20", 5432));
  EXPECT_EQ(c->table.guarded.count(ip("10.200.1.99")), 0u) << "hostNetwork pods have the node's address";
}

TEST(L4Policy, TheDestinationSideKnowsTheClustersPodsByAddress) {
  config::LoadResult loaded;
  config::load_yaml_text(std::string(kPods) + policy("deny-foo", "bar", R"(
  selector: {matchLabels: {app: web}}
  action: DENY
  rules:
  - from: [{source: {namespaces: [foo]}}]
)"), "peers.yaml", loaded);
  ASSERT_TRUE(loaded.diagnostics.empty()) << loaded.diagnostics.front().to_string();
  const AuthzPolicies policies = AuthzPolicies::compile(loaded.resources.authorization_policies);
  // web-1 runs on this node; web-2 elsewhere; 10.0.0.4 is a node.
  const ConnectPolicy p = compile_connect_policy(policies, loaded.resources, sources(), {ip("10.200.1.10")},
                                                 {ip("10.0.0.4")});
  ASSERT_TRUE(p.peers.contains(ip("10.200.1.30")));
  ASSERT_TRUE(p.peers.contains(ip("10.200.1.31")));
  EXPECT_EQ(p.peers.at(ip("10.0.0.4")), kTrustedPeer);
  EXPECT_EQ(p.peers.count(ip("10.200.1.99")), 0u) << "a hostNetwork pod has its node's address";
  // Pods of one namespace and service account share a class.
  EXPECT_EQ(p.peers.at(ip("10.200.1.10")), p.peers.at(ip("10.200.1.11")));
  const auto& verdicts = p.verdicts.begin()->second;
  EXPECT_FALSE(verdicts.at(p.peers.at(ip("10.200.1.30"))).at(0)) << "foo's pod, by address, is refused";
  EXPECT_TRUE(verdicts.at(p.peers.at(ip("10.200.1.31"))).at(0)) << "baz's passes";
  EXPECT_TRUE((p.peers.at(ip("10.200.1.30")) & kPeerKey) != 0) << "peer keys never collide with cookies";

  const ConnectPolicy elsewhere = compile_connect_policy(policies, loaded.resources, sources(), {}, {ip("10.0.0.4")});
  EXPECT_TRUE(elsewhere.peers.empty()) << "no guarded pod on this node: nothing to check on arrival";
}

TEST(L4Policy, HeaderLookupOrder) {
  sl_pol_rule_key k{};
  l4_pol_key(&k, 3, 9, 8080, 0);
  EXPECT_EQ(std::tie(k.set, k.src, k.port), std::make_tuple(3u, 9u, uint16_t{8080}));
  l4_pol_key(&k, 3, 9, 8080, 1);
  EXPECT_EQ(k.port, SL_POL_PORT_OTHER);
  l4_pol_key(&k, 3, 9, 8080, 2);
  EXPECT_EQ(std::tie(k.src, k.port), std::make_tuple(SL_POL_SRC_UNKNOWN, uint16_t{8080}));
  EXPECT_TRUE(l4_pol_step_redundant(SL_POL_SRC_UNKNOWN, 8080, 2));
  EXPECT_FALSE(l4_pol_step_redundant(9, 8080, 2));
}

TEST(ConnectionRate, RefillArithmetic) {
  EXPECT_EQ(conn_rate_refilled(0, 1, 3, 10), 3);
  EXPECT_EQ(conn_rate_refilled(-40, 1, 3, 10), 3) << "a burst below zero counts as empty";
  EXPECT_EQ(conn_rate_refilled(9, 1, 3, 10), 10) << "never above max_tokens";
  EXPECT_EQ(conn_rate_refilled(2, 1ULL << 62, 0xffffffffu, 10), 10) << "no overflow after a long idle";
  EXPECT_EQ(conn_rate_refilled(12, 0, 3, 10), 10);
  EXPECT_TRUE(conn_rate_refused(0));
  EXPECT_TRUE(conn_rate_refused(-3));
  EXPECT_FALSE(conn_rate_refused(1));
}

TEST(ConnectionRate, SelectorsPickTheSourcesAndTheStrictestWins) {
  config::LoadResult loaded;
  config::load_yaml_text(std::string(kPods) + R"(
---
apiVersion: sluice.io/v1alpha1
kind: RateLimitPolicy
metadata: {name: clients, namespace: foo}
spec:
  sourceSelector: {matchLabels: {app: client}}
  connectionBucket: {maxTokens: 10, tokensPerFill: 5, fillInterval: 1s}
---
apiVersion: sluice.io/v1alpha1
kind: RateLimitPolicy
metadata: {name: all-of-foo, namespace: foo}
spec:
  connectionBucket: {maxTokens: 4, fillInterval: 2s}
---
apiVersion: sluice.io/v1alpha1
kind: RateLimitPolicy
metadata: {name: requests-only, namespace: baz}
spec:
  service: web
  tokenBucket: {maxTokens: 1, fillInterval: 1s}
)", "rates.yaml", loaded);
  ASSERT_TRUE(loaded.diagnostics.empty()) << loaded.diagnostics.front().to_string();
  const config::Labels client{{"app", "client"}};
  std::vector<ConnectSource> s = sources();
  for (auto& src : s) src.labels = &client;
  EXPECT_TRUE(limits_connections(loaded.resources));
  const auto rates = connection_rates(loaded.resources, s);
  ASSERT_EQ(rates.size(), 1u) << "baz's policy limits requests only";
  const ConnectionRate& r = rates.at(1);
  EXPECT_EQ(r.policy, "foo/all-of-foo");
  EXPECT_EQ(r.max_tokens, 4u);
  EXPECT_EQ(r.tokens_per_fill, 1u);
  EXPECT_EQ(r.fill_interval_ns, 2'000'000'000ULL);
}

}  // namespace
}  // namespace sluice::policy
