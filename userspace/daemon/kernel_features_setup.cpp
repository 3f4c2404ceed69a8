#include "kernel_features_setup.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::daemon {

std::vector<std::string_view> required_kernel_features(const DaemonOptions& o, bool l7) {
  std::vector<std::string_view> out{kFeatureSocketLb};
  if (l7) out.push_back(kFeatureL7Redirect);
  if (o.socket_redirect_given && o.socket_redirect != "off") out.push_back(kFeatureSockmap);
  if (!o.external_iface.empty()) out.push_back(kFeatureXdp);
  return out;
}

Result<KernelFeatures> check_kernel_features(const DaemonOptions& o, bool l7) {
  KernelFeatures features = probe_kernel_features();
  const std::vector<std::string_view> required = required_kernel_features(o, l7);
  for (const KernelFeature& f : features.features) {
    const bool needed = std::find(required.begin(), required.end(), f.name) != required.end();
    const std::string line = "kernel " + features.kernel + ": " + f.name + " " + (f.on ? "on" : "off") + " (" +
                             f.detail + ")" + (needed ? "" : ", optional here");
    if (f.on) {
      spdlog::info("{}", line);
    } else {
      spdlog::warn("{}", line);
    }
  }
  if (Status s = require_kernel_features(features, required); !s) return s.error();
  return features;
}

}  // namespace sluice::daemon
