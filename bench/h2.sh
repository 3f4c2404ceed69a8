#!/usr/bin/env bash
# h2.sh: h2load through sluiced's HTTP/2 path, its HTTP/1.1 path, and
# straight to the backend, same node, same run, rounds interleaved. A
# benchmark, not a test: it prints numbers, asserts none. The backend is
# sluice-echo (HTTP/1.1 only), so "direct" is HTTP/1.1; the h2 row measures
# h2 downstream plus the HTTP/1.1 upstream hop (docs/http2.md).
#
# Run as root from anywhere:  bench/h2.sh          (about a minute)
# Environment:
#   ROUNDS=3 REQUESTS=10000 CLIENTS=10 STREAMS=10
#                            h2load -n REQUESTS -c CLIENTS, -m STREAMS for h2
#                            (HTTP/1.1 runs get -m 1: no pipelining)
#   BUILD=build              where sluiced and sluice-echo are built
# The last line: h2: h2_rps=… h1_rps=… direct_h1_rps=… h2_vs_h1=… h2_cpu_us=… h1_cpu_us=…
# (sluiced's CPU time per request, from /proc/<pid>/stat around each run)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-10000}
CLIENTS=${CLIENTS:-10}
STREAMS=${STREAMS:-10}
BUILD=${BUILD:-build}
SLUICED=$ROOT/$BUILD/userspace/cmd/sluiced
ECHO=$ROOT/$BUILD/test/tools/echo/sluice-echo
VIP=10.96.0.77
ADMIN_PORT=15000
log() { echo "h2: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root"
command -v h2load >/dev/null || die "h2load missing (scripts/setup.sh installs nghttp2-client)"
[[ -x $SLUICED && -x $ECHO ]] || die "build sluiced and sluice-echo first ($BUILD)"

bench_start
"$NODE_SIM" up "$PREFIX" 2 >/dev/null || die "node_sim up failed"
NODE_UP=1
CGROUP=$CG_ROOT/$PREFIX
NODE_IP=$("$NODE_SIM" node-ip)

"$NODE_SIM" exec "$PREFIX" p2 "$ECHO" --listen 0.0.0.0:8080 --name p2 --version v1 >"$WORK/echo.log" 2>&1 &
PIDS+=($!)
mkdir -p "$WORK/config"
cat >"$WORK/config/mesh.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: bench}
spec: {clusterIP: $VIP, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-p2, namespace: bench, labels: {app: echo}}
status: {phase: Running, podIP: $("$NODE_SIM" pod-ip 2)}
YAML
# Cgroup first, then the node netns (nsenter: `ip netns exec` would remount
# /sys and hide bpffs); every step execs, so $! is sluiced.
sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CGROUP" nsenter --net="/run/netns/$PREFIX-node" \
  "$SLUICED" --config "$WORK/config" --cgroup "$CGROUP" --pin-dir "/sys/fs/bpf/$PREFIX/sluice" \
  --admin-port "$ADMIN_PORT" --node-ip "$NODE_IP" --no-access-log --cleanup >"$WORK/sluiced.log" 2>&1 &
PIDS+=($!)
SLUICED_PID=$!

in_client() { "$NODE_SIM" exec "$PREFIX" p1 "$@"; }
# Ready when a request to the VIP comes back with the proxy's request id.
for _ in $(seq 250); do
  in_client curl -s -m 1 "http://$VIP/" 2>/dev/null | grep -q x-request-id && break
  sleep 0.05
done
in_client curl -s -m 1 "http://$VIP/" | grep -q x-request-id || die "requests never went through sluiced"

# sluiced's CPU time so far, in clock ticks (user + system).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SLUICED_PID/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# "<requests/s> <sluiced CPU µs per request>" of one h2load run, or "err err".
rps() {
  local out before after
  before=$(cpu_ticks)
  out=$(in_client h2load "$@" 2>&1) || { echo err err; return; }
  after=$(cpu_ticks)
  grep -q "succeeded, 0 failed, 0 errored" <<<"$out" || { echo err err; return; }
  echo "$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")" \
    "$(awk -v t=$((after - before)) -v us="$TICK_US" -v n="$REQUESTS" 'BEGIN { printf "%.1f", t * us / n }')"
}

h2=() h1=() direct=() h2cpu=() h1cpu=()
for r in $(seq "$ROUNDS"); do
  read -r rate cpu <<<"$(rps -n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" "http://$VIP/")"
  h2+=("$rate") h2cpu+=("$cpu")
  read -r rate cpu <<<"$(rps --h1 -n "$REQUESTS" -c "$CLIENTS" -m 1 "http://$VIP/")"
  h1+=("$rate") h1cpu+=("$cpu")
  read -r rate cpu <<<"$(rps --h1 -n "$REQUESTS" -c "$CLIENTS" -m 1 "http://$("$NODE_SIM" pod-ip 2):8080/")"
  direct+=("$rate")
  log "round $r: h2 ${h2[-1]} req/s (${h2cpu[-1]} µs/req)  h1 ${h1[-1]} (${h1cpu[-1]})  direct h1 ${direct[-1]}"
done
H2=$(printf '%s\n' "${h2[@]}" | median)
H1=$(printf '%s\n' "${h1[@]}" | median)
DIRECT=$(printf '%s\n' "${direct[@]}" | median)
H2CPU=$(printf '%s\n' "${h2cpu[@]}" | median)
H1CPU=$(printf '%s\n' "${h1cpu[@]}" | median)
printf '%-28s %12s %18s\n' "path (median of $ROUNDS)" "req/s" "sluiced CPU µs/req" \
  "sluiced, h2 -m $STREAMS" "$H2" "$H2CPU" "sluiced, HTTP/1.1" "$H1" "$H1CPU" "direct, HTTP/1.1" "$DIRECT" "-"
echo "h2: h2_rps=$H2 h1_rps=$H1 direct_h1_rps=$DIRECT h2_vs_h1=$(ratio "$H2" "$H1") h2_cpu_us=$H2CPU h1_cpu_us=$H1CPU"
