#!/usr/bin/env bash
# Config-sync benchmark: how fast sluiced turns YAML into kernel map entries.
#
#   sudo bench/config_sync.sh            # SERVICES=10000 ENDPOINTS=10 by default
#
# Workload: SERVICES Kubernetes Services (one ClusterIP port each) with one
# EndpointSlice of ENDPOINTS ready endpoints each, split over FILES files of
# slices plus one file of Services, as a ConfigMap mount would hold them.
# Measured, with sluiced in a simulated node (its own netns and cgroup):
#   - RSS of sluiced idle (empty config);
#   - full sync: all files appear at once -> every service in the kernel maps;
#   - incremental: one endpoint of one slice changes -> that service re-synced;
#   - RSS with everything loaded.
# "wall" is from just before the file rename to the timestamp of the
# daemon's "in force" log line, which it writes once the kernel maps are
# synced (it includes inotify and the --debounce-ms quiet time, DEBOUNCE_MS);
# "reload" and "sync" are the daemon's own timings from /config: reload is
# read + validate + build + publish + kernel write, sync the kernel write only.
# Not a test: it prints numbers and a last line:
#   config-sync: services=… full_ms=… incremental_ms=… rss_idle_mb=… rss_10k_mb=…
#
# MODE=watch: the same from the Kubernetes API instead of files, at 10k
# Services and 100k Pods (bench/config_sync_watch.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${MODE:-files}" = watch ] && exec bench/config_sync_watch.sh

SERVICES=${SERVICES:-10000}
ENDPOINTS=${ENDPOINTS:-10}
FILES=${FILES:-100}
DEBOUNCE_MS=${DEBOUNCE_MS:-0}
BUILD_DIR=${BUILD_DIR:-build}

[ "$(id -u)" -eq 0 ] || { echo "config_sync.sh: needs root" >&2; exit 1; }
cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
cmake --build "$BUILD_DIR" -j 2 --target sluiced sluicectl >/dev/null
SLUICED=$PWD/$BUILD_DIR/userspace/cmd/sluiced
SLUICECTL=$PWD/$BUILD_DIR/userspace/cmd/sluicectl

source bench/lib.sh  # bench_prefix, stop_pid
PREFIX=$(bench_prefix)
WORK=$(mktemp -d /tmp/"$PREFIX"-bench.XXXXXX)
CONFIG=$WORK/config
STAGE=$WORK/stage
mkdir -p "$CONFIG" "$STAGE"  # stage: the files, until they move into config/mesh
DAEMON_PID=""

cleanup() {
  [ -n "$DAEMON_PID" ] && stop_pid "$DAEMON_PID"
  scripts/node_sim.sh down "$PREFIX" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

scripts/node_sim.sh up "$PREFIX" 0 >/dev/null
CGROUP=/sys/fs/cgroup/unified/$PREFIX
PIN=/sys/fs/bpf/$PREFIX

# --- generate (awk: fast, no extra dependencies) ---------------------------
awk -v n="$SERVICES" 'BEGIN {
  for (i = 0; i < n; i++) {
    printf "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: bench}\n", i
    printf "spec:\n  clusterIP: 10.%d.%d.%d\n  selector: {app: svc-%d}\n", 96 + int(i / 65536), int(i / 256) % 256, i % 256, i
    printf "  ports: [{name: http, port: 80, targetPort: 8080}]\n"
  }
}' > "$STAGE/services.yaml"
gen_slices() {  # file index, [changed endpoint marker]
  awk -v n="$SERVICES" -v e="$ENDPOINTS" -v files="$FILES" -v f="$1" -v bump="${2:-0}" 'BEGIN {
    for (i = f; i < n; i += files) {
      printf "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\naddressType: IPv4\n"
      printf "metadata: {name: svc-%d-x1, namespace: bench, labels: {kubernetes.io/service-name: svc-%d}}\n", i, i
      printf "ports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n"
      for (j = 0; j < e; j++) {
        k = i * e + j + (bump && i == f && j == 0 ? 7000000 : 0)
        printf "- addresses: [\"10.%d.%d.%d\"]\n  conditions: {ready: true}\n", 200 + int(k / 65536) % 50, int(k / 256) % 256, k % 256
      }
    }
  }'
}
for ((f = 0; f < FILES; f++)); do gen_slices "$f" > "$STAGE/slices-$f.yaml"; done
YAML_MB=$(du -sm "$STAGE" | cut -f1)

# --- run -------------------------------------------------------------------
LOG=$WORK/sluiced.log
# nsenter, not `ip netns exec`: the latter remounts /sys and hides bpffs.
sh -c "echo \$\$ > $CGROUP/cgroup.procs; exec nsenter --net=/run/netns/$PREFIX-node $SLUICED --config $CONFIG \
  --cgroup $CGROUP --pin-dir $PIN --debounce-ms $DEBOUNCE_MS" > "$LOG" 2>&1 &
DAEMON_PID=$!

