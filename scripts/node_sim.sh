#!/usr/bin/env bash
# node_sim.sh: build and tear down one simulated Kubernetes node for tests.
#
# Layout for prefix P (P = "sl" + 6 lowercase hex, unique per run):
#   netns  P-node   bridge br0 = 10.200.0.1/16, veth ports p1..pN enslaved to it
#   netns  P-p<i>   eth0 = 10.200.1.<i>/16 (peer of p<i>), lo up, NO default route
#   cgroup $SLUICE_CGROUP2_ROOT/P   (default root /sys/fs/cgroup/unified)
#   bpffs  /sys/fs/bpf/P            pin directory for the loader under test
#
# The bridge lives in a per-run node netns, not in the root netns: runs can
# overlap without name clashes, and the host's interfaces and routing table are
# never touched. Veth pairs are created inside the node netns with the peer sent
# straight into the pod netns, so no interface ever appears in the root netns.
# Without a default route, any connect that the data plane fails to rewrite
# (e.g. to a 10.96.0.0/12 service VIP) fails with ENETUNREACH instead of leaving
# the namespace.
#
# Usage:
#   node_sim.sh up <prefix> <npods>        exit 3 if the prefix is already in use
#   node_sim.sh down <prefix>              exit 0 once nothing with the prefix is left
#   node_sim.sh exec <prefix> <node|p<i>> <cmd...>
#   node_sim.sh pod-ip <i>
#   node_sim.sh node-ip
set -euo pipefail

CG_ROOT="${SLUICE_CGROUP2_ROOT:-/sys/fs/cgroup/unified}"
BPFFS_ROOT=/sys/fs/bpf
MAX_PODS=254 # pod i gets 10.200.1.<i>

die() { echo "node_sim: $*" >&2; exit 1; }

# Everything we delete is derived from the prefix, so refuse anything that is
# not exactly our format: an empty or odd prefix must never widen a glob or rm.
check_prefix() {
  [[ "${1-}" =~ ^sl[0-9a-f]{6}$ ]] || die "bad prefix '${1-}' (want sl + 6 lowercase hex)"
}

check_pod_index() {
  if ! [[ "${1-}" =~ ^[1-9][0-9]*$ ]] || (( $1 > MAX_PODS )); then
    die "bad pod index '${1-}' (1..$MAX_PODS)"
  fi
}

pod_ip() { echo "10.200.1.$1"; }
node_ip() { echo "10.200.0.1"; }

# Netns names of this run, from the kernel's view rather than from npods, so
# `down` also finds pods of a half-finished `up`.
prefix_netns() {
  ip netns list 2>/dev/null | awk -v p="$1-" 'index($1, p) == 1 { print $1 }'
}

# Our own process and its ancestors: a caller that (wrongly) still sits in the
# test cgroup must get an error from rmdir, not a SIGKILL from us.
ancestors() {
  local pid=$$
  while [[ "$pid" -gt 1 ]]; do
    echo "$pid"
    pid=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 1)
  done
}

# Pids in the run's cgroup subtree and in its netns.
run_pids() {
  local prefix=$1 ns
  if [[ -d "$CG_ROOT/$prefix" ]]; then
    find "$CG_ROOT/$prefix" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  fi
  for ns in $(prefix_netns "$prefix"); do
    ip netns pids "$ns" 2>/dev/null || true
  done
}

kill_run_pids() {
  local prefix=$1 self pids pid left
  self=" $(ancestors | tr '\n' ' ') "
  for _ in $(seq 50); do
    pids=$(run_pids "$prefix" | sort -un)
    left=0
    for pid in $pids; do
      [[ "$pid" -gt 1 && "$self" != *" $pid "* ]] || continue
      left=1
      kill -KILL "$pid" 2>/dev/null || true
    done
    (( left )) || return 0
    sleep 0.1
  done
  echo "node_sim: processes of $prefix survived SIGKILL" >&2
}

