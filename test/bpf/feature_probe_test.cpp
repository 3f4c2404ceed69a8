// loader/feature_probe.h on the running kernel: each feature is probed by
// loading its real programs, and the table must agree with the floors that
// docs/kernels.md gives for this kernel's release. The kernel matrix
// (scripts/kernel-matrix.sh) runs it on every kernel it boots, so the log
// shows each kernel's table. Privileged.
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>
#include <string>

#include "feature_probe.h"
#include "privileged.h"

using namespace sluice;

namespace {

// (major, minor) of a release such as "6.1.0-57-cloud-amd64".
std::pair<int, int> release(const std::string& r) {
  int major = 0, minor = 0;
  std::sscanf(r.c_str(), "%d.%d", &major, &minor);
  return {major, minor};
}

bool at_least(const std::string& r, int major, int minor) {
  auto [ma, mi] = release(r);
  return ma > major || (ma == major && mi >= minor);
}

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) out.insert(e->d_name);
    ::closedir(d);
  }
  return out;
}

TEST(FeatureProbeTest, TheTableMatchesTheDocumentedFloors) {
  SLUICE_REQUIRE_ROOT();
  const auto start = std::chrono::steady_clock::now();
  const KernelFeatures f = probe_kernel_features();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  // What sluiced logs at start-up, for the matrix log.
  std::cout << "kernel " << f.kernel << ", probed in " << ms.count() << " ms\n";
  for (const std::string& line : f.lines()) std::cout << "  " << line << "\n";

  std::vector<std::string> names;
  for (const KernelFeature& x : f.features) names.push_back(x.name);
  EXPECT_EQ(names, (std::vector<std::string>{"socket-lb", "l7-redirect", "sockmap", "xdp", "xdp-forward"}));
  for (const KernelFeature& x : f.features) EXPECT_FALSE(x.detail.empty()) << x.name;

  const std::string& k = f.kernel;
  EXPECT_EQ(f.on(kFeatureSocketLb), at_least(k, 5, 13)) << f.find(kFeatureSocketLb)->detail;
  EXPECT_EQ(f.on(kFeatureL7Redirect), at_least(k, 5, 13)) << f.find(kFeatureL7Redirect)->detail;
  EXPECT_EQ(f.on(kFeatureSockmap), at_least(k, 5, 8)) << f.find(kFeatureSockmap)->detail;
  EXPECT_EQ(f.on(kFeatureXdp), at_least(k, 5, 2)) << f.find(kFeatureXdp)->detail;
  EXPECT_EQ(f.on(kFeatureXdpForward), at_least(k, 6, 3)) << f.find(kFeatureXdpForward)->detail;
  if (!f.on(kFeatureXdpForward) && f.on(kFeatureXdp)) {
    EXPECT_NE(f.find(kFeatureXdpForward)->detail.find("6.3"), std::string::npos) << "the reason names the release";
  }
  // Start-up cost: a few verifier runs. A program that grew past what the
  // verifier handles cheaply (a bounded loop cost 830k instructions) shows
  // here first.
  EXPECT_LT(ms.count(), 20000);
}

// The small probes that name a missing piece must not cry wolf: on a
// kernel where a feature loads, each piece its table names is there.
TEST(FeatureProbeTest, ThePiecesOfAFeatureThatLoadsAreAllFound) {
  SLUICE_REQUIRE_ROOT();
  const KernelFeatures f = probe_kernel_features();
  for (const KernelFeature& x : f.features) {
    if (!x.on) continue;
    for (const KernelNeed& n : kernel_needs(x.name)) {
      if (n.kind == KernelNeed::Kind::kLanguage) continue;
      EXPECT_EQ(probe_kernel_need(n), 1) << x.name << ": " << n.what;
    }
  }
}

// Nothing of a running sluiced is reused or touched: no map is pinned (by
// name, libbpf's default would be /sys/fs/bpf/sl_*), and every program and
// map of the trial loads is closed again. Other tests may load programs at
// the same time (the kernel matrix runs binaries side by side), so the
// check is on this process's descriptors rather than on the kernel's lists.
TEST(FeatureProbeTest, ProbingPinsNothingAndLeavesNoDescriptor) {
  SLUICE_REQUIRE_ROOT();
  auto pinned_maps = [] {
    std::set<std::string> out;
    for (const std::string& e : entries("/sys/fs/bpf")) {
      if (e.rfind("sl_", 0) == 0) out.insert(e);
    }
    return out;
  };
  const auto pins = pinned_maps();
  const auto fds = entries("/proc/self/fd");
  (void)probe_kernel_features();
  EXPECT_EQ(pinned_maps(), pins);
  EXPECT_EQ(entries("/proc/self/fd"), fds);
}

TEST(FeatureProbeTest, RequiringAFeatureThatIsOffNamesIt) {
  SLUICE_REQUIRE_ROOT();
  const KernelFeatures f = probe_kernel_features();
  for (const KernelFeature& x : f.features) {
    Status s = require_kernel_features(f, {x.name});
    EXPECT_EQ(s.ok(), x.on) << x.name;
    if (!s.ok()) {
      EXPECT_NE(s.error().message.find(x.name), std::string::npos) << s.error().message;
      EXPECT_NE(s.error().message.find(x.detail), std::string::npos) << s.error().message;
    }
  }
}

}  // namespace
