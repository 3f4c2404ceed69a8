#!/usr/bin/env bash
# h2.sh: HTTP/2 on both sides of the proxy, gRPC unary calls, h2load from a
# pod of the simulated node: through sluiced (h2 down, h2 up: the Service
# port is named "grpc"), through HAProxy 2.6 (proto h2 on its bind and its
# server line), through nginx (h2c listener, grpc_pass with upstream
# keepalive) and straight to the backend, same node, same run, rounds
# interleaved. The backend is sluice-grpc-echo (a real gRPC server,
# test/tools/grpc_echo), each request a unary sluice.testing.Echo/Unary call.
# A benchmark, not a test: it prints numbers, asserts none.
#
# Run as root from anywhere:  bench/h2.sh          (about two minutes)
# Environment:
#   ROUNDS=3 REQUESTS=20000 CLIENTS=10 STREAMS=10
#                     the throughput run: h2load -n REQUESTS -c CLIENTS -m STREAMS
#   RATE=1000 SECONDS_AT_RATE=10
#                     the latency run: RATE calls/s in all (CLIENTS connections,
#                     one stream each) for SECONDS_AT_RATE, latencies from
#                     h2load's per-request log
#   BIDI_COUNT=2000   the bidi run: one ping-pong gRPC call (sluice-grpc-echo
#                     call --method pingpong --latency 1) of BIDI_COUNT messages,
#                     each sent once the reply to the last is read; the round
#                     trips' p50/p99, through sluiced and direct, each round
#   BUILD=build       where sluiced and sluice-grpc-echo are built
#   INSTR=1 INSTR_CALLS=5000
#                     also, after the rounds, sluiced's and HAProxy's
#                     user-space instructions per call under callgrind (each
#                     restarted under valgrind for it), over one throughput
#                     run of INSTR_CALLS calls; adds instr_ratio_vs_haproxy=…
#   COUNTS=1          also count each proxy's syscalls and context switches
#                     during the throughput and the latency runs (perf stat
#                     on its threads) and print them per call: how often the
#                     proxy enters the kernel and must be woken (needs perf)
# The last line:
# h2: rps=… haproxy_rps=… cpu_ratio_vs_haproxy=… added_p99_us=… haproxy_added_p99_us=… grpc_unary_added_p50_us=…
#     nginx_rps=… cpu_ratio_vs_nginx=… nginx_added_p99_us=… grpc_bidi_added_p50_us=… grpc_bidi_added_p99_us=…
#     [instr_ratio_vs_haproxy=… with INSTR=1] [syscall_ratio_vs_haproxy=… rate_syscall_ratio_vs_haproxy=… with COUNTS=1]
# (cpu_ratio: sluiced's CPU per request over the peer's, from /proc/<pid>/stat
# around the throughput runs, nginx's master and workers added up; added_*:
# the percentile through the proxy less the direct one, at RATE, each over
# the calls of all rounds together)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/lib.sh"
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-20000}
CLIENTS=${CLIENTS:-10}
STREAMS=${STREAMS:-10}
RATE=${RATE:-1000}
SECONDS_AT_RATE=${SECONDS_AT_RATE:-10}
BIDI_COUNT=${BIDI_COUNT:-2000}
BUILD=${BUILD:-build}
COUNTS=${COUNTS:-0}
INSTR=${INSTR:-0}
INSTR_CALLS=${INSTR_CALLS:-5000}
SLUICED=$ROOT/$BUILD/userspace/cmd/sluiced
GRPC_ECHO=$ROOT/$BUILD/test/tools/grpc_echo/sluice-grpc-echo
VIP=10.96.0.77
GRPC_PORT=50051
HAPROXY_PORT=8082
NGINX_PORT=8083
ADMIN_PORT=15000
WORKERS=2
log() { echo "h2: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root"
command -v h2load >/dev/null || die "h2load missing (scripts/setup.sh installs nghttp2-client)"
command -v haproxy >/dev/null || die "haproxy missing (scripts/setup.sh installs it)"
command -v nginx >/dev/null || die "nginx missing (scripts/setup.sh installs it)"
[[ $INSTR != 1 ]] || command -v callgrind_control >/dev/null || die "INSTR=1 needs valgrind (scripts/setup.sh installs it)"
[[ $COUNTS != 1 ]] || command -v perf >/dev/null || die "COUNTS=1 needs perf"
[[ -x $SLUICED && -x $GRPC_ECHO ]] || die "build sluiced and sluice-grpc-echo first ($BUILD)"
(( RATE % CLIENTS == 0 )) || die "RATE must be a multiple of CLIENTS"

bench_start
"$NODE_SIM" up "$PREFIX" 2 >/dev/null || die "node_sim up failed"
NODE_UP=1
CGROUP=$CG_ROOT/$PREFIX
NODE_IP=$("$NODE_SIM" node-ip)
BACKEND_IP=$("$NODE_SIM" pod-ip 2)
NODE_NS=/run/netns/$PREFIX-node

"$NODE_SIM" exec "$PREFIX" p2 "$GRPC_ECHO" serve --listen "0.0.0.0:$GRPC_PORT" --version v1 >"$WORK/backend.log" 2>&1 &
PIDS+=($!)
mkdir -p "$WORK/config"
cat >"$WORK/config/mesh.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: bench}
spec: {clusterIP: $VIP, selector: {app: echo}, ports: [{name: grpc, port: $GRPC_PORT, targetPort: $GRPC_PORT}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-p2, namespace: bench, labels: {app: echo}}
status: {phase: Running, podIP: $BACKEND_IP}
YAML
# Cgroup first, then the node netns (nsenter: `ip netns exec` would remount
# /sys and hide bpffs); every step execs, so $! is sluiced.
# Arguments: a command to run it under (INSTR: valgrind), if any.
start_sluiced() {
  sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CGROUP" nsenter --net="$NODE_NS" \
    "$@" "$SLUICED" --config "$WORK/config" --cgroup "$CGROUP" --pin-dir "/sys/fs/bpf/$PREFIX/sluice" \
    --admin-port "$ADMIN_PORT" --node-ip "$NODE_IP" --workers "$WORKERS" --no-access-log --cleanup \
    >>"$WORK/sluiced.log" 2>&1 &
  PIDS+=($!)
  SLUICED_PID=$!
}
start_sluiced

# HAProxy in the node's netns, outside the pods' cgroup: h2 from the client,
# h2 to the backend, connections reused, as many threads as sluiced's workers.
cat >"$WORK/haproxy.cfg" <<CFG
global
    nbthread $WORKERS
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind $NODE_IP:$HAPROXY_PORT proto h2
    default_backend grpc
backend grpc
    http-reuse always
    server p2 $BACKEND_IP:$GRPC_PORT proto h2
CFG
start_haproxy() {
  nsenter --net="$NODE_NS" "$@" haproxy -db -f "$WORK/haproxy.cfg" >>"$WORK/haproxy.log" 2>&1 &
  PIDS+=($!)
  HAPROXY_PID=$!
}
start_haproxy

# nginx in the node's netns, as HAProxy: h2c from the client (listen ...
# http2), gRPC to the backend over kept-alive h2 connections (grpc_pass),
# as many worker processes as sluiced's workers, no access log.
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx.conf" <<CFG
daemon off;
master_process on;
worker_processes $WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
$(nginx_temp_paths "$WORK/nginx")
    # As in bench/l7.sh: nginx's default of 1000 requests per connection
    # would make it alone reconnect during the run.
    keepalive_requests 1000000;
    upstream grpc_backend {
        server $BACKEND_IP:$GRPC_PORT;
        keepalive 32;
        keepalive_requests 1000000;
    }
    server {
        listen $NODE_IP:$NGINX_PORT http2;
        location / { grpc_pass grpc://grpc_backend; }
    }
}
CFG
nsenter --net="$NODE_NS" nginx -c "$WORK/nginx.conf" -e "$WORK/nginx/error.log" >"$WORK/nginx.log" 2>&1 &
PIDS+=($!)
NGINX_PID=$!

in_client() { "$NODE_SIM" exec "$PREFIX" p1 "$@"; }
# One unary call, EchoRequest{text: "hello"}, as a gRPC message.
printf '\x00\x00\x00\x00\x07\x0a\x05hello' >"$WORK/call.bin"
CALL=(-d "$WORK/call.bin" -H "content-type: application/grpc" -H "te: trailers")
PATH_URI=/sluice.testing.Echo/Unary
url() {
  case $1 in
    direct) echo "http://$BACKEND_IP:$GRPC_PORT$PATH_URI" ;;
    sluiced) echo "http://$VIP:$GRPC_PORT$PATH_URI" ;;
    haproxy) echo "http://$NODE_IP:$HAPROXY_PORT$PATH_URI" ;;
    nginx) echo "http://$NODE_IP:$NGINX_PORT$PATH_URI" ;;
  esac
}
# Ready when a call through the path succeeds; $2 tries 0.1 s apart. For
# sluiced, once its admin port says ready first: before its proxy is up, the
# kernel balances the VIP at L4 straight to the backend, and calls succeed
# without going through it.
wait_ready() {
  if [[ $1 == sluiced ]]; then
    for _ in $(seq "$2"); do
      [[ $(nsenter --net="$NODE_NS" curl -s -m 1 "http://127.0.0.1:$ADMIN_PORT/ready" 2>/dev/null) == ready ]] && break
      sleep 0.1
    done
  fi
  for _ in $(seq "$2"); do
    in_client h2load -n 1 -c 1 "${CALL[@]}" "$(url "$1")" 2>/dev/null | grep -q "1 succeeded" && break
    sleep 0.1
  done
  in_client h2load -n 1 -c 1 "${CALL[@]}" "$(url "$1")" 2>/dev/null | grep -q "1 succeeded" ||
    die "calls never went through $1: $(tail -n 3 "$WORK/sluiced.log" "$WORK/haproxy.log" "$WORK/nginx/error.log" "$WORK/backend.log")"
}
ROUTES=(direct sluiced haproxy nginx)
for p in "${ROUTES[@]}"; do wait_ready "$p" 100; done

