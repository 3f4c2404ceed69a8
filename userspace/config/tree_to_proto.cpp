#include "tree_to_proto.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace sluice::config::tree_detail {

namespace {

// Descriptor -> field by JSON name and by proto name. protobuf 3.21 has no
// FindFieldByJsonName, so each message type gets a sorted index once; the
// names are owned by the descriptor pool, so string_views stay valid.
using FieldIndex = std::vector<std::pair<std::string_view, const pb::FieldDescriptor*>>;

const FieldIndex& field_index(const pb::Descriptor* d) {
  // Parsing runs on several threads: each keeps its own table of pointers to
  // the shared, never-modified indexes, and locks only to build a new one.
  thread_local std::unordered_map<const pb::Descriptor*, const FieldIndex*> local;
  if (auto it = local.find(d); it != local.end()) return *it->second;
  static std::mutex mu;
  static std::unordered_map<const pb::Descriptor*, FieldIndex> indexes;
  std::lock_guard lock(mu);
  auto [it, inserted] = indexes.try_emplace(d);
  if (inserted) {
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      it->second.emplace_back(f->json_name(), f);
      if (f->name() != f->json_name()) it->second.emplace_back(f->name(), f);
    }
    std::sort(it->second.begin(), it->second.end());
  }
  local.emplace(d, &it->second);
  return it->second;
}

}  // namespace

const pb::FieldDescriptor* find_field(const pb::Descriptor* d, std::string_view name) {
  const FieldIndex& index = field_index(d);
  auto pos = std::lower_bound(index.begin(), index.end(), name,
                              [](const auto& e, std::string_view n) { return e.first < n; });
  return pos != index.end() && pos->first == name ? pos->second : nullptr;
}

std::string Path::str() const {
  std::string out = parent ? parent->str() : std::string();
  if (index >= 0) return out + "[" + std::to_string(index) + "]";
  if (!out.empty() && !key.empty()) out += '.';
  return out + std::string(key);
}

bool enum_value(const pb::EnumDescriptor* e, const std::string& text, int& out) {
  if (const pb::EnumValueDescriptor* v = e->FindValueByName(text)) {
    out = v->number();
    return true;
  }
  int number;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec == std::errc() && ptr == text.data() + text.size() && e->FindValueByNumber(number)) {
    out = number;
    return true;
  }
  return false;
}

std::string enum_choices(const pb::EnumDescriptor* e) {
  std::string allowed;
  for (int i = 0; i < e->value_count(); ++i) allowed += (i ? ", " : "") + e->value(i)->name();
  return allowed;
}

}  // namespace sluice::config::tree_detail
