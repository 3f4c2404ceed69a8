#include "config_reloader.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

namespace sluice::config {

namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string FileSource::describe() const {
  std::string out = "files:";
  for (const std::string& p : paths_) out += " " + p;
  return out;
}

bool ConfigReloader::reload() {
  const auto start = std::chrono::steady_clock::now();
  LoadResult loaded = source_->load();
  loaded.resources.resolved_hosts = resolved_hosts_;
  const size_t files_parsed = loaded.files_parsed;
  const size_t documents_parsed = loaded.documents_parsed;
  const double load_ms = ms_since(start);
  const auto build_start = std::chrono::steady_clock::now();
  BuildResult built = build_snapshot(std::move(loaded), next_version_, &memo_);
  const double build_ms = ms_since(build_start);
  ++status_.reloads;
  if (!built.snapshot) {  // build_snapshot always admits what it can; kept for safety
    ++status_.rejected;
    return false;
  }
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::map<std::string, std::set<std::string>> by_kind;  // kind -> rejected resources (one may have several errors)
  for (const Diagnostic& d : built.diagnostics) {
    (d.severity == Severity::kError ? errors : warnings).push_back(d.to_string());
    // "VirtualService default/reviews" -> VirtualService; a file that did
    // not parse names no resource.
    if (d.severity == Severity::kError) {
      by_kind[d.resource.empty() ? "file" : d.resource.substr(0, d.resource.find(' '))].insert(
          d.resource.empty() ? d.file : d.resource);
    }
  }
  // Each rejection and warning is logged when it first appears, not again
  // on every reload while it stands.
  const std::set<std::string> seen_errors(status_.last_errors.begin(), status_.last_errors.end());
  const std::set<std::string> seen_warnings(status_.warnings.begin(), status_.warnings.end());
  for (const std::string& e : errors) {
    if (!seen_errors.count(e)) spdlog::error("config: rejected: {}", e);
  }
  for (const std::string& w : warnings) {
    if (!seen_warnings.count(w)) spdlog::warn("config: {}", w);
  }
  if (!errors.empty()) ++status_.rejected;

  const uint64_t version = built.snapshot->version;
  current_.store(std::move(built.snapshot), std::memory_order_release);
  ++next_version_;

  status_.version = version;
  status_.source = source_->describe();
  status_.last_errors = std::move(errors);
  status_.rejected_by_kind.clear();
  for (const auto& [kind, resources] : by_kind) status_.rejected_by_kind[kind] = resources.size();
  status_.warnings = std::move(warnings);
  status_.last_load_ms = load_ms;
  status_.last_build_ms = build_ms;
  status_.last_reload_ms = ms_since(start);
  status_.last_files_parsed = files_parsed;
  status_.last_documents_parsed = documents_parsed;
  status_.last_patched = built.patched;
  return true;
}

}  // namespace sluice::config
