// Which workloads an AuthorizationPolicy applies to (Istio's scope rules):
// the policy's namespace, or every namespace from the root namespace; its
// selector's labels, or every workload in scope without one; or, with
// targetRefs, the Services they name. Shared by the request-time evaluator
// (policy/authz_policy.h) and the kernel's fail-closed marks (datapath).
#pragma once

#include <string_view>

#include "resource_set.h"

namespace sluice::config {

inline constexpr std::string_view kRootNamespace = "istio-system";

struct Workload {
  std::string_view ns;
  const Labels* labels = nullptr;  // null: none known
  std::string_view service_ns;     // the service the request addressed
  std::string_view service;
};

bool authz_applies(const IstioResource<istio::security::AuthorizationPolicy>& policy, const Workload& w,
                   std::string_view root_namespace = kRootNamespace);

// Whether sluice enforces the policy: not CUSTOM, and not attached by
// targetRefs to anything but Services (a Gateway's policies are its own).
bool authz_enforced(const istio::security::AuthorizationPolicy& policy);

}  // namespace sluice::config
