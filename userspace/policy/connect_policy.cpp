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
                                     const std::vector<ConnectSource>& sources) {
  ConnectPolicy out;
  if (policies.empty()) return out;
  const ConnectSource unknown;  // cookie 0: no identity
  for (const auto& pod : resources.pods) {
    uint32_t ip = 0;
    if (!running_with_address(pod->object, ip)) continue;
    const Destination dst{pod->meta.ns, &pod->meta.labels, "", ""};
    const AuthzPolicies::ConnectView view = policies.connect_view(dst);
    if (view.empty()) continue;
    std::string signature = view.signature;
    if (view.per_address) signature += "@" + format_ip(ip);
    out.guarded[ip] = signature;
    auto [verdicts, fresh] = out.verdicts.try_emplace(signature);
    if (!fresh) continue;  // another pod with the same policies did it
    const uint16_t other = unnamed_port(view.ports);
    auto judge = [&](const ConnectSource& s) {
      auto& by_port = verdicts->second[s.netns_cookie];
      const bool at_other = policies.connect_allowed(view, facts_of(s, ip, other));
      by_port[0] = at_other;
      for (uint16_t port : view.ports) {
        if (port == 0) continue;
        if (bool allowed = policies.connect_allowed(view, facts_of(s, ip, port)); allowed != at_other) {
          by_port[port] = allowed;
        }
      }
    };
    judge(unknown);
    for (const ConnectSource& s : sources) judge(s);
  }
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
