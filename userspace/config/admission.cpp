#include "admission.h"

#include <set>
#include <string_view>
#include <unordered_map>

namespace sluice::config {

namespace {

std::string where(const Source& s) { return s.file() + (s.line > 0 ? ":" + std::to_string(s.line) : ""); }

// A file of its own, or one under a directory that could not be read.
bool in_rejected_file(const Rejections& rejected, const std::string& file) {
  for (const std::string& f : rejected.files) {
    if (file == f || (file.starts_with(f) && file.size() > f.size() && file[f.size()] == '/')) return true;
  }
  return false;
}

}  // namespace

Rejections rejections_of(const std::vector<Diagnostic>& diags) {
  Rejections r;
  for (const Diagnostic& d : diags) {
    if (d.severity != Severity::kError) continue;
    if (!d.resource.empty()) {
      r.resources.insert(d.resource);
    } else if (!d.file.empty()) {
      r.files.insert(d.file);
    }
  }
  return r;
}

bool replace_duplicates(ResourceSet& rs, std::vector<Diagnostic>& out) {
  bool any = false;
  rs.for_each_list([&](auto& list) {
    std::unordered_map<std::string, size_t> last;  // id -> index of its last definition
    last.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) last[list[i]->meta.id()] = i;
    if (last.size() == list.size()) return;
    any = true;
    size_t kept = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& r = list[i];
      const size_t final_index = last[r->meta.id()];
      if (final_index != i) {
        DiagnosticSink sink(out);
        sink.set_context(r->source.file(), r->meta.id());
        sink.warning(r->source.line, "metadata.name",
                     "replaced by the later definition at " + where(list[final_index]->source));
        continue;
      }
      list[kept++] = r;
    }
    list.resize(kept);
  });
  return any;
}

void keep_last_good(ResourceSet& rs, const Rejections& rejected, const ResourceSet* last_good,
                    std::vector<Diagnostic>& out) {
  if (rejected.empty()) return;
  // Only the lists of rejected kinds are looked at (unless a file is
  // rejected whole): at 100k Pods, one rejected VirtualService must not
  // cost an id string for every Pod.
  std::set<std::string_view> kinds;
  for (const std::string& id : rejected.resources) kinds.insert(kind_name(std::string_view(id).substr(0, id.find(' '))));
  static const ResourceSet kNone;
  ResourceSet::zip(rs, last_good ? *last_good : kNone, [&](auto& list, const auto& good) {
    const auto* any = !list.empty() ? &list.front() : !good.empty() ? &good.front() : nullptr;
    if (!any || (rejected.files.empty() && !kinds.count((*any)->meta.kind))) return;
    std::erase_if(list, [&](const auto& r) { return rejected.resources.count(r->meta.id()) > 0; });
    std::set<std::string> present;  // ids defined now; needed only for rejected files
    if (!rejected.files.empty()) {
      for (const auto& r : list) present.insert(r->meta.id());
    }
    for (const auto& r : good) {
      const std::string id = r->meta.id();
      const bool resource_rejected = rejected.resources.count(id) > 0;
      if (!resource_rejected && !in_rejected_file(rejected, r->source.file())) continue;
      // A file that did not parse still holds what it held: unless another
      // file defines the resource now, its last good version stays.
      if (!resource_rejected && present.count(id)) continue;
      list.push_back(r);
      DiagnosticSink sink(out);
      sink.set_context(r->source.file(), id);
      sink.warning(r->source.line, "", "rejected; its last good version stays in force");
    }
  });
}

}  // namespace sluice::config
