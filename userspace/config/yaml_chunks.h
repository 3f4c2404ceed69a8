// Splits a YAML stream into the texts of its documents, so that a reload
// parses again only the documents of a file that changed: one endpoint edit
// in a file of a hundred EndpointSlices is one document to parse, not 100.
#pragma once

#include <string_view>
#include <vector>

namespace sluice::config {

struct YamlChunk {
  std::string_view text;  // one or more whole documents
  int line_offset = 0;    // lines of the file before it
};

// Cuts before every line that starts with the document marker "---"
// (followed by the end of the line, a space or a tab). YAML ends any scalar
// or collection at such a line, so each piece parses on its own exactly as
// it does inside the whole stream. A stream with directives ("%YAML") is one
// piece: a directive belongs to the document after it. The pieces cover the
// whole text, in order.
std::vector<YamlChunk> split_yaml_documents(std::string_view text);

}  // namespace sluice::config
