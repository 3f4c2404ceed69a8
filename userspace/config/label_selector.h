// Kubernetes equality-based label selection, as Service.spec.selector and
// Istio's workloadSelector use it.
#pragma once

#include <google/protobuf/map.h>

#include <map>
#include <string>

namespace sluice::config {

// True if labels hold every key of selector with the same value (an empty
// selector matches everything).
template <class LabelMap>  // config::Labels, or a std::map of flags
bool selector_matches(const google::protobuf::Map<std::string, std::string>& selector, const LabelMap& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace sluice::config