# The CPU time so far of a process and its children (nginx's workers), in
# clock ticks: user + system, or user only with a second argument "user".
cpu_ticks() {
  local pid total=0 fields='$14 + $15'
  [[ ${2:-} == user ]] && fields='$14'
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk "{ print $fields }" "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
pid_of() {
  case $1 in sluiced) echo "$SLUICED_PID" ;; haproxy) echo "$HAPROXY_PID" ;; nginx) echo "$NGINX_PID" ;; *) echo "" ;; esac
}

# COUNTS=1: the proxy's syscalls and context switches (each one a wake-up
# or a preemption) during a run, counted by perf on its threads (nginx's
# workers too). Counts per call are what the machine's other tenants do not
# move: how often the proxy enters the kernel and must be woken.
COUNTS_PERF=""
counts_start() {
  local pids
  COUNTS_PERF=""
  pids=$(pid_of "$1")
  [[ $COUNTS == 1 && -n $pids ]] || return 0
  pids=$(echo "$pids" $(pgrep -P "$pids" || true) | tr ' ' ,)
  perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$pids" -o "$WORK/counts-$1" 2>/dev/null &
  COUNTS_PERF=$!
}
counts_stop() {
  [[ -n $COUNTS_PERF ]] || return 0
  kill -INT "$COUNTS_PERF" 2>/dev/null || true
  wait "$COUNTS_PERF" 2>/dev/null || true
}
# Appends "<syscalls per call> <context switches per call>" of the run of
# path $1 that made $2 calls to file $3.
counts_per_call() {
  [[ -n $COUNTS_PERF && -s $WORK/counts-$1 ]] || return 0
  awk -F, -v n="$2" '$3 == "raw_syscalls:sys_enter" { s = $1 } $3 == "context-switches" { c = $1 }
    END { if (n > 0) printf "%.2f %.2f\n", s / n, c / n }' "$WORK/counts-$1" >>"$3"
}

