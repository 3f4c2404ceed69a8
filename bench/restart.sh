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
#     connect_proxy_down counter);
#   - close: short-lived connections from one pod at 600/s for 60 s, each
#     closed by the client after one request (a TIME_WAIT entry in the pod
#     each), to the pods through an L4-only Service and then through the
#     proxy (requests answered in time, and in the last 10 s). Run once more
#     with the proxy port spread off, to show the collapse it prevents.
# Last line:
#   restart: term_failed=… upgrade_failed=… upgrade_bypassed=… kill_refused_ms=… close_rps_ratio_vs_direct=…
# close_rps_ratio_vs_direct is the lowest over the runs of the close scenario
# (requests answered through the proxy over those answered without it).
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
scenario close ConnectionCloseLoadThroughTheProxyDoesNotCollapse
echo "running ConnectionCloseLoadThroughTheProxyDoesNotCollapse x1 with the proxy port spread off" >&2
SLUICE_PROXY_SPREAD_PORTS=off "$BIN" --gtest_filter=RestartTest.ConnectionCloseLoadThroughTheProxyDoesNotCollapse \
  > "$WORK/close-nospread.log" 2>&1 || true

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

# "connection-close load NAME: OK ok of DUE due, LAST ok in the last 10 s" lines, in pairs (direct, proxied).
close_rows() {  # log, label
  paste - - < <(grep '^connection-close load' "$1") | while IFS=$'\t' read -r direct proxied; do
    d_ok=$(echo "$direct" | sed -n 's/.*: \([0-9]*\) ok of \([0-9]*\) due, \([0-9]*\) ok in the last.*/\1 \2 \3/p')
    p_ok=$(echo "$proxied" | sed -n 's/.*: \([0-9]*\) ok of \([0-9]*\) due, \([0-9]*\) ok in the last.*/\1 \2 \3/p')
    read -r dok ddue dlast <<< "$d_ok"
    read -r pok pdue plast <<< "$p_ok"
    ratio=$(awk -v p="$pok" -v d="$dok" 'BEGIN { printf "%.2f", (d > 0 ? p / d : 0) }')
    echo "$2 $ratio $dok $ddue $dlast $pok $plast"
  done
}
CLOSE_RATIO=na
run=0 last_label=
while read -r label ratio dok ddue dlast pok plast; do
  [ "$label" = "$last_label" ] || run=0
  last_label=$label
  run=$((run + 1))
  if [ "$label" = close ]; then
    CLOSE_RATIO=$(awk -v a="$CLOSE_RATIO" -v r="$ratio" 'BEGIN { print ((a == "na" || r + 0 < a + 0) ? r : a) }')
  fi
  printf '%-8s %4s  due %s; without the mesh %s answered (%s in the last 10 s), through the proxy %s (%s): ratio %s\n' \
    "$label" "$run" "$ddue" "$dok" "$dlast" "$pok" "$plast" "$ratio"
done < <(close_rows "$WORK/close.log" close; close_rows "$WORK/close-nospread.log" nospread)

echo "restart: term_failed=$TERM_FAILED upgrade_failed=$UPGRADE_FAILED upgrade_bypassed=$UPGRADE_BYPASSED kill_refused_ms=$KILL_REFUSED_MS close_rps_ratio_vs_direct=$CLOSE_RATIO"
