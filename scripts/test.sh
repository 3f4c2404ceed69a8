#!/usr/bin/env bash
# Builds everything and runs the whole ctest suite.
# Privileged tests (ctest label "privileged": BPF and netns) need root. Without
# root they skip with a message, except under CI=true, where a skip fails.
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit or -R SockLb.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"

if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "test.sh: CI=true but not running as root: privileged tests cannot run, and a skip is a failure here" >&2
    exit 1
  fi
  echo "test.sh: not root: tests labelled 'privileged' will be skipped (run as root to include them)" >&2
fi

ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout 300 "$@"
