// YAML documents parsed with libyaml, and a cheap read-only view of their
// nodes. libyaml is several times faster than yaml-cpp on large configs and
// allocates far less, which matters for a mesh of 10k services.
#pragma once

#include <yaml.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

class YamlView {
 public:
  YamlView() = default;
  YamlView(yaml_document_t* doc, yaml_node_t* node) : doc_(doc), node_(node) {}

  bool defined() const { return node_ != nullptr; }
  bool is_null() const;  // absent, empty, "~" or "null"
  bool is_scalar() const { return node_ && node_->type == YAML_SCALAR_NODE; }
  bool is_sequence() const { return node_ && node_->type == YAML_SEQUENCE_NODE; }
  bool is_map() const { return node_ && node_->type == YAML_MAPPING_NODE; }
  const char* kind_name() const;  // "a map", "a list", "a scalar"

  std::string_view scalar() const;
  bool plain() const;  // an unquoted scalar (so "80" quoted stays a string)
  int line() const { return node_ ? static_cast<int>(node_->start_mark.line) + 1 : 0; }

  size_t size() const;               // items of a sequence, entries of a map
  YamlView item(size_t i) const;     // sequence item
  YamlView key(size_t i) const;      // map entry i
  YamlView value(size_t i) const;
  YamlView operator[](std::string_view key) const;  // map lookup; undefined if absent
  std::string str(std::string_view fallback = "") const;  // scalar as a string

  std::optional<bool> as_bool() const;
  std::optional<double> as_double() const;

  // This node and what is below it as a YAML document of its own, with the
  // scalars' quoting kept (so "80" stays a string and 80 a number).
  std::string emit() const;

 private:
  yaml_document_t* doc_ = nullptr;
  yaml_node_t* node_ = nullptr;
};

// All documents of one YAML text.
class YamlStream {
 public:
  // Parses text. On a syntax error, error() is set with its line, and the
  // documents before it are kept.
  explicit YamlStream(std::string_view text);
  ~YamlStream();
  YamlStream(const YamlStream&) = delete;
  YamlStream& operator=(const YamlStream&) = delete;

  size_t size() const { return docs_.size(); }
  YamlView root(size_t i) const;
  const std::string& error() const { return error_; }
  int error_line() const { return error_line_; }

 private:
  std::vector<std::unique_ptr<yaml_document_t>> docs_;
  std::string error_;
  int error_line_ = 0;
};

}  // namespace sluice::config
