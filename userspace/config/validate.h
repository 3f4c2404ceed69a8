// Semantic checks of a built snapshot, beyond what the schema catches:
// weights, regexes, percentages, ports, names, references between resources.
// Each problem names the file, line, resource and field.
#pragma once

#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "diagnostic.h"
#include "mesh_snapshot.h"

namespace sluice::config {

// Diagnostics of the checks that depend on one resource alone, kept per
// resource from the last validation: an unchanged resource is not checked
// again. Holding the resource keeps its address from being reused.
struct ValidationMemo {
  std::unordered_map<const void*, std::pair<std::shared_ptr<const void>, std::vector<Diagnostic>>> local;
};

void validate_snapshot(const MeshSnapshot& snapshot, std::vector<Diagnostic>& out, ValidationMemo* memo = nullptr);

}  // namespace sluice::config
