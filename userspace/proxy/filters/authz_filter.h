// Istio's AuthorizationPolicy as a request filter (docs/security.md): a
// denied request gets 403 "RBAC: access denied" with flag RBAC before any
// upstream work; an AUDIT match is logged. sluice enforces on the client's
// node, for the workload the router chose (the endpoint's pod), with the
// source identity of the pod that holds the client's address.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "authz_policy.h"
#include "request_filter.h"

namespace sluice::proxy {

class AuthzFilter final : public RequestFilter {
 public:
  FilterAction on_request(RequestContext& ctx) override;

 private:
  // Recompiles the policies, and indexes pods by address while any policy
  // exists, when the snapshot changed.
  void refresh(const config::SnapshotPtr& snap);

  uint64_t version_ = ~0ULL;
  policy::AuthzPolicies policies_;
  struct Identity {
    const std::string* ns;
    const std::string* service_account;
  };
  std::unordered_map<uint32_t, Identity> pods_by_ip_;
};

}  // namespace sluice::proxy
