#include "yaml_document.h"

#include <charconv>
#include <cstring>

namespace sluice::config {

bool YamlView::is_null() const {
  if (!node_) return true;
  if (node_->type != YAML_SCALAR_NODE || !plain()) return false;
  std::string_view s = scalar();
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

const char* YamlView::kind_name() const {
  if (is_map()) return "a map";
  if (is_sequence()) return "a list";
  return "a scalar";
}

std::string_view YamlView::scalar() const {
  if (!is_scalar()) return {};
  return {reinterpret_cast<const char*>(node_->data.scalar.value), node_->data.scalar.length};
}

bool YamlView::plain() const { return is_scalar() && node_->data.scalar.style == YAML_PLAIN_SCALAR_STYLE; }

size_t YamlView::size() const {
  if (is_sequence()) return static_cast<size_t>(node_->data.sequence.items.top - node_->data.sequence.items.start);
  if (is_map()) return static_cast<size_t>(node_->data.mapping.pairs.top - node_->data.mapping.pairs.start);
  return 0;
}

YamlView YamlView::item(size_t i) const {
  if (!is_sequence() || i >= size()) return {};
  return {doc_, yaml_document_get_node(doc_, node_->data.sequence.items.start[i])};
}

YamlView YamlView::key(size_t i) const {
  if (!is_map() || i >= size()) return {};
  return {doc_, yaml_document_get_node(doc_, node_->data.mapping.pairs.start[i].key)};
}

YamlView YamlView::value(size_t i) const {
  if (!is_map() || i >= size()) return {};
  return {doc_, yaml_document_get_node(doc_, node_->data.mapping.pairs.start[i].value)};
}

YamlView YamlView::operator[](std::string_view k) const {
  for (size_t i = 0, n = size(); is_map() && i < n; ++i) {
    if (key(i).scalar() == k) return value(i);
  }
  return {};
}

std::string YamlView::str(std::string_view fallback) const {
  return std::string(is_scalar() ? scalar() : fallback);
}

std::optional<bool> YamlView::as_bool() const {
  // YAML 1.1's booleans, as Kubernetes' parser accepts them.
  static constexpr std::string_view kTrue[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static constexpr std::string_view kFalse[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  const std::string_view s = scalar();
  for (std::string_view t : kTrue) {
    if (s == t) return true;
  }
  for (std::string_view f : kFalse) {
    if (s == f) return false;
  }
  return std::nullopt;
}

std::optional<double> YamlView::as_double() const {
  const std::string_view s = scalar();
  double d = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return d;
}

YamlStream::YamlStream(std::string_view text) {
  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  for (;;) {
    auto doc = std::make_unique<yaml_document_t>();
    if (!yaml_parser_load(&parser, doc.get())) {
      error_ = parser.problem ? parser.problem : "invalid YAML";
      if (parser.context) error_ = std::string(parser.context) + ": " + error_;
      error_line_ = static_cast<int>(parser.problem_mark.line) + 1;
      break;
    }
    if (!yaml_document_get_root_node(doc.get())) {  // end of stream
      yaml_document_delete(doc.get());
      break;
    }
    docs_.push_back(std::move(doc));
  }
  yaml_parser_delete(&parser);
}

YamlStream::~YamlStream() {
  for (auto& d : docs_) yaml_document_delete(d.get());
}

YamlView YamlStream::root(size_t i) const {
  return {docs_[i].get(), yaml_document_get_root_node(docs_[i].get())};
}

}  // namespace sluice::config
