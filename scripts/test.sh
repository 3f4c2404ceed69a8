#!/usr/bin/env bash
# Builds everything and runs the whole ctest suite.
# Privileged tests (ctest label "privileged": BPF and netns) need root. Without
# root they skip with a message, except under CI=true, where a skip fails.
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit or -R SockLb.
# After ctest, each fuzz target (test/fuzz) runs FUZZ_SECONDS (default 15)
# through scripts/fuzz.sh, in its own build directory; a crash fails the run.
# FUZZ_SECONDS=0 skips them. Under CI=true, compiler warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}

WERROR=OFF
if [ "${CI:-}" = "true" ]; then WERROR=ON; fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DSLUICE_WERROR="$WERROR" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "test.sh: CI=true but not running as root: privileged tests cannot run, and a skip is a failure here" >&2
    exit 1
  fi
  echo "test.sh: not root: tests labelled 'privileged' will be skipped (run as root to include them)" >&2
fi

ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 300 "$@"

# Kernel matrix (docs/kernels.md): the bpf tier on Debian's 6.1 under qemu
# and on this kernel, when SLUICE_KERNEL_MATRIX=1 (.ci/run sets it). Needs
# root; bounded by the script's own timeouts.
if [ "${SLUICE_KERNEL_MATRIX:-0}" = "1" ]; then
  BUILD_DIR="$BUILD_DIR" scripts/kernel-matrix.sh
fi

FUZZ_SECONDS=${FUZZ_SECONDS:-15}
if [ "$FUZZ_SECONDS" != "0" ]; then
  for target in fuzz_config fuzz_client_hello fuzz_http1 fuzz_http2 fuzz_h2_client fuzz_trace_context; do
    scripts/fuzz.sh "$target" "$FUZZ_SECONDS"
  done
fi
