// MeshSnapshot -> the kernel's L4 view: one ServiceSpec per (VIP, port,
// protocol) of every service with a VIP. Config says what the mesh is; this
// is what the socket load balancer's tables should hold for it.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh_snapshot.h"
#include "service_spec.h"

namespace sluice {

// The kernel's algorithm for a port's load-balancer policy.
sl_lb_algo kernel_algo(const config::LoadBalancerPolicy& lb);

using AuthzPolicyList = config::SharedList<config::IstioResource<istio::security::AuthorizationPolicy>>;

// The kernel L4 services of one service's ports (none without a VIP). An
// HTTP port whose workloads an enforced ALLOW or DENY policy applies to
// fails closed while the proxy is away (docs/security.md): sluiced is where
// those policies are enforced.
std::vector<SharedServiceSpec> l4_specs_of(const config::Service& s, const AuthzPolicyList& policies = {});

// The whole view of a snapshot, from scratch. Two services on one VIP:port:
// the first in the registry's order keeps it (the order is fixed for a
// binary, so every node agrees).
L4ServiceMap build_l4_view(const config::MeshSnapshot& snap);

// The same view, kept from one snapshot to the next. A service that did not
// change is the same object in both snapshots (the config patches and memo
// reuse them), and registry shards that did not change are shared, so an
// update compares shard pointers, then the services of the changed shards
// by pointer, and rebuilds only the specs of services that changed: the
// work follows the change, not the mesh (a change of AuthorizationPolicies,
// which mark ports fail-closed, rebuilds them all). Unchanged specs keep their
// objects, so diff_l4 against the previous view skips them by pointer.
// Always equal to build_l4_view of the last snapshot.
class L4ViewBuilder {
 public:
  const L4ServiceMap& update(const config::MeshSnapshot& snap);
  const L4ServiceMap& view() const { return view_; }

 private:
  using Registry = ShardedMap<std::string, std::shared_ptr<const config::Service>>;
  void rebuild_view(const Registry& services);

  bool started_ = false;
  Registry services_;  // the last snapshot's registry: shares its shards
  AuthzPolicyList policies_;  // the last snapshot's: a change of them respecs every service
  std::unordered_map<std::string, std::vector<SharedServiceSpec>> specs_;  // by FQDN
  L4ServiceMap view_;
  bool clash_ = false;  // two services of the view want one VIP:port
};

}  // namespace sluice
