// Semantic checks of a built snapshot, beyond what the schema catches. Two
// kinds, as in Istio:
//   - the checks of one resource on its own (istioctl validate, Istio's
//     admission webhook): Istio's rules (resource_checks.h), and warnings for
//     what sluice does not implement (unimplemented_fields.h). These give
//     the errors; every error names its resource (Meta::id()), so that a
//     per-resource admission can reject exactly the resources named;
//   - references between resources (references.h): warnings only.
// Each problem names the file, line, resource and field.
#pragma once

#include <memory>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "diagnostic.h"
#include "mesh_snapshot.h"

namespace sluice::config {

// Diagnostics of the checks that depend on one resource alone, kept per
// resource from the last validation: an unchanged resource is not checked
// again. Holding the resource keeps its address from being reused.
//
// It also keeps what a patched build (snapshot_patch.h) needs to check its
// few changed resources against the rest without walking them all: the
// resource identities, and the one-resource diagnostics of the whole set.
struct ValidationMemo {
  std::unordered_map<const void*, std::pair<std::shared_ptr<const void>, std::vector<Diagnostic>>> local;

  // kind/namespace/name of a resource (views into it).
  struct IdKey {
    std::string_view kind, ns, name;
    bool operator==(const IdKey&) const = default;
  };
  struct IdHash {
    size_t operator()(const IdKey& k) const;
  };
  // How many resources have each kind/namespace/name, by the key's hash. A
  // patch that makes a count 2 (a duplicate, or a collision of 64-bit
  // hashes) declines, and the full build judges exactly. Exact keys would
  // cost 80 bytes each at 100k Pods; this costs half.
  std::unordered_map<uint64_t, uint32_t> ids;
  std::vector<Diagnostic> local_diagnostics;  // every one-resource diagnostic, in order
};

void validate_snapshot(const MeshSnapshot& snapshot, std::vector<Diagnostic>& out, ValidationMemo* memo = nullptr);

// The checks that relate resources to each other (VirtualService and
// DestinationRule hosts and subsets, Gateways, Gateway credentials), as
// warnings: a patched build runs them again since any service may have
// changed under them.
void validate_references(const MeshSnapshot& snapshot, std::vector<Diagnostic>& out);

// The checks of each resource on its own, and nothing else: no duplicates,
// no references (`sluicectl validate`, like `istioctl validate -f`).
void validate_resources(const ResourceSet& resources, std::vector<Diagnostic>& out);

// The one-resource checks of a Kubernetes Service (errors and warnings).
std::vector<Diagnostic> check_service_alone(const MeshSnapshot& snapshot, const K8sResource<k8s::Service>& r);

}  // namespace sluice::config
