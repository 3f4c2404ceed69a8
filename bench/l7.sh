#!/usr/bin/env bash
# l7.sh: sluiced's L7 HTTP proxy against HAProxy and nginx, and against no
# proxy at all, under the same load on the same simulated node. A benchmark,
# not a test: it prints numbers, asserts none.
#
# Run as root from anywhere:  bench/l7.sh          (about 7 minutes)
# Environment:
#   ROUNDS=3                 measurements per path; rounds interleave across the
#                            paths in a rotating order; the table shows medians
#   WRK_CONNS=50 WRK_THREADS=2 WRK_DURATION=10
#                            the throughput run: wrk, closed loop, keep-alive
#   RATE=1000 LAT_DURATION=10 LAT_WARMUP=1 LAT_CONNS=8
#                            the latency run: sluice-bench-http-load, open loop
#                            at RATE requests/s, latency from each request's due
#                            time; LAT_CONNS keep-alive connections are opened
#                            first (more only if all are busy)
#   BACKEND=nginx            nginx: each backend pod runs nginx (one worker)
#                            serving a static file of BODY_BYTES bytes;
#                            echo: sluice-echo, GET /?body_bytes=BODY_BYTES.
#                            nginx is the default because it is cheap: with 2
#                            CPUs the backends share one with the client, and
#                            sluice-echo costs about as much CPU per request as
#                            the proxies, so with it the client's CPU, not the
#                            proxy, sets the maximum (see util@max)
#   BODY_BYTES=1024          response body size
#   WORKERS=1                sluiced --workers, HAProxy nbthread, nginx
#                            worker_processes: the same for all three
#   PROXY_CPUS=0 LOAD_CPUS=1 BACKEND_CPUS=1
#                            taskset CPU lists ("-": no pinning). The proxy
#                            under test gets a CPU of its own; the load
#                            generator and the backends share the other one
#   LAT_PROXY_CPUS=<PROXY_CPUS>
#                            CPU list of the proxy during the latency runs
#                            only (moved there and back with taskset -a -p);
#                            LAT_PROXY_CPUS=1 puts it on the client's and the
#                            backends' CPU, so a request wakes no idle vCPU
#   ECHO_THREADS=1           sluice-echo --threads per backend pod (BACKEND=echo)
#   NICE=-10                 nice value of every process the benchmark starts
#                            (proxies, backends, load generators), alike for all
#                            paths: on a shared 2-CPU machine, other tenants'
#                            compiler jobs would otherwise hold a woken server
#                            off the CPU for a 4 ms tick and decide the p99.
#                            0: no change
#   LAT_RT=1                 during the open-loop runs only, every benchmark
#                            process (proxies, backends, generator) runs
#                            SCHED_FIFO 10 (chrt), so that a woken server
#                            preempts other tenants' jobs at once instead of at
#                            the next tick (EEVDF, HZ=250, PREEMPT_NONE here).
#                            At RATE=1000 that is a few % of a CPU, bounded by
#                            LAT_DURATION and by the kernel's RT throttling.
#                            The wrk runs stay SCHED_OTHER at NICE. 0: off
#   PATHS="direct sluice haproxy nginx"
#                            (sluice_base joins them with BASELINE_SLUICED)
#   BASELINE_SLUICED=        another sluiced binary, e.g. an older commit's
#                            built in a worktree of its own (this script builds
#                            only this tree's), measured as path sluice_base
#                            exactly like sluice (same flags, config and
#                            pinning, in the same rotating rounds); appended
#                            to PATHS unless PATHS names it. The node's cgroup
#                            and pin dir take one sluiced at a time, so before
#                            each sluice and sluice_base measurement the
#                            running sluiced stops (--cleanup: it detaches and
#                            unpins everything) and that path's binary starts
#                            afresh. Adds a sluice_base row and, on the last
#                            line, cpu_ratio_vs_baseline (sluice's
#                            cpu_s/1k@max over sluice_base's) and
#                            rps_ratio_vs_baseline (best max req/s, likewise)
#   QUIET_WAIT=60 QUIET_PCT=10
#                            before each wrk run, wait up to QUIET_WAIT s until
#                            other tenants use at most QUIET_PCT% of the CPUs
#                            (the node cgroup's own CPU time is subtracted);
#                            the share they took during each run is printed
#   NGINX_KEEPALIVE=32       the nginx proxy's upstream keepalive (idle
#                            connections kept per worker, over all servers)
#   SLUICE_ACCESS_LOG=0      1: sluiced writes its access log (to a file)
#   OBS_ROUNDS=<ROUNDS>      the cost of observability (needs the sluice path):
#                            sluiced restarted as is (request metrics on,
#                            tracing off), with --no-request-metrics, and with
#                            tracing at 1% and at 100% exporting over OTLP to
#                            a local sink (sluice-otlp-sink on the node's
#                            loopback, on the load CPUs); one wrk run each per
#                            round, rotating. On the last line, sluiced's CPU
#                            per request (median) as metrics_cpu_ratio (as is
#                            over metrics off), tracing1_cpu_ratio and
#                            tracing100_cpu_ratio (tracing over as is); and
#                            with 10 AuthorizationPolicies and a rate limit on
#                            the echo service, as policy_cpu_ratio (over as is).
#                            About 5 x OBS_ROUNDS x (WRK_DURATION + 2) s. 0: skip
#   INSTR=0                  1: sluiced's user-space instructions per request
#                            for each observability variant, counted by
#                            valgrind's callgrind: sluiced restarts under it,
#                            its counters are zeroed once it is ready, and
#                            dumped after one wrk run of INSTR_SECONDS (10).
#                            Unlike CPU time, the count does not move with
#                            other tenants, so a 3% or 5% goal can be read on
#                            a busy machine (it leaves out the kernel's share,
#                            which these variants do not change). On the last
#                            line as metrics_instr_ratio, tracing1_instr_ratio,
#                            tracing100_instr_ratio and policy_instr_ratio, and
#                            user_share: user space's share of sluiced's CPU
#                            at max load (one plain wrk run), which turns each
#                            ratio into a CPU estimate (printed above it).
#                            About 5 x (INSTR_SECONDS + 30) s
#   PERF=0                   1: afterwards, perf-profile sluiced during one more
#                            wrk run and print its hottest symbols
#   PROFILE_VARIANT=         as_is, metrics_off, tracing1, tracing100 or
#                            policies: the PERF and ALLOCS runs profile
#                            sluiced configured as that observability variant
#                            (empty: as the sluice path runs)
#   SYSCALLS=0               1: afterwards, count each proxy's system calls
#                            per request during one more wrk run (perf stat)
#   ALLOCS=0                 1: afterwards, count sluiced's malloc calls per
#                            request during one more wrk run (a uprobe on libc)
#   SOCKET_REDIRECT=proxy    sluiced --socket-redirect (proxy, off, on, auto).
#                            proxy (sluiced's default): the bytes sluiced
#                            receives (the client's requests, the backends'
#                            responses) skip the stack; on/auto: every hop of
#                            pod -> sluiced -> local pod does (docs/sockmap.md).
#                            HAProxy and nginx cannot use it
#   LAT_SLOW_US=0            > 0: the generator logs each request slower than
#                            this (due time, latency) to loadgen.err
#   KEEP_LOGS=<dir>          copy the run's logs and raw outputs there on exit
#   BUILD_DIR=<repo>/build   BENCH_BUILD=0 skips the build if the binaries exist
#
# Layout (scripts/node_sim.sh, prefix "sl" + 6 hex, unique per run):
#   p1       client: wrk and the open-loop generator, in the node cgroup (where
#            sluiced attaches its programs), so VIP connects are redirected
#   p2, p3   the backends on :8080 (pods of Service echo, 10.96.0.10:80, port
#            name http, so the kernel sends its connects to sluiced's proxy);
#            every response carries x-echo-pod: p2 or p3
#   node     netns P-node, 10.200.0.1: sluiced (proxy :15001, admin :15000),
#            HAProxy :8081 and nginx :8082, all three in the node cgroup too
# Paths: direct  = p1 -> p2/p3:8080 (alternating; wrk: one wrk per pod, half
#                  the connections and threads each, summed)
#        sluice  = p1 -> 10.96.0.10:80 -> redirect -> sluiced -> p2/p3 (ROUND_ROBIN)
#        sluice_base = the same with BASELINE_SLUICED's binary
#        haproxy = p1 -> 10.200.0.1:8081 -> p2/p3 (roundrobin, http-reuse always)
#        nginx   = p1 -> 10.200.0.1:8082 -> p2/p3 (upstream keepalive NGINX_KEEPALIVE)
# Nothing is added to the root netns; no default routes anywhere. Proxies run
# in the foreground and are stopped by PID; their configs live in a temp dir.
# Everything is removed on exit (trap), including on failure and Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
NODE_SIM=$ROOT/scripts/node_sim.sh
CG_ROOT=${SLUICE_CGROUP2_ROOT:-/sys/fs/cgroup/unified}
source "$ROOT/bench/lib.sh"  # bench_prefix, stop_pid (its own median below averages the middle pair)
ROUNDS=${ROUNDS:-3}
WRK_CONNS=${WRK_CONNS:-50}
WRK_THREADS=${WRK_THREADS:-2}
WRK_DURATION=${WRK_DURATION:-10}
RATE=${RATE:-1000}
LAT_DURATION=${LAT_DURATION:-10}
LAT_WARMUP=${LAT_WARMUP:-1}
LAT_CONNS=${LAT_CONNS:-8}
BODY_BYTES=${BODY_BYTES:-1024}
WORKERS=${WORKERS:-1}
PROXY_CPUS=${PROXY_CPUS:-0}
LAT_PROXY_CPUS=${LAT_PROXY_CPUS:-$PROXY_CPUS}
LOAD_CPUS=${LOAD_CPUS:-1}
BACKEND_CPUS=${BACKEND_CPUS:-1}
ECHO_THREADS=${ECHO_THREADS:-1}
BACKEND=${BACKEND:-nginx}
NICE=${NICE:--10}
LAT_RT=${LAT_RT:-1}
PATHS=${PATHS:-"direct sluice haproxy nginx"}
SLUICE_ACCESS_LOG=${SLUICE_ACCESS_LOG:-0}
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-32}
PERF=${PERF:-0}
INSTR=${INSTR:-0}
INSTR_SECONDS=${INSTR_SECONDS:-10}
OBS_ROUNDS=${OBS_ROUNDS:-$ROUNDS}
SYSCALLS=${SYSCALLS:-0}
PROFILE_VARIANT=${PROFILE_VARIANT:-}
[[ -z $PROFILE_VARIANT || $PROFILE_VARIANT =~ ^(as_is|metrics_off|tracing1|tracing100|policies)$ ]] ||
  die "PROFILE_VARIANT is one of as_is metrics_off tracing1 tracing100 policies"
