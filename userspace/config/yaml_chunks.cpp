#include "yaml_chunks.h"

namespace sluice::config {

namespace {

bool is_document_marker(std::string_view line) {
  return line.starts_with("---") && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

}  // namespace

std::vector<YamlChunk> split_yaml_documents(std::string_view text) {
  std::vector<YamlChunk> out;
  size_t start = 0;  // of the current piece
  int start_line = 0;
  int line = 0;
  for (size_t pos = 0; pos < text.size(); ++line) {
    size_t eol = text.find('\n', pos);
    const size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    const std::string_view content = text.substr(pos, (eol == std::string_view::npos ? text.size() : eol) - pos);
    if (content.starts_with('%')) return {{text, 0}};
    if (pos > start && is_document_marker(content)) {
      out.push_back({text.substr(start, pos - start), start_line});
      start = pos;
      start_line = line;
    }
    pos = next;
  }
  if (start < text.size() || out.empty()) out.push_back({text.substr(start), start_line});
  return out;
}

}  // namespace sluice::config
