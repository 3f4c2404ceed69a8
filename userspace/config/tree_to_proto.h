// The one conversion from a parsed document tree to a protobuf message,
// driven by the message's descriptor. YAML files (yaml_to_proto.h) and the
// Kubernetes API's JSON (json_view.h) both land in the same protobuf types
// through it, so a field is mapped in exactly one place.
//
// A Node is a cheap read-only view of one node of a tree, with:
//   bool is_null(), is_map(), is_sequence(), is_scalar();
//   const char* kind_name();  // "a map", "a list", "a scalar"
//   int line();               // 1-based, 0 when the source has no lines
//   std::string str();        // a scalar's text (a JSON number as written by to_chars)
//   bool plain();             // an unquoted scalar (a JSON number, bool or null)
//   std::optional<bool> as_bool();  std::optional<double> as_double();
// and two free functions found by overload resolution:
//   for_each_entry(node, f)  calls f(std::string_view key, int key_line, Node value)
//   for_each_item(node, f)   calls f(size_t index, Node item)
//
// Field names are the proto3 JSON names (Istio's and Kubernetes' names); the
// proto names are accepted too. Every problem is reported with its line and
// field path.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>

#include <charconv>
#include <string>
#include <string_view>

#include "diagnostic.h"
#include "duration.h"

namespace sluice::config {

struct TreeToProtoOptions {
  // Unknown fields are errors for Istio resources. Kubernetes objects carry
  // many fields a mesh does not read, so they are parsed leniently.
  bool reject_unknown_fields = true;
};

namespace tree_detail {

namespace pb = google::protobuf;

// The field of d with this JSON or proto name, or null.
const pb::FieldDescriptor* find_field(const pb::Descriptor* d, std::string_view name);

// The field path of a node, as a chain of segments on the stack: the text
// ("spec.http[0].route") is only built when a diagnostic needs it.
struct Path {
  const Path* parent = nullptr;
  std::string_view key;  // a field or map key, or empty for a list index
  int index = -1;

  Path child(std::string_view k) const { return {this, k, -1}; }
  Path item(int i) const { return {this, {}, i}; }
  std::string str() const;
};

// "invalid value 'X', must be one of A, B, C"; nullopt-free lookup of an
// enum value by name or number.
bool enum_value(const pb::EnumDescriptor* e, const std::string& text, int& out);
std::string enum_choices(const pb::EnumDescriptor* e);

template <class Node>
class Converter {
 public:
  Converter(const TreeToProtoOptions& o, DiagnosticSink& s) : options_(o), sink_(s) {}

  void message(const Node& node, pb::Message& msg, const Path& path) {
    if (node.is_null()) return;
    if (well_known(node, msg, path)) return;
    if (!node.is_map()) {
      error(node.line(), path, std::string("expected a map, got ") + node.kind_name());
      return;
    }
    const pb::Descriptor* d = msg.GetDescriptor();
    const pb::Reflection* r = msg.GetReflection();
    for_each_entry(node, [&](std::string_view key, int key_line, const Node& v) {
      const Path child = path.child(key);
      const pb::FieldDescriptor* f = find_field(d, key);
      if (!f) {
        if (options_.reject_unknown_fields) error(key_line, child, "unknown field");
        return;
      }
      if (v.is_null()) return;
      if (const pb::OneofDescriptor* o = f->real_containing_oneof()) {
        if (const pb::FieldDescriptor* other = r->GetOneofFieldDescriptor(msg, o); other && other != f) {
          error(key_line, child, "only one of '" + other->json_name() + "' and '" + f->json_name() + "' may be set");
          return;
        }
      }
      field(v, msg, f, child);
    });
  }

  bool ok() const { return ok_; }

 private:
  void error(int line, const Path& path, std::string text) {
    sink_.error(line, path.str(), std::move(text));
    ok_ = false;
  }

  void field(const Node& node, pb::Message& msg, const pb::FieldDescriptor* f, const Path& path) {
    if (f->is_map()) {
      map_field(node, msg, f, path);
      return;
    }
    if (!f->is_repeated()) {
      single(node, msg, f, path);
      return;
    }
    if (!node.is_sequence()) {
      error(node.line(), path, std::string("expected a list, got ") + node.kind_name());
      return;
    }
    for_each_item(node, [&](size_t i, const Node& item) { single(item, msg, f, path.item(static_cast<int>(i))); });
  }

  void map_field(const Node& node, pb::Message& msg, const pb::FieldDescriptor* f, const Path& path) {
    if (!node.is_map()) {
      error(node.line(), path, std::string("expected a map, got ") + node.kind_name());
      return;
    }
    const pb::Reflection* r = msg.GetReflection();
    const pb::FieldDescriptor* key_f = f->message_type()->map_key();
    const pb::FieldDescriptor* value_f = f->message_type()->map_value();
    for_each_entry(node, [&](std::string_view key, int key_line, const Node& v) {
      const Path child = path.child(key);
      if (key_f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
        error(key_line, child, "only string map keys are supported");
        return;
      }
      pb::Message* entry = r->AddMessage(&msg, f);
      entry->GetReflection()->SetString(entry, key_f, std::string(key));
      single(v, *entry, value_f, child);
    });
  }

