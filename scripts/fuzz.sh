#!/usr/bin/env bash
# Runs one libFuzzer target for a while:  scripts/fuzz.sh TARGET SECONDS
# Targets: fuzz_config, fuzz_client_hello, fuzz_http1, fuzz_http2, fuzz_h2_client,
# fuzz_trace_context (test/fuzz/).
#
# Builds the fuzz build directory (clang-14, ASan + UBSan + libFuzzer,
# -DSLUICE_FUZZ=ON) if needed, then fuzzes a temporary copy of
# test/fuzz/corpus/TARGET: the committed corpus never grows. Prints the
# number of executions. A crash, leak, timeout or sanitizer report exits
# non-zero and leaves the input under $FUZZ_BUILD_DIR/fuzz-artifacts/TARGET/.
# Extra arguments go to libFuzzer (e.g. -jobs, -dict, -max_len).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer options]" >&2
  echo "targets: $(ls test/fuzz/corpus | tr '\n' ' ')" >&2
  exit 2
fi
TARGET=$1
SECS=$2
shift 2
if [ ! -d "test/fuzz/corpus/$TARGET" ]; then
  echo "fuzz.sh: unknown target '$TARGET' (no test/fuzz/corpus/$TARGET)" >&2
  exit 2
fi

FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}
if [ ! -f "$FUZZ_BUILD_DIR/build.ninja" ]; then
  CC=${FUZZ_CC:-clang-14} CXX=${FUZZ_CXX:-clang++-14} \
    cmake -S . -B "$FUZZ_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON >/dev/null
fi
cmake --build "$FUZZ_BUILD_DIR" -j "$JOBS" --target "$TARGET"

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz-$TARGET.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "test/fuzz/corpus/$TARGET" "$work/corpus"
artifacts="$PWD/$FUZZ_BUILD_DIR/fuzz-artifacts/$TARGET"
mkdir -p "$artifacts"

# A slow input is a finding too: the HTTP target bounds each connection at 3 s.
set +e
"$FUZZ_BUILD_DIR/test/fuzz/$TARGET" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" "$work/corpus" >"$work/log" 2>&1
rc=$?
set -e

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
if [ "$rc" -ne 0 ]; then
  tail -n 60 "$work/log" >&2
  echo "fuzz.sh: $TARGET FAILED (exit $rc) after ${execs:-?} executions; input(s) in $artifacts:" >&2
  ls -t "$artifacts" | head -5 | sed "s|^|  $artifacts/|" >&2
  echo "reproduce: $FUZZ_BUILD_DIR/test/fuzz/$TARGET <input>" >&2
  exit "$rc"
fi
cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1)
echo "fuzz.sh: $TARGET: ${execs:-?} executions in ${SECS}s, ${cov:-cov: ?}, no crash"
