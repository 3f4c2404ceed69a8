#!/usr/bin/env bash
# Config-sync benchmark, watch mode (MODE=watch bench/config_sync.sh runs
# this): sluiced reads a large cluster from the test Kubernetes API server
# (test/tools/kube_api; kube-apiserver cannot be installed here), over HTTPS
# in a simulated node's network namespace.
#
# Workload: SERVICES Services with one EndpointSlice each (ENDPOINTS
# endpoints), and PODS Pods spread over them, applied to the API server
# before sluiced starts. Measured:
#   - initial: from sluiced's start to its first config in force (every type
#     listed, paginated, converted, built, written to the kernel maps);
#   - incremental: an EndpointSlice changes through the watch -> that
#     service re-synced: wall time to the "in force" line, and the daemon's
#     own reload time (/config reload_ms: load + build + kernel write);
#   - RSS of sluiced with everything loaded.
# Last line:
#   config-sync-watch: services=… pods=… initial_ms=… incremental_ms=… reload_ms=… rss_mb=…
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=${SERVICES:-10000}
PODS=${PODS:-100000}
ENDPOINTS=${ENDPOINTS:-10}
# REJECTED=1 adds one invalid VirtualService: its rejection stands through
# the run, and reloads must still patch (docs/kubernetes.md, Admission).
REJECTED=${REJECTED:-0}
BUILD_DIR=${BUILD_DIR:-build}

[ "$(id -u)" -eq 0 ] || { echo "config_sync_watch.sh: needs root" >&2; exit 1; }
cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
cmake --build "$BUILD_DIR" -j 2 --target sluiced sluicectl sluice-kube-api >/dev/null
SLUICED=$PWD/$BUILD_DIR/userspace/cmd/sluiced
SLUICECTL=$PWD/$BUILD_DIR/userspace/cmd/sluicectl
KUBE_API=$(find "$PWD/$BUILD_DIR/test/tools/kube_api" -name sluice-kube-api -type f | head -1)

source bench/lib.sh  # bench_prefix, stop_pid
PREFIX=$(bench_prefix)
WORK=$(mktemp -d /tmp/"$PREFIX"-bench.XXXXXX)
DAEMON_PID="" API_PID=""
cleanup() {
  [ -n "$DAEMON_PID" ] && stop_pid "$DAEMON_PID"
  [ -n "$API_PID" ] && stop_pid "$API_PID"
  scripts/node_sim.sh down "$PREFIX" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
scripts/node_sim.sh up "$PREFIX" 0 >/dev/null
CGROUP=/sys/fs/cgroup/unified/$PREFIX
PIN=/sys/fs/bpf/$PREFIX
in_node() { nsenter --net=/run/netns/$PREFIX-node "$@"; }

# --- the API server, in the node's netns (sluiced's 127.0.0.1) ---------------
in_node "$KUBE_API" --dir "$WORK/api" --history 200000 > "$WORK/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 200); do [ -s "$WORK/api/control_port" ] && break; sleep 0.05; done
CONTROL=$(cat "$WORK/api/control_port")
apply() { in_node curl -sf -X POST --data-binary @"$1" "http://127.0.0.1:$CONTROL/apply" > /dev/null; }

# --- generate (awk) and apply ----------------------------------------------
gen_slice() {  # service index, bump
  awk -v i="$1" -v e="$ENDPOINTS" -v bump="$2" 'BEGIN {
    printf "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\naddressType: IPv4\n"
    printf "metadata: {name: svc-%d-x1, namespace: bench, labels: {kubernetes.io/service-name: svc-%d}}\n", i, i
    printf "ports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n"
    for (j = 0; j < e; j++) {
      k = i * e + j + (bump && j == 0 ? 7000000 : 0)
      printf "- addresses: [\"10.%d.%d.%d\"]\n  conditions: {ready: true}\n", 200 + int(k / 65536) % 50, int(k / 256) % 256, k % 256
    }
  }'
}
awk -v n="$SERVICES" -v e="$ENDPOINTS" -v pods="$PODS" 'BEGIN {
  for (i = 0; i < n; i++) {
    printf "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: bench}\n", i
    printf "spec:\n  clusterIP: 10.%d.%d.%d\n  selector: {app: svc-%d}\n", 96 + int(i / 65536), int(i / 256) % 256, i % 256, i
    printf "  ports: [{name: http, port: 80, targetPort: 8080}]\n"
  }
  for (p = 0; p < pods; p++) {
    i = p % n
    printf "---\napiVersion: v1\nkind: Pod\nmetadata: {name: pod-%d, namespace: bench, labels: {app: svc-%d, version: v1}}\n", p, i
    printf "spec: {nodeName: node-%d, serviceAccountName: sa-%d}\n", p % 50, i
    printf "status: {phase: Running, podIP: 10.%d.%d.%d, conditions: [{type: Ready, status: \"True\"}]}\n", 200 + int(p / 65536) % 50, int(p / 256) % 256, p % 256
  }
}' > "$WORK/objects.yaml"
awk -v n="$SERVICES" -v e="$ENDPOINTS" 'BEGIN {
  for (i = 0; i < n; i++) {
    printf "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\naddressType: IPv4\n"
    printf "metadata: {name: svc-%d-x1, namespace: bench, labels: {kubernetes.io/service-name: svc-%d}}\n", i, i
    printf "ports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n"
    for (j = 0; j < e; j++) {
      k = i * e + j
      printf "- addresses: [\"10.%d.%d.%d\"]\n  conditions: {ready: true}\n", 200 + int(k / 65536) % 50, int(k / 256) % 256, k % 256
    }
  }
}' >> "$WORK/objects.yaml"
t0=$(date +%s%3N)
if [ "$REJECTED" = 1 ]; then
  printf -- '---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad, namespace: bench}\nspec: {hosts: [svc-0], http: [{timeout: soon, route: [{destination: {host: svc-0}}]}]}\n' >> "$WORK/objects.yaml"
