// YAML bytes through the whole config path of the daemon and of `sluicectl
// validate` and `analyze`: the multi-document YAML loader (and its rewrite
// of YAML 1.2 flow scalars), the YAML -> protobuf conversion, per-resource
// validation, the unimplemented-fields walk, the findings across resources
// and the snapshot build (services, policies, the kernel's L4 view), then
// the printed diagnostics. Input that parses as JSON also goes through the
// Kubernetes API's path: simdjson, and the same conversion over JSON nodes
// (an API object, or a List whose items carry no kind, as the API sends
// them). No input may crash, hang or throw: a bad config is diagnostics,
// never an exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "analyze.h"
#include "diagnostic.h"
#include "json_view.h"
#include "object_reader.h"
#include "resource_loader.h"
#include "snapshot_builder.h"

namespace {
// Real configs are a few KiB per file; bigger inputs only slow the search.
constexpr size_t kMaxInputBytes = 64 * 1024;

// The builder's contract under per-resource admission: always a snapshot,
// and every error is a rejection it reports.
void check_build(sluice::config::LoadResult loaded, std::string& printed) {
  using namespace sluice::config;
  BuildResult r = build_snapshot(std::move(loaded), 1);
  size_t errors = 0;
  for (const Diagnostic& d : r.diagnostics) {
    printed += d.to_string();
    errors += d.severity == Severity::kError;
  }
  if (!r.snapshot || r.snapshot->rejections.size() != errors) __builtin_trap();
}

// JSON as the API server sends it: one object, or the items of a list read
// as the kind the list names (without the "List" suffix).
void json_path(const std::string& text, std::string& printed) {
  using namespace sluice::config;
  JsonDocument doc;
  if (!doc.parse(text)) return;
  LoadResult loaded;
  auto origin = std::make_shared<const SourceText>(SourceText{"kubernetes", nullptr, 0});
  ObjectReader<JsonView> reader(origin, loaded.resources, loaded.diagnostics);
  const JsonView root = doc.root();
  const std::string kind = root["kind"].str();
  if (kind.size() > 4 && kind.ends_with("List") && root["items"].is_sequence()) {
    const std::string item_kind = kind.substr(0, kind.size() - 4);
    const std::string api_version = root["apiVersion"].str();
    for_each_item(root["items"], [&](size_t, const JsonView& item) { reader.read_as(item, api_version, item_kind); });
  } else {
    reader.read(root);
  }
  check_build(std::move(loaded), printed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return -1;
  using namespace sluice::config;
  LoadResult loaded;
  load_yaml_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml", loaded);
  std::string printed;
  for (const Diagnostic& d : analyze_resources(loaded.resources)) printed += format_analysis(d);
  check_build(std::move(loaded), printed);
  json_path(std::string(reinterpret_cast<const char*>(data), size), printed);
  return 0;
}
