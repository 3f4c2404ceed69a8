#include "yaml_to_proto.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/struct.pb.h>

#include <charconv>
#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "duration.h"

namespace sluice::config {

namespace pb = google::protobuf;

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

const pb::FieldDescriptor* find_field(const pb::Descriptor* d, std::string_view name) {
  const FieldIndex& index = field_index(d);
  auto pos = std::lower_bound(index.begin(), index.end(), name,
                              [](const auto& e, std::string_view n) { return e.first < n; });
  return pos != index.end() && pos->first == name ? pos->second : nullptr;
}

bool is_null(const YamlView& n) { return n.is_null(); }
const char* node_kind(const YamlView& n) { return n.kind_name(); }

// The field path of a node, as a chain of segments on the stack: the text
// ("spec.http[0].route") is only built when a diagnostic needs it.
struct Path {
  const Path* parent = nullptr;
  std::string_view key;  // a field or map key, or empty for a list index
  int index = -1;

  Path child(std::string_view k) const { return {this, k, -1}; }
  Path item(int i) const { return {this, {}, i}; }
  std::string str() const {
    std::string out = parent ? parent->str() : std::string();
    if (index >= 0) return out + "[" + std::to_string(index) + "]";
    if (!out.empty() && !key.empty()) out += '.';
    return out + std::string(key);
  }
};

class Converter {
 public:
  Converter(const YamlToProtoOptions& o, DiagnosticSink& s) : options_(o), sink_(s) {}

  void message(const YamlView& node, pb::Message& msg, const Path& path);

  bool ok() const { return ok_; }

 private:
  void error(const YamlView& n, const Path& path, std::string text) {
    sink_.error(yaml_line(n), path.str(), std::move(text));
    ok_ = false;
  }

  void field(const YamlView& node, pb::Message& msg, const pb::FieldDescriptor* f,
             const Path& path);
  void single(const YamlView& node, pb::Message& msg, const pb::FieldDescriptor* f,
              const Path& path);
  void map_field(const YamlView& node, pb::Message& msg, const pb::FieldDescriptor* f,
                 const Path& path);
  bool well_known(const YamlView& node, pb::Message& msg, const Path& path);
  void value(const YamlView& node, pb::Value& v, const Path& path);

  template <class T>
  bool integer(const YamlView& node, const Path& path, T& out);
  bool boolean(const YamlView& node, const Path& path, bool& out);
  bool real(const YamlView& node, const Path& path, double& out);
  bool enumeration(const YamlView& node, const pb::FieldDescriptor* f, const Path& path,
                   int& out);