fi
apply "$WORK/objects.yaml"
echo "applied $(du -m "$WORK/objects.yaml" | cut -f1) MB of objects to the API server in $(( $(date +%s%3N) - t0 )) ms"

# --- sluiced ------------------------------------------------------------------
LOG=$WORK/sluiced.log
start=$(date +%s%3N)
sh -c "echo \$\$ > $CGROUP/cgroup.procs; exec nsenter --net=/run/netns/$PREFIX-node $SLUICED \
  --kubeconfig $WORK/api/kubeconfig --cgroup $CGROUP --pin-dir $PIN --debounce-ms 0" > "$LOG" 2>&1 &
DAEMON_PID=$!
stamp_ms() { date -d "$(echo "$1" | sed -n 's/^\[\([0-9-]* [0-9:.]*\)\].*/\1/p')" +%s%3N; }
wait_in_force() {  # count: waits for that many "in force" lines
  for _ in $(seq 3000); do
    [ "$(grep -c 'in force' "$LOG" || true)" -ge "$1" ] && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "sluiced did not sync; log:" >&2; tail -5 "$LOG" >&2; exit 1
}
wait_in_force 1
INITIAL_MS=$(( $(stamp_ms "$(grep 'in force' "$LOG" | head -1)") - start ))
sleep 2  # let the watches start and the first reload settle
RSS=$(awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' /proc/"$(pgrep -P "$DAEMON_PID" -x sluiced || echo "$DAEMON_PID")"/status)
status() { in_node "$SLUICECTL" status 2>/dev/null | sed -n 's/^config: //p'; }
L4=$(status | sed -n 's/.*"l4_services":\([0-9]*\).*/\1/p')
[ "$L4" = "$SERVICES" ] || { echo "the initial sync left $L4 of $SERVICES services in the kernel" >&2; exit 1; }

# --- EndpointSlices change, one at a time -------------------------------------
# The median of CHANGES: the first patch after the initial build's
# malloc_trim faults in the pages it had given back (docs/kubernetes.md).
CHANGES=${CHANGES:-5}
INC=() RELOAD=()
for n in $(seq "$CHANGES"); do
  gen_slice "$n" 1 > "$WORK/slice.yaml"
  seen=$(grep -c 'in force' "$LOG")
  start=$(date +%s%3N)
  apply "$WORK/slice.yaml"
  wait_in_force $(( seen + 1 ))
  INC+=($(( $(stamp_ms "$(grep 'in force' "$LOG" | sed -n "$(( seen + 1 ))p")") - start )))
  S=$(status)
  RELOAD+=("$(echo "$S" | sed -n 's/.*"reload_ms":\([0-9.]*\).*/\1/p')")
  PATCHED=$(echo "$S" | sed -n 's/.*"patched":\([a-z]*\).*/\1/p')
  UPSERTS=$(echo "$S" | sed -n 's/.*"upserts":\([0-9]*\).*/\1/p')
  echo "change $n: ${INC[-1]} ms wall, daemon reload ${RELOAD[-1]} ms, patched=$PATCHED, upserts=$UPSERTS"
  sleep 0.2
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
INC_MS=$(median "${INC[@]}")
RELOAD_MS=$(median "${RELOAD[@]}")

echo "initial list and sync: ${INITIAL_MS} ms ($SERVICES services, $SERVICES EndpointSlices, $PODS pods)"
echo "one EndpointSlice change (median of $CHANGES): ${INC_MS} ms wall (watch event to kernel), daemon reload ${RELOAD_MS} ms"
echo "RSS with everything loaded: ${RSS} MB"
echo "config-sync-watch: services=$SERVICES pods=$PODS initial_ms=$INITIAL_MS incremental_ms=$INC_MS reload_ms=$RELOAD_MS rss_mb=$RSS"
