// JSON documents parsed with simdjson (the Kubernetes API's lists and watch
// events), and a cheap read-only view of their nodes with the interface
// tree_to_proto.h asks of a node, so API objects land in the same protobuf
// types as YAML files through the same conversion.
//
// simdjson was chosen over Boost.JSON because it is in Debian for the Boost
// 1.74 the rest of the build uses (Boost.JSON needs 1.75+) and it parses at
// several GB/s: the initial list of a large cluster (100k Pods) is most of a
// node daemon's start-up work. Its DOM keeps one document per parser; a view
// is valid while that parser holds the document.
//
// simdjson.h is large, so this header does not include it: a view holds the
// simdjson element (two words) as opaque bytes.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

class JsonView {
 public:
  JsonView() = default;

  bool defined() const { return defined_; }
  bool is_null() const;  // absent or null
  bool is_scalar() const;
  bool is_sequence() const;
  bool is_map() const;
  bool is_string() const;
  const char* kind_name() const;  // "a map", "a list", "a scalar"
  int line() const { return 0; }  // JSON from the API has no lines worth naming

  // A string's text; a number as to_chars writes it; "true"/"false"; else fallback.
  std::string str(std::string_view fallback = "") const;
  // A string without a copy; empty for anything else.
  std::string_view string_view() const;
  bool plain() const { return is_scalar() && !is_string(); }
  std::optional<bool> as_bool() const;
  std::optional<double> as_double() const;
  std::optional<int64_t> as_int() const;

  size_t size() const;  // items of a list, entries of a map
  JsonView operator[](std::string_view key) const;  // map lookup; undefined if absent

  // Visitors of entries and items (the templates below wrap them).
  using EntryFn = void (*)(void* ctx, std::string_view key, const JsonView& value);
  using ItemFn = void (*)(void* ctx, size_t index, const JsonView& item);
  void visit_entries(EntryFn fn, void* ctx) const;
  void visit_items(ItemFn fn, void* ctx) const;

 private:
  friend struct JsonViewAccess;  // json_view.cpp: makes views of simdjson elements
  alignas(8) unsigned char element_[16] = {};  // a simdjson::dom::element
  bool defined_ = false;
};

template <class F>
void for_each_entry(const JsonView& node, F&& f) {
  node.visit_entries([](void* ctx, std::string_view key, const JsonView& v) { (*static_cast<F*>(ctx))(key, 0, v); },
                     &f);
}
template <class F>
void for_each_item(const JsonView& node, F&& f) {
  node.visit_items([](void* ctx, size_t i, const JsonView& v) { (*static_cast<F*>(ctx))(i, v); }, &f);
}

// One parsed JSON text. Reusable: parse() replaces the previous document
// (and invalidates its views); the parser's buffers are kept, so parsing a
// stream of watch events allocates only when a larger one arrives.
class JsonDocument {
 public:
  JsonDocument();
  ~JsonDocument();
  JsonDocument(const JsonDocument&) = delete;
  JsonDocument& operator=(const JsonDocument&) = delete;

  // The root, or an error message ("invalid JSON: ...").
  bool parse(std::string_view text, std::string* error = nullptr);
  JsonView root() const { return root_; }
  // Gives back the parser's buffers, which stay sized for the largest
  // document so far (a page of a list: megabytes). The root is invalid.
  void release();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  JsonView root_;
};

}  // namespace sluice::config
