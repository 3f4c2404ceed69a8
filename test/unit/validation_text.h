// Diagnostics as text, and the checks of each resource of a YAML text on
// its own (what `sluicectl validate` runs), for the validation tests.
#pragma once

#include <string>
#include <vector>

#include "diagnostic.h"
#include "resource_loader.h"
#include "validate.h"

namespace sluice::test {

inline std::string all(const std::vector<config::Diagnostic>& diags) {
  std::string s;
  for (const auto& d : diags) s += d.to_string() + "\n";
  return s;
}

inline std::vector<config::Diagnostic> validate_text(const std::string& yaml, const std::string& name) {
  config::LoadResult loaded;
  config::load_yaml_text(yaml, name, loaded);
  std::vector<config::Diagnostic> out = std::move(loaded.diagnostics);
  config::validate_resources(loaded.resources, out);
  return out;
}

}  // namespace sluice::test
