// References from one resource to another: a destination host or subset,
// a Gateway a VirtualService binds to, a Secret a Gateway server names.
// These are `istioctl analyze` findings (IST0101 ReferencedResourceNotFound),
// never errors: resources arrive in any order, and Istio applies the
// config anyway (a route to a missing subset answers 503 NC at run time).
#pragma once

#include <string>
#include <vector>

#include "diagnostic.h"
#include "resource_set.h"

namespace sluice::config {

// Istio's message code for a reference to nothing.
inline constexpr const char* kReferencedResourceNotFound = "IST0101";

// Where the services and subsets are looked up: the daemon asks its
// snapshot, `sluicectl analyze` the resources it read.
class ReferenceTargets {
 public:
  virtual ~ReferenceTargets() = default;
  virtual bool has_service(const std::string& fqdn) const = 0;
  virtual bool has_subset(const std::string& fqdn, const std::string& subset) const = 0;
};

// Appends a warning for each reference in `rs` that points at nothing.
void check_references(const ResourceSet& rs, const std::string& domain, const ReferenceTargets& targets,
                      std::vector<Diagnostic>& out);

}  // namespace sluice::config
