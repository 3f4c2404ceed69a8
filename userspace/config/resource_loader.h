// Reads multi-document YAML (the shape `kubectl get -o yaml` prints, List
// objects included) from files and directories into a ResourceSet.
#pragma once

#include <string>
#include <vector>

#include "diagnostic.h"
#include "resource_set.h"

namespace sluice::config {

struct LoadResult {
  ResourceSet resources;
  std::vector<Diagnostic> diagnostics;
  std::vector<std::string> files;  // what was read, in order
};

// paths: files or directories. A directory is read recursively; names that
// start with '.' are skipped, which also skips the `..data` and timestamped
// directories of a mounted ConfigMap while its top-level symlinks are read.
LoadResult load_resources(const std::vector<std::string>& paths);

// One YAML text, as if read from a file called `name` (for tests).
void load_yaml_text(const std::string& text, const std::string& name, LoadResult& into);

}  // namespace sluice::config