# "<calls/s> <proxy CPU µs per call>" of one throughput run, or "err err".
throughput() {
  local p=$1 out pid before=0 after=0 user_before=0 user_after=0 cpu=-
  pid=$(pid_of "$p")
  [[ -n $pid ]] && before=$(cpu_ticks "$pid") user_before=$(cpu_ticks "$pid" user)
  counts_start "$p"
  out=$(in_client h2load -n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" "${CALL[@]}" "$(url "$p")" 2>&1) || out=failed
  counts_stop
  [[ -n $pid ]] && after=$(cpu_ticks "$pid") user_after=$(cpu_ticks "$pid" user)
  grep -q "succeeded, 0 failed, 0 errored" <<<"$out" || { echo err err; return; }
  # User space's part of the proxy's CPU, per call.
  [[ -n $pid ]] && awk -v t=$((user_after - user_before)) -v us="$TICK_US" -v n="$REQUESTS" \
    'BEGIN { printf "%.1f\n", t * us / n }' >>"$WORK/user-$p"
  counts_per_call "$p" "$REQUESTS" "$WORK/counts-load-$p"
  [[ -n $pid ]] && cpu=$(awk -v t=$((after - before)) -v us="$TICK_US" -v n="$REQUESTS" 'BEGIN { printf "%.1f", t * us / n }')
  echo "$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")" "$cpu"
}

