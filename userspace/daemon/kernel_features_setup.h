// The start-up step that probes the running kernel (loader/feature_probe.h):
// one log line per feature, and a clear refusal to start, naming the feature,
// when this configuration needs one the kernel lacks. Never a crash loop with
// only a verifier log to read. docs/kernels.md has the floors.
#pragma once

#include <string_view>
#include <vector>

#include "daemon_options.h"
#include "feature_probe.h"
#include "result.h"

namespace sluice::daemon {

// The features these options cannot do without. Socket redirection in its
// default mode and the XDP forward path are optimisations: a kernel without
// them falls back to the stack, with a warning.
std::vector<std::string_view> required_kernel_features(const DaemonOptions& o, bool l7);

Result<KernelFeatures> check_kernel_features(const DaemonOptions& o, bool l7);

}  // namespace sluice::daemon
