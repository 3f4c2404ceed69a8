#include "l4_view.h"

#include <algorithm>

#include "authz_scope.h"
#include "consts.h"

namespace sluice {

sl_lb_algo kernel_algo(const config::LoadBalancerPolicy& lb) {
  using Kind = config::LoadBalancerPolicy::Kind;
  switch (lb.kind) {
    case Kind::kRoundRobin: return SL_LB_ROUND_ROBIN;
    case Kind::kLeastRequest: return SL_LB_LEAST_REQUEST;
    case Kind::kConsistentHash: return SL_LB_CONSISTENT_HASH;
    default: return SL_LB_RANDOM;  // RANDOM, and PASSTHROUGH (no choice to keep at L4)
  }
}

namespace {

// Whether an enforced ALLOW or DENY policy applies to one of the port's
// workloads (AUDIT decides nothing).
bool policy_guards(const config::Service& s, const config::ServicePort& p, const AuthzPolicyList& policies) {
  using Action = istio::security::AuthorizationPolicy;
  for (const auto& policy : policies) {
    if (policy->spec.action() == Action::AUDIT || !config::authz_enforced(policy->spec)) continue;
    config::Workload w{s.ns, nullptr, s.ns, s.name};
    if (p.endpoints.empty() && config::authz_applies(*policy, w)) return true;
    for (const config::Endpoint& e : p.endpoints) {
      const size_t slash = e.pod.find('/');
      w.ns = slash == std::string::npos ? std::string_view(s.ns) : std::string_view(e.pod).substr(0, slash);
      w.labels = &e.label_map();
      if (config::authz_applies(*policy, w)) return true;
    }
  }
  return false;
}

bool same_list(const AuthzPolicyList& a, const AuthzPolicyList& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

std::vector<SharedServiceSpec> l4_specs_of(const config::Service& s, const AuthzPolicyList& policies) {
  std::vector<SharedServiceSpec> out;
  if (!s.vip && s.dns_addresses.empty()) return out;
  out.reserve(s.ports.size() * (1 + s.dns_addresses.size()));
  for (const config::ServicePort& p : s.ports) {
    // The addresses of a DNS ServiceEntry's host act as VIPs of the ports
    // the daemon takes: connects to them go to the proxy. Its other ports
    // stay direct (the egress table lets them through).
    const size_t extra = p.via_daemon ? s.dns_addresses.size() : 0;
    for (size_t k = s.vip ? 0 : 1; k <= extra; ++k) {
      const uint32_t vip = k == 0 ? s.vip : s.dns_addresses[k - 1];
      ServiceSpec spec;
      spec.vip = vip;
      spec.port = p.port;
      spec.proto = p.l4_proto;
      spec.algo = kernel_algo(p.policy.load_balancer);
      spec.max_conns = p.policy.connection_pool.max_connections;
      spec.l7 = p.via_daemon;
      // A port whose requests sluiced encrypts must not fall back to the
      // kernel while it is down: that would send them in plaintext.
      spec.fail_closed = spec.l7 && ((!policies.empty() && policy_guards(s, p, policies)) || p.policy.tls.originates());
      spec.socket_redirect = s.socket_redirect;
      // Ring hash has no kernel form; the kernel always uses Maglev.
      spec.maglev_size = p.policy.load_balancer.ring_hash ? static_cast<uint32_t>(config::kMaglevDefaultTableSize)
                                                          : static_cast<uint32_t>(p.policy.load_balancer.table_size);
      spec.backends.reserve(p.endpoints.size());
      for (const config::Endpoint& e : p.endpoints) spec.backends.push_back({e.ip, e.port, e.weight, false});
      std::sort(spec.backends.begin(), spec.backends.end(), [](const BackendSpec& a, const BackendSpec& b) {
        return std::tie(a.addr, a.port) < std::tie(b.addr, b.port);
      });
      // Two endpoints with one address (an IP listed twice) are one backend.
      spec.backends.erase(std::unique(spec.backends.begin(), spec.backends.end(),
                                      [](const BackendSpec& a, const BackendSpec& b) { return a.same_endpoint(b); }),
                          spec.backends.end());
      if (spec.backends.size() > SL_MAX_SLOTS) spec.backends.resize(SL_MAX_SLOTS);
      out.push_back(std::make_shared<const ServiceSpec>(std::move(spec)));
    }
  }
  return out;
}

L4ServiceMap build_l4_view(const config::MeshSnapshot& snap) {
  L4ServiceMap view;
  for (const auto& [fqdn, s] : snap.services) {
    for (const SharedServiceSpec& spec : l4_specs_of(*s, snap.resources.authorization_policies)) {
      view.insert(l4_key(*spec), spec);
    }
  }
  return view;
}

void L4ViewBuilder::rebuild_view(const Registry& services) {
  view_ = {};
  clash_ = false;
  for (const auto& [fqdn, s] : services) {
    auto it = specs_.find(fqdn);
    if (it == specs_.end()) continue;
    for (const SharedServiceSpec& spec : it->second) {
      if (!view_.insert(l4_key(*spec), spec)) clash_ = true;
    }
  }
}

const L4ServiceMap& L4ViewBuilder::update(const config::MeshSnapshot& snap) {
  if (started_ && !same_list(policies_, snap.resources.authorization_policies)) {
    started_ = false;  // they may mark or unmark any service's ports
    specs_.clear();
  }
  if (!started_) {
    policies_ = snap.resources.authorization_policies;
    for (const auto& [fqdn, s] : snap.services) specs_.emplace(fqdn, l4_specs_of(*s, policies_));
    rebuild_view(snap.services);
    services_ = snap.services;
    started_ = true;
    return view_;
  }
  // The services that left or changed, and those that arrived or changed,
  // from the registry shards that are not shared with the last snapshot.
  std::vector<std::string> gone;
  std::vector<std::pair<std::string, const config::Service*>> arrived;
  for (size_t i = 0; i < Registry::shard_count; ++i) {
    const Registry::Shard* before = services_.shard(i);
    const Registry::Shard* after = snap.services.shard(i);
    if (before == after) continue;
    static const Registry::Shard kEmpty;
    if (!before) before = &kEmpty;
    if (!after) after = &kEmpty;
    auto b = before->begin();
    auto a = after->begin();
    while (b != before->end() || a != after->end()) {
      if (a == after->end() || (b != before->end() && b->first < a->first)) {
        gone.push_back(b->first);
        ++b;
      } else if (b == before->end() || a->first < b->first) {
        arrived.emplace_back(a->first, a->second.get());
        ++a;
      } else {
        if (a->second != b->second) {
          gone.push_back(b->first);
          arrived.emplace_back(a->first, a->second.get());
        }
        ++a;
        ++b;
      }
    }
  }
  services_ = snap.services;
  // Removals first, so a VIP:port that moves between services is free.
  for (const std::string& fqdn : gone) {
    auto it = specs_.find(fqdn);
    if (it == specs_.end()) continue;
    if (!clash_) {
      for (const SharedServiceSpec& spec : it->second) {
        const SharedServiceSpec* in_view = view_.get(l4_key(*spec));
        if (in_view && *in_view == spec) view_.erase(l4_key(*spec));
      }
    }
    specs_.erase(it);
  }
  bool clash = clash_;
  for (const auto& [fqdn, s] : arrived) {
    auto& specs = specs_[fqdn] = l4_specs_of(*s, policies_);
    if (clash) continue;
    for (const SharedServiceSpec& spec : specs) {
      if (!view_.insert(l4_key(*spec), spec)) clash = true;
    }
  }
  // With two services on one VIP:port, which keeps it depends on the
  // registry's order: settled by a rebuild from the specs (none computed
  // again). Rare: two services given one address and port.
  if (clash && (!gone.empty() || !arrived.empty())) rebuild_view(services_);
  return view_;
}

}  // namespace sluice
