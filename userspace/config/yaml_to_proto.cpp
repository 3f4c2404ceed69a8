#include "yaml_to_proto.h"

namespace sluice::config {

bool yaml_to_proto(const YamlView& node, google::protobuf::Message& message, const std::string& path,
                   const YamlToProtoOptions& options, DiagnosticSink& sink) {
  return tree_to_proto(node, message, path, options, sink);
}

}  // namespace sluice::config