  void single(const Node& node, pb::Message& msg, const pb::FieldDescriptor* f, const Path& path) {
    const pb::Reflection* r = msg.GetReflection();
    const bool rep = f->is_repeated();
    using C = pb::FieldDescriptor;
    if (f->cpp_type() == C::CPPTYPE_MESSAGE) {
      pb::Message* child = rep ? r->AddMessage(&msg, f) : r->MutableMessage(&msg, f);
      message(node, *child, path);
      return;
    }
    if (!node.is_scalar()) {
      error(node.line(), path, std::string("expected a scalar, got ") + node.kind_name());
      return;
    }
    switch (f->cpp_type()) {
      case C::CPPTYPE_STRING:
        rep ? r->AddString(&msg, f, node.str()) : r->SetString(&msg, f, node.str());
        return;
      case C::CPPTYPE_INT32:
        if (int32_t v; integer(node, path, v)) rep ? r->AddInt32(&msg, f, v) : r->SetInt32(&msg, f, v);
        return;
      case C::CPPTYPE_INT64:
        if (int64_t v; integer(node, path, v)) rep ? r->AddInt64(&msg, f, v) : r->SetInt64(&msg, f, v);
        return;
      case C::CPPTYPE_UINT32:
        if (uint32_t v; integer(node, path, v)) rep ? r->AddUInt32(&msg, f, v) : r->SetUInt32(&msg, f, v);
        return;
      case C::CPPTYPE_UINT64:
        if (uint64_t v; integer(node, path, v)) rep ? r->AddUInt64(&msg, f, v) : r->SetUInt64(&msg, f, v);
        return;
      case C::CPPTYPE_BOOL:
        if (bool v; boolean(node, path, v)) rep ? r->AddBool(&msg, f, v) : r->SetBool(&msg, f, v);
        return;
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
        const std::string text = node.str();
        if (enum_value(f->enum_type(), text, v)) {
          rep ? r->AddEnumValue(&msg, f, v) : r->SetEnumValue(&msg, f, v);
        } else {
          error(node.line(), path, "invalid value '" + text + "', must be one of " + enum_choices(f->enum_type()));
        }
        return;
      }
      default:
        error(node.line(), path, "unsupported field type");
    }
  }

  bool well_known(const Node& node, pb::Message& msg, const Path& path) {
    const std::string& type = msg.GetDescriptor()->full_name();
    if (type == "google.protobuf.Duration") {
      const std::string text = node.is_scalar() ? node.str() : std::string();
      auto ns = node.is_scalar() ? parse_duration_ns(text) : std::nullopt;
      if (!ns) {
        error(node.line(), path, "invalid duration '" + text + "' (use e.g. 1.5s, 250ms, 5m)");
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

  void value(const Node& node, pb::Value& v, const Path& path) {
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
      for_each_item(node, [&](size_t i, const Node& item) {
        value(item, *v.mutable_list_value()->add_values(), path.item(static_cast<int>(i)));
      });
      return;
    }
    if (node.is_map()) {
      for_each_entry(node, [&](std::string_view key, int, const Node& item) {
        value(item, (*v.mutable_struct_value()->mutable_fields())[std::string(key)], path.child(key));
      });
      return;
    }
    v.set_null_value(pb::NULL_VALUE);
  }

  template <class T>
  bool integer(const Node& node, const Path& path, T& out) {
    const std::string s = node.str();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && ptr == s.data() + s.size()) return true;
    error(node.line(), path,
          ec == std::errc::result_out_of_range ? "'" + s + "' is out of range" : "expected an integer, got '" + s + "'");
    return false;
  }

  bool boolean(const Node& node, const Path& path, bool& out) {
    if (auto b = node.as_bool()) {
      out = *b;
      return true;
    }
    error(node.line(), path, "expected true or false, got '" + node.str() + "'");
    return false;
  }

  bool real(const Node& node, const Path& path, double& out) {
    if (auto d = node.as_double()) {
      out = *d;
      return true;
    }
    error(node.line(), path, "expected a number, got '" + node.str() + "'");
    return false;
  }

  const TreeToProtoOptions& options_;
  DiagnosticSink& sink_;
  bool ok_ = true;
};

}  // namespace tree_detail

// Fills message from node; returns false if any error was reported.
template <class Node>
bool tree_to_proto(const Node& node, google::protobuf::Message& message, const std::string& path,
                   const TreeToProtoOptions& options, DiagnosticSink& sink) {
  tree_detail::Converter<Node> c(options, sink);
  c.message(node, message, tree_detail::Path{nullptr, path, -1});
  return c.ok();
}

}  // namespace sluice::config