# Wall-clock microseconds, without forking (bash 5).
now_us() { echo "${EPOCHREALTIME/./}"; }
in_force() { grep -c 'in force' "$LOG" || true; }
# Waits until sluiced has put at least one new config in force and then
# stayed quiet for SETTLE_MS (a burst of file events can take more than one
# reload). Sets WALL to the ms from $1 (a now_us) to the timestamp of the last
# "in force" line ("[2026-11-25 10:00:00.123] ..."), so polling does not add
# to the figure, and RELOADS to how many reloads it took.
SEEN=0
SETTLE_MS=${SETTLE_MS:-300}
wait_settled() {
  local start=$1 deadline=$(( $(now_us) / 1000 + 120000 )) count last_change
  last_change=$(( $(now_us) / 1000 ))
  local prev=$SEEN
  while :; do
    count=$(in_force)
    [ "$count" -ne "$prev" ] && { prev=$count; last_change=$(( $(now_us) / 1000 )); }
    if [ "$count" -gt "$SEEN" ] && [ $(( $(now_us) / 1000 - last_change )) -ge "$SETTLE_MS" ]; then break; fi
    if [ "$(( $(now_us) / 1000 ))" -ge "$deadline" ] || ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      echo "sluiced did not sync; log:" >&2; tail -5 "$LOG" >&2; exit 1
    fi
    sleep 0.005
  done
  RELOADS=$(( count - SEEN ))
  SEEN=$count
  local stamp done_ms
  stamp=$(grep 'in force' "$LOG" | sed -n "${count}p" | sed -n 's/^\[\([0-9-]* [0-9:.]*\)\].*/\1/p')
  done_ms=$(date -d "$stamp" +%s%3N)
  WALL=$(awk -v a="$done_ms" -v b="$start" 'BEGIN { printf "%.0f", a - b / 1000 }')
}
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$(pgrep -P "$DAEMON_PID" -x sluiced || echo "$DAEMON_PID")/status"; }
status_json() { scripts/node_sim.sh exec "$PREFIX" node "$SLUICECTL" status 2>/dev/null | sed -n 's/^config: //p'; }
json_num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
# After wait_settled: S (the /config JSON) and <name>_WALL, _RELOADS,
# _RELOAD, _SYNC, _LOAD and _BUILD of the step called name.
read_status() {
  S=$(status_json)
  declare -g "$1_WALL=$WALL" "$1_RELOADS=$RELOADS"
  local field
  for field in reload sync load build; do
    declare -g "$1_${field^^}=$(echo "$S" | json_num "${field}_ms")"
  done
}

wait_settled "$(now_us)"
RSS_IDLE=$(rss_mb)

start=$(now_us)
# One rename brings in the whole directory, so the full sync is one reload.
mv "$STAGE" "$CONFIG/mesh"
wait_settled "$start"
read_status FULL
SERVICES_IN=$(echo "$S" | json_num l4_services)
RSS_FULL=$(rss_mb)

gen_slices 0 1 > "$WORK/slices-0.yaml.new"
start=$(now_us)
mv "$WORK/slices-0.yaml.new" "$CONFIG/mesh/slices-0.yaml"
wait_settled "$start"
read_status INC
INC_UPSERTS=$(echo "$S" | sed -n 's/.*"upserts":\([0-9]*\).*/\1/p')
INC_DOCS=$(echo "$S" | json_num documents_parsed)
INC_PATCHED=$(echo "$S" | sed -n 's/.*"patched":\([a-z]*\).*/\1/p')

# The figures mean nothing unless the reloads did what they claim.
[ "$SERVICES_IN" = "$SERVICES" ] || { echo "full sync left $SERVICES_IN of $SERVICES services in the kernel" >&2; exit 1; }
if [ "$INC_UPSERTS" != 1 ] || [ "$INC_DOCS" != 1 ] || [ "$INC_PATCHED" != true ] || [ "$INC_RELOADS" != 1 ]; then
  echo "the one-endpoint change was not one patched reload of one document and one service:" \
    "reloads=$INC_RELOADS documents=$INC_DOCS patched=$INC_PATCHED upserts=$INC_UPSERTS" >&2
  tail -"$(( INC_RELOADS + 3 ))" "$LOG" >&2
  exit 1
fi

printf '\nconfig-sync: %s services x %s endpoints, %s MB of YAML in %s+1 files, debounce %s ms\n' \
  "$SERVICES" "$ENDPOINTS" "$YAML_MB" "$FILES" "$DEBOUNCE_MS"
echo "(the full sync took $FULL_RELOADS reload(s); its columns are the last one's)"
r1() { printf '%.1f' "$1"; }
printf '%-22s %9s %9s %9s %9s %9s\n' "" "wall_ms" "reload_ms" "load_ms" "build_ms" "sync_ms"
printf '%-22s %9s %9s %9s %9s %9s\n' "full sync" "$FULL_WALL" "$(r1 "$FULL_RELOAD")" "$(r1 "$FULL_LOAD")" \
  "$(r1 "$FULL_BUILD")" "$(r1 "$FULL_SYNC")"
printf '%-22s %9s %9s %9s %9s %9s   (%s service re-synced, patched)\n' "one endpoint change" "$INC_WALL" "$(r1 "$INC_RELOAD")" \
  "$(r1 "$INC_LOAD")" "$(r1 "$INC_BUILD")" "$(r1 "$INC_SYNC")" "$INC_UPSERTS"
printf '%-22s %10s MB\n' "RSS idle" "$RSS_IDLE"
printf '%-22s %10s MB   (%s services in the kernel)\n' "RSS loaded" "$RSS_FULL" "$SERVICES_IN"
echo "config-sync: services=$SERVICES full_ms=$FULL_WALL incremental_ms=$INC_WALL rss_idle_mb=$RSS_IDLE rss_10k_mb=$RSS_FULL"
