// Gate for tests that need root (netns, cgroups, bpffs, BPF attach).
#pragma once

#include <cstdlib>
#include <cstring>

#include <unistd.h>

#include <gtest/gtest.h>

namespace sluice::test {

// CI promises to run privileged tests as root, so there a silent skip would
// hide a broken pipeline; locally a skip keeps `ctest` usable without sudo.
inline bool ci_requires_privileged() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

}  // namespace sluice::test

// Use first thing in a TEST body or in a fixture's SetUp(). Both GTEST_SKIP and
// GTEST_FAIL return from the enclosing function, so nothing after it runs; a
// derived SetUp() that calls a base SetUp() using it should check
// IsSkipped() || HasFatalFailure() before going on.
#define SLUICE_REQUIRE_ROOT()                                                   \
  do {                                                                          \
    if (::geteuid() != 0) {                                                     \
      if (::sluice::test::ci_requires_privileged()) {                           \
        GTEST_FAIL() << "privileged test needs root; under CI=true a skip is a " \
                        "failure";                                              \
      } else {                                                                  \
        GTEST_SKIP() << "privileged test needs root (euid " << ::geteuid()      \
                     << "); run as root to enable it";                          \
      }                                                                         \
    }                                                                           \
  } while (0)
