#include "diagnostic.h"

#include <algorithm>

namespace sluice::config {

std::string Diagnostic::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  s += ": ";
  if (severity == Severity::kWarning) s += "warning: ";
  if (!resource.empty()) s += resource + ": ";
  if (!field.empty()) s += field + ": ";
  return s + message;
}

bool has_errors(const std::vector<Diagnostic>& diags) {
  return std::any_of(diags.begin(), diags.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

}  // namespace sluice::config
