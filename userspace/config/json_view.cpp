#include "json_view.h"

#include <simdjson.h>

#include <charconv>
#include <cstring>
#include <type_traits>

namespace sluice::config {

namespace dom = simdjson::dom;

static_assert(sizeof(dom::element) <= 16 && std::is_trivially_copyable_v<dom::element>,
              "JsonView keeps a simdjson element as 16 opaque bytes");

namespace {

dom::element element_of(const unsigned char* bytes) {
  dom::element e;
  std::memcpy(static_cast<void*>(&e), bytes, sizeof e);
  return e;
}

}  // namespace

// Out of the class: the view's bytes are private, this is its one writer.
struct JsonViewAccess {
  static JsonView make(dom::element e) {
    JsonView v;
    std::memcpy(v.element_, static_cast<const void*>(&e), sizeof e);
    v.defined_ = true;
    return v;
  }
};

bool JsonView::is_null() const { return !defined_ || element_of(element_).type() == dom::element_type::NULL_VALUE; }

bool JsonView::is_map() const { return defined_ && element_of(element_).type() == dom::element_type::OBJECT; }

bool JsonView::is_sequence() const { return defined_ && element_of(element_).type() == dom::element_type::ARRAY; }

bool JsonView::is_string() const { return defined_ && element_of(element_).type() == dom::element_type::STRING; }

bool JsonView::is_scalar() const { return defined_ && !is_map() && !is_sequence(); }

const char* JsonView::kind_name() const {
  if (is_map()) return "a map";
  if (is_sequence()) return "a list";
  return "a scalar";
}

std::string_view JsonView::string_view() const {
  std::string_view s;
  if (!defined_ || element_of(element_).get_string().get(s)) return {};
  return s;
}

std::string JsonView::str(std::string_view fallback) const {
  if (!defined_) return std::string(fallback);
  const dom::element e = element_of(element_);
  char buf[32];
  switch (e.type()) {
    case dom::element_type::STRING:
      return std::string(string_view());
    case dom::element_type::INT64: {
      auto r = std::to_chars(buf, buf + sizeof buf, int64_t(e.get_int64().value_unsafe()));
      return std::string(buf, r.ptr);
    }
    case dom::element_type::UINT64: {
      auto r = std::to_chars(buf, buf + sizeof buf, uint64_t(e.get_uint64().value_unsafe()));
      return std::string(buf, r.ptr);
    }
    case dom::element_type::DOUBLE: {
      auto r = std::to_chars(buf, buf + sizeof buf, double(e.get_double().value_unsafe()));
      return std::string(buf, r.ptr);
    }
    case dom::element_type::BOOL:
      return e.get_bool().value_unsafe() ? "true" : "false";
    default:
      return std::string(fallback);
  }
}

std::optional<bool> JsonView::as_bool() const {
  bool b;
  if (!defined_ || element_of(element_).get_bool().get(b)) return std::nullopt;
  return b;
}

std::optional<double> JsonView::as_double() const {
  if (!defined_) return std::nullopt;
  const dom::element e = element_of(element_);
  double d;
  if (!e.get_double().get(d)) return d;  // simdjson widens integers too
  if (e.type() == dom::element_type::STRING) {
    // As protobuf's JSON mapping does, a number may be written as a string.
    const std::string_view s = string_view();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (!s.empty() && ec == std::errc() && ptr == s.data() + s.size()) return d;
  }
  return std::nullopt;
}

std::optional<int64_t> JsonView::as_int() const {
  int64_t i;
  if (!defined_ || element_of(element_).get_int64().get(i)) return std::nullopt;
  return i;
}

size_t JsonView::size() const {
  if (!defined_) return 0;
  const dom::element e = element_of(element_);
  if (e.type() == dom::element_type::ARRAY) return dom::array(e).size();
  if (e.type() == dom::element_type::OBJECT) return dom::object(e).size();
  return 0;
}

JsonView JsonView::operator[](std::string_view key) const {
  dom::object o;
  dom::element v;
  if (!defined_ || element_of(element_).get_object().get(o) || o.at_key(key).get(v)) return {};
  return JsonViewAccess::make(v);
}

void JsonView::visit_entries(EntryFn fn, void* ctx) const {
  dom::object o;
  if (!defined_ || element_of(element_).get_object().get(o)) return;
  for (dom::key_value_pair kv : o) fn(ctx, kv.key, JsonViewAccess::make(kv.value));
}

void JsonView::visit_items(ItemFn fn, void* ctx) const {
  dom::array a;
  if (!defined_ || element_of(element_).get_array().get(a)) return;
  size_t i = 0;
  for (dom::element item : a) fn(ctx, i++, JsonViewAccess::make(item));
}

struct JsonDocument::Impl {
  dom::parser parser;
};

JsonDocument::JsonDocument() : impl_(std::make_unique<Impl>()) {}
JsonDocument::~JsonDocument() = default;

void JsonDocument::release() {
  root_ = {};
  impl_ = std::make_unique<Impl>();
}

bool JsonDocument::parse(std::string_view text, std::string* error) {
  root_ = {};
  dom::element root;
  // parse() copies text into its padded buffer (simdjson reads past the end).
  if (auto err = impl_->parser.parse(text.data(), text.size(), true).get(root)) {
    if (error) *error = std::string("invalid JSON: ") + simdjson::error_message(err);
    return false;
  }
  root_ = JsonViewAccess::make(root);
  return true;
}

}  // namespace sluice::config
