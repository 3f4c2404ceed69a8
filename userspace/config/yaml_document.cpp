#include "yaml_document.h"

#include <charconv>
#include <cstring>
#include <optional>

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

namespace {

// Copies node `from` of `src` into `to`; returns its id there (0 on failure).
int copy_node(yaml_document_t* src, yaml_node_t* from, yaml_document_t* to) {
  switch (from->type) {
    case YAML_SCALAR_NODE:
      return yaml_document_add_scalar(to, from->tag, from->data.scalar.value, static_cast<int>(from->data.scalar.length),
                                      from->data.scalar.style);
    case YAML_SEQUENCE_NODE: {
      const int seq = yaml_document_add_sequence(to, from->tag, from->data.sequence.style);
      for (yaml_node_item_t* i = from->data.sequence.items.start; seq && i < from->data.sequence.items.top; ++i) {
        const int item = copy_node(src, yaml_document_get_node(src, *i), to);
        if (!item || !yaml_document_append_sequence_item(to, seq, item)) return 0;
      }
      return seq;
    }
    case YAML_MAPPING_NODE: {
      const int map = yaml_document_add_mapping(to, from->tag, from->data.mapping.style);
      for (yaml_node_pair_t* p = from->data.mapping.pairs.start; map && p < from->data.mapping.pairs.top; ++p) {
        const int key = copy_node(src, yaml_document_get_node(src, p->key), to);
        const int value = key ? copy_node(src, yaml_document_get_node(src, p->value), to) : 0;
        if (!value || !yaml_document_append_mapping_pair(to, map, key, value)) return 0;
      }
      return map;
    }
    default:
      return 0;
  }
}

int append_output(void* data, unsigned char* buffer, size_t size) {
  static_cast<std::string*>(data)->append(reinterpret_cast<const char*>(buffer), size);
  return 1;
}

// libyaml implements YAML 1.1, where a plain scalar inside a flow
// collection may not hold a ':' followed by ',', ']' or '}' (it stops with
// "found unexpected ':'"). YAML 1.2, and Go's YAML parser that Kubernetes
// uses, end the scalar at the flow indicator instead, so that
// `addresses: [1.2.3.4, 2001:db8::]` is two addresses. libyaml reports where
// the scalar starts and where the ':' is; the scalar is quoted there and the
// text parsed again. A scalar that has a ':' is never a number, a boolean or
// null, so quoting it keeps its value; it stays on its line, so every line
// number stays the same. libyaml's own tokenizer decides what is a flow
// collection, a comment or a block scalar, so nothing else is touched.
//
// Marks count characters, not bytes (and not a leading byte-order mark).
size_t byte_offset(std::string_view text, size_t characters) {
  size_t pos = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  for (size_t seen = 0; pos < text.size(); ++pos) {
    // A UTF-8 continuation byte (10xxxxxx) belongs to the character before it.
    if ((static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) continue;
    if (seen++ == characters) return pos;
  }
  return pos;
}

// The text with the plain scalar that libyaml rejected single-quoted, or
// nothing if the error is another one.
std::optional<std::string> quote_flow_scalar(std::string_view text, const yaml_parser_t& parser) {
  if (!parser.problem || std::strcmp(parser.problem, "found unexpected ':'") != 0 || !parser.context ||
      std::strcmp(parser.context, "while scanning a plain scalar") != 0) {
    return std::nullopt;
  }
  const size_t start = byte_offset(text, parser.context_mark.index);
  const size_t colon = byte_offset(text, parser.problem_mark.index);
  if (colon >= text.size() || text[colon] != ':' || start > colon || colon + 1 >= text.size()) return std::nullopt;
  const char next = text[colon + 1];
  if (next != ',' && next != ']' && next != '}') return std::nullopt;  // '[', '{', '?' start something else
  const std::string_view scalar = text.substr(start, colon + 1 - start);
  if (scalar.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;  // a folded multi-line scalar
  std::string out(text.substr(0, start));
  out += '\'';
  for (char c : scalar) {
    out += c;
    if (c == '\'') out += '\'';  // '' is a quote inside single quotes
  }
  out += '\'';
  out += text.substr(colon + 1);
  return out;
}

}  // namespace

std::string YamlView::emit() const {
  if (!node_) return {};
  yaml_document_t out;
  if (!yaml_document_initialize(&out, nullptr, nullptr, nullptr, 1, 1)) return {};
  if (!copy_node(doc_, node_, &out)) {
    yaml_document_delete(&out);
    return {};
  }
  std::string text;
  yaml_emitter_t emitter;
  yaml_emitter_initialize(&emitter);
  yaml_emitter_set_output(&emitter, append_output, &text);
  yaml_emitter_set_unicode(&emitter, 1);
  yaml_emitter_set_width(&emitter, -1);  // no folding of long lines
  bool ok = yaml_emitter_open(&emitter);
  if (ok) {
    ok = yaml_emitter_dump(&emitter, &out);  // which deletes `out`, also on failure
  } else {
    yaml_document_delete(&out);
  }
  ok = ok && yaml_emitter_close(&emitter) && yaml_emitter_flush(&emitter);
  yaml_emitter_delete(&emitter);
  return ok ? text : std::string();
}

YamlStream::YamlStream(std::string_view text) {
  // Each rewrite quotes one scalar, so there are fewer than there are ':'.
  std::string rewritten;
  for (size_t rewrites = 0;; ++rewrites) {
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    bool failed = false;
    for (;;) {
      auto doc = std::make_unique<yaml_document_t>();
      if (!yaml_parser_load(&parser, doc.get())) {
        failed = true;
        break;
      }
      if (!yaml_document_get_root_node(doc.get())) {  // end of stream
        yaml_document_delete(doc.get());
        break;
      }
      docs_.push_back(std::move(doc));
    }
    std::optional<std::string> quoted;
    if (failed && rewrites < text.size()) quoted = quote_flow_scalar(text, parser);
    if (failed && !quoted) {
      error_ = parser.problem ? parser.problem : "invalid YAML";
      if (parser.context) error_ = std::string(parser.context) + ": " + error_;
      error_line_ = static_cast<int>(parser.problem_mark.line) + 1;
    }
    yaml_parser_delete(&parser);
    if (!quoted) break;
    for (auto& d : docs_) yaml_document_delete(d.get());
    docs_.clear();
    rewritten = std::move(*quoted);
    text = rewritten;
  }
}

YamlStream::~YamlStream() {
  for (auto& d : docs_) yaml_document_delete(d.get());
}

YamlView YamlStream::root(size_t i) const {
  return {docs_[i].get(), yaml_document_get_root_node(docs_[i].get())};
}

}  // namespace sluice::config