  const YamlToProtoOptions& options_;
  DiagnosticSink& sink_;
  bool ok_ = true;
};

void Converter::message(const YamlView& node, pb::Message& msg, const Path& path) {
  if (is_null(node)) return;
  if (well_known(node, msg, path)) return;
  if (!node.is_map()) {
    error(node, path, std::string("expected a map, got ") + node_kind(node));
    return;
  }
  const pb::Descriptor* d = msg.GetDescriptor();
  const pb::Reflection* r = msg.GetReflection();
  for (size_t i = 0; i < node.size(); ++i) {
    const YamlView k = node.key(i);
    const YamlView v = node.value(i);
    const std::string_view key = k.scalar();
    const Path child = path.child(key);
    const pb::FieldDescriptor* f = find_field(d, key);
    if (!f) {
      if (options_.reject_unknown_fields) error(k, child, "unknown field");
      continue;
    }
    if (is_null(v)) continue;
    if (const pb::OneofDescriptor* o = f->real_containing_oneof()) {
      if (const pb::FieldDescriptor* other = r->GetOneofFieldDescriptor(msg, o); other && other != f) {
        error(k, child, "only one of '" + other->json_name() + "' and '" + f->json_name() +
                            "' may be set");
        continue;
      }
    }
    field(v, msg, f, child);
  }
}

void Converter::field(const YamlView& node, pb::Message& msg, const pb::FieldDescriptor* f,
                      const Path& path) {
  if (f->is_map()) {
    map_field(node, msg, f, path);
    return;
  }
  if (!f->is_repeated()) {
    single(node, msg, f, path);
    return;
  }
  if (!node.is_sequence()) {
    error(node, path, std::string("expected a list, got ") + node_kind(node));
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    single(node.item(i), msg, f, path.item(static_cast<int>(i)));
  }
}

void Converter::map_field(const YamlView& node, pb::Message& msg, const pb::FieldDescriptor* f,
                          const Path& path) {
  if (!node.is_map()) {
    error(node, path, std::string("expected a map, got ") + node_kind(node));
    return;
  }
  const pb::Reflection* r = msg.GetReflection();
  const pb::FieldDescriptor* key_f = f->message_type()->map_key();
  const pb::FieldDescriptor* value_f = f->message_type()->map_value();
  for (size_t i = 0; i < node.size(); ++i) {
    const YamlView k = node.key(i);
    const std::string key = k.str();
    const Path child = path.child(k.scalar());
    pb::Message* entry = r->AddMessage(&msg, f);
    if (key_f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
      error(k, child, "only string map keys are supported");
      continue;
    }
    entry->GetReflection()->SetString(entry, key_f, key);
    single(node.value(i), *entry, value_f, child);
  }
}

void Converter::single(const YamlView& node, pb::Message& msg, const pb::FieldDescriptor* f,
                       const Path& path) {
  const pb::Reflection* r = msg.GetReflection();
  const bool rep = f->is_repeated();
  using C = pb::FieldDescriptor;
  if (f->cpp_type() == C::CPPTYPE_MESSAGE) {
    pb::Message* child = rep ? r->AddMessage(&msg, f) : r->MutableMessage(&msg, f);
    message(node, *child, path);
    return;
  }
  if (!node.is_scalar()) {
    error(node, path, std::string("expected a scalar, got ") + node_kind(node));
    return;
  }
  switch (f->cpp_type()) {
    case C::CPPTYPE_STRING:
      rep ? r->AddString(&msg, f, node.str()) : r->SetString(&msg, f, node.str());
      return;
    case C::CPPTYPE_INT32: {
      int32_t v;
      if (integer(node, path, v)) rep ? r->AddInt32(&msg, f, v) : r->SetInt32(&msg, f, v);
      return;
    }
    case C::CPPTYPE_INT64: {
      int64_t v;
      if (integer(node, path, v)) rep ? r->AddInt64(&msg, f, v) : r->SetInt64(&msg, f, v);
      return;
    }
    case C::CPPTYPE_UINT32: {
      uint32_t v;
      if (integer(node, path, v)) rep ? r->AddUInt32(&msg, f, v) : r->SetUInt32(&msg, f, v);
      return;
    }
    case C::CPPTYPE_UINT64: {
      uint64_t v;
      if (integer(node, path, v)) rep ? r->AddUInt64(&msg, f, v) : r->SetUInt64(&msg, f, v);
      return;
    }
    case C::CPPTYPE_BOOL: {
      bool v;
      if (boolean(node, path, v)) rep ? r->AddBool(&msg, f, v) : r->SetBool(&msg, f, v);
      return;
    }
    case C::CPPTYPE_DOUBLE:
    case C::CPPTYPE_FLOAT: {
      double v;
      if (!real(node, path, v)) return;
      if (f->cpp_type() == C::CPPTYPE_DOUBLE) {
        rep ? r->AddDouble(&msg, f, v) : r->SetDouble(&msg, f, v);
      } else {
        rep ? r->AddFloat(&msg, f, float(v)) : r->SetFloat(&msg, f, float(v));
      }
      return;
    }
    case C::CPPTYPE_ENUM: {
      int v;
      if (enumeration(node, f, path, v)) rep ? r->AddEnumValue(&msg, f, v) : r->SetEnumValue(&msg, f, v);
      return;
    }
    default:
      error(node, path, "unsupported field type");
  }
}

bool Converter::well_known(const YamlView& node, pb::Message& msg, const Path& path) {
  const std::string& type = msg.GetDescriptor()->full_name();
  if (type == "google.protobuf.Duration") {
    auto ns = node.is_scalar() ? parse_duration_ns(node.scalar()) : std::nullopt;
    if (!ns) {
      error(node, path, "invalid duration '" + node.str() + "' (use e.g. 1.5s, 250ms, 5m)");
      return true;
    }
    auto& d = static_cast<pb::Duration&>(msg);
    d.set_seconds(*ns / 1000000000);
    d.set_nanos(static_cast<int32_t>(*ns % 1000000000));
    return true;
  }
  if (type == "google.protobuf.Value") {
    value(node, static_cast<pb::Value&>(msg), path);
    return true;
  }
  if (type.starts_with("google.protobuf.") && type.ends_with("Value") && node.is_scalar()) {
    // Wrappers (UInt32Value, BoolValue, ...) are written as their bare value.
    single(node, msg, msg.GetDescriptor()->FindFieldByName("value"), path);
    return true;
  }
  return false;
}

void Converter::value(const YamlView& node, pb::Value& v, const Path& path) {
  if (node.is_scalar()) {
    if (node.is_null()) {
      v.set_null_value(pb::NULL_VALUE);
    } else if (auto d = node.plain() ? node.as_double() : std::nullopt) {
      v.set_number_value(*d);
    } else if (auto b = node.plain() ? node.as_bool() : std::nullopt) {
      v.set_bool_value(*b);
    } else {
      v.set_string_value(node.str());
    }
    return;
  }
  if (node.is_sequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      value(node.item(i), *v.mutable_list_value()->add_values(), path.item(static_cast<int>(i)));
    }
    return;
  }
  if (node.is_map()) {
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string key = node.key(i).str();
      value(node.value(i), (*v.mutable_struct_value()->mutable_fields())[key], path.child(node.key(i).scalar()));
    }
    return;
  }
  v.set_null_value(pb::NULL_VALUE);
}

