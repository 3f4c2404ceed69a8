// The feature table of loader/feature_probe.h without a kernel: the start-up
// error, the log lines and the /ready?details JSON, the reason read out of a
// verifier log, and the needs table behind docs/kernels.md. The probe itself
// runs against the kernel in test/bpf/feature_probe_test.cpp.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "feature_probe.h"

using namespace sluice;

namespace {

KernelFeatures table() {
  KernelFeatures f;
  f.kernel = "5.10.0-33-cloud-amd64";
  f.features = {
      {"socket-lb", false, "needs helper bpf_for_each_map_elem in cgroup/sock_addr programs (Linux 5.13)"},
      {"sockmap", true, "sock_redir loaded"},
  };
  return f;
}

TEST(FeatureTableTest, RequiringAnOffFeatureNamesItTheReasonAndTheDocs) {
  Status s = require_kernel_features(table(), {kFeatureSockmap, kFeatureSocketLb});
  ASSERT_FALSE(s.ok());
  const std::string& m = s.error().message;
  EXPECT_EQ(m,
            "kernel 5.10.0-33-cloud-amd64 cannot run socket-lb: needs helper bpf_for_each_map_elem in "
            "cgroup/sock_addr programs (Linux 5.13) (kernel floors per feature: docs/kernels.md)");
}

TEST(FeatureTableTest, RequiringOnlyWhatIsOnIsFine) {
  EXPECT_TRUE(require_kernel_features(table(), {kFeatureSockmap}).ok());
  EXPECT_TRUE(require_kernel_features(table(), {}).ok());
}

TEST(FeatureTableTest, AFeatureNeverProbedCountsAsOff) {
  Status s = require_kernel_features(table(), {kFeatureXdp});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("cannot run xdp"), std::string::npos);
}

TEST(FeatureTableTest, OneLinePerFeature) {
  EXPECT_EQ(table().lines(),
            (std::vector<std::string>{
                "socket-lb: off (needs helper bpf_for_each_map_elem in cgroup/sock_addr programs (Linux 5.13))",
                "sockmap: on (sock_redir loaded)"}));
}

TEST(FeatureTableTest, JsonForReadyDetails) {
  EXPECT_EQ(table().to_json(),
            "{\"kernel\":\"5.10.0-33-cloud-amd64\",\"features\":["
            "{\"name\":\"socket-lb\",\"on\":false,\"detail\":\"needs helper bpf_for_each_map_elem in "
            "cgroup/sock_addr programs (Linux 5.13)\"},"
            "{\"name\":\"sockmap\",\"on\":true,\"detail\":\"sock_redir loaded\"}]}");
}

// The log libbpf printed when Debian's 6.1 refused sock_lb (before the
// Maglev probe was unrolled).
TEST(FeatureTableTest, TheReasonIsTheProgramAndTheVerifiersLastWord) {
  const std::string log =
      "libbpf: prog 'sl_connect4': BPF program load failed: Invalid argument\n"
      "libbpf: prog 'sl_connect4': -- BEGIN PROG LOAD LOG --\n"
      "136: for (i = 0; i < SL_MAGLEV_EJECT_PROBES; i++) {\n"
      "back-edge from insn 136 to 137\n"
      "processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
      "-- END PROG LOAD LOG --\n"
      "libbpf: prog 'sl_connect4': failed to load: -22\n"
      "libbpf: failed to load object 'sock_lb_bpf'\n";
  EXPECT_EQ(explain_refusal(log), "the kernel refused sl_connect4: back-edge from insn 136 to 137");
}

TEST(FeatureTableTest, ARefusalWithoutAVerifierLogStillSaysWhat) {
  EXPECT_EQ(explain_refusal("libbpf: prog 'sl_xdp_lb': BPF program load failed: Invalid argument\n"),
            "the kernel refused sl_xdp_lb");
  EXPECT_EQ(explain_refusal(""), "the kernel refused");
}

// docs/kernels.md gives each feature's floor as the newest piece it needs.
TEST(FeatureTableTest, EachFeaturesFloorIsItsNewestPiece) {
  auto floor = [](std::string_view feature) {
    std::pair<int, int> newest{0, 0};
    for (const KernelNeed& n : kernel_needs(feature)) {
      EXPECT_TRUE(std::regex_match(std::string(n.since), std::regex(R"(\d+\.\d+)"))) << n.what;
      EXPECT_FALSE(n.what.empty());
      int major = 0, minor = 0;
      std::sscanf(std::string(n.since).c_str(), "%d.%d", &major, &minor);
      newest = std::max(newest, std::pair{major, minor});
    }
    return std::to_string(newest.first) + "." + std::to_string(newest.second);
  };
  EXPECT_EQ(floor(kFeatureSocketLb), "5.13");
  EXPECT_EQ(floor(kFeatureL7Redirect), "5.10");  // its own pieces, on top of socket-lb's
  EXPECT_EQ(floor(kFeatureSockmap), "5.8");
  EXPECT_EQ(floor(kFeatureXdp), "5.2");
  EXPECT_EQ(floor(kFeatureXdpForward), "6.3");  // on top of xdp's
  EXPECT_TRUE(kernel_needs("no-such-feature").empty());
}

}  // namespace