cmd_down() {
  local prefix=$1 ns ok=1
  check_prefix "$prefix"
  kill_run_pids "$prefix"
  for ns in $(prefix_netns "$prefix"); do
    ip netns delete "$ns" 2>/dev/null || true
  done
  if [[ -d "$CG_ROOT/$prefix" ]]; then
    # rmdir fails with EBUSY until killed tasks have fully exited; children first.
    for _ in $(seq 50); do
      find "$CG_ROOT/$prefix" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d "$CG_ROOT/$prefix" ]] || break
      sleep 0.1
    done
  fi
  rm -rf "${BPFFS_ROOT:?}/$prefix"

  if [[ -n "$(prefix_netns "$prefix")" ]]; then echo "node_sim: netns left: $(prefix_netns "$prefix" | xargs)" >&2; ok=0; fi
  if [[ -d "$CG_ROOT/$prefix" ]]; then echo "node_sim: cgroup left: $CG_ROOT/$prefix" >&2; ok=0; fi
  if [[ -e "$BPFFS_ROOT/$prefix" ]]; then echo "node_sim: pin dir left: $BPFFS_ROOT/$prefix" >&2; ok=0; fi
  (( ok ))
}

up_failed() {
  local rc=$?
  trap - EXIT
  echo "node_sim: up $UP_PREFIX failed, cleaning up" >&2
  cmd_down "$UP_PREFIX" || true
  exit "$rc"
}

cmd_up() {
  local prefix=$1 npods=$2 node i pod
  check_prefix "$prefix"
  if ! [[ "$npods" =~ ^[0-9]+$ ]] || (( npods > MAX_PODS )); then
    die "bad pod count '$npods' (0..$MAX_PODS)"
  fi
  [[ -d "$CG_ROOT" ]] || die "no cgroup v2 root at $CG_ROOT (set SLUICE_CGROUP2_ROOT)"
  [[ -d "$BPFFS_ROOT" ]] || die "no bpffs at $BPFFS_ROOT"

  # mkdir (no -p) is the atomic claim on the prefix. Only after winning it may a
  # failure run `down`, which would otherwise destroy another run's resources.
  if ! mkdir "$CG_ROOT/$prefix" 2>/dev/null; then
    echo "node_sim: prefix $prefix in use (or $CG_ROOT not writable)" >&2
    exit 3
  fi
  UP_PREFIX=$prefix  # global: the EXIT trap runs after cmd_up's locals are gone
  trap up_failed EXIT

  mkdir "$BPFFS_ROOT/$prefix"
  node="$prefix-node"
  ip netns add "$node"
  ip -n "$node" link set lo up
  ip -n "$node" link add br0 type bridge
  ip -n "$node" addr add "$(node_ip)/16" dev br0
  ip -n "$node" link set br0 up
  for ((i = 1; i <= npods; i++)); do
    pod="$prefix-p$i"
    ip netns add "$pod"
    ip -n "$pod" link set lo up
    ip -n "$node" link add "p$i" type veth peer name eth0 netns "$pod"
    ip -n "$node" link set "p$i" master br0 up
    ip -n "$pod" addr add "$(pod_ip "$i")/16" dev eth0
    ip -n "$pod" link set eth0 up
  done

  # Links come up asynchronously; wait so the first connect of a test does not race them.
  for ((i = 1; i <= npods; i++)); do
    for _ in $(seq 100); do
      ip -n "$prefix-p$i" link show eth0 | grep -q LOWER_UP && break
      sleep 0.05
    done
    ip -n "$prefix-p$i" link show eth0 | grep -q LOWER_UP || die "eth0 of pod $i has no carrier"
  done

  trap - EXIT
  echo "node_sim: up $prefix with $npods pod(s)" >&2
}

cmd_exec() {
  local prefix=$1 target=$2 ns
  check_prefix "$prefix"
  shift 2
  (( $# > 0 )) || die "exec: missing command"
  case "$target" in
    node) ns="$prefix-node" ;;
    p*) check_pod_index "${target#p}"; ns="$prefix-$target" ;;
    *) die "exec: target must be node or p<i>, got '$target'" ;;
  esac
  # Cgroup first: `ip netns exec` remounts /sys, which hides /sys/fs/cgroup.
  echo $$ > "$CG_ROOT/$prefix/cgroup.procs"
  exec ip netns exec "$ns" "$@"
}

usage() {
  sed -n 's/^#   \(node_sim.sh .*\)/\1/p' "$0" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
sub=$1
shift
case "$sub" in
  up) [[ $# -eq 2 ]] || usage; cmd_up "$1" "$2" ;;
  down) [[ $# -eq 1 ]] || usage; cmd_down "$1" ;;
  exec) [[ $# -ge 3 ]] || usage; cmd_exec "$@" ;;
  pod-ip) [[ $# -eq 1 ]] || usage; check_pod_index "$1"; pod_ip "$1" ;;
  node-ip) [[ $# -eq 0 ]] || usage; node_ip ;;
  *) usage ;;
esac
