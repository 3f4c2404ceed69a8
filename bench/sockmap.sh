#!/usr/bin/env bash
# sockmap.sh: the sockhash fast path (bpf/sock_redir.bpf.c) off, proxy, on and auto,
# measured in one run on one simulated node. A benchmark, not a test: it
# prints numbers, asserts none.
#
# Run as root from anywhere:  bench/sockmap.sh          (about 2 minutes)
# Environment:
#   RR_COUNT=20000      1-byte round trips per ping-pong row
#   BULK_MIB=2048       MiB per bulk row
#   HTTP_COUNT=5000     sequential keep-alive requests per pod <-> sluiced row
#   WRK_DURATION=5 WRK_CONNS=16
#                       the L7 row: wrk through sluiced to a local pod
#   ROUNDS=3            each mode is measured ROUNDS times, modes interleaved;
#                       the table shows medians
#   MODES="off proxy on auto"
#                       (off is always measured: the other columns are ratios to it)
#   AUTO_BULK_BYTES=0   sluiced --redirect-bulk-bytes in auto mode: a socket
#                       that sends a message this large goes back to the stack
#                       (0: never). Try 32768 to measure that rule
#   BUILD_DIR=<repo>/build
#
# Layout (scripts/node_sim.sh, prefix "sl" + 6 hex, unique per run):
#   p1  the client (rr, bulk, httprr, wrk), in the node cgroup
#   p2  sluice-bench-sock serve :7000 and sluice-echo :8080
#   node sluiced (proxy 10.200.0.1:15001, --workers 1), restarted per mode
# Services: pp  10.96.0.30:7000 (tcp)  -> p2:7000  L4, balanced by connect4
#           dr  10.96.0.31:80   (http) -> sluiced answers itself (directResponse):
#               the pod <-> sluiced hop alone
#           web 10.96.0.32:80   (http) -> sluiced -> p2:8080 (1 KiB bodies)
# CPUs: the pod servers run on CPU 1 and sluiced on CPU 0. Ping-pong and bulk
# "same" rows put the client on CPU 1 (with the server), "cross" rows on
# CPU 0; pod <-> sluiced "same" puts the client on CPU 0 (with sluiced). The
# wrk client runs on CPU 1.
# Nothing is added to the root netns; no default routes. Everything is removed
# on exit (trap), including on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
RR_COUNT=${RR_COUNT:-20000}
BULK_MIB=${BULK_MIB:-2048}
HTTP_COUNT=${HTTP_COUNT:-5000}
WRK_DURATION=${WRK_DURATION:-5}
WRK_CONNS=${WRK_CONNS:-16}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-off proxy on auto}
[[ " $MODES " == *" off "* ]] || MODES="off $MODES"
AUTO_BULK_BYTES=${AUTO_BULK_BYTES:-0}