template <class T>
bool Converter::integer(const YamlView& node, const Path& path, T& out) {
  const std::string_view s = node.scalar();
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc() && ptr == s.data() + s.size()) return true;
  const std::string text(s);
  error(node, path, ec == std::errc::result_out_of_range ? "'" + text + "' is out of range"
                                                         : "expected an integer, got '" + text + "'");
  return false;
}

bool Converter::boolean(const YamlView& node, const Path& path, bool& out) {
  if (auto b = node.as_bool()) {
    out = *b;
    return true;
  }
  error(node, path, "expected true or false, got '" + node.str() + "'");
  return false;
}

bool Converter::real(const YamlView& node, const Path& path, double& out) {
  if (auto d = node.as_double()) {
    out = *d;
    return true;
  }
  error(node, path, "expected a number, got '" + node.str() + "'");
  return false;
}

bool Converter::enumeration(const YamlView& node, const pb::FieldDescriptor* f,
                            const Path& path, int& out) {
  const pb::EnumDescriptor* e = f->enum_type();
  const std::string text = node.str();
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
  std::string allowed;
  for (int i = 0; i < e->value_count(); ++i) allowed += (i ? ", " : "") + e->value(i)->name();
  error(node, path, "invalid value '" + text + "', must be one of " + allowed);
  return false;
}

}  // namespace

bool yaml_to_proto(const YamlView& node, pb::Message& message, const std::string& path,
                   const YamlToProtoOptions& options, DiagnosticSink& sink) {
  Converter c(options, sink);
  c.message(node, message, Path{nullptr, path, -1});
  return c.ok();
}

}  // namespace sluice::config
