// A problem found in the configuration, located as precisely as we can:
//   reviews.yaml:14: VirtualService default/reviews: spec.http[0].route: weights sum to 90, must be 100
#pragma once

#include <string>
#include <vector>

namespace sluice::config {

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;
  int line = 0;           // 1-based; 0 when unknown
  std::string resource;   // "VirtualService default/reviews", or empty
  std::string field;      // "spec.http[0].route", or empty
  std::string message;
  // Istio's analysis message code ("IST0101") of a finding about references
  // between resources; empty for the checks of one resource.
  std::string code = {};

  std::string to_string() const;
};

// Collects diagnostics for one resource: the file, kind and name are fixed,
// the caller names the field and the line.
class DiagnosticSink {
 public:
  explicit DiagnosticSink(std::vector<Diagnostic>& out) : out_(out) {}

  void set_context(std::string file, std::string resource) {
    file_ = std::move(file);
    resource_ = std::move(resource);
  }
  void error(int line, std::string field, std::string message) {
    add(Severity::kError, line, std::move(field), std::move(message));
  }
  void warning(int line, std::string field, std::string message, std::string code = {}) {
    add(Severity::kWarning, line, std::move(field), std::move(message), std::move(code));
  }
  std::vector<Diagnostic>& all() { return out_; }

 private:
  void add(Severity s, int line, std::string field, std::string message, std::string code = {}) {
    out_.push_back({s, file_, line, resource_, std::move(field), std::move(message), std::move(code)});
  }
  std::vector<Diagnostic>& out_;
  std::string file_;
  std::string resource_;
};

bool has_errors(const std::vector<Diagnostic>& diags);

}  // namespace sluice::config