# "<p50 µs> <p99 µs>" of the durations (µs, one a line) in file $1, or "err err".
percentiles() {
  sort -n "$1" | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "err err"; exit }
      i = int(NR * 0.50); if (i < 1) i = 1
      j = int(NR * 0.99); if (j < 1) j = 1
      printf "%d %d\n", v[i], v[j] }'
}

# "<p50 µs> <p99 µs>" of RATE calls/s for SECONDS_AT_RATE, from h2load's
# per-request log (its third column is the duration in µs), or "err err".
# The durations are also added to $WORK/lat-all-<path>: the p99 reported in
# the end is over every round's calls together (RATE x SECONDS_AT_RATE x
# ROUNDS of them), not a median of per-round p99s. A p99 of 10 000 calls
# is their 100th slowest, and on this shared VM one scheduling hiccup moves
# it by hundreds of µs; pooling the rounds steadies it.
at_rate() {
  local p=$1 logf=$WORK/lat-$1.tsv out
  rm -f "$logf"
  counts_start "$p"
  out=$(in_client h2load -c "$CLIENTS" -m 1 --rps $((RATE / CLIENTS)) -D "$SECONDS_AT_RATE" --log-file="$logf" \
    "${CALL[@]}" "$(url "$p")" 2>&1) || out=failed
  counts_stop
  grep -q " 0 failed, 0 errored" <<<"$out" || { echo err err; return; }
  awk -F'\t' '$2 == 200 { print $3 }' "$logf" >"$logf.us"
  cat "$logf.us" >>"$WORK/lat-all-$p"
  counts_per_call "$p" "$(wc -l <"$logf.us")" "$WORK/counts-rate-$p"
  percentiles "$logf.us"
}

