// scripts/demo.sh end to end: the whole walkthrough passes (no step fails),
// twice in a row, and nothing of it is left behind: no netns, cgroup, pins,
// resolver files, state directory or process of its prefix. Privileged.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "node_sim.h"
#include "privileged.h"

namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string output;
};

RunResult run(const std::string& cmd) {
  RunResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// "sl" + 6 hex, as node_sim.sh wants; its own, so the demo can run next to
// a user's (prefix sldec0de) and other tests.
std::string demo_prefix() {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof buf, "sl%06x", rd() & 0xffffff);
  return buf;
}

// Everything of the prefix that the demo could leave behind.
std::string leftovers(const std::string& prefix) {
  std::string left;
  const std::string netns = run("ip netns list").output;
  if (netns.find(prefix + "-") != std::string::npos) left += "netns; ";
  for (const std::string& path : {"/sys/fs/cgroup/unified/" + prefix, "/sys/fs/bpf/" + prefix,
                                 "/run/sluice-demo/" + prefix, "/etc/netns/" + prefix + "-p1"}) {
    if (fs::exists(path)) left += path + "; ";
  }
  // A process still using the demo's files (sluiced, dnsmasq, echo pods).
  // "[/]": the shell running pgrep must not match its own command line.
  if (run("pgrep -f '[/]run/sluice-demo/" + prefix + "'").exit_code == 0) left += "processes; ";
  return left;
}

TEST(Demo, WalkthroughPassesTwiceAndLeavesNothingBehind) {
  SLUICE_REQUIRE_ROOT();
  const std::string prefix = demo_prefix();
  const std::string script = fs::path(sluice::test::NodeSim::script_path()).parent_path() / "demo.sh";
  const std::string cmd = "SLUICE_DEMO_PREFIX=" + prefix + " BUILD_DIR=" + SLUICE_BUILD_DIR + " " + script +
                          " --no-build </dev/null";
  for (int round = 1; round <= 2; ++round) {
    const RunResult r = run(cmd);
    EXPECT_EQ(r.exit_code, 0) << "round " << round << ":\n" << r.output;
    EXPECT_NE(r.output.find("failed 0,"), std::string::npos) << r.output;
    // Steps whose feature has landed must pass, not skip.
    for (const char* step : {"1 installed", "2 routing", "3 outliers", "4 circuit breaker", "5a metrics", "5b sluicectl top", "5c graph page",
                             "6 faults", "7 mirroring", "8 egress", "8b TLS origination", "9 policy",
                             "9b kernel policy"}) {
      std::string row = std::string("  ") + step;
      row.resize(2 + 20, ' ');  // the summary's column
      EXPECT_NE(r.output.find(row + " passed"), std::string::npos) << step;
    }
    EXPECT_EQ(leftovers(prefix), "") << "round " << round;
    if (HasFailure()) {
      run("SLUICE_DEMO_PREFIX=" + prefix + " " + script + " down");  // best effort
      break;
    }
  }
}

}  // namespace
