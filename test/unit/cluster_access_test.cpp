// Reaching the API server: kubeconfig files (contexts, inline and file
// credentials, relative paths) and the in-cluster service account, with the
// token re-read when the projected file rotates.
#include <gtest/gtest.h>

#include <fstream>

#include "cluster_access.h"
#include "temp_dir.h"

using namespace sluice;
using namespace sluice::kube;

namespace {

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

}  // namespace

TEST(Kubeconfig, CurrentContextWithInlineCaAndToken) {
  test::TempDir dir("sluice_kubecfg");
  write(dir.path() / "config", R"(apiVersion: v1
kind: Config
current-context: aks
clusters:
- name: other
  cluster: {server: "https://10.0.0.1:443"}
- name: aks-cluster
  cluster:
    server: https://myaks-dns.hcp.westeurope.azmk8s.io:443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
contexts:
- name: aks
  context: {cluster: aks-cluster, user: clusterUser}
users:
- name: clusterUser
  user: {token: abc.def}
)");
  auto a = kubeconfig_access((dir.path() / "config").string());
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->host, "myaks-dns.hcp.westeurope.azmk8s.io");
  EXPECT_EQ(a->port, "443");
  EXPECT_EQ(a->ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(a->token, "abc.def");
  TokenSource tokens(*a);
  EXPECT_EQ(tokens.token(), "abc.def");
}

TEST(Kubeconfig, NamedContextFilesRelativeToTheConfigAndClientCertificates) {
  test::TempDir dir("sluice_kubecfg");
  write(dir.path() / "ca.pem", "CA");
  write(dir.path() / "me.crt", "CERT");
  write(dir.path() / "me.key", "KEY");
  write(dir.path() / "config", R"(current-context: a
clusters:
- {name: c, cluster: {server: "https://[::1]:6443/", certificate-authority: ca.pem}}
contexts:
- {name: a, context: {cluster: missing, user: u}}
- {name: b, context: {cluster: c, user: u}}
users:
- {name: u, user: {client-certificate: me.crt, client-key: me.key}}
)");
  const std::string path = (dir.path() / "config").string();
  auto current = kubeconfig_access(path);
  ASSERT_FALSE(current);
  EXPECT_NE(current.error().message.find("names cluster 'missing', which is not defined"), std::string::npos)
      << current.error().message;
  auto b = kubeconfig_access(path, "b");
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, "6443");
  EXPECT_EQ(b->ca_pem, "CA");
  EXPECT_EQ(b->client_cert_pem, "CERT");
  EXPECT_EQ(b->client_key_pem, "KEY");
}

TEST(Kubeconfig, RefusesWhatItCannotHonour) {
  test::TempDir dir("sluice_kubecfg");
  auto with = [&](const std::string& cluster, const std::string& user) {
    write(dir.path() / "config", "current-context: x\nclusters:\n- {name: c, cluster: " + cluster +
                                     "}\ncontexts:\n- {name: x, context: {cluster: c, user: u}}\nusers:\n- {name: u, user: " +
                                     user + "}\n");
    auto a = kubeconfig_access((dir.path() / "config").string());
    return a ? std::string("ok") : a.error().message;
  };
  EXPECT_NE(with("{server: 'http://10.0.0.1:8080'}", "{token: t}").find("only https://"), std::string::npos);
  EXPECT_NE(with("{server: 'https://h'}", "{exec: {command: kubelogin}}").find("exec and auth-provider"), std::string::npos);
  EXPECT_NE(with("{server: 'https://h', certificate-authority-data: '!!'}", "{token: t}").find("not valid base64"),
            std::string::npos);
  EXPECT_NE(with("{server: 'https://h'}", "{client-certificate-data: eA==}").find("go together"), std::string::npos);
  EXPECT_EQ(with("{server: 'https://h'}", "{token: t}"), "ok");
  write(dir.path() / "broken", "a: [");
  EXPECT_FALSE(kubeconfig_access((dir.path() / "broken").string()));
  EXPECT_FALSE(kubeconfig_access((dir.path() / "absent").string()));
}

TEST(InCluster, ServiceAccountFilesAndTokenRotation) {
  test::TempDir dir("sluice_sa");
  write(dir.path() / "ca.crt", "CA");
  write(dir.path() / "token", "first\n");
  write(dir.path() / "namespace", "sluice-system");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto a = in_cluster_access(dir.path().string());
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->server, "https://10.96.0.1:443");
  EXPECT_EQ(a->pod_namespace, "sluice-system");
  TokenSource tokens(*a);
  EXPECT_EQ(tokens.token(), "first");
  // The kubelet swaps the projected file for a new one.
  write(dir.path() / "token.new", "second-and-longer");
  std::filesystem::rename(dir.path() / "token.new", dir.path() / "token");
  EXPECT_EQ(tokens.token(), "second-and-longer");

  EXPECT_FALSE(in_cluster_access(dir.path().string())) << "without the environment, not in a pod";
}