ALLOCS=${ALLOCS:-0}
SOCKET_REDIRECT=${SOCKET_REDIRECT:-proxy}
[[ $SOCKET_REDIRECT =~ ^(proxy|off|on|auto)$ ]] || die "SOCKET_REDIRECT must be proxy, off, on or auto"
LAT_SLOW_US=${LAT_SLOW_US:-0}
QUIET_WAIT=${QUIET_WAIT:-60}
QUIET_PCT=${QUIET_PCT:-10}
KEEP_LOGS=${KEEP_LOGS:-}
BASELINE_SLUICED=${BASELINE_SLUICED:-}

VIP=10.96.0.10
NODE_IP=10.200.0.1
ECHO_PORT=8080
PROXY_PORT=15001
ADMIN_PORT=15000
HAPROXY_PORT=8081
NGINX_PORT=8082
CLIENT_POD=1
BACKEND_PODS=(2 3)

log() { echo "l7: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (BPF, netns, cgroups)"
for v in NGINX_KEEPALIVE QUIET_WAIT QUIET_PCT LAT_SLOW_US LAT_RT ROUNDS WRK_CONNS WRK_THREADS WRK_DURATION RATE LAT_DURATION LAT_WARMUP LAT_CONNS BODY_BYTES WORKERS ECHO_THREADS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
(( ROUNDS >= 1 && ROUNDS <= 20 )) || die "ROUNDS 1..20"
(( WRK_DURATION >= 1 && WRK_DURATION <= 120 && LAT_DURATION >= 1 && LAT_DURATION <= 120 )) || die "durations 1..120 s"
(( LAT_WARMUP <= 30 )) || die "LAT_WARMUP 0..30 s"
(( WRK_THREADS >= 1 && WRK_CONNS >= WRK_THREADS && WRK_CONNS <= 10000 )) || die "WRK_THREADS >= 1, WRK_THREADS <= WRK_CONNS <= 10000"
(( RATE >= 1 && RATE <= 200000 && LAT_CONNS >= 1 && LAT_CONNS <= 1024 )) || die "RATE 1..200000, LAT_CONNS 1..1024"
(( WORKERS >= 1 && WORKERS <= 64 && ECHO_THREADS >= 1 && ECHO_THREADS <= 64 )) || die "WORKERS, ECHO_THREADS 1..64"
(( NGINX_KEEPALIVE >= 1 )) || die "NGINX_KEEPALIVE must be at least 1"
(( BODY_BYTES <= 8388608 )) || die "BODY_BYTES up to 8 MiB (sluiced buffers bodies whole up to that)"
for v in PROXY_CPUS LAT_PROXY_CPUS LOAD_CPUS BACKEND_CPUS; do
  [[ ${!v} == - || ${!v} =~ ^[0-9]+([-,][0-9]+)*$ ]] || die "$v must be a CPU list such as 0 or 0,1, or -"
done
if ! [[ $NICE =~ ^-?[0-9]+$ ]] || (( NICE < -20 || NICE > 19 )); then die "NICE -20..19"; fi
[[ $BACKEND == nginx || $BACKEND == echo ]] || die "BACKEND is nginx or echo"
if [[ $BACKEND == nginx ]]; then REQ_PATH=/body.bin; else REQ_PATH="/?body_bytes=$BODY_BYTES"; fi
read -r -a PATH_LIST <<<"$PATHS"
(( ${#PATH_LIST[@]} > 0 )) || die "PATHS is empty"
for p in "${PATH_LIST[@]}"; do
  [[ $p =~ ^(direct|sluice|haproxy|nginx|sluice_base)$ ]] || die "unknown path '$p' (direct sluice haproxy nginx)"
  [[ $p != sluice_base || -n $BASELINE_SLUICED ]] || die "path sluice_base needs BASELINE_SLUICED"
done
has_path() { [[ " ${PATH_LIST[*]} " == *" $1 "* ]]; }
if [[ -n $BASELINE_SLUICED ]]; then
  [[ -f $BASELINE_SLUICED && -x $BASELINE_SLUICED ]] || die "BASELINE_SLUICED: $BASELINE_SLUICED is not an executable file"
  BASELINE_SLUICED=$(realpath "$BASELINE_SLUICED")
  has_path sluice_base || PATH_LIST+=(sluice_base)
fi
is_sluice() { [[ $1 == sluice || $1 == sluice_base ]]; }
has_sluiced() { has_path sluice || has_path sluice_base; }
need=(ip awk sort taskset nsenter curl wrk)
has_path haproxy && need+=(haproxy)
if has_path nginx || [[ $BACKEND == nginx ]]; then need+=(nginx); fi
(( PERF || SYSCALLS || ALLOCS )) && need+=(perf)
(( INSTR )) && need+=(valgrind callgrind_control)
(( LAT_RT )) && need+=(chrt)
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null || die "missing $tool"
done
# Direct traffic splits the wrk connections and threads over the two pods.
if has_path direct; then
  (( WRK_THREADS % 2 == 0 && WRK_CONNS % 2 == 0 )) || die "the direct path needs even WRK_THREADS and WRK_CONNS"
fi

# --- build -------------------------------------------------------------------
SLUICED=$BUILD_DIR/userspace/cmd/sluiced
ECHO=$BUILD_DIR/test/tools/echo/sluice-echo
LOADGEN=$BUILD_DIR/bench/sluice-bench-http-load
OTLP_SINK=$BUILD_DIR/test/tools/otlp_receiver/sluice-otlp-sink
if [[ ! -x $SLUICED || ! -x $ECHO || ! -x $LOADGEN || ! -x $OTLP_SINK || ${BENCH_BUILD:-1} == 1 ]]; then
  log "building sluiced, sluice-echo, sluice-bench-http-load and sluice-otlp-sink in $BUILD_DIR"
  if [[ ! -f $BUILD_DIR/build.ninja ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >/dev/null
  fi
  # Only these targets: other parts of the tree may be mid-edit.
  cmake --build "$BUILD_DIR" -j 2 --target sluiced sluice-echo sluice-bench-http-load sluice-otlp-sink >/dev/null
fi

# What is measured: the commit and the uncommitted changes under the daemon's
# sources, as the binaries are taken.
DIRTY=$(git -C "$ROOT" status --porcelain -- userspace bpf loader maps proto 2>/dev/null | awk '{ print $2 }' | xargs)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
SLUICED_BUILT=$(date -r "$SLUICED" '+%F %T')
if [[ -n $BASELINE_SLUICED ]]; then
  # The same for the baseline, from the tree it was built in (if any).
  BASE_TOP=$(git -C "$(dirname "$BASELINE_SLUICED")" rev-parse --show-toplevel 2>/dev/null || true)
  BASE_COMMIT=unknown BASE_DIRTY=""
  if [[ -n $BASE_TOP ]]; then
    BASE_COMMIT=$(git -C "$BASE_TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
    BASE_DIRTY=$(git -C "$BASE_TOP" status --porcelain -- userspace bpf loader maps proto 2>/dev/null | awk '{ print $2 }' | xargs)
  fi
  BASE_BUILT=$(date -r "$BASELINE_SLUICED" '+%F %T')
fi

# --- setup and cleanup -------------------------------------------------------
PREFIX=$(bench_prefix)
WORK=$(mktemp -d /tmp/sluice-l7.XXXXXX)
# Private copies of the binaries: the shared build dir may be rebuilt by
# someone else mid-run (a replaced sluiced also loses its symbols for perf).
mkdir "$WORK/bin"
cp "$SLUICED" "$ECHO" "$LOADGEN" "$OTLP_SINK" "$WORK/bin/"
SLUICED=$WORK/bin/sluiced ECHO=$WORK/bin/sluice-echo LOADGEN=$WORK/bin/sluice-bench-http-load
OTLP_SINK=$WORK/bin/sluice-otlp-sink
BASE_SLUICED=""
if [[ -n $BASELINE_SLUICED ]]; then
  # Its own directory: the same file name (and so the same comm) as sluice's.
  mkdir "$WORK/bin/base"
  cp "$BASELINE_SLUICED" "$WORK/bin/base/sluiced"
  BASE_SLUICED=$WORK/bin/base/sluiced
fi
PIDS=()  # every long-running process we started, stopped in reverse order
SLUICED_PID="" HAPROXY_PID="" NGINX_PID=""
SLUICED_BIN=""  # the binary SLUICED_PID runs: $SLUICED or $BASE_SLUICED
BACKEND_PIDS=()  # the backend servers' main PIDs (nginx: masters)
NODE_UP=0
T_START=$EPOCHREALTIME
LOAD_START=$(cut -d ' ' -f 1-3 /proc/loadavg)


cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  set +e
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
  if (( NODE_UP )); then
    # Also kills anything left in the run's cgroup and netns (e.g. a wrk that
    # an interrupt cut short), then removes netns, cgroup and pin dir.
    "$NODE_SIM" down "$PREFIX" || { log "node_sim down $PREFIX failed"; rc=1; }
  fi
  if [[ -n $KEEP_LOGS ]]; then
    mkdir -p "$KEEP_LOGS" && cp -r "$WORK"/. "$KEEP_LOGS"/ && log "logs kept in $KEEP_LOGS"
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in 1 2 3 4 5; do
  up_rc=0
  "$NODE_SIM" up "$PREFIX" 3 || up_rc=$?
  (( up_rc == 3 )) || break
  PREFIX=sl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
done
(( up_rc == 3 )) || NODE_UP=1
(( up_rc == 0 )) || die "node_sim up failed ($up_rc)"
CGROUP=$CG_ROOT/$PREFIX
PIN=/sys/fs/bpf/$PREFIX/sluice
NODE_NS=/run/netns/$PREFIX-node
[[ -d $CGROUP ]] || die "node_sim did not create $CGROUP"

# nice + taskset prefixes for the three roles (no taskset for "-").
PROXY_PIN=() LOAD_PIN=() BACKEND_PIN=()
[[ $PROXY_CPUS == - ]] || PROXY_PIN=(taskset -c "$PROXY_CPUS")
[[ $LOAD_CPUS == - ]] || LOAD_PIN=(taskset -c "$LOAD_CPUS")
[[ $BACKEND_CPUS == - ]] || BACKEND_PIN=(taskset -c "$BACKEND_CPUS")
PROXY_PIN=(nice -n "$NICE" "${PROXY_PIN[@]}")
LOAD_PIN=(nice -n "$NICE" "${LOAD_PIN[@]}")
BACKEND_PIN=(nice -n "$NICE" "${BACKEND_PIN[@]}")
# A process in the node netns and cgroup. nsenter, not `ip netns exec`: the
# latter remounts /sys, which hides bpffs from sluiced. Cgroup first (the
# remount would hide it too), then the CPU pinning, then the netns; every step
# execs, so $! is the PID of the final program.
start_in_node() { # log file, command...
  local logf=$1
  shift
  sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CGROUP" "${PROXY_PIN[@]}" \
    nsenter --net="$NODE_NS" "$@" >"$logf" 2>&1 &
}
in_client() { "$NODE_SIM" exec "$PREFIX" "p$CLIENT_POD" "$@"; }

# --- backends ------------------------------------------------------------------
# Started in the pod netns (and the node cgroup) by node_sim exec, pinned and
# niced; every step execs, so $! is the server's PID.
if [[ $BACKEND == nginx ]]; then
  mkdir -p "$WORK/www"
  head -c "$BODY_BYTES" /dev/zero | tr '\0' x >"$WORK/www/body.bin"
  # nginx workers run as nobody: they must reach the file.
  chmod 0755 "$WORK" "$WORK/www"
  chmod 0644 "$WORK/www/body.bin"
  for i in "${BACKEND_PODS[@]}"; do
    d=$WORK/backend-p$i
    mkdir -p "$d"
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    # One read and one writev per response: no sendfile (the body would go
    # out as a second segment), the file's descriptor cached.
    sendfile off;
    open_file_cache max=16 inactive=600s;
    open_file_cache_valid 600s;
    default_type application/octet-stream;
    server {
        listen 0.0.0.0:$ECHO_PORT;
        root $WORK/www;
        add_header x-echo-pod p$i always;
        # What the backend saw, for the path checks: sluiced adds x-request-id
        # and connects from the node address.
        add_header x-seen-request-id "\$http_x_request_id" always;
        add_header x-seen-remote "\$remote_addr" always;
    }
}
EOF
    "$NODE_SIM" exec "$PREFIX" "p$i" "${BACKEND_PIN[@]}" nginx -e "$d/error.log" -p "$d/" -c "$d/nginx.conf" \
      -g 'daemon off;' >"$d/stdout.log" 2>&1 &
    BACKEND_PIDS+=("$!")
    PIDS+=("$!")
  done
else
  for i in "${BACKEND_PODS[@]}"; do
    "$NODE_SIM" exec "$PREFIX" "p$i" "${BACKEND_PIN[@]}" "$ECHO" --listen "0.0.0.0:$ECHO_PORT" --name "p$i" \
      --version v1 --threads "$ECHO_THREADS" >"$WORK/echo-p$i.log" 2>&1 &
    BACKEND_PIDS+=("$!")
    PIDS+=("$!")
  done
fi
wait_listen() { # netns path, port
  for _ in $(seq 100); do
    nsenter --net="$1" ss -Hltn "sport = :$2" | grep -q . && return 0
    sleep 0.05
  done
  return 1
}
for i in "${BACKEND_PODS[@]}"; do
  wait_listen "/run/netns/$PREFIX-p$i" "$ECHO_PORT" ||
    die "the backend in p$i is not listening: $(tail -n 3 "$WORK"/echo-p"$i".log "$WORK"/backend-p"$i"/*.log 2>/dev/null)"
done
# All backend processes (nginx: master and worker).
backend_pids() {
  local pid
  for pid in "${BACKEND_PIDS[@]}"; do
    echo "$pid"
    [[ $BACKEND != nginx ]] || pgrep -P "$pid" || true
  done
}

# --- sluiced -------------------------------------------------------------------
mkdir -p "$WORK/config"
{
  cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: bench}
spec: {clusterIP: $VIP, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: $ECHO_PORT}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: bench}
spec:
  host: echo
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: bench}
spec:
  hosts: [echo]
  http:
  - route:
    - destination: {host: echo}
EOF
  for i in "${BACKEND_PODS[@]}"; do
    printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: echo-p%s, namespace: bench, labels: {app: echo, version: v1}}\n' "$i"
    printf 'status: {phase: Running, podIP: 10.200.1.%s}\n' "$i"
  done
} >"$WORK/config/mesh.yaml"

SLUICED_EXTRA=()  # more sluiced flags (the observability runs)
SLUICED_WRAP=()  # a command sluiced runs under (INSTR: valgrind)
start_sluiced() { # binary, log file: starts it and waits until it is ready
  local access=(--no-access-log) ready=0
  (( SLUICE_ACCESS_LOG )) && access=()
  start_in_node "$2" "${SLUICED_WRAP[@]}" "$1" --config "$WORK/config" --cgroup "$CGROUP" --pin-dir "$PIN" \
    --admin-port "$ADMIN_PORT" --node-ip "$NODE_IP" --proxy-port "$PROXY_PORT" --workers "$WORKERS" \
    --socket-redirect "$SOCKET_REDIRECT" --pod-cidr 10.200.0.0/16 "${access[@]}" "${SLUICED_EXTRA[@]}" --cleanup
  SLUICED_PID=$!
  SLUICED_BIN=$1
  PIDS+=("$SLUICED_PID")
  # 5 s; under valgrind (INSTR) a minute.
  for _ in $(seq $(( ${#SLUICED_WRAP[@]} ? 3000 : 250 ))); do
    kill -0 "$SLUICED_PID" 2>/dev/null || break
    if [[ $(nsenter --net="$NODE_NS" curl -s -m 1 "http://127.0.0.1:$ADMIN_PORT/ready" 2>/dev/null) == ready ]]; then
      ready=1
      break
    fi
    sleep 0.02
  done
  (( ready )) || die "sluiced did not become ready: $(tail -n 5 "$2")"
}
if has_sluiced; then
  # With a baseline, the binary of whichever of the two paths comes first.
  first_bin=$SLUICED
  for p in "${PATH_LIST[@]}"; do
    if is_sluice "$p"; then
      [[ $p == sluice ]] || first_bin=$BASE_SLUICED
      break
    fi
  done
  if [[ $first_bin == "$SLUICED" ]]; then start_sluiced "$SLUICED" "$WORK/sluiced.log"; else start_sluiced "$BASE_SLUICED" "$WORK/sluiced-base.log"; fi
fi

# --- HAProxy -------------------------------------------------------------------
if has_path haproxy; then
  cat >"$WORK/haproxy.cfg" <<EOF
global
    nbthread $WORKERS
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend fe
    bind $NODE_IP:$HAPROXY_PORT
    default_backend echo

backend echo
    balance roundrobin
    http-reuse always
$(for i in "${BACKEND_PODS[@]}"; do echo "    server p$i 10.200.1.$i:$ECHO_PORT"; done)
EOF
  start_in_node "$WORK/haproxy.log" haproxy -db -f "$WORK/haproxy.cfg"
  HAPROXY_PID=$!
  PIDS+=("$HAPROXY_PID")
  wait_listen "$NODE_NS" "$HAPROXY_PORT" || die "haproxy is not listening: $(tail -n 5 "$WORK/haproxy.log")"
fi

# --- nginx ---------------------------------------------------------------------
if has_path nginx; then
  NGX=$WORK/nginx
  mkdir -p "$NGX/tmp"
  cat >"$NGX/nginx.conf" <<EOF
worker_processes $WORKERS;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
$(nginx_temp_paths "$NGX/tmp")
    # The default of 1000 requests per connection would make nginx alone
    # reconnect during the run; HAProxy and sluiced have no such limit.
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    upstream echo {
$(for i in "${BACKEND_PODS[@]}"; do echo "        server 10.200.1.$i:$ECHO_PORT;"; done)
        keepalive $NGINX_KEEPALIVE;
        keepalive_requests 1000000;
    }
    server {
        listen $NODE_IP:$NGINX_PORT;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
  start_in_node "$WORK/nginx.log" nginx -e "$NGX/error.log" -p "$NGX/" -c "$NGX/nginx.conf" -g 'daemon off;'
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  wait_listen "$NODE_NS" "$NGINX_PORT" || die "nginx is not listening: $(tail -n 5 "$NGX/error.log" "$WORK/nginx.log")"
fi

# --- per path ------------------------------------------------------------------
# host:port the client sends to (direct: both pods).
targets_of() {
  case $1 in
    direct) for i in "${BACKEND_PODS[@]}"; do echo "10.200.1.$i:$ECHO_PORT"; done ;;
    sluice | sluice_base) echo "$VIP:80" ;;
    haproxy) echo "$NODE_IP:$HAPROXY_PORT" ;;
    nginx) echo "$NODE_IP:$NGINX_PORT" ;;
  esac
}
# PIDs whose CPU time is the path's cost (none for direct).
pids_of() {
  case $1 in
    sluice | sluice_base) echo "$SLUICED_PID" ;;
    haproxy) echo "$HAPROXY_PID" ;;
    nginx) echo "$NGINX_PID"; pgrep -P "$NGINX_PID" || true ;;
  esac
}
# Every long-running process we started (for LAT_RT): backends and proxies.
server_pids() {
  local p
  backend_pids
  has_sluiced && echo "$SLUICED_PID"
  for p in haproxy nginx; do
    has_path "$p" && pids_of "$p"
  done
  return 0
}
set_rt() { # on|off: SCHED_FIFO 10 or back to SCHED_OTHER (the nice value stays), all threads
  local pid
  (( LAT_RT )) || return 0
  for pid in $(server_pids); do
    if [[ $1 == on ]]; then
      chrt -a -f -p 10 "$pid" >/dev/null || log "chrt -f $pid failed"
    else
      chrt -a -o -p 0 "$pid" >/dev/null || log "chrt -o $pid failed"
    fi
  done
}
pin_proxy() { # path, CPU list: every thread of the path's processes
  local pid
  [[ $2 == - || $LAT_PROXY_CPUS == "$PROXY_CPUS" ]] && return 0
  for pid in $(pids_of "$1"); do taskset -a -p -c "$2" "$pid" >/dev/null || log "taskset $pid failed"; done
}
LAT_PREFIX=("${LOAD_PIN[@]}")
(( ! LAT_RT )) || LAT_PREFIX=(chrt -f 10 "${LOAD_PIN[@]}")
CLK_TCK=$(getconf CLK_TCK)
ticks() { # utime + stime of the PIDs, in clock ticks (all threads)
  local t=0 p s
  local -a f
  for p in "$@"; do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    read -r -a f <<<"$s"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
user_ticks() { # utime alone of one PID (all threads)
  local s
  local -a f
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  s=${s##*) }
  read -r -a f <<<"$s"
  echo "${f[11]}"
}
rss_kb() { # VmRSS summed over the PIDs
  local t=0 p v
  for p in "$@"; do
    v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
# Per-CPU busy and total jiffies, plus the CPU time of everything this run
# started (all of it lives in the node cgroup), to tell our load from other
# tenants' on a shared machine.
cpu_snap() {
  awk '/^cpu[0-9]/ { b = $2 + $3 + $4 + $7 + $8 + $9; printf "%s %d %d\n", $1, b, b + $5 + $6 }' /proc/stat
  awk '$1 == "usage_usec" { print "cg", $2, 0 }' "$CGROUP/cpu.stat"
}
cpu_busy() { # before-file after-file -> "cpu0 97% cpu1 80%, others 12%"
  awk -v hz="$CLK_TCK" 'NR == FNR { b[$1] = $2; t[$1] = $3; next }
       $1 == "cg" { cg = ($2 - b["cg"]) / 1e6; next }
       { dt = $3 - t[$1]; printf "%s%s %.0f%%", sep, $1, (dt > 0 ? 100 * ($2 - b[$1]) / dt : 0); sep = " ";
         busy += ($2 - b[$1]) / hz; cap += dt / hz }
       END { o = cap > 0 ? 100 * (busy - cg) / cap : 0; printf ", others %.0f%%", (o < 0 ? 0 : o) }' "$1" "$2"
}
# Other tenants' share of the machine's CPU over one second.
others_pct() {
  cpu_snap >"$WORK/quiet.before"
  sleep 1
  cpu_snap >"$WORK/quiet.after"
  cpu_busy "$WORK/quiet.before" "$WORK/quiet.after" | sed 's/.*others \(-\?[0-9]*\)%.*/\1/'
}
# Waits (at most QUIET_WAIT s) until other tenants use at most QUIET_PCT% of
# the machine, so that a throughput run is not decided by someone's compile.
quiet_wait() {
  local waited=0 o
  (( QUIET_WAIT > 0 )) || return 0
  while :; do
    o=$(others_pct)
    (( o <= QUIET_PCT )) && break
    if (( waited >= QUIET_WAIT )); then
      log "other tenants still use ${o}% of the CPUs after ${waited}s; measuring anyway"
      return 0
    fi
    waited=$((waited + 1))
  done
  (( waited == 0 )) || log "waited ${waited}s for other tenants' load to drop to ${o}%"
}
per_1k() { # ticks, requests -> CPU seconds per 1000 requests
  awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.4f\n", t / hz / n * 1000; else print "err" }'
}

# Works through the path? 4 requests must reach both pods; sluice's must have
# gone through the proxy (it adds x-request-id, and the backend sees the node
# address as the peer) rather than the kernel's L4 fallback.
proxied_by_sluice() { # curl -i output (nginx) or the JSON body (echo)
  if [[ $BACKEND == nginx ]]; then
    [[ $1 =~ x-seen-request-id:\ [0-9a-f-]{36} && $1 == *"x-seen-remote: $NODE_IP"* ]]
  else
    [[ $1 == *'"x-request-id"'* && $1 == *"\"remote_addr\":\"$NODE_IP:"* ]]
  fi
}
check_path() {
  local p=$1 t out pods="" i
  read -r t < <(targets_of "$p")
  for i in 1 2 3 4; do
    [[ $p == direct ]] && t=10.200.1.${BACKEND_PODS[i % 2]}:$ECHO_PORT
    out=$(in_client curl -s -i -m 3 -H 'Host: echo' "http://$t$REQ_PATH" 2>/dev/null | tr -d '\r') || return 1
    [[ $out =~ x-echo-pod:\ (p[0-9]+) ]] || { log "$p: no x-echo-pod in the reply: ${out:0:300}"; return 1; }
    pods+=" ${BASH_REMATCH[1]}"
    if is_sluice "$p" && [[ $BACKEND == echo ]]; then
      out=$(in_client curl -s -m 3 -H 'Host: echo' "http://$t/" 2>/dev/null) || return 1
    fi
    if is_sluice "$p" && ! proxied_by_sluice "$out"; then
      log "$p: a request did not go through the proxy: ${out:0:300}"
      return 1
    fi
  done
  [[ $pods == *p2* && $pods == *p3* ]] || { log "$p: requests did not reach both pods:$pods"; return 1; }
  # One body of the benchmark's size.
  out=$(in_client curl -s -m 3 -o /dev/null -w '%{http_code} %{size_download}' -H 'Host: echo' "http://$t$REQ_PATH")
  [[ $out == "200 $BODY_BYTES" ]] || { log "$p: $REQ_PATH gave '$out'"; return 1; }
}

# The sluice path needs the kernel redirect, which starts once sluiced has
# registered its proxy listener (docs/operations.md): wait for it.
wait_redirect() { # status 1 if it did not start
  local probe_path=/ out
  [[ $BACKEND == echo ]] || probe_path=$REQ_PATH
  for _ in $(seq 100); do
    out=$(in_client curl -s -i -m 1 "http://$VIP$probe_path" 2>/dev/null | tr -d '\r' || true)
    proxied_by_sluice "$out" && return 0
    sleep 0.05
  done
  return 1
}
has_sluiced && { wait_redirect || true; }
# sluice and sluice_base share the node's cgroup and pin dir: before either
# path is checked or measured, its binary replaces the other's. The running
# sluiced stops (--cleanup: it detaches its programs and removes the pin dir)
# and the other starts afresh and loads its own; both have the same kernel
# programs and map layout, so even pins a killed daemon left behind are
# adopted safely. With "fresh" (before each measurement) the daemon is
# restarted even when it runs the right binary, so that every sluice and
# sluice_base measurement starts from a daemon alike in age. Without a
# baseline this never restarts anything.
FAILED=0
SLUICED_STARTS=1
use_sluiced() { # path [fresh]
  local bin
  case $1 in
    sluice) bin=$SLUICED ;;
    sluice_base) bin=$BASE_SLUICED ;;
    *) return 0 ;;
  esac
  [[ $bin != "$SLUICED_BIN" || ( -n $BASE_SLUICED && ${2:-} == fresh ) ]] || return 0
  restart_sluiced "$bin" "$1"
}
restart_sluiced() { # binary, name (of the log file and in messages)
  local i
  stop_pid "$SLUICED_PID"
  for i in "${!PIDS[@]}"; do [[ ${PIDS[i]} != "$SLUICED_PID" ]] || unset 'PIDS[i]'; done
  PIDS=("${PIDS[@]}")
  [[ ! -e $PIN ]] || log "sluiced (PID $SLUICED_PID) left $PIN behind; the next one adopts it"
  SLUICED_STARTS=$((SLUICED_STARTS + 1))
  start_sluiced "$1" "$WORK/sluiced.$SLUICED_STARTS.$2.log"
  if ! wait_redirect; then
    log "$2: after the restart, requests to $VIP do not go through sluiced"
    FAILED=1
  fi
}
LIVE=()
declare -A STATUS
for p in "${PATH_LIST[@]}"; do
  use_sluiced "$p"
  if check_path "$p"; then
    LIVE+=("$p")
  else
    STATUS[$p]=error
    log "$p: the path does not work; skipping it"
  fi
