#!/usr/bin/env bash
# socket_lb.sh: connect latency through sluice's cgroup/connect4 socket load
# balancer, versus kube-proxy-style iptables DNAT (nft and legacy backends) and
# a direct connect. A benchmark, not a test: it prints numbers, asserts none.
#
# Run as root from anywhere:  bench/socket_lb.sh
# Environment:
#   SCALES="1000 10000 100000"  service counts, ascending (services are added
#                               incrementally, so the last-added VIP is measured)
#   COUNT=5000 WARMUP=500       timed connects per measurement, and untimed first
#   ROUNDS=5                    measurements per cell, interleaved across the
#                               columns; the table shows the median of the rounds
#   BENCH_FULL=1                also run iptables at scales above 10000 (slow)
#   PROG_SERVICES=10000         size of the "program N services from empty" timing
#   CLIENT_CPU=1 SERVER_CPU=0   CPU pinning (-1: none)
#   BUILD_DIR=<repo>/build      where the tools are built (only their targets)
#   BENCH_BUILD=0               skip the incremental build if the tools exist
#   POLICIES=1000               L4 authorization phase: policy sets loaded (0: skip)
#   BPF_STATS=1                 afterwards, split the sluice cost per BPF program
#                               (turns on kernel BPF run-time accounting, system
#                               wide, for those few seconds only)
#
# Layout (scripts/node_sim.sh, prefix "sl" + 6 hex, unique per run):
#   p2..p5  accept-and-close servers on :8080, the backends of every service
#   p1      sluice client: runs inside the node cgroup the BPF programs attach to
#   p6      iptables-nft client, p7 iptables-legacy client: NOT in that cgroup,
#           each with a 10.96.0.0/12 route on its own eth0 so a VIP connect gets
#           routed before nat OUTPUT DNAT rewrites it. One netns per backend so
#           an (unregistrable) empty legacy nat table never taxes the nft run.
#   p8      plain client: no cgroup programs, no netfilter (the "no BPF" column)
# "direct" is p1 connecting to a backend address (one of the four at random,
# per connect): it still runs sluice's programs (connect4 map miss, sockops),
# as every pod connect on a sluice node does. sluice and direct are measured in
# one process, alternating connect by connect, so their difference holds up on
# a noisy machine.
# Nothing is added to the root netns. Everything is removed on exit (trap),
# including on failure and Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
NODE_SIM=$ROOT/scripts/node_sim.sh
CG_ROOT=${SLUICE_CGROUP2_ROOT:-/sys/fs/cgroup/unified}
SCALES=${SCALES:-"1000 10000 100000"}
COUNT=${COUNT:-5000}
WARMUP=${WARMUP:-500}
ROUNDS=${ROUNDS:-5}
BENCH_FULL=${BENCH_FULL:-0}
PROG_SERVICES=${PROG_SERVICES:-10000}
CLIENT_CPU=${CLIENT_CPU:-1}
SERVER_CPU=${SERVER_CPU:-0}
IPT_MAX_DEFAULT=10000 # iptables above this only with BENCH_FULL=1
MAX_SERVICES=131072   # sluice's default service map capacity
PORT=8080
SERVER_PODS=(2 3 4 5)
SLUICE_POD=1
NFT_POD=6
LEGACY_POD=7
PLAIN_POD=8
NPODS=8

