// Fills a protobuf message from a YAML node: the tree conversion of
// tree_to_proto.h over libyaml's nodes. (Later semantic checks find their
// lines with Source::line_of(), resource_set.h.)
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "diagnostic.h"
#include "tree_to_proto.h"
#include "yaml_document.h"

namespace sluice::config {

using YamlToProtoOptions = TreeToProtoOptions;

// Returns false if any error was reported.
bool yaml_to_proto(const YamlView& node, google::protobuf::Message& message,
                   const std::string& path, const YamlToProtoOptions& options,
                   DiagnosticSink& sink);

inline int yaml_line(const YamlView& node) { return node.line(); }

// The iteration tree_to_proto.h asks of a node.
template <class F>
void for_each_entry(const YamlView& node, F&& f) {
  for (size_t i = 0; i < node.size(); ++i) {
    const YamlView k = node.key(i);
    f(k.scalar(), k.line(), node.value(i));
  }
}
template <class F>
void for_each_item(const YamlView& node, F&& f) {
  for (size_t i = 0; i < node.size(); ++i) f(i, node.item(i));
}

}  // namespace sluice::config
