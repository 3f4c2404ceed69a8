// What the admin API's /kubernetes shows of each watched type
// (reflector.h keeps it), without the client's Asio types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sluice::kube {

struct ReflectorStatus {
  std::string type;
  bool synced = false;
  // The API server does not serve the type (404: its CRD is not installed).
  // It counts as listed and empty, so the rest of the config applies, and
  // is listed again now and then until it appears.
  bool absent = false;
  size_t objects = 0;
  uint64_t lists = 0, watches = 0, events = 0, relists_gone = 0, failures = 0;
  std::string resource_version;
  std::string last_error;
};

// This node's Pods: those whose spec.nodeName is the node's name. They are
// the workloads whose connects this node's kernel programs see.
struct NodePods {
  std::string node_name;  // empty: not known (--node-name, $NODE_NAME)
  size_t pods = 0;
};

}  // namespace sluice::kube
