// Gateway server selection and host matching (userspace/config/gateway_servers).
#include <gtest/gtest.h>

#include "gateway_servers.h"
#include "resource_loader.h"
#include "snapshot_builder.h"

using namespace sluice::config;

namespace {

const char* kGateways = R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com", "shop/store.example.com", "./admin.example.com"]
  - port: {number: 443, name: https, protocol: https}
    hosts: ["www.example.com"]
    tls: {mode: MUTUAL, credentialName: www-cert, minProtocolVersion: TLSV1_3}
  - port: {number: 443, name: https-legacy, protocol: HTTPS}
    hosts: ["legacy.example.com"]
    tls: {credentialName: legacy-cert}
  - port: {number: 8443, name: tls, protocol: TLS}
    hosts: ["*.pass.example.com"]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other, namespace: default}
spec:
  selector: {app: elsewhere}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: v1
kind: Secret
metadata: {name: www-cert, namespace: istio-system}
type: kubernetes.io/tls
---
apiVersion: v1
kind: Secret
metadata: {name: legacy-cert, namespace: istio-system}
type: kubernetes.io/tls
)";

std::map<uint16_t, std::vector<GatewayServer>> servers(const std::map<std::string, std::string>& labels) {
  LoadResult loaded;
  load_yaml_text(kGateways, "gw.yaml", loaded);
  BuildResult r = build_snapshot(std::move(loaded), 1);
  EXPECT_TRUE(r.snapshot);
  return select_gateway_servers(*r.snapshot, labels);
}

// As in Istio, a server whose credentialName names no Secret gets no
// listener; it comes when the Secret does.
TEST(GatewayServers, AServerWithoutItsSecretIsNotServed) {
  const std::string gw = R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["www.example.com"]
    tls: {mode: SIMPLE, credentialName: absent-cert}
)";
  auto select = [](const std::string& yaml) {
    LoadResult loaded;
    load_yaml_text(yaml, "gw.yaml", loaded);
    BuildResult r = build_snapshot(std::move(loaded), 1);
    return select_gateway_servers(*r.snapshot, {{"istio", "ingressgateway"}});
  };
  EXPECT_TRUE(select(gw).empty());
  EXPECT_EQ(select(gw + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: absent-cert, namespace: istio-system}\n").count(443), 1u);
}

TEST(GatewayServers, SelectedByTheNodesLabels) {
  auto s = servers({{"istio", "ingressgateway"}});
  ASSERT_EQ(s.size(), 3u);
  ASSERT_EQ(s.at(80).size(), 1u);
  EXPECT_EQ(s.at(80)[0].gateway, "istio-system/ingress");
  const GatewayServer& https = s.at(443).at(0);
  EXPECT_EQ(https.protocol, "HTTPS");
  EXPECT_EQ(https.tls, GatewayTls::kMutual);
  EXPECT_EQ(https.credential_name, "www-cert");
  EXPECT_EQ(https.min_protocol, "TLSV1_3");
  EXPECT_EQ(servers({{"app", "elsewhere"}}).count(8080), 1u);
  EXPECT_TRUE(servers({}).empty());
}

TEST(GatewayServers, HostMatchingWithWildcardsAndPorts) {
  const auto selected = servers({{"istio", "ingressgateway"}});
  const GatewayServer& http = selected.at(80).at(0);
  EXPECT_TRUE(gateway_server_matches(http, "a.example.com"));
  EXPECT_TRUE(gateway_server_matches(http, "A.Example.COM"));
  EXPECT_FALSE(gateway_server_matches(http, "example.com")) << "*.example.com needs a subdomain";
  EXPECT_FALSE(gateway_server_matches(http, "example.org"));
  EXPECT_EQ(host_without_port("Store.Example.com:8080"), "store.example.com");
  EXPECT_EQ(host_without_port("[::1]:80"), "[::1]");
}

TEST(GatewayServers, ExactNamesWinOverWildcards) {
  GatewayServer wild, exact, any;
  wild.dns_names = {"*.example.com"};
  exact.dns_names = {"www.example.com"};
  any.dns_names = {"*"};
  for (auto* g : {&wild, &exact, &any}) g->host_namespaces.assign(g->dns_names.size(), "*");
  const std::vector<GatewayServer> all = {any, wild, exact};
  EXPECT_EQ(find_gateway_server(all, "www.example.com", ServerKind::kPlain)->dns_names[0], "www.example.com");
  EXPECT_EQ(find_gateway_server(all, "shop.example.com", ServerKind::kPlain)->dns_names[0], "*.example.com");
  EXPECT_EQ(find_gateway_server(all, "example.org", ServerKind::kPlain)->dns_names[0], "*");
  EXPECT_EQ(find_gateway_server({wild}, "example.org", ServerKind::kPlain), nullptr);
  EXPECT_EQ(find_gateway_server(all, "www.example.com", ServerKind::kTls), nullptr) << "no TLS server here";
}

TEST(GatewayServers, NamespaceFormRestrictsWhichVirtualServicesBind) {
  const auto selected = servers({{"istio", "ingressgateway"}});
  const GatewayServer& http = selected.at(80).at(0);
  EXPECT_TRUE(gateway_server_allows(http, "store.example.com", "shop"));
  EXPECT_TRUE(gateway_server_allows(http, "store.example.com", "default")) << "*.example.com allows any namespace";
  EXPECT_TRUE(gateway_server_allows(http, "admin.example.com", "istio-system")) << "./ is the Gateway's namespace";
  GatewayServer only_shop;
  only_shop.dns_names = {"store.example.com"};
  only_shop.host_namespaces = {"shop"};
  EXPECT_TRUE(gateway_server_allows(only_shop, "store.example.com", "shop"));
  EXPECT_FALSE(gateway_server_allows(only_shop, "store.example.com", "default"));
}

TEST(GatewayServers, PassthroughServersAreTheirOwnKind) {
  auto by_port = servers({{"istio", "ingressgateway"}});
  ASSERT_EQ(by_port.at(8443).size(), 1u);
  EXPECT_EQ(by_port.at(8443)[0].tls, GatewayTls::kPassthrough);
  // PASSTHROUGH is also the mode's zero value: a credential without a mode
  // is still served as SIMPLE.
  const GatewayServer* legacy = find_gateway_server(by_port.at(443), "legacy.example.com", ServerKind::kTls);
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->tls, GatewayTls::kSimple);
  EXPECT_TRUE(find_gateway_server(by_port.at(8443), "a.pass.example.com", ServerKind::kPassthrough));
  EXPECT_FALSE(find_gateway_server(by_port.at(8443), "a.pass.example.com", ServerKind::kTls))
      << "a TLS handshake never picks a PASSTHROUGH server";
}

}  // namespace