# "<p50 µs> <p99 µs>" of the round trips of one ping-pong bidi call of
# BIDI_COUNT messages (direct or sluiced), or "err err".
bidi() {
  local target out
  case $1 in direct) target=$BACKEND_IP:$GRPC_PORT ;; *) target=$VIP:$GRPC_PORT ;; esac
  out=$(in_client timeout 120 "$GRPC_ECHO" call --target "$target" --method pingpong --count "$BIDI_COUNT" \
    --latency 1 2>&1) || { echo err err; return; }
  grep -q "^ok .*replies=$BIDI_COUNT" <<<"$out" || { echo err err; return; }
  sed -n 's/^rtt_us p50=\([0-9]*\) p99=\([0-9]*\).*/\1 \2/p' <<<"$out"
}

declare -A RPS CPU P50 P99 BP50 BP99
BIDI_ROUTES=(direct sluiced)
for r in $(seq "$ROUNDS"); do
  # Every other round in reverse, so no path always runs right after another.
  order=("${ROUTES[@]}")
  (( r % 2 == 0 )) && order=($(printf '%s\n' "${ROUTES[@]}" | tac))
  for p in "${order[@]}"; do
    read -r rate cpu <<<"$(throughput "$p")"
    read -r p50 p99 <<<"$(at_rate "$p")"
    RPS[$p]+="$rate " CPU[$p]+="$cpu " P50[$p]+="$p50 " P99[$p]+="$p99 "
    log "round $r $p: $rate calls/s, proxy CPU $cpu µs/call; at $RATE/s p50 $p50 µs p99 $p99 µs"
  done
  for p in "${BIDI_ROUTES[@]}"; do
    read -r p50 p99 <<<"$(bidi "$p")"
    BP50[$p]+="$p50 " BP99[$p]+="$p99 "
    log "round $r $p: bidi ping-pong round trip p50 $p50 µs p99 $p99 µs"
  done
done
# INSTR=1: user-space instructions per call of sluiced and of HAProxy,
# each restarted under callgrind, counted over one throughput run of
# INSTR_CALLS calls (counters zeroed once it is ready). The machine's other
# tenants do not move these, where they move CPU time by tens of %.
declare -A INSTR_PER_CALL
if [[ $INSTR == 1 ]]; then
  for p in sluiced haproxy; do
    out_file=$WORK/callgrind.$p
    wrap=(valgrind -q --tool=callgrind --dump-instr=no --callgrind-out-file="$out_file")
    if [[ $p == sluiced ]]; then
      stop_pid "$SLUICED_PID"
      start_sluiced "${wrap[@]}"
    else
      stop_pid "$HAPROXY_PID"
      start_haproxy "${wrap[@]}"
    fi
    pid=$(pid_of "$p")
    wait_ready "$p" 1200  # under valgrind, start-up takes up to a minute or two
    callgrind_control -z "$pid" >/dev/null
    out=$(in_client h2load -n "$INSTR_CALLS" -c "$CLIENTS" -m "$STREAMS" "${CALL[@]}" "$(url "$p")" 2>&1) || true
    rm -f "$out_file".*
    callgrind_control -d "$pid" >/dev/null
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$out_file".* 2>/dev/null || true)
    if grep -q "succeeded, 0 failed, 0 errored" <<<"$out" && [[ -n $ir ]]; then
      INSTR_PER_CALL[$p]=$(awk -v i="$ir" -v n="$INSTR_CALLS" 'BEGIN { printf "%.0f", i / n }')
    else
      INSTR_PER_CALL[$p]=err
    fi
    log "$p under callgrind: ${INSTR_PER_CALL[$p]} user-space instructions per call ($INSTR_CALLS calls)"
  done
fi