log() { echo "socket-lb: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (BPF, netns, cgroups)"
for v in COUNT WARMUP ROUNDS PROG_SERVICES; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number"
done
(( COUNT >= 1 && COUNT <= 1000000 && ROUNDS >= 1 && ROUNDS <= 50 )) || die "COUNT 1..1e6, ROUNDS 1..50"
(( PROG_SERVICES >= 1 && PROG_SERVICES <= MAX_SERVICES )) || die "PROG_SERVICES 1..$MAX_SERVICES"
[[ $CLIENT_CPU =~ ^-?[0-9]+$ && $SERVER_CPU =~ ^-?[0-9]+$ ]] || die "CLIENT_CPU/SERVER_CPU must be numbers"
read -r -a SCALE_LIST <<<"$SCALES"
(( ${#SCALE_LIST[@]} > 0 )) || die "SCALES is empty"
prev=0
for s in "${SCALE_LIST[@]}"; do
  [[ $s =~ ^[1-9][0-9]*$ ]] || die "bad scale '$s'"
  (( s > prev )) || die "SCALES must be strictly ascending"
  (( s <= MAX_SERVICES )) || die "scale $s exceeds the service map capacity $MAX_SERVICES"
  prev=$s
done
for tool in ip iptables-nft-restore iptables-legacy-restore awk sort; do
  command -v "$tool" >/dev/null || die "missing $tool"
done

# --- build -------------------------------------------------------------------
SLUICECTL=$BUILD_DIR/userspace/cmd/sluicectl
BENCH=$BUILD_DIR/bench/sluice-bench-connect
BPF_STATS_TOOL=$BUILD_DIR/bench/sluice-bench-bpf-stats
if [[ ! -x $SLUICECTL || ! -x $BENCH || ! -x $BPF_STATS_TOOL || ${BENCH_BUILD:-1} == 1 ]]; then
  log "building the benchmark tools in $BUILD_DIR"
  if [[ ! -f $BUILD_DIR/build.ninja ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >/dev/null
  fi
  # Only the benchmark's targets: other parts of the tree may be mid-edit.
  cmake --build "$BUILD_DIR" -j 2 --target sluicectl sluice-bench-connect sluice-bench-bpf-stats >/dev/null
fi

# --- setup and cleanup -------------------------------------------------------
PREFIX=sl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
PIN=/sys/fs/bpf/$PREFIX/sluice
CGROUP=$CG_ROOT/$PREFIX
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
SERVER_PIDS=()
NODE_UP=0
T_START=$EPOCHREALTIME

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  set +e
  for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [[ -e $PIN ]]; then
    "$SLUICECTL" --pin-dir "$PIN" cleanup || rc=1
  fi
  if (( NODE_UP )); then
    "$NODE_SIM" down "$PREFIX" || { log "node_sim down $PREFIX failed"; rc=1; }
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ns() { echo "$PREFIX-p$1"; }
vip() { # the i-th service VIP, i from 0: 10.96.0.1 + i
  awk -v i="$1" 'BEGIN { v = 167772160 + 96 * 65536 + 1 + i;
    printf "%d.%d.%d.%d\n", int(v / 16777216) % 256, int(v / 65536) % 256, int(v / 256) % 256, v % 256 }'
}
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# Service lines for services [from, to): VIP:80/tcp with the four server pods.
gen_services() {
  awk -v from="$1" -v to="$2" -v port="$PORT" -v pods="${SERVER_PODS[*]}" 'BEGIN {
    n = split(pods, p, " "); be = "";
    for (j = 1; j <= n; j++) be = be " 10.200.1." p[j] ":" port;
    for (i = from; i < to; i++) {
      v = 167772160 + 96 * 65536 + 1 + i;
      printf "%d.%d.%d.%d:80/tcp algo=random%s\n", int(v / 16777216) % 256, int(v / 65536) % 256,
             int(v / 256) % 256, v % 256, be;
    }
  }'
}

# kube-proxy-style nat table for services [0, n), for iptables-restore.
gen_iptables() {
  awk -v n="$1" -v port="$PORT" -v pods="${SERVER_PODS[*]}" 'BEGIN {
    k = split(pods, p, " ");
    print "*nat";
    print ":KUBE-SERVICES - [0:0]";
    for (i = 0; i < n; i++) {
      print ":KUBE-SVC-" i " - [0:0]";
      for (j = 0; j < k; j++) print ":KUBE-SEP-" i "-" j " - [0:0]";
    }
    print "-A OUTPUT -j KUBE-SERVICES";
    for (i = 0; i < n; i++) {
      v = 167772160 + 96 * 65536 + 1 + i;
      printf "-A KUBE-SERVICES -d %d.%d.%d.%d/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-%d\n",
             int(v / 16777216) % 256, int(v / 65536) % 256, int(v / 256) % 256, v % 256, i;
    }
    for (i = 0; i < n; i++) {
      for (j = 0; j < k; j++) {
        if (j < k - 1)
          printf "-A KUBE-SVC-%d -m statistic --mode random --probability %.11f -j KUBE-SEP-%d-%d\n",
                 i, 1.0 / (k - j), i, j;
        else
          printf "-A KUBE-SVC-%d -j KUBE-SEP-%d-%d\n", i, i, j;
      }
      for (j = 0; j < k; j++)
        printf "-A KUBE-SEP-%d-%d -p tcp -m tcp -j DNAT --to-destination 10.200.1.%s:%d\n",
               i, j, p[j + 1], port;
    }
    print "COMMIT";
  }'
}

# measure_in <label> <how> <count> <warmup> <target>...: one "p50 p99" line per
# target, in order ("err err" for a target that failed). Several targets are
# measured in one process, alternating connect by connect.
# how: "cg" = sluice pod via node_sim exec (joins the node cgroup);
#      "ns:<pod>" = plain ip netns exec (outside the node cgroup).
measure_in() {
  local label=$1 how=$2 count=$3 warm=$4 out t k line
  shift 4
  local cmd=("$BENCH" measure --count "$count" --warmup "$warm" --cpu "$CLIENT_CPU")
  for t in "$@"; do cmd+=(--target "$t"); done
  if [[ $how == cg ]]; then
    out=$("$NODE_SIM" exec "$PREFIX" "p$SLUICE_POD" "${cmd[@]}" 2>>"$WORK/measure.err") || true
  else
    out=$(ip netns exec "$(ns "${how#ns:}")" "${cmd[@]}" 2>>"$WORK/measure.err") || true
  fi
  local lines=()
  [[ -z $out ]] || mapfile -t lines <<<"$out"
  for ((k = 1; k <= $#; k++)); do
    t=${!k}
    line=${lines[k - 1]:-}
    echo "$label $t ${line:-no output}" >>"$WORK/raw.txt"
    if [[ $line =~ p50_us=([0-9.]+)\ p99_us=([0-9.]+).*errors=0\  ]]; then
      echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
    elif [[ $line =~ p50_us=([0-9.]+)\ p99_us=([0-9.]+) ]]; then
      log "$label: some connects to $t failed: $line"
      echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
    else
      log "$label: measuring $t failed: ${line:-no output} ($(tail -n 1 "$WORK/measure.err"))"
      echo "err err"
    fi
  done
}

# One connect, to check a path works before timing thousands.
probe() { [[ $(measure_in "probe-$1" "$2" 1 0 "$3") != "err err" ]]; }

median() { # values on stdin, "err" ignored; prints the median or "err"
  sort -g | awk '$1 != "err" { v[n++] = $1 } END {
    if (!n) { print "err"; exit } print (n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2) }'
}

declare -A P50 P99 PROG
FAILED=0

# node_sim up exits 3, having touched nothing, if the prefix is taken: draw
# another. Any other outcome means the prefix is ours, so cleanup must run down.
for _ in 1 2 3 4 5; do
  up_rc=0
  "$NODE_SIM" up "$PREFIX" "$NPODS" || up_rc=$?
  (( up_rc == 3 )) || break
  PREFIX=sl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  PIN=/sys/fs/bpf/$PREFIX/sluice
  CGROUP=$CG_ROOT/$PREFIX
done
(( up_rc == 3 )) || NODE_UP=1
(( up_rc == 0 )) || die "node_sim up failed ($up_rc)"
log "prefix $PREFIX, scales: ${SCALE_LIST[*]}, $ROUNDS round(s) of $COUNT connects (+$WARMUP warmup)"
[[ -d $CGROUP ]] || die "node_sim did not create $CGROUP"

for i in "${SERVER_PODS[@]}"; do
  "$NODE_SIM" exec "$PREFIX" "p$i" "$BENCH" serve --port "$PORT" --cpu "$SERVER_CPU" \
    >>"$WORK/serve.log" 2>&1 &
  SERVER_PIDS+=("$!")
done
for i in "${SERVER_PODS[@]}"; do
  for _ in $(seq 100); do
    ip netns exec "$(ns "$i")" ss -Hltn "sport = :$PORT" | grep -q . && break
    sleep 0.05
  done
  ip netns exec "$(ns "$i")" ss -Hltn "sport = :$PORT" | grep -q . || die "server in p$i is not listening"
done

for i in "$NFT_POD" "$LEGACY_POD"; do
  ip -n "$(ns "$i")" route add 10.96.0.0/12 dev eth0
done

# iptables backends usable in a netns on this kernel?
NFT_OK=1 LEGACY_OK=1 NFT_WHY="" LEGACY_WHY=""
if ! NFT_WHY=$(ip netns exec "$(ns "$NFT_POD")" iptables-nft -t nat -L -n 2>&1 >/dev/null); then NFT_OK=0; fi
if ! LEGACY_WHY=$(ip netns exec "$(ns "$LEGACY_POD")" iptables-legacy -t nat -L -n 2>&1 >/dev/null); then LEGACY_OK=0; fi
(( NFT_OK )) || log "iptables-nft unavailable: $NFT_WHY"
(( LEGACY_OK )) || log "iptables-legacy unavailable: $LEGACY_WHY"

# Direct connects go to a backend picked at random per connect, the same spread
# as the balanced paths: on a VM, connecting to one server process over and
# over is several µs faster than spreading over four (waking an idle server
# costs an IPI), which would flatter the baseline.
DIRECT=$(for i in "${SERVER_PODS[@]}"; do printf '10.200.1.%s:%s,' "$i" "$PORT"; done)
DIRECT=${DIRECT%,}

# --- sluice: programming time from empty -------------------------------------
attach() {
  local out
  out=$("$SLUICECTL" --pin-dir "$PIN" attach --cgroup "$CGROUP")
  [[ $out == *"maps created"* ]] || die "attach did not start from empty maps: $out"
}
attach
gen_services 0 "$PROG_SERVICES" >"$WORK/prog.svc"
t0=$(now)
"$SLUICECTL" --pin-dir "$PIN" svc apply -f "$WORK/prog.svc"
PROG_EMPTY=$(elapsed "$t0" "$(now)")
log "programmed $PROG_SERVICES services from empty in ${PROG_EMPTY}s"
# Back to empty maps for the scale runs.
"$SLUICECTL" --pin-dir "$PIN" cleanup
attach

# --- per scale ---------------------------------------------------------------
have=0
for S in "${SCALE_LIST[@]}"; do
  last=$(vip $((S - 1)))
  target=$last:80
  log "== $S services (measuring the last, $last)"

  gen_services "$have" "$S" >"$WORK/add.svc"
  t0=$(now)
  "$SLUICECTL" --pin-dir "$PIN" svc apply -f "$WORK/add.svc"
  PROG[$S,sluice]=$(elapsed "$t0" "$(now)")
  log "sluice: added $((S - have)) services in ${PROG[$S,sluice]}s"
  have=$S

  cols=(pair plain)
  if (( S > IPT_MAX_DEFAULT && BENCH_FULL != 1 )); then
    P50[$S,nft]=skipped P50[$S,legacy]=skipped
  else
    gen_iptables "$S" >"$WORK/nat.rules"
    for be in nft legacy; do
      ok_var=${be^^}_OK
      if (( ! ${!ok_var} )); then P50[$S,$be]=unavailable; continue; fi
      pod=$NFT_POD
      [[ $be == legacy ]] && pod=$LEGACY_POD
      t0=$(now)
      if ip netns exec "$(ns "$pod")" "iptables-$be-restore" <"$WORK/nat.rules" 2>"$WORK/restore.err"; then
        PROG[$S,$be]=$(elapsed "$t0" "$(now)")
        log "iptables-$be: loaded $((S * 9 + 1)) rules in ${PROG[$S,$be]}s"
        cols+=("$be")
      else
        log "iptables-$be-restore failed: $(head -n 3 "$WORK/restore.err")"
        P50[$S,$be]=error
        FAILED=1
      fi
    done
  fi

  # Check every path once, then interleave the rounds across the columns
  # (rotating their order) so that machine noise spreads over all of them
  # alike. sluice and direct are one "pair" run: the same process alternates a
  # VIP connect and a direct connect, so their difference is not at the mercy
  # of the load other tenants put on the machine between two runs.
  live=()
  for c in "${cols[@]}"; do
    ok=0
    case $c in
      pair) probe sluice cg "$target" && probe direct cg "$DIRECT" && ok=1 ;;
      plain) probe plain "ns:$PLAIN_POD" "$DIRECT" && ok=1 ;;
      nft) probe nft "ns:$NFT_POD" "$target" && ok=1 ;;
      legacy) probe legacy "ns:$LEGACY_POD" "$target" && ok=1 ;;
    esac
    if (( ok )); then
      live+=("$c")
    elif [[ $c == pair ]]; then
      P50[$S,sluice]=error P50[$S,direct]=error FAILED=1
    else
      P50[$S,$c]=error FAILED=1
    fi
  done
  for ((r = 0; r < ROUNDS; r++)); do
    for ((k = 0; k < ${#live[@]}; k++)); do
      c=${live[$(((k + r) % ${#live[@]}))]}
      case $c in
        pair) res=$(measure_in "pair-$S" cg "$COUNT" "$WARMUP" "$target" "$DIRECT") ;;
        plain) res=$(measure_in "plain-$S" "ns:$PLAIN_POD" "$COUNT" "$WARMUP" "$DIRECT") ;;
        nft) res=$(measure_in "nft-$S" "ns:$NFT_POD" "$COUNT" "$WARMUP" "$target") ;;
        legacy) res=$(measure_in "legacy-$S" "ns:$LEGACY_POD" "$COUNT" "$WARMUP" "$target") ;;
      esac
      names=("$c")
      [[ $c != pair ]] || names=(sluice direct)
      mapfile -t vals <<<"$res"
      for ((k2 = 0; k2 < ${#names[@]}; k2++)); do
        v=${vals[k2]:-err err}
        echo "${v% *}" >>"$WORK/$S.${names[k2]}.p50"
        echo "${v#* }" >>"$WORK/$S.${names[k2]}.p99"
      done
    done
  done
  for c in "${live[@]}"; do
    names=("$c")
    [[ $c != pair ]] || names=(sluice direct)
    for c2 in "${names[@]}"; do
      P50[$S,$c2]=$(median <"$WORK/$S.$c2.p50")
      P99[$S,$c2]=$(median <"$WORK/$S.$c2.p99")
      [[ ${P50[$S,$c2]} != err ]] || FAILED=1
      log "$c2: p50=${P50[$S,$c2]} p99=${P99[$S,$c2]} (p50 rounds: $(tr '\n' ' ' <"$WORK/$S.$c2.p50")p99 rounds: $(tr '\n' ' ' <"$WORK/$S.$c2.p99"))"
    done
  done

  # Empty the nat tables again (frees the memory of large rule sets).
  if (( S <= IPT_MAX_DEFAULT || BENCH_FULL == 1 )); then
    (( ! NFT_OK )) || ip netns exec "$(ns "$NFT_POD")" iptables-nft-restore <<<$'*nat\nCOMMIT' || true
    (( ! LEGACY_OK )) || ip netns exec "$(ns "$LEGACY_POD")" iptables-legacy-restore <<<$'*nat\nCOMMIT' || true
  fi
done

# What the BPF programs did, as a sanity check that sluice really balanced.
"$SLUICECTL" --pin-dir "$PIN" dump >"$WORK/dump.txt" 2>&1 || true
verdicts=$(sed -n '/^verdicts:/,$p' "$WORK/dump.txt" | awk '$2 != 0 && NF == 2 { printf "%s=%s ", $1, $2 }')

# Optional: the cost of each BPF program per connect, at the last scale.
BPF_SPLIT=()
if [[ ${BPF_STATS:-0} == 1 ]]; then
  S=${SCALE_LIST[-1]}
  for what in "sluice $(vip $((S - 1))):80" "direct $DIRECT"; do
    read -r label t <<<"$what"
    out=$("$BPF_STATS_TOOL" --link "$PIN/links/sl_connect4" --link "$PIN/links/sl_sockops" -- \
      "$NODE_SIM" exec "$PREFIX" "p$SLUICE_POD" "$BENCH" measure --target "$t" --count "$COUNT" \
      --warmup "$WARMUP" --cpu "$CLIENT_CPU" 2>>"$WORK/measure.err") || { log "BPF_STATS run failed"; continue; }
    BPF_SPLIT+=("$(awk -v label="$label" -v conns=$((COUNT + WARMUP)) '
      /^p50_us=/ { split($1, a, "="); p50 = a[2] }
      /^bpf: / { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        line = line sprintf(" %s %.0f ns/connect (%.1f runs of %.0f ns)", f["prog"],
          f["run_time_ns"] / conns, f["runs"] / conns, f["ns_per_run"]) }
      END { printf "%-6s (p50 %s µs with accounting on):%s", label, p50, line }' <<<"$out")")
  done
fi

# --- L4 authorization: connect4 with POLICIES policy sets loaded ------------
# sl_pol_* (maps/sock_lb_types.h) written straight with bpftool, as sluiced's
# table would hold them: POLICIES guarded pods of their own (10.201.x.y), one
# set each, plus the four backends in one more set that names another port,
# so a connect to the VIP takes the longest path of bpf/include/l4_policy.h
# (destination hit, source hit, (source, port) miss, (source, other) hit:
# allow). Rounds alternate empty tables and loaded ones; the figure is the
# median of connect4's own run time (kernel BPF accounting) loaded minus
# empty, with the client's p50 next to it.
POLICIES=${POLICIES:-1000}
[[ $POLICIES =~ ^[0-9]+$ ]] || die "POLICIES must be a number"
POLICY_SPLIT=() POLICY_OVERHEAD=n/a
hex_le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
hex_le16() { printf '%02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)); }
hex_le64() { printf '%s %s' "$(hex_le32 $(($1 & 0xffffffff)))" "$(hex_le32 $(($1 >> 32 & 0xffffffff)))"; }
hex_ip() { local IFS=.; set -- $1; printf '%02x %02x %02x %02x' "$1" "$2" "$3" "$4"; }
gen_policy_batch() { # $1: update or delete; the client's netns cookie in $2
  local op=$1 cookie=$2 i set ip m=pinned
  rule() { # set src port
    if [[ $op == update ]]; then
      echo "map update $m $PIN/sl_pol_rule key hex $(hex_le32 "$1") $(hex_le32 "$2") $(hex_le16 "$3") 00 00 value hex $(hex_le32 1)"
    else
      echo "map delete $m $PIN/sl_pol_rule key hex $(hex_le32 "$1") $(hex_le32 "$2") $(hex_le16 "$3") 00 00"
    fi
  }
  dest() { # ip set
    if [[ $op == update ]]; then echo "map update $m $PIN/sl_pol_dst key hex $(hex_ip "$1") value hex $(hex_le32 "$2")"
    else echo "map delete $m $PIN/sl_pol_dst key hex $(hex_ip "$1")"; fi
  }
  for ((i = 0; i < POLICIES; i++)); do
    set=$((i + 1))
    rule "$set" 0 0; rule "$set" 1 0
  done
  set=$((POLICIES + 1))
  rule "$set" 0 0; rule "$set" 1 0; rule "$set" 1 9090
  if [[ $op == update ]]; then
    echo "map update $m $PIN/sl_pol_src key hex $(hex_le64 "$cookie") value hex $(hex_le32 1)"
  else
    echo "map delete $m $PIN/sl_pol_src key hex $(hex_le64 "$cookie")"
  fi
  for ((i = 0; i < POLICIES; i++)); do dest "10.201.$((i / 250)).$((i % 250 + 1))" $((i + 1)); done
  for i in "${SERVER_PODS[@]}"; do dest "10.200.1.$i" "$set"; done
}
if (( POLICIES > 0 )) && command -v bpftool >/dev/null && command -v python3 >/dev/null; then
  S=${SCALE_LIST[-1]}
  cookie=$(ip netns exec "$(ns "$SLUICE_POD")" python3 -c \
    'import socket; s = socket.socket(); print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), "little"))')
  gen_policy_batch update "$cookie" >"$WORK/policy-load.batch"
  gen_policy_batch delete "$cookie" >"$WORK/policy-unload.batch"
  log "L4 authorization: $POLICIES policy sets + the backends', $(grep -c . "$WORK/policy-load.batch") map entries"
  declare -A POL_NS POL_P50
  for ((r = 0; r < ROUNDS; r++)); do
    for state in empty loaded; do
      if [[ $state == loaded ]]; then bpftool batch file "$WORK/policy-load.batch" >/dev/null; fi
      out=$("$BPF_STATS_TOOL" --link "$PIN/links/sl_connect4" -- \
        "$NODE_SIM" exec "$PREFIX" "p$SLUICE_POD" "$BENCH" measure --target "$(vip $((S - 1))):80" --count "$COUNT" \
        --warmup "$WARMUP" --cpu "$CLIENT_CPU" 2>>"$WORK/measure.err") || { log "policy run failed"; FAILED=1; }
      if [[ $state == loaded ]]; then bpftool batch file "$WORK/policy-unload.batch" >/dev/null; fi
      [[ $out == *"errors=0 "* ]] || log "policy run ($state): some connects failed: $(head -n 1 <<<"$out")"
      POL_NS[$state]+="$(awk '/^bpf: / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "ns_per_run") print kv[2] } }' <<<"$out") "
      POL_P50[$state]+="$(sed -n 's/^p50_us=\([0-9.]*\).*/\1/p' <<<"$out") "
    done
  done
  for state in empty loaded; do
    POL_NS[$state]=$(tr ' ' '\n' <<<"${POL_NS[$state]}" | grep . | median)
    POL_P50[$state]=$(tr ' ' '\n' <<<"${POL_P50[$state]}" | grep . | median)
  done
  if [[ ${POL_NS[empty]} =~ ^[0-9.]+$ && ${POL_NS[loaded]} =~ ^[0-9.]+$ ]]; then
    POLICY_OVERHEAD=$(awk -v a="${POL_NS[loaded]}" -v b="${POL_NS[empty]}" 'BEGIN { printf "%.3f", (a - b) / 1000 }')
  fi
  POLICY_SPLIT=("connect4 run time, empty policy tables: ${POL_NS[empty]} ns; with $POLICIES policy sets: ${POL_NS[loaded]} ns (medians of $ROUNDS rounds; client p50 ${POL_P50[empty]} / ${POL_P50[loaded]} µs with accounting on)")
fi

# --- report ------------------------------------------------------------------
num() { [[ ${1:-} =~ ^[0-9.]+$ ]]; }
cell() { # "p50 / p99" or the reason there is no number
  local v=${P50[$1,$2]:-n/a}
  if num "$v"; then printf '%.1f / %.1f' "$v" "${P99[$1,$2]}"; else printf '%s' "$v"; fi
}
added() { # p50 of column $2 minus p50 of column $3
  local a=${P50[$1,$2]:-} b=${P50[$1,$3]:-}
  if num "$a" && num "$b"; then awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f", a - b }'; else printf -- '-'; fi
}
prog() { local v=${PROG[$1,$2]:-}; [[ -n $v ]] && printf '%ss' "$v" || printf -- '-'; }
row() { # first column 9 wide, the others 16, no trailing blanks
  local line c
  line=$(printf '%-9s' "$1")
  shift
  for c in "$@"; do line+=$(printf '  %-16s' "$c"); done
  echo "${line%"${line##*[! ]}"}"
}

echo
echo "Connect latency in µs, p50 / p99 (median of $ROUNDS rounds of $COUNT connects), to the last-added VIP"
row services sluice iptables-nft iptables-legacy direct no-bpf
for S in "${SCALE_LIST[@]}"; do
  row "$S" "$(cell "$S" sluice)" "$(cell "$S" nft)" "$(cell "$S" legacy)" "$(cell "$S" direct)" "$(cell "$S" plain)"
done
echo
echo "Added over direct at p50, µs (direct itself: over the no-BPF pod)"
row services sluice iptables-nft iptables-legacy direct
for S in "${SCALE_LIST[@]}"; do
  row "$S" "$(added "$S" sluice direct)" "$(added "$S" nft direct)" "$(added "$S" legacy direct)" \
    "$(added "$S" direct plain)"
done
echo
echo "Programming time (sluice: svc apply of the services added at that scale; iptables: full restore)"
row services sluice iptables-nft iptables-legacy
for S in "${SCALE_LIST[@]}"; do
  row "$S" "$(prog "$S" sluice)" "$(prog "$S" nft)" "$(prog "$S" legacy)"
done
echo
echo "sluice: programmed $PROG_SERVICES services (4 backends each) from empty in ${PROG_EMPTY}s"
(( LEGACY_OK )) || echo "iptables-legacy unavailable here: $LEGACY_WHY"
(( NFT_OK )) || echo "iptables-nft unavailable here: $NFT_WHY"
echo "BPF verdicts: ${verdicts:-none}"
for line in "${BPF_SPLIT[@]}"; do echo "BPF run time, $line"; done
for line in "${POLICY_SPLIT[@]}"; do echo "L4 authorization: $line"; done
echo "kernel $(uname -r), $(nproc) CPU(s), client on CPU $CLIENT_CPU, servers on CPU $SERVER_CPU," \
  "run time $(elapsed "$T_START" "$(now)")s"

S=10000
s50=${P50[$S,sluice]:-n/a} i50=${P50[$S,nft]:-n/a} d50=${P50[$S,direct]:-n/a}
speedup=n/a overhead=n/a
if num "$s50" && num "$i50"; then speedup=$(awk -v a="$i50" -v b="$s50" 'BEGIN { printf "%.1f", a / b }'); fi
if num "$s50" && num "$d50"; then overhead=$(awk -v a="$s50" -v b="$d50" 'BEGIN { printf "%.2f", a - b }'); fi
echo "socket-lb: services=$S sluice_p50_us=$s50 iptables_p50_us=$i50 direct_p50_us=$d50 speedup_vs_iptables=$speedup overhead_vs_direct_us=$overhead policy_overhead_us=$POLICY_OVERHEAD"
exit "$FAILED"
