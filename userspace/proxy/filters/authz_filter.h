// Istio's AuthorizationPolicy as a request filter (docs/security.md): a
// denied request gets 403 "RBAC: access denied" with flag RBAC before any
// upstream work; an AUDIT match is logged. sluice enforces on the client's
// node, for the workload the router chose (the endpoint's pod), with the
// source identity of the pod that holds the client's address.
#pragma once

#include <cstdint>

#include "authz_policy.h"
#include "request_filter.h"

namespace sluice::proxy {

class AuthzFilter final : public RequestFilter {
 public:
  FilterAction on_request(RequestContext& ctx) override;

 private:
  uint64_t version_ = ~0ULL;  // of the snapshot policies_ were compiled from
  policy::AuthzPolicies policies_;
};

}  // namespace sluice::proxy
