#!/usr/bin/env bash
# Restart benchmark (issue 19, docs/operations.md): what clients see when
# sluiced stops, crashes or is upgraded on a simulated node. The scenarios
# are the e2e tests of test/e2e/restart_test.cpp, run RUNS times each; their
# counts are read from what the tests print:
#   - term: SIGTERM under 20 busy wrk keep-alive connections (failed requests);
#   - kill: kill -9, restart 4 s later, under a connect-per-request probe
#     (refused connects; their window in ms is estimated from the probe rate
#     in the 4 s gap);
#   - upgrade: a second sluiced beside the first, then SIGTERM to the first,
#     under wrk, the probe and a gateway probe (failed requests; connects sent
#     around the proxy: probes answered directly plus the kernel's
#     connect_proxy_down counter).
# Last line:
#   restart: term_failed=… upgrade_failed=… upgrade_bypassed=… kill_refused_ms=… close_rps_ratio_vs_direct=…
# close_rps_ratio_vs_direct (Connection: close load for 60 s through the proxy
# against direct) is "na" until issue 19's item 5 (port exhaustion) lands.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
BUILD_DIR=${BUILD_DIR:-build}
[ "$(id -u)" -eq 0 ] || { echo "restart.sh: needs root" >&2; exit 1; }
cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
cmake --build "$BUILD_DIR" -j 2 --target sluice_e2e_restart_test >/dev/null
BIN=$PWD/$BUILD_DIR/test/e2e/sluice_e2e_restart_test
WORK=$(mktemp -d /tmp/sluice-restart-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

scenario() {  # name, test
  echo "running $2 x$RUNS" >&2
  "$BIN" --gtest_filter="RestartTest.$2" --gtest_repeat="$RUNS" > "$WORK/$1.log" 2>&1 ||
    echo "  ($2 failed at least once: see the counts)" >&2
}
scenario term SigtermUnderKeepAliveLoadFailsNoRequest
scenario kill KillNineThenRestartRefusesNoConnect
scenario upgrade UpgradeBesideTheRunningSluicedLosesNothing

# "label=N" out of a line of probe counts (0 if absent).
label() { echo "$1" | awk -v l="$2" '{ if (match($0, l "=[0-9]+")) n = substr($0, RSTART + length(l) + 1, RLENGTH - length(l) - 1) } END { print n + 0 }'; }

printf '%-8s %4s  %s\n' scenario run "what clients saw"
TERM_FAILED=0 UPGRADE_FAILED=0 UPGRADE_BYPASSED=0 KILL_REFUSED_MS=0
run=0
while read -r line; do
  run=$((run + 1))
  requests=$(echo "$line" | sed -n 's/.*: \([0-9]*\) requests, \([0-9]*\) failed.*/\1/p')
  failed=$(echo "$line" | sed -n 's/.*: \([0-9]*\) requests, \([0-9]*\) failed.*/\2/p')
  TERM_FAILED=$((TERM_FAILED + failed))
  printf '%-8s %4d  %s requests, %s failed\n' term "$run" "$requests" "$failed"
done < <(grep '^wrk across SIGTERM:' "$WORK/term.log")

run=0
while read -r line; do
  run=$((run + 1))
  refused=$(label "$line" "error connect")
  gap=$(echo "$line" | sed -n 's/.*(\([0-9]*\) direct during the 4 s gap).*/\1/p')
  ms=$(awk -v r="$refused" -v g="${gap:-0}" 'BEGIN { printf "%.0f", (g > 0 ? r * 4000 / g : (r > 0 ? 4000 : 0)) }')
  (( ms > KILL_REFUSED_MS )) && KILL_REFUSED_MS=$ms
  printf '%-8s %4d  refused %s (~%s ms), direct in the gap %s, proxied %s, cut %s\n' kill "$run" "$refused" "$ms" \
    "${gap:-?}" "$(label "$line" proxied)" "$(label "$line" cut)"
done < <(grep '^probes across kill -9 and restart:' "$WORK/kill.log")

run=0
while IFS=$'\t' read -r wrk probes; do
  run=$((run + 1))
  requests=$(echo "$wrk" | sed -n 's/.*: \([0-9]*\) requests, \([0-9]*\) failed.*/\1/p')
  failed=$(echo "$wrk" | sed -n 's/.*: \([0-9]*\) requests, \([0-9]*\) failed.*/\2/p')
  errors=$(echo "$probes" | awk '{ while (match($0, /error[a-z0-9 ]*=[0-9]+/)) { m = substr($0, RSTART, RLENGTH); sub(/.*=/, "", m); s += m; $0 = substr($0, RSTART + RLENGTH) } } END { print s + 0 }')
  cut=$(label "$probes" cut)
  direct=$(label "$probes" direct)
  around=$(echo "$probes" | sed -n 's/.*around the proxy: \([0-9]*\);.*/\1/p')
  edge_failed=$(echo "$probes" | sed -n 's/.*gateway requests: [0-9]*, \([0-9]*\) failed.*/\1/p')
  UPGRADE_FAILED=$((UPGRADE_FAILED + failed + errors + cut + ${edge_failed:-0}))
  UPGRADE_BYPASSED=$((UPGRADE_BYPASSED + direct + ${around:-0}))
  printf '%-8s %4d  %s requests, %s failed; probes: %s errors, %s cut, %s direct; %s connects around the proxy; gateway %s failed\n' \
    upgrade "$run" "$requests" "$failed" "$errors" "$cut" "$direct" "${around:-?}" "${edge_failed:-?}"
done < <(paste <(grep '^wrk across the upgrade:' "$WORK/upgrade.log") <(grep '^probes across the upgrade:' "$WORK/upgrade.log"))

echo "restart: term_failed=$TERM_FAILED upgrade_failed=$UPGRADE_FAILED upgrade_bypassed=$UPGRADE_BYPASSED kill_refused_ms=$KILL_REFUSED_MS close_rps_ratio_vs_direct=na"