log() { echo "sockmap: $*" >&2; }
die() { log "$*"; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root"
command -v wrk >/dev/null || die "wrk is missing (scripts/setup.sh)"
ninja -C "$BUILD_DIR" sluiced sluice-echo sluice-bench-sock >/dev/null || die "build failed"

source "$ROOT/bench/lib.sh"
bench_start
trap 'exit 143' TERM

"$NODE_SIM" up "$PREFIX" 2 && NODE_UP=1 || die "node_sim up failed"
CGROUP=$CG_ROOT/$PREFIX
PIN=/sys/fs/bpf/$PREFIX/sluice
NODE_NS=/run/netns/$PREFIX-node
NODE_IP=$("$NODE_SIM" node-ip)
P2=$("$NODE_SIM" pod-ip 2)

in_pod() { local i=$1; shift; "$NODE_SIM" exec "$PREFIX" "p$i" "$@"; }
start_pod() { local i=$1 logf=$2; shift 2; in_pod "$i" "$@" >"$logf" 2>&1 & PIDS+=($!); }

start_pod 2 "$WORK/sock.log" taskset -c 1 "$BUILD_DIR/bench/sluice-bench-sock" serve 7000
start_pod 2 "$WORK/echo.log" taskset -c 1 "$BUILD_DIR/test/tools/echo/sluice-echo" --listen 0.0.0.0:8080 --name p2

mkdir -p "$WORK/config"
cat >"$WORK/config/mesh.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: pp, namespace: default}
spec: {clusterIP: 10.96.0.30, selector: {app: pp}, ports: [{name: tcp-pp, port: 7000, targetPort: 7000}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.32, selector: {app: pp}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: dr, namespace: default}
spec: {clusterIP: 10.96.0.31, selector: {app: none}, ports: [{name: http, port: 80, targetPort: 80}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: dr, namespace: default}
spec:
  hosts: [dr]
  http:
  - directResponse: {status: 200, body: {string: "pong"}}
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: default, labels: {app: pp}}
status: {phase: Running, podIP: $P2}
YAML

DAEMON=0
start_sluiced() { # mode
  sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CGROUP" taskset -c 0 \
    nsenter --net="$NODE_NS" "$BUILD_DIR/userspace/cmd/sluiced" --config "$WORK/config" --cgroup "$CGROUP" --pin-dir "$PIN" \
    --node-ip "$NODE_IP" --workers 1 --no-access-log --socket-redirect "$1" --pod-cidr 10.200.0.0/16 --redirect-bulk-bytes "$AUTO_BULK_BYTES" \
    >"$WORK/sluiced-$1.log" 2>&1 &
  DAEMON=$!
  PIDS+=($DAEMON)
  for _ in $(seq 100); do
    in_pod 1 "$BUILD_DIR/bench/sluice-bench-sock" httprr 10.96.0.31 80 1 dr >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "sluiced ($1) did not come up; see its log"
}
stop_sluiced() { stop_pid "$DAEMON"; }

val() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
measure() { # mode round -> appends "row mode value" lines to $WORK/results
  local mode=$1 out
  out=$(in_pod 1 taskset -c 1 "$BUILD_DIR/bench/sluice-bench-sock" rr 10.96.0.30 7000 "$RR_COUNT" 2>&1 | tail -1)
  # The server runs on CPU 1: "cross" puts the client on CPU 0.
  echo "rr_p50_same $mode $(val p50_us <<<"$out")" >>"$WORK/results"
  echo "rr_p99_same $mode $(val p99_us <<<"$out")" >>"$WORK/results"
  out=$(in_pod 1 taskset -c 0 "$BUILD_DIR/bench/sluice-bench-sock" rr 10.96.0.30 7000 "$RR_COUNT" 2>&1 | tail -1)
  echo "rr_p50_cross $mode $(val p50_us <<<"$out")" >>"$WORK/results"
  echo "rr_p99_cross $mode $(val p99_us <<<"$out")" >>"$WORK/results"
  out=$(in_pod 1 taskset -c 1 "$BUILD_DIR/bench/sluice-bench-sock" bulk 10.96.0.30 7000 "$BULK_MIB" 2>&1 | tail -1)
  echo "bulk_gbyte_s_same $mode $(val gbyte_s <<<"$out")" >>"$WORK/results"
  out=$(in_pod 1 taskset -c 0 "$BUILD_DIR/bench/sluice-bench-sock" bulk 10.96.0.30 7000 "$BULK_MIB" 2>&1 | tail -1)
  echo "bulk_gbyte_s_cross $mode $(val gbyte_s <<<"$out")" >>"$WORK/results"
  # pod <-> sluiced (on CPU 0): same CPU, then across.
  out=$(in_pod 1 taskset -c 0 "$BUILD_DIR/bench/sluice-bench-sock" httprr 10.96.0.31 80 "$HTTP_COUNT" dr 2>&1 | tail -1)
  echo "proxy_p50_same $mode $(val p50_us <<<"$out")" >>"$WORK/results"
  out=$(in_pod 1 taskset -c 1 "$BUILD_DIR/bench/sluice-bench-sock" httprr 10.96.0.31 80 "$HTTP_COUNT" dr 2>&1 | tail -1)
  echo "proxy_p50_cross $mode $(val p50_us <<<"$out")" >>"$WORK/results"
  echo "proxy_p99_cross $mode $(val p99_us <<<"$out")" >>"$WORK/results"
  # L7: pod -> sluiced -> local pod, 1 KiB bodies.
  out=$(in_pod 1 taskset -c 1 wrk -t1 -c"$WRK_CONNS" -d"${WRK_DURATION}s" --latency \
        -H 'Host: web' 'http://10.96.0.32/?body_bytes=1024' 2>&1)
  echo "l7_rps $mode $(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")" >>"$WORK/results"
  local p99
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); print v } else if (v ~ /ms$/) { sub(/ms$/, "", v); print v * 1000 } else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1e6 } }' <<<"$out")
  echo "l7_p99_us $mode $p99" >>"$WORK/results"
}

