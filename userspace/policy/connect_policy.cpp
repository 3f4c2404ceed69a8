#include "connect_policy.h"

#include <algorithm>

#include "ip_text.h"

namespace sluice::policy {

namespace {

// A port that none of `named` is: it stands for all of them at port 0.
uint16_t unnamed_port(const std::vector<uint16_t>& named) {
  uint16_t p = 65535;
  while (std::binary_search(named.begin(), named.end(), p)) --p;
  return p;
}

RequestFacts facts_of(const ConnectSource& s, uint32_t dst_ip, uint16_t port) {
  RequestFacts f;
  f.source_ip = s.ip;
  f.source_known = s.known;
  if (s.known) {
    f.source_namespace = s.ns;
    // Kubernetes gives a pod without one the namespace's "default".
    f.source_service_account = s.service_account.empty() ? std::string_view("default") : s.service_account;
  }
  f.destination_ip = dst_ip;
  f.destination_port = port;
  return f;
}

// What view decides for source s connecting to dst_ip: port 0 answers for
// the ports no policy names; a named port is listed where it differs.
std::map<uint16_t, bool> verdicts_for(const AuthzPolicies& policies, const AuthzPolicies::ConnectView& view,
                                      const ConnectSource& s, uint32_t dst_ip) {
  std::map<uint16_t, bool> by_port;
  const bool at_other = policies.connect_allowed(view, facts_of(s, dst_ip, unnamed_port(view.ports)));
  by_port[0] = at_other;
  for (uint16_t port : view.ports) {
    if (port == 0) continue;
    if (bool allowed = policies.connect_allowed(view, facts_of(s, dst_ip, port)); allowed != at_other) {
      by_port[port] = allowed;
    }
  }
  return by_port;
}

bool running_with_address(const k8s::Pod& pod, uint32_t& ip) {
  return !pod.spec().host_network() && parse_ipv4(pod.status().pod_ip(), ip);
}

}  // namespace

size_t ConnectPolicy::rule_count() const {
  size_t n = 0;
  for (const auto& [set, by_source] : verdicts) {
    for (const auto& [cookie, by_port] : by_source) n += by_port.size();
  }
  return n;
}

std::unordered_map<uint32_t, const config::K8sResource<k8s::Pod>*> pods_by_address(
    const config::ResourceSet& resources) {
  std::unordered_map<uint32_t, const config::K8sResource<k8s::Pod>*> out;
  for (const auto& pod : resources.pods) {
    if (uint32_t ip = 0; running_with_address(pod->object, ip)) out[ip] = pod.get();
  }
  return out;
}

ConnectPolicy compile_connect_policy(const AuthzPolicies& policies, const config::ResourceSet& resources,
                                     const std::vector<ConnectSource>& sources, const std::set<uint32_t>& local,
                                     const std::set<uint32_t>& nodes) {
  ConnectPolicy out;
  if (policies.empty()) return out;
  const ConnectSource unknown;  // cookie 0: no identity
  // The cluster's pods as peers of the destination side, by identity class:
  // namespace and service account, or the address itself when some local
  // set's rules read source addresses (filled below once that is known).
  std::vector<const config::K8sResource<k8s::Pod>*> cluster_pods;
  std::map<std::string, AuthzPolicies::ConnectView> local_views;  // signature -> view, for local guarded pods
  std::map<std::string, uint32_t> local_address;                 // signature -> a pod address of it
  for (const auto& pod : resources.pods) {
    uint32_t ip = 0;
    if (!running_with_address(pod->object, ip)) continue;
    cluster_pods.push_back(pod.get());
    const Destination dst{pod->meta.ns, &pod->meta.labels, "", ""};
    AuthzPolicies::ConnectView view = policies.connect_view(dst);
    if (view.empty()) continue;
    std::string signature = view.signature;
    if (view.per_address) signature += "@" + format_ip(ip);
    out.guarded[ip] = signature;
    if (local.contains(ip)) local_address.try_emplace(signature, ip);
    auto [verdicts, fresh] = out.verdicts.try_emplace(signature);
    if (fresh) {  // else another pod with the same policies did it
      verdicts->second[unknown.netns_cookie] = verdicts_for(policies, view, unknown, ip);
      for (const ConnectSource& s : sources) verdicts->second[s.netns_cookie] = verdicts_for(policies, view, s, ip);
    }
    if (local.contains(ip)) local_views.try_emplace(signature, std::move(view));
  }
  if (local_views.empty()) return out;

  // The destination side: every pod of the cluster as a peer of the local
  // guarded sets.
  bool by_address = false;
  for (const auto& [signature, view] : local_views) by_address = by_address || view.source_addresses;
  std::map<std::string, uint64_t> classes;  // "ns/sa" or the address -> peer key
  for (const auto* pod : cluster_pods) {
    uint32_t ip = 0;
    running_with_address(pod->object, ip);
    ConnectSource peer;
    peer.ip = ip;
    peer.known = true;
    peer.ns = pod->meta.ns;
    peer.service_account = pod->object.spec().service_account_name();
    const std::string class_name = by_address ? format_ip(ip) : peer.ns + "/" + peer.service_account;
    auto [cls, fresh] = classes.try_emplace(class_name, kPeerKey | classes.size());
    peer.netns_cookie = cls->second;
    out.peers[ip] = cls->second;
    if (!fresh) continue;
    for (const auto& [signature, view] : local_views) {
      out.verdicts[signature][peer.netns_cookie] = verdicts_for(policies, view, peer, local_address.at(signature));
    }
  }
  for (uint32_t node : nodes) out.peers[node] = kTrustedPeer;
  return out;
}

bool limits_connections(const config::ResourceSet& resources) {
  return std::any_of(resources.rate_limit_policies.begin(), resources.rate_limit_policies.end(),
                     [](const auto& p) { return p->spec.has_connection_bucket(); });
}

std::map<uint64_t, ConnectionRate> connection_rates(const config::ResourceSet& resources,
                                                    const std::vector<ConnectSource>& sources) {
  std::map<uint64_t, ConnectionRate> out;
  for (const auto& p : resources.rate_limit_policies) {
    if (!p->spec.has_connection_bucket()) continue;
    const auto& b = p->spec.connection_bucket();
    ConnectionRate rate;
    rate.max_tokens = b.max_tokens();
    rate.tokens_per_fill = b.tokens_per_fill() ? b.tokens_per_fill() : 1;
    rate.fill_interval_ns = static_cast<uint64_t>(b.fill_interval().seconds()) * 1000000000ULL +
                            static_cast<uint64_t>(b.fill_interval().nanos());
    rate.policy = p->meta.ns + "/" + p->meta.name;
    const auto& selector = p->spec.source_selector().match_labels();
    for (const ConnectSource& s : sources) {
      if (!s.known || s.ns != p->meta.ns) continue;
      const bool selected = std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
        if (!s.labels) return false;
        auto it = s.labels->find(kv.first);
        return it != s.labels->end() && it->second == kv.second;
      });
      if (!selected) continue;
      auto [it, fresh] = out.try_emplace(s.netns_cookie, rate);
      if (!fresh && rate.max_tokens < it->second.max_tokens) it->second = rate;
    }
  }
  return out;
}

}  // namespace sluice::policy
