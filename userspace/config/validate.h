// Semantic checks of a built snapshot, beyond what the schema catches:
// weights, regexes, percentages, ports, names, references between resources.
// Each problem names the file, line, resource and field.
#pragma once

#include <vector>

#include "diagnostic.h"
#include "mesh_snapshot.h"

namespace sluice::config {

void validate_snapshot(const MeshSnapshot& snapshot, std::vector<Diagnostic>& out);

}  // namespace sluice::config