: >"$WORK/results"
read -r -a MODE_LIST <<<"$MODES"
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#MODE_LIST[@]}; k++)); do
    mode=${MODE_LIST[(k + r) % ${#MODE_LIST[@]}]}
    log "round $((r + 1))/$ROUNDS: $mode"
    start_sluiced "$mode"
    measure "$mode"
    if [[ $mode != off ]]; then
      nsenter --net="$NODE_NS" curl -s "http://127.0.0.1:15000/redirect" >"$WORK/redirect-$mode.json" || true
    fi
    stop_sluiced
  done
done

get() { awk -v r="$1" -v m="$2" '$1 == r && $2 == m { print $3 }' "$WORK/results" | median; }

# One column per mode, then each mode's ratio to off.
FAST=()
for m in "${MODE_LIST[@]}"; do [[ $m == off ]] || FAST+=("$m"); done
{
  printf '%-16s %10s' row off
  for m in "${FAST[@]}"; do printf ' %10s' "$m"; done
  for m in "${FAST[@]}"; do printf ' %9s' "$m/off"; done
  printf '\n'
}
worst_auto=""
for row in rr_p50_same rr_p99_same rr_p50_cross rr_p99_cross bulk_gbyte_s_same bulk_gbyte_s_cross \
           proxy_p50_same proxy_p50_cross proxy_p99_cross l7_rps l7_p99_us; do
  off=$(get "$row" off)
  printf '%-16s %10s' "$row" "$off"
  for m in "${FAST[@]}"; do printf ' %10s' "$(get "$row" "$m")"; done
  for m in "${FAST[@]}"; do printf ' %9s' "$(ratio "$(get "$row" "$m")" "$off")"; done
  printf '\n'
  [[ " ${FAST[*]} " == *" auto "* ]] || continue
  # "auto never slower than off": as a slowdown factor (>1 is slower).
  auto=$(get "$row" auto)
  case $row in
    bulk_gbyte_s_*|l7_rps) slow=$(ratio "$off" "$auto") ;;
    *) slow=$(ratio "$auto" "$off") ;;
  esac
  worst_auto=$(awk -v a="$worst_auto" -v b="$slow" 'BEGIN { if (a == "" || b + 0 > a + 0) print b; else print a }')
done
for m in "${FAST[@]}"; do
  [[ -f $WORK/redirect-$m.json ]] && log "$m /redirect: $(cat "$WORK/redirect-$m.json")"
done
# The summary line keeps its keys: on/off ratios, proxy mode's, and auto's worst case.
echo "sockmap: rr_p50_ratio=$(ratio "$(get rr_p50_same on)" "$(get rr_p50_same off)")" \
  "rr_p50_cross_ratio=$(ratio "$(get rr_p50_cross on)" "$(get rr_p50_cross off)")" \
  "bulk_ratio=$(ratio "$(get bulk_gbyte_s_cross on)" "$(get bulk_gbyte_s_cross off)")" \
  "bulk_same_ratio=$(ratio "$(get bulk_gbyte_s_same on)" "$(get bulk_gbyte_s_same off)")" \
  "l7_rps_ratio=$(ratio "$(get l7_rps on)" "$(get l7_rps off)")" \
  "proxy_rr_p50_ratio=$(ratio "$(get proxy_p50_same on)" "$(get proxy_p50_same off)")" \
  "proxy_mode_l7_rps_ratio=$(ratio "$(get l7_rps proxy)" "$(get l7_rps off)")" \
  "proxy_mode_proxy_rr_p50_ratio=$(ratio "$(get proxy_p50_same proxy)" "$(get proxy_p50_same off)")" \
  "auto_worst_slowdown_vs_off=${worst_auto:-n/a}"
