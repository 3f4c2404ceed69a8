// The two views istioctl offers, for files and directories:
//   validate  each resource on its own (istioctl validate -f): what a
//             Kubernetes API server with Istio's admission webhook would
//             refuse, and what sluice would ignore;
//   analyze   validate, plus the findings across resources (istioctl
//             analyze), with Istio's message codes:
//               IST0101 ReferencedResourceNotFound (a destination host, a
//                       subset, a gateway, a Gateway's credential Secret),
//               IST0109 ConflictingMeshGatewayVirtualServiceHosts,
//               IST0111 MultipleSidecarsWithoutWorkloadSelectors.
#pragma once

#include <string>
#include <vector>

#include "diagnostic.h"
#include "resource_set.h"

namespace sluice::config {

inline constexpr const char* kConflictingMeshGatewayVirtualServiceHosts = "IST0109";
inline constexpr const char* kMultipleSidecarsWithoutWorkloadSelectors = "IST0111";
// What istioctl analyze reports validation results as.
inline constexpr const char* kSchemaValidationError = "IST0106";

// Loading and the checks of each resource on its own.
std::vector<Diagnostic> validate_files(const std::vector<std::string>& paths);

// validate_files plus the findings across resources.
std::vector<Diagnostic> analyze_files(const std::vector<std::string>& paths);

// The findings across the resources `rs` (the part analyze_files adds).
std::vector<Diagnostic> analyze_resources(const ResourceSet& rs, const std::string& domain = "cluster.local");

// Istio's level of a finding: "Error" or "Warning" (IST0101, IST0109 and
// IST0111 are errors to istioctl analyze, although the daemon applies the
// config regardless).
std::string analysis_level(const Diagnostic& d);

// One line as istioctl analyze prints it:
//   Error [IST0101] (VirtualService default/reviews reviews.yaml:9) spec.http[0].route[0].destination.subset: Referenced ...
std::string format_analysis(const Diagnostic& d);

}  // namespace sluice::config
