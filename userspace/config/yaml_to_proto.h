// Fills a protobuf message from a YAML node, driven by the message's
// descriptor. Field names are the proto3 JSON names (Istio's YAML names; the
// proto names are accepted too). Every problem is reported with its line and
// field path. (Later semantic checks find their lines with Source::line_of(),
// resource_set.h.)
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "diagnostic.h"
#include "yaml_document.h"

namespace sluice::config {

struct YamlToProtoOptions {
  // Unknown fields are errors for Istio resources. Kubernetes objects from
  // `kubectl get -o yaml` carry many fields a mesh does not read, so they
  // are parsed leniently.
  bool reject_unknown_fields = true;
};

// Returns false if any error was reported.
bool yaml_to_proto(const YamlView& node, google::protobuf::Message& message,
                   const std::string& path, const YamlToProtoOptions& options,
                   DiagnosticSink& sink);

inline int yaml_line(const YamlView& node) { return node.line(); }

}  // namespace sluice::config
