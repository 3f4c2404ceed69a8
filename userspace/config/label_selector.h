// Kubernetes equality-based label selection, as Service.spec.selector and
// Istio's workloadSelector use it.
#pragma once

#include <google/protobuf/map.h>

#include <map>
#include <string>

namespace sluice::config {

// True if labels hold every key of selector with the same value (an empty
// selector matches everything).
inline bool selector_matches(const google::protobuf::Map<std::string, std::string>& selector,
                             const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace sluice::config