done
(( ${#LIVE[@]} > 0 )) || die "no path works"
log "prefix $PREFIX; paths: ${LIVE[*]}; $ROUNDS round(s) of wrk -c $WRK_CONNS -t $WRK_THREADS -d ${WRK_DURATION}s" \
  "and $RATE req/s open loop for ${LAT_DURATION}s (+${LAT_WARMUP}s warm-up)"

# wrk, closed loop: requests/s. Direct: one wrk per pod, summed.
run_wrk() { # path -> "rps requests errors"
  local p=$1 k=0 t n out tot_rps=0 tot_req=0 errs=0 c=$WRK_CONNS th=$WRK_THREADS
  local -a wpids=() tl
  mapfile -t tl < <(targets_of "$p")
  n=${#tl[@]}
  c=$((c / n)) th=$((th / n))
  for t in "${tl[@]}"; do
    in_client "${LOAD_PIN[@]}" wrk -c "$c" -t "$th" -d "${WRK_DURATION}s" --timeout 5s -H 'Host: echo' \
      "http://$t$REQ_PATH" >"$WORK/wrk.$k.out" 2>&1 &
    wpids+=("$!")
    k=$((k + 1))
  done
  for t in "${wpids[@]}"; do wait "$t" || true; done
  for ((k = 0; k < n; k++)); do
    out=$(<"$WORK/wrk.$k.out")
    cat "$WORK/wrk.$k.out" >>"$WORK/wrk.raw"
    if [[ $out =~ Requests/sec:\ *([0-9.]+) ]]; then
      tot_rps=$(awk -v a="$tot_rps" -v b="${BASH_REMATCH[1]}" 'BEGIN { printf "%.1f", a + b }')
    else
      echo "err 0 1"
      return
    fi
    [[ $out =~ ([0-9]+)\ requests\ in ]] && tot_req=$((tot_req + BASH_REMATCH[1]))
    [[ $out =~ Non-2xx\ or\ 3xx\ responses:\ *([0-9]+) ]] && errs=$((errs + BASH_REMATCH[1]))
    [[ $out =~ Socket\ errors:\ connect\ ([0-9]+),\ read\ ([0-9]+),\ write\ ([0-9]+),\ timeout\ ([0-9]+) ]] &&
      errs=$((errs + BASH_REMATCH[1] + BASH_REMATCH[2] + BASH_REMATCH[3] + BASH_REMATCH[4]))
  done
  echo "$tot_rps $tot_req $errs"
}

# Open loop at RATE: "p50 p99 p999 total errors" (latencies in µs).
run_lat() {
  local p=$1 t out n=0
  local -a args=()
  for t in $(targets_of "$p"); do args+=(--target "$t"); n=$((n + 1)); done
  # LAT_CONNS in all, split over the targets.
  local conns=$((LAT_CONNS / n > 0 ? LAT_CONNS / n : 1))
  out=$(in_client "${LAT_PREFIX[@]}" "$LOADGEN" "${args[@]}" --rate "$RATE" --duration-s "$LAT_DURATION" \
    --warmup-s "$LAT_WARMUP" --connections "$conns" --path "$REQ_PATH" --host echo --slow-us "$LAT_SLOW_US" \
    2> >(sed "s/^/$p: /" >>"$WORK/loadgen.err")) || true
  echo "$p $out" >>"$WORK/lat.raw"
  if [[ $out =~ errors=([0-9]+).*p50_us=([0-9.]+).*p99_us=([0-9.]+)\ p999_us=([0-9.]+).*total=([0-9]+) ]]; then
    echo "${BASH_REMATCH[2]} ${BASH_REMATCH[3]} ${BASH_REMATCH[4]} ${BASH_REMATCH[5]} ${BASH_REMATCH[1]}"
  else
    echo "err err err 0 1"
  fi
}

median() { # values on stdin, "err" ignored; prints the median or "err"
  sort -g | awk '$1 != "err" { v[n++] = $1 } END {
    if (!n) { print "err"; exit } print (n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2) }'
}

declare -A RSS BUSY
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#LIVE[@]}; k++)); do
    p=${LIVE[$(((k + r) % ${#LIVE[@]}))]}
    use_sluiced "$p" fresh
    mapfile -t pp < <(pids_of "$p")
    # Throughput.
    quiet_wait
    cpu_snap >"$WORK/cpu.before"
    t0=$(ticks "${pp[@]}")
    mapfile -t bp < <(backend_pids)
    e0=$(ticks "${bp[@]}")
    read -r rps nreq errs < <(run_wrk "$p")
    t1=$(ticks "${pp[@]}")
    e1=$(ticks "${bp[@]}")
    cpu_snap >"$WORK/cpu.after"
    busy=$(cpu_busy "$WORK/cpu.before" "$WORK/cpu.after")
    BUSY[$p]="${BUSY[$p]:-}${BUSY[$p]:+; }$busy"
    echo "$rps" >>"$WORK/$p.rps"
    (( ${#pp[@]} )) && per_1k $((t1 - t0)) "$nreq" >>"$WORK/$p.cpu_max"
    # The proxy's share of one CPU over the wrk run: near 100% means it, not
    # the client or the backends, set the pace.
    (( ${#pp[@]} )) && awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v d="$WRK_DURATION" \
      'BEGIN { printf "%.0f\n", 100 * t / hz / d }' >>"$WORK/$p.util"
    per_1k $((e1 - e0)) "$nreq" >>"$WORK/$p.backend_cpu"
    if (( ${#pp[@]} )); then
      kb=$(rss_kb "${pp[@]}")
      (( kb > ${RSS[$p]:-0} )) && RSS[$p]=$kb
    fi
    (( errs == 0 )) || { log "$p: wrk saw $errs errors"; FAILED=1; }
    log "round $((r + 1)) $p: wrk ${rps} req/s ($nreq requests, $errs errors; $busy)"
    sleep 1
    # Latency at a fixed rate.
    pin_proxy "$p" "$LAT_PROXY_CPUS"
    set_rt on
    t0=$(ticks "${pp[@]}")
    read -r p50 p99 p999 total lerr < <(run_lat "$p")
    t1=$(ticks "${pp[@]}")
    set_rt off
    pin_proxy "$p" "$PROXY_CPUS"
    echo "$p50" >>"$WORK/$p.p50"
    echo "$p99" >>"$WORK/$p.p99"
    echo "$p999" >>"$WORK/$p.p999"
    (( ${#pp[@]} )) && per_1k $((t1 - t0)) "$total" >>"$WORK/$p.cpu_rate"
    [[ $p50 != err && $lerr == 0 ]] || { log "$p: open-loop run had errors ($lerr)"; FAILED=1; }
    log "round $((r + 1)) $p: at $RATE req/s p50 ${p50} µs p99 ${p99} µs p99.9 ${p999} µs"
    sleep 1
  done
done

# The cost of observability: sluiced's CPU per request at max load with its
# request metrics off, as is (metrics on, tracing off), and tracing at 1%
# and 100% (spans exported to a local OTLP sink), in rotating rounds.
OBS_VARIANTS=(as_is metrics_off tracing1 tracing100 policies)
# The "policies" variant: 10 AuthorizationPolicies on the echo workload
# (DENYs that never match wrk's requests and ALLOWs that one of always does,
# L7 and L4 alike) and one RateLimitPolicy whose bucket never runs dry, so
# every request pays for the checks and none is refused.
write_policies() {
  local i
  for i in 1 2 3 4 5; do
    printf -- '---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-%s, namespace: bench}\n' "$i"
    printf 'spec:\n  selector: {matchLabels: {app: echo}}\n  action: DENY\n  rules:\n'
    printf '  - to: [{operation: {paths: ["/admin%s/*"], methods: [DELETE]}}]\n' "$i"
    printf '  - from: [{source: {namespaces: [blocked-%s]}}]\n' "$i"
  done
  for i in 1 2 3 4 5; do
    printf -- '---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-%s, namespace: bench}\n' "$i"
    printf 'spec:\n  selector: {matchLabels: {app: echo}}\n  action: ALLOW\n  rules:\n'
    printf '  - to: [{operation: {methods: [GET, HEAD], paths: ["/*"]}}]\n'
    printf '    when: [{key: "request.headers[x-bench-%s]", notValues: ["refuse"]}]\n' "$i"
  done
  printf -- '---\napiVersion: sluice.io/v1alpha1\nkind: RateLimitPolicy\nmetadata: {name: echo, namespace: bench}\n'
  printf 'spec:\n  service: echo\n  tokenBucket: {maxTokens: 4000000000, tokensPerFill: 4000000000, fillInterval: 1s}\n'
}
# Sets sluiced's flags and config for an observability variant (the next
# restart_sluiced takes them). The tracing ones need the OTLP sink running.
obs_variant() { # variant
  local otlp=(--otlp-endpoint "http://127.0.0.1:$OTLP_PORT/v1/traces")
  case $1 in
    as_is) SLUICED_EXTRA=() ;;
    metrics_off) SLUICED_EXTRA=(--no-request-metrics) ;;
    tracing1) SLUICED_EXTRA=("${otlp[@]}" --trace-sample-percent 1) ;;
    tracing100) SLUICED_EXTRA=("${otlp[@]}" --trace-sample-percent 100) ;;
    policies) SLUICED_EXTRA=() ;;
  esac
  rm -f "$WORK/config/policies.yaml"
  [[ $1 != policies ]] || write_policies >"$WORK/config/policies.yaml"
}
OTLP_PORT=4318
OBS_SPANS=""
if (( OBS_ROUNDS > 0 || INSTR || ${#PROFILE_VARIANT} > 0 )) && [[ " ${LIVE[*]} " == *" sluice "* ]]; then
  sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CGROUP" "${LOAD_PIN[@]}" \
    nsenter --net="$NODE_NS" "$OTLP_SINK" "$OTLP_PORT" >"$WORK/otlp-sink.log" 2>&1 &
  PIDS+=("$!")
  wait_listen "$NODE_NS" "$OTLP_PORT" || die "sluice-otlp-sink is not listening: $(tail -n 3 "$WORK/otlp-sink.log")"
fi
if (( OBS_ROUNDS > 0 )) && [[ " ${LIVE[*]} " == *" sluice "* ]]; then
  for ((r = 0; r < OBS_ROUNDS; r++)); do
    for ((k = 0; k < ${#OBS_VARIANTS[@]}; k++)); do
      v=${OBS_VARIANTS[$(((k + r) % ${#OBS_VARIANTS[@]}))]}
      obs_variant "$v"
      restart_sluiced "$SLUICED" "obs-$v"
      quiet_wait
      t0=$(ticks "$SLUICED_PID")
      read -r rps nreq errs < <(run_wrk sluice)
      t1=$(ticks "$SLUICED_PID")
      per_1k $((t1 - t0)) "$nreq" >>"$WORK/obs.$v"
      (( errs == 0 )) || { log "obs $v: wrk saw $errs errors"; FAILED=1; }
      spans=""
      if [[ $v == tracing* ]]; then
        spans=$(nsenter --net="$NODE_NS" curl -s -m 2 "http://127.0.0.1:$ADMIN_PORT/metrics" |
          awk '/^sluice_tracing_spans_[a-z]+_total / { sub(/^sluice_tracing_spans_/, "", $1); sub(/_total$/, "", $1); printf " %s=%s", $1, $2 }')
        OBS_SPANS+="${OBS_SPANS:+; }$v round $((r + 1)):$spans"
      fi
      log "observability round $((r + 1)) $v: wrk $rps req/s, $(tail -n 1 "$WORK/obs.$v") cpu_s/1k${spans:+, spans$spans}"
      sleep 1
    done
  done
  SLUICED_EXTRA=()
  rm -f "$WORK/config/policies.yaml"
  restart_sluiced "$SLUICED" sluice
fi

# INSTR: each variant's user-space instructions per request, under callgrind.
# Counting starts when sluiced is ready and has been checked (zeroed), so
# start-up, config loading and BPF loading are left out.
if (( INSTR )) && [[ " ${LIVE[*]} " == *" sluice "* ]]; then
  # User space's share of sluiced's CPU at max load (as is, no valgrind):
  # what turns an instruction ratio into an estimate of the CPU ratio, since
  # the variants add user-space work only (the kernel's part per request,
  # reads, writes and the sockmap, stays).
  obs_variant as_is
  restart_sluiced "$SLUICED" instr-split
  quiet_wait
  t0=$(ticks "$SLUICED_PID") u0=$(user_ticks "$SLUICED_PID")
  run_wrk sluice >/dev/null
  t1=$(ticks "$SLUICED_PID") u1=$(user_ticks "$SLUICED_PID")
  USER_SHARE=$(awk -v u=$((u1 - u0)) -v t=$((t1 - t0)) 'BEGIN { if (t > 0) printf "%.3f", u / t; else print "err" }')
  log "instructions: user space is $USER_SHARE of sluiced's CPU at max load (as is)"
  for v in "${OBS_VARIANTS[@]}"; do
    obs_variant "$v"
    SLUICED_WRAP=(valgrind -q --tool=callgrind --dump-instr=no --callgrind-out-file="$WORK/callgrind.$v")
    restart_sluiced "$SLUICED" "instr-$v"
    callgrind_control -z "$SLUICED_PID" >/dev/null
    read -r rps nreq errs < <(WRK_DURATION=$INSTR_SECONDS run_wrk sluice)
    rm -f "$WORK/callgrind.$v".*
    callgrind_control -d "$SLUICED_PID" >/dev/null
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$WORK/callgrind.$v".* 2>/dev/null || true)
    (( errs == 0 )) || { log "instr $v: wrk saw $errs errors"; FAILED=1; }
    if [[ -n $ir ]] && (( nreq > 0 )); then
      awk -v i="$ir" -v n="$nreq" 'BEGIN { printf "%.0f\n", i / n }' >"$WORK/instr.$v"
    else
      echo err >"$WORK/instr.$v"
    fi
    log "instructions $v: $nreq requests ($rps req/s under valgrind), $(cat "$WORK/instr.$v") instructions per request"
  done
  SLUICED_WRAP=()
  rm -f "$WORK/config/policies.yaml"
  obs_variant as_is
  restart_sluiced "$SLUICED" sluice
fi

# PERF and ALLOCS profile sluiced as PROFILE_VARIANT configures it.
if [[ -n $PROFILE_VARIANT ]] && (( PERF || ALLOCS )) && [[ " ${LIVE[*]} " == *" sluice "* ]]; then
  use_sluiced sluice
  obs_variant "$PROFILE_VARIANT"
  restart_sluiced "$SLUICED" "profile-$PROFILE_VARIANT"
fi

# Optional: where sluiced spends its time under wrk load.
PERF_TOP=""
if (( PERF )) && [[ " ${LIVE[*]} " == *" sluice "* ]]; then
  use_sluiced sluice
  log "perf: profiling sluiced during one more wrk run"
  quiet_wait
  perf record -q -F 499 --call-graph dwarf,16384 -p "$SLUICED_PID" -o "$WORK/perf.data" -- sleep "$WRK_DURATION" \
    >/dev/null 2>&1 &
  perf_pid=$!
  run_wrk sluice >/dev/null
  wait "$perf_pid" || true
  # Where the time goes by binary, then the hottest functions (self time;
  # inclusive times say little here: the coroutines resume from Asio's loop).
  perf_rows() { # rows, perf report arguments -> the first rows of its percentages, cut to 150 columns
    local n=$1
    shift
    perf report -i "$WORK/perf.data" --stdio -g none "$@" 2>/dev/null | grep -E '^ +[0-9.]+%' |
      sed -e 's/[ -]*$//' | cut -c1-150 | head -n "$n" || true
  }
  PERF_TOP="by binary:"$'\n'$(perf_rows 6 --no-children --sort dso)
  PERF_TOP+=$'\n'"hottest functions (self):"$'\n'$(perf_rows 25 --no-children --sort dso,symbol)
fi

# Optional: system calls per request of each proxy under wrk load, the
# kinds that matter for a proxy and the total.
SYSCALL_ROWS=""
if (( SYSCALLS )); then
  sc_events=(raw_syscalls:sys_enter)
  for s in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait epoll_ctl \
    timerfd_settime futex accept4 connect close; do
    [[ -d /sys/kernel/tracing/events/syscalls/sys_enter_$s || -d /sys/kernel/debug/tracing/events/syscalls/sys_enter_$s ]] &&
      sc_events+=("syscalls:sys_enter_$s")
  done
  sc_list=$(IFS=,; echo "${sc_events[*]}")
  for p in "${LIVE[@]}"; do
    [[ $p == direct ]] && continue
    use_sluiced "$p"
    sc_pids=$(pids_of "$p" | paste -sd, -)
    [[ -n $sc_pids ]] || continue
    log "syscalls: counting $p during one more wrk run"
    quiet_wait
    perf stat -x, -e "$sc_list" -p "$sc_pids" -o "$WORK/syscalls.$p" -- sleep "$WRK_DURATION" >/dev/null 2>&1 &
    sc_perf=$!
    read -r _ sc_req _ < <(run_wrk "$p")
    wait "$sc_perf" || true
    (( sc_req > 0 )) || continue
    SYSCALL_ROWS+=$(awk -F, -v p="$p" -v n="$sc_req" '
      $3 ~ /sys_enter/ && $1 ~ /^[0-9]+$/ && $1 > 0 {
        name = $3; sub(/.*sys_enter_?/, "", name); if (name == "") name = "total"
        row = row sprintf(" %s=%.2f", name, $1 / n)
      }
      END { printf "  %-8s%s\n", p, row }' "$WORK/syscalls.$p")$'\n'
  done
fi

# Optional: sluiced's heap allocations per request under wrk load.
ALLOC_ROW=""
if (( ALLOCS )) && [[ " ${LIVE[*]} " == *" sluice "* ]]; then
  use_sluiced sluice
  libc=$(awk '$NF ~ /\/libc\.so/ { print $NF; exit }' "/proc/$SLUICED_PID/maps")
  if [[ -n $libc ]] && perf probe -q -x "$libc" -a sl_malloc=malloc >/dev/null 2>&1; then
    log "allocs: counting sluiced's malloc calls during one more wrk run"
    quiet_wait
    perf stat -x, -e probe_libc:sl_malloc -p "$SLUICED_PID" -o "$WORK/allocs" -- sleep "$WRK_DURATION" >/dev/null 2>&1 &
    al_perf=$!
    read -r _ al_req _ < <(run_wrk sluice)
    wait "$al_perf" || true
    (( al_req > 0 )) && ALLOC_ROW=$(awk -F, -v n="$al_req" '$3 ~ /sl_malloc/ { printf "%.1f", $1 / n }' "$WORK/allocs")
    # Where they come from: every 500th call's stack, during one more run.
    perf record -q -e probe_libc:sl_malloc -c 500 --call-graph dwarf,8192 -p "$SLUICED_PID" -o "$WORK/allocs.data" \
      -- sleep "$WRK_DURATION" >/dev/null 2>&1 &
    al_perf=$!
    run_wrk sluice >/dev/null
    wait "$al_perf" || true
    perf probe -q -d probe_libc:sl_malloc >/dev/null 2>&1 || true
    ALLOC_ROW+=$'\n'"callers (perf report --children, callers of malloc):"$'\n'
    ALLOC_ROW+=$(perf report -i "$WORK/allocs.data" --stdio --no-children -g caller,0.5,callee,function,percent \
      --percent-limit 2 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 120 || true)
  else
    log "allocs: cannot place a uprobe on malloc in ${libc:-libc}"
  fi
fi

# --- report --------------------------------------------------------------------
num() { [[ ${1:-} =~ ^[0-9.]+$ ]]; }
declare -A M
for p in "${PATH_LIST[@]}"; do
  for f in rps p50 p99 p999 cpu_max cpu_rate backend_cpu util; do
    if [[ -f $WORK/$p.$f ]]; then M[$p,$f]=$(median <"$WORK/$p.$f"); else M[$p,$f]=-; fi
  done
  # Throughput: the best round. Other tenants' load can only lower it, so the
  # best round is the closest to what the path does on a machine of its own.
  M[$p,rps_med]=${M[$p,rps]}
  if [[ -f $WORK/$p.rps ]]; then
    M[$p,rps]=$(awk '$1 != "err" && $1 > m { m = $1 } END { print m ? m : "err" }' "$WORK/$p.rps")
  fi
  [[ ${STATUS[$p]:-} != error ]] || M[$p,rps]=error
done
# The path column fits sluice_base when it is there.
PATH_W=8
has_path sluice_base && PATH_W=11
row() { printf "%-${PATH_W}s"' %9s %9s %8s %8s %9s %12s %12s %7s %8s %12s\n' "$@"; }
echo
echo "L7: GET $REQ_PATH (a ${BODY_BYTES}-byte body) from 2 $([[ $BACKEND == nginx ]] && echo "nginx" || echo "sluice-echo") backend pods; $ROUNDS round(s), medians unless noted"
echo "max req/s: wrk -c $WRK_CONNS -t $WRK_THREADS -d ${WRK_DURATION}s (closed loop, keep-alive), best round (and the median)"
echo "latency: open loop at $RATE req/s for ${LAT_DURATION}s, from each request's due time"
echo "CPU: the proxy's utime+stime per 1000 requests, at max load and at $RATE req/s; util@max: the proxy's"
echo "     share of one CPU during the wrk run; backend_s/1k: both backends' CPU per 1000 requests at max load"
row path "max_req/s" "(median)" "p50_us" "p99_us" "p99.9_us" "cpu_s/1k@max" "cpu_s/1k@$RATE" "rss_mb" "util@max" "backend_s/1k"
for p in "${PATH_LIST[@]}"; do
  rss=-
  [[ -n ${RSS[$p]:-} ]] && rss=$(awk -v k="${RSS[$p]}" 'BEGIN { printf "%.1f", k / 1024 }')
  util=${M[$p,util]}
  num "$util" && util+=%
  row "$p" "${M[$p,rps]}" "${M[$p,rps_med]}" "${M[$p,p50]}" "${M[$p,p99]}" "${M[$p,p999]}" "${M[$p,cpu_max]}" "${M[$p,cpu_rate]}" \
    "$rss" "$util" "${M[$p,backend_cpu]}"
done
# What one fully busy core would serve, from the CPU each request cost at
# max load: the throughput comparison that other tenants' load (which makes
# the wrk runs latency-bound) cannot skew much.
est=""
for p in sluice sluice_base haproxy nginx; do
  num "${M[$p,cpu_max]:-}" && est+=" $p $(awk -v c="${M[$p,cpu_max]}" 'BEGIN { printf "%.0f", 1000 / c }')"
done
if [[ -n $est ]]; then
  echo "req/s per proxy CPU-second at max load (1000 / cpu_s/1k@max):$est"
  if num "${M[sluice,cpu_max]:-}" && num "${M[haproxy,cpu_max]:-}"; then
    echo "  sluice / haproxy: $(awk -v a="${M[haproxy,cpu_max]}" -v b="${M[sluice,cpu_max]}" 'BEGIN { printf "%.2f", a / b }')"
  fi
fi
# Observability: each variant's median CPU per request, and the ratios.
ratio_of() { # numerator denominator
  if num "$1" && num "$2"; then awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; else echo n/a; fi
}
obs_line=""
if [[ -f $WORK/obs.as_is ]]; then
  declare -A O
  for v in "${OBS_VARIANTS[@]}"; do O[$v]=$([[ -f $WORK/obs.$v ]] && median <"$WORK/obs.$v" || echo err); done
  echo
  echo "observability cost, sluiced cpu_s/1k@max (median of $OBS_ROUNDS round(s) of wrk each):" \
    "as is (metrics on, tracing off) ${O[as_is]}, metrics off ${O[metrics_off]}," \
    "tracing 1% ${O[tracing1]}, tracing 100% ${O[tracing100]} (spans to a local OTLP sink)," \
    "10 AuthorizationPolicies and a rate limit ${O[policies]}"
  [[ -z $OBS_SPANS ]] || echo "  spans (from /metrics): $OBS_SPANS"
  obs_line=" metrics_cpu_ratio=$(ratio_of "${O[as_is]}" "${O[metrics_off]}")"
  obs_line+=" tracing1_cpu_ratio=$(ratio_of "${O[tracing1]}" "${O[as_is]}")"
  obs_line+=" tracing100_cpu_ratio=$(ratio_of "${O[tracing100]}" "${O[as_is]}")"
  obs_line+=" policy_cpu_ratio=$(ratio_of "${O[policies]}" "${O[as_is]}")"
fi
if [[ -f $WORK/instr.as_is ]]; then
  declare -A I
  for v in "${OBS_VARIANTS[@]}"; do I[$v]=$(cat "$WORK/instr.$v" 2>/dev/null || echo err); done
  echo
  echo "observability cost, sluiced user-space instructions per request (callgrind, one wrk run of ${INSTR_SECONDS}s each):" \
    "as is ${I[as_is]}, metrics off ${I[metrics_off]}, tracing 1% ${I[tracing1]}, tracing 100% ${I[tracing100]}," \
    "10 AuthorizationPolicies and a rate limit ${I[policies]}"
  obs_line+=" metrics_instr_ratio=$(ratio_of "${I[as_is]}" "${I[metrics_off]}")"
  obs_line+=" tracing1_instr_ratio=$(ratio_of "${I[tracing1]}" "${I[as_is]}")"
  obs_line+=" tracing100_instr_ratio=$(ratio_of "${I[tracing100]}" "${I[as_is]}")"
  obs_line+=" policy_instr_ratio=$(ratio_of "${I[policies]}" "${I[as_is]}")"
  # CPU ratio estimates: the extra instructions, at user space's share.
  cpu_est() { # instr ratio
    if num "$1" && num "$USER_SHARE"; then awk -v r="$1" -v u="$USER_SHARE" 'BEGIN { printf "%.3f", 1 + (r - 1) * u }'; else echo n/a; fi
  }
  echo "  user space is $USER_SHARE of sluiced's CPU at max load; estimated CPU ratios (1 + (instr ratio - 1) x that share):" \
    "metrics $(cpu_est "$(ratio_of "${I[as_is]}" "${I[metrics_off]}")")," \
    "tracing 1% $(cpu_est "$(ratio_of "${I[tracing1]}" "${I[as_is]}")")," \
    "tracing 100% $(cpu_est "$(ratio_of "${I[tracing100]}" "${I[as_is]}")")," \
    "policies $(cpu_est "$(ratio_of "${I[policies]}" "${I[as_is]}")")"
  obs_line+=" user_share=$USER_SHARE"
fi
echo
echo "CPU busy during the wrk runs, per round (others: other tenants' share of both CPUs):"
for p in "${LIVE[@]}"; do echo "  $p: ${BUSY[$p]}"; done
if [[ -n $PERF_TOP ]]; then
  echo
  echo "perf, sluiced under wrk load (perf record -F 499 --call-graph dwarf):"
  echo "$PERF_TOP"
fi
if [[ -n $ALLOC_ROW ]]; then
  echo
  echo "sluiced malloc calls per request under wrk load (uprobe on libc malloc): $ALLOC_ROW"
fi
if [[ -n $SYSCALL_ROWS ]]; then
  echo
  echo "system calls per request under wrk load (perf stat over one wrk run; total = every call):"
  printf '%s' "$SYSCALL_ROWS"
fi
echo
echo "pinning: proxy on CPU(s) $PROXY_CPUS (latency runs: $LAT_PROXY_CPUS), wrk and load generator on $LOAD_CPUS, backends on $BACKEND_CPUS;" \
  "$WORKERS proxy worker(s)/thread(s)/process(es); backends: $([[ $BACKEND == nginx ]] && echo "nginx, 1 worker" || echo "sluice-echo --threads $ECHO_THREADS");" \
  "sluiced access log $( ((SLUICE_ACCESS_LOG)) && echo on || echo off), socket redirect $SOCKET_REDIRECT; nice $NICE;" \
  "open-loop runs $( ((LAT_RT)) && echo "SCHED_FIFO 10" || echo "SCHED_OTHER")"
echo "sluiced: commit $COMMIT${DIRTY:+ with uncommitted changes to $DIRTY}, binary built $SLUICED_BUILT"
if has_path sluice_base; then
  echo "sluice_base: $BASELINE_SLUICED, commit $BASE_COMMIT${BASE_DIRTY:+ with uncommitted changes to $BASE_DIRTY}," \
    "binary built $BASE_BUILT; sluiced restarted (--cleanup) before each sluice and sluice_base measurement ($SLUICED_STARTS starts)"
fi
echo "versions: $(haproxy -v 2>/dev/null | head -n 1 | awk '{ print "HAProxy", $3 }'), $(nginx -v 2>&1 | sed 's/.*version: //'), $(wrk -v 2>&1 | head -n 1 | awk '{ print "wrk", $2 }');" \
  "kernel $(uname -r), $(nproc) CPU(s); load average at start $LOAD_START, at end $(cut -d ' ' -f 1-3 /proc/loadavg); run time $(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')s"

s=${M[sluice,rps]:-n/a} h=${M[haproxy,rps]:-n/a} n=${M[nginx,rps]:-n/a}
ratio=n/a added=n/a
if num "$s" && num "$h"; then ratio=$(awk -v a="$s" -v b="$h" 'BEGIN { printf "%.2f", a / b }'); fi
if num "${M[sluice,p99]:-}" && num "${M[direct,p99]:-}"; then
  added=$(awk -v a="${M[sluice,p99]}" -v b="${M[direct,p99]}" 'BEGIN { printf "%.0f", a - b }')
fi
# Against the baseline: CPU per request at max load (median rounds) and the
# best max req/s, sluice's over sluice_base's.
vs_base=""
if has_path sluice_base; then
  cpu_vs=n/a rps_vs=n/a
  if num "${M[sluice,cpu_max]:-}" && num "${M[sluice_base,cpu_max]:-}"; then
    cpu_vs=$(awk -v a="${M[sluice,cpu_max]}" -v b="${M[sluice_base,cpu_max]}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
  fi
  if num "${M[sluice,rps]:-}" && num "${M[sluice_base,rps]:-}"; then
    rps_vs=$(awk -v a="${M[sluice,rps]}" -v b="${M[sluice_base,rps]}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
  fi
  vs_base=" cpu_ratio_vs_baseline=$cpu_vs rps_ratio_vs_baseline=$rps_vs"
fi
echo "l7: sluice_rps=$s haproxy_rps=$h nginx_rps=$n rps_ratio_vs_haproxy=$ratio added_p99_us_vs_direct=$added socket_redirect=$SOCKET_REDIRECT$vs_base$obs_line"
exit "$FAILED"