med() { tr ' ' '\n' <<<"$1" | median; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%d", a - b; else print "err" }'; }
declare -A M
for p in "${ROUTES[@]}"; do
  M[$p,rps]=$(med "${RPS[$p]}") M[$p,cpu]=$(med "${CPU[$p]}")
  read -r M[$p,p50] M[$p,p99] <<<"$(percentiles "$WORK/lat-all-$p" 2>/dev/null || echo err err)"
  log "$p: per-round p99 $(echo ${P99[$p]}) µs, pooled p99 ${M[$p,p99]} µs over $(wc -l <"$WORK/lat-all-$p" 2>/dev/null || echo 0) calls"
  [[ -s $WORK/user-$p ]] &&
    log "$p: proxy CPU per call in the throughput runs ${M[$p,cpu]} µs, of which user space $(median <"$WORK/user-$p") µs (medians)"
  for run in load rate; do
    f=$WORK/counts-$run-$p
    [[ -s $f ]] || continue
    M[$p,sys_$run]=$(cut -d' ' -f1 "$f" | median)
    log "$p: $( [[ $run == load ]] && echo "in the throughput runs" || echo "at $RATE/s"), per call:" \
      "${M[$p,sys_$run]} syscalls, $(cut -d' ' -f2 "$f" | median) context switches (median of rounds)"
  done
done
for p in "${BIDI_ROUTES[@]}"; do
  M[$p,bp50]=$(med "${BP50[$p]}") M[$p,bp99]=$(med "${BP99[$p]}")
done
M[direct,cpu]=-  # no proxy
printf '%-22s %12s %16s %12s %12s\n' "path ($ROUNDS rounds)" "calls/s" "proxy CPU µs" "p50 µs @$RATE" "p99 µs @$RATE"
for p in "${ROUTES[@]}"; do
  printf '%-22s %12s %16s %12s %12s\n' "$p" "${M[$p,rps]}" "${M[$p,cpu]}" "${M[$p,p50]}" "${M[$p,p99]}"
done
printf '%-22s %12s %12s\n' "bidi round trip" "p50 µs" "p99 µs"
for p in "${BIDI_ROUTES[@]}"; do
  printf '%-22s %12s %12s\n' "$p" "${M[$p,bp50]}" "${M[$p,bp99]}"
done
echo "versions: $(haproxy -v 2>/dev/null | head -n 1 | awk '{ print "HAProxy", $3 }'), $(nginx -v 2>&1 | sed 's/.*: //')," \
  "$(h2load --version 2>&1 | head -n 1);" \
  "h2load -c $CLIENTS -m $STREAMS -n $REQUESTS; latency at $RATE calls/s over $CLIENTS connections"
echo "h2: rps=${M[sluiced,rps]} haproxy_rps=${M[haproxy,rps]}" \
  "cpu_ratio_vs_haproxy=$(ratio "${M[sluiced,cpu]}" "${M[haproxy,cpu]}")" \
  "added_p99_us=$(sub "${M[sluiced,p99]}" "${M[direct,p99]}")" \
  "haproxy_added_p99_us=$(sub "${M[haproxy,p99]}" "${M[direct,p99]}")" \
  "grpc_unary_added_p50_us=$(sub "${M[sluiced,p50]}" "${M[direct,p50]}")" \
  "nginx_rps=${M[nginx,rps]} cpu_ratio_vs_nginx=$(ratio "${M[sluiced,cpu]}" "${M[nginx,cpu]}")" \
  "nginx_added_p99_us=$(sub "${M[nginx,p99]}" "${M[direct,p99]}")" \
  "grpc_bidi_added_p50_us=$(sub "${M[sluiced,bp50]}" "${M[direct,bp50]}")" \
  "grpc_bidi_added_p99_us=$(sub "${M[sluiced,bp99]}" "${M[direct,bp99]}")" \
  "$([[ $INSTR == 1 ]] && echo "instr_ratio_vs_haproxy=$(ratio "${INSTR_PER_CALL[sluiced]}" "${INSTR_PER_CALL[haproxy]}")")" \
  "$([[ $COUNTS == 1 ]] && echo "syscall_ratio_vs_haproxy=$(ratio "${M[sluiced,sys_load]:-}" "${M[haproxy,sys_load]:-}")" \
    "rate_syscall_ratio_vs_haproxy=$(ratio "${M[sluiced,sys_rate]:-}" "${M[haproxy,sys_rate]:-}")")"
