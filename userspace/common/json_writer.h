// A small streaming JSON builder for the admin API. It places commas and
// colons itself, so callers write objects in the order they want them shown
// and never build an intermediate tree.
//
//   JsonWriter w;
//   w.begin_object();
//   w.key("version").value(uint64_t{3});
//   w.key("services").begin_array().value("a").value("b").end_array();
//   w.end_object();
//   std::string s = w.str();  // {"version":3,"services":["a","b"]}
//
// Strings are taken as UTF-8 and copied byte for byte, except for the
// characters JSON requires to be escaped.
#pragma once

#include <cassert>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  // Must be followed by exactly one value (or a nested object/array).
  JsonWriter& key(std::string_view k) {
    assert(!first_.empty() && !after_key_);
    separate();
    append_string(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }

  JsonWriter& value(std::string_view s) {
    separate();
    append_string(s);
    return *this;
  }
  // Without this overload a string literal would convert to bool.
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }

  JsonWriter& value(bool b) {
    separate();
    out_ += b ? "true" : "false";
    return *this;
  }

  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
  JsonWriter& value(T n) {
    separate();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    out_.append(buf, r.ptr);
    return *this;
  }

  // NaN and infinities have no JSON form; they are written as null.
  JsonWriter& value(double d) {
    separate();
    if (!std::isfinite(d)) {
      out_ += "null";
      return *this;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
    out_.append(buf, r.ptr);
    return *this;
  }

  JsonWriter& null() {
    separate();
    out_ += "null";
    return *this;
  }

  // Inserts already-serialised JSON (e.g. a cached dump) as one value.
  JsonWriter& raw(std::string_view json) {
    separate();
    out_ += json;
    return *this;
  }

  // The document so far; complete once every container is closed.
  const std::string& str() const& { return out_; }
  std::string str() && { return std::move(out_); }

  static std::string escape(std::string_view s) {
    JsonWriter w;
    w.append_string(s);
    return std::move(w.out_);
  }

 private:
  JsonWriter& open(char c) {
    separate();
    out_ += c;
    first_.push_back(true);
    return *this;
  }

  JsonWriter& close(char c) {
    assert(!first_.empty() && !after_key_);
    first_.pop_back();
    out_ += c;
    return *this;
  }

  // Emits the comma between siblings; a value right after its key needs none.
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }

  void append_string(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_ += '"';
    for (char ch : s) {
      auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            out_ += "\\u00";
            out_ += kHex[c >> 4];
            out_ += kHex[c & 0xf];
          } else {
            out_ += ch;
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace sluice
