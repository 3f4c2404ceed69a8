// YAML bytes through the whole config path of the daemon and of `sluicectl
// validate` and `analyze`: the multi-document YAML loader (and its rewrite
// of YAML 1.2 flow scalars), the YAML -> protobuf conversion, per-resource
// validation, the unimplemented-fields walk, the findings across resources
// and the snapshot build (services, policies, the kernel's L4 view), then
// the printed diagnostics. No input may crash, hang or throw: a bad config
// is diagnostics, never an exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "analyze.h"
#include "diagnostic.h"
#include "resource_loader.h"
#include "snapshot_builder.h"

namespace {
// Real configs are a few KiB per file; bigger inputs only slow the search.
constexpr size_t kMaxInputBytes = 64 * 1024;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return -1;
  using namespace sluice::config;
  LoadResult loaded;
  load_yaml_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml", loaded);
  std::string printed;
  for (const Diagnostic& d : analyze_resources(loaded.resources)) printed += format_analysis(d);
  BuildResult r = build_snapshot(std::move(loaded), 1);
  size_t errors = 0;
  for (const Diagnostic& d : r.diagnostics) {
    printed += d.to_string();
    errors += d.severity == Severity::kError;
  }
  // The builder's contract: a snapshot exactly when there is no error.
  if ((r.snapshot != nullptr) == (errors != 0)) __builtin_trap();
  return 0;
}
