#include "cluster_access.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base64.h"
#include "yaml_document.h"

namespace sluice::kube {

namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// "https://host[:port][/]" -> host and port. IPv6 literals in brackets.
Status split_server(const std::string& server, ClusterAccess& out) {
  constexpr std::string_view kScheme = "https://";
  if (!server.starts_with(kScheme)) {
    return make_error(0, "server '" + server + "': only https:// API servers are supported (a token is never sent in clear)");
  }
  std::string rest = server.substr(kScheme.size());
  if (size_t slash = rest.find('/'); slash != std::string::npos) {
    if (rest.find_first_not_of('/', slash) != std::string::npos) {
      return make_error(0, "server '" + server + "': a path prefix is not supported");
    }
    rest.resize(slash);
  }
  out.server = server;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) return make_error(0, "server '" + server + "': unclosed [");
    out.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() == ':') out.port = rest.substr(1);
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    out.host = rest.substr(0, colon);
    out.port = rest.substr(colon + 1);
  } else {
    out.host = rest;
  }
  if (out.host.empty() || out.port.empty()) return make_error(0, "server '" + server + "': no host or port");
  return {};
}

// The entry of a kubeconfig list (clusters, users, contexts) with this name.
config::YamlView named(const config::YamlView& list, const std::string& name) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (list.item(i)["name"].str() == name) return list.item(i);
  }
  return {};
}

// A "<key>-data" field (base64) or a "<key>" file, relative to dir.
Result<std::string> data_or_file(const config::YamlView& section, const std::string& key, const std::string& dir,
                                 const std::string& where) {
  if (const auto data = section[key + "-data"]; data.defined() && !data.is_null()) {
    auto decoded = base64_decode(data.str());
    if (!decoded) return make_error(0, where + "." + key + "-data: not valid base64");
    return *decoded;
  }
  if (const auto file = section[key]; file.defined() && !file.is_null()) {
    std::filesystem::path p = file.str();
    if (p.is_relative()) p = std::filesystem::path(dir) / p;
    auto text = read_file(p.string());
    if (!text) return make_error(0, where + "." + key + ": cannot read " + p.string());
    return *text;
  }
  return std::string();
}

}  // namespace

Result<ClusterAccess> in_cluster_access(const std::string& secrets_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    return make_error(0, "--kube: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod?); "
                         "use --kubeconfig outside a cluster");
  }
  ClusterAccess a;
  a.host = host;
  a.port = port;
  const bool v6 = a.host.find(':') != std::string::npos;
  a.server = "https://" + (v6 ? "[" + a.host + "]" : a.host) + ":" + a.port;
  a.token_file = secrets_dir + "/token";
  auto ca = read_file(secrets_dir + "/ca.crt");
  if (!ca) return make_error(0, "--kube: cannot read " + secrets_dir + "/ca.crt");
  a.ca_pem = std::move(*ca);
  if (!read_file(a.token_file)) return make_error(0, "--kube: cannot read " + a.token_file);
  a.pod_namespace = trim(read_file(secrets_dir + "/namespace").value_or(""));
  return a;
}

Result<ClusterAccess> kubeconfig_access(const std::string& path, const std::string& context_name) {
  auto text = read_file(path);
  if (!text) return make_error(0, "kubeconfig " + path + ": cannot read");
  config::YamlStream stream(*text);
  if (!stream.error().empty()) {
    return make_error(0, "kubeconfig " + path + ":" + std::to_string(stream.error_line()) + ": " + stream.error());
  }
  if (stream.size() == 0) return make_error(0, "kubeconfig " + path + ": empty");
  const config::YamlView root = stream.root(0);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const std::string want = context_name.empty() ? root["current-context"].str() : context_name;
  if (want.empty()) return make_error(0, "kubeconfig " + path + ": no current-context, and no context named");
  const config::YamlView ctx = named(root["contexts"], want)["context"];
  if (!ctx.is_map()) return make_error(0, "kubeconfig " + path + ": no context '" + want + "'");
  const std::string cluster_name = ctx["cluster"].str();
  const std::string user_name = ctx["user"].str();
  const config::YamlView cluster = named(root["clusters"], cluster_name)["cluster"];
  if (!cluster.is_map()) return make_error(0, "kubeconfig " + path + ": context '" + want + "' names cluster '" +
                                                   cluster_name + "', which is not defined");
  ClusterAccess a;
  if (Status s = split_server(cluster["server"].str(), a); !s) return make_error(0, "kubeconfig " + path + ": " + s.error().to_string());
  const std::string where = "kubeconfig " + path + ": cluster '" + cluster_name + "'";
  auto ca = data_or_file(cluster, "certificate-authority", dir, where);
  if (!ca) return ca.error();
  a.ca_pem = std::move(*ca);
  a.insecure_skip_verify = cluster["insecure-skip-tls-verify"].as_bool().value_or(false);
  if (!user_name.empty()) {
    const config::YamlView user = named(root["users"], user_name)["user"];
    if (!user.is_map()) return make_error(0, "kubeconfig " + path + ": user '" + user_name + "' is not defined");
    const std::string uwhere = "kubeconfig " + path + ": user '" + user_name + "'";
    if (user["exec"].defined() || user["auth-provider"].defined()) {
      return make_error(0, uwhere + ": exec and auth-provider credentials are not supported; use a token or a client certificate");
    }
    a.token = user["token"].str();
    if (const auto tf = user["tokenFile"]; tf.defined() && !tf.is_null()) {
      std::filesystem::path p = tf.str();
      if (p.is_relative()) p = std::filesystem::path(dir) / p;
      a.token_file = p.string();
    }
    auto cert = data_or_file(user, "client-certificate", dir, uwhere);
    if (!cert) return cert.error();
    auto key = data_or_file(user, "client-key", dir, uwhere);
    if (!key) return key.error();
    a.client_cert_pem = std::move(*cert);
    a.client_key_pem = std::move(*key);
    if (a.client_cert_pem.empty() != a.client_key_pem.empty()) {
      return make_error(0, uwhere + ": client-certificate and client-key go together");
    }
  }
  return a;
}

std::string TokenSource::token() {
  if (file_.empty()) return inline_;
  std::lock_guard lock(mu_);
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) return cached_;  // keep the last one while the file is being swapped
  if (st.st_mtim.tv_sec != mtime_ || st.st_mtim.tv_nsec != mtime_ns_ || st.st_size != size_) {
    if (auto text = read_file(file_)) {
      cached_ = trim(std::move(*text));
      mtime_ = st.st_mtim.tv_sec;
      mtime_ns_ = st.st_mtim.tv_nsec;
      size_ = st.st_size;
    }
  }
  return cached_;
}

void TokenSource::invalidate() {
  std::lock_guard lock(mu_);
  size_ = -1;
}

}  // namespace sluice::kube
