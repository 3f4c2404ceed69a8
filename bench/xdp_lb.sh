#!/usr/bin/env bash
# xdp_lb.sh: the XDP L4 load balancer (bpf/xdp_lb.bpf.c). A benchmark, not a
# test: it prints numbers, asserts none.
#
#  1. ns/packet in BPF_PROG_TEST_RUN (repeat >= 1e6) with VIPS x BACKENDS:
#     the tracked-flow path (a per-CPU flow cache hit), the same flow when
#     it misses the flow cache and hits the conntrack (ct_hit; a bench knob
#     skips the cache), the new-flow path (Maglev pick + conntrack insert; a
#     bench knob skips the conntrack lookup so every repeat takes that path),
#     a non-VIP pass, and a 2-instruction XDP_PASS program for calibration. See bench/tools/xdp_lb_bench.cpp for how each
#     repeat is kept on its path although the kernel reuses one buffer.
#  2. packets/s through a real veth path, sluice XDP vs iptables DNAT, the
#     same traffic in the same run:
#
#       netns <P>-g             netns <P>-n (the "node")              netns <P>-s
#       g0 10.111.250.2 ─ veth ─ x0 10.111.250.1   s0 10.200.0.1/16 ─ veth ─ eth0 10.200.1.1
#       UDP generator            sluice XDP (default: DNAT + XDP      TC ingress drop sink
#       -> 10.111.0.10:80        forward to s0; --no-redirect: DNAT
#                                + XDP_PASS) or iptables nat DNAT
#
#     The generator (GEN_CPU) sends XDP live frames (BPF_PROG_TEST_RUN,
#     bench/bpf/xdp_gen.bpf.c), which reach x0 in pages with XDP headroom as
#     from a NIC; the node's receive processing runs in x0's threaded NAPI
#     pinned to NODE_CPU, the sink's in eth0's pinned to SINK_CPU. Same setup
#     for every run, each in fresh namespaces. pps = packets the node
#     forwarded to the backend (s0 tx_packets delta) per second of
#     generation; offered load and drops are printed too. One-way UDP over
#     FLOWS source ports.
#
# Run as root:  bench/xdp_lb.sh
# Environment:
#   VIPS=1000 BACKENDS=100 REPEAT=1000000 MAGLEV=10007   test-run scale
#   SECONDS_PER_RUN=3 ROUNDS=3 FLOWS=1024                pps runs (interleaved, median)
#   GEN_CPU=1 NODE_CPU=0 SINK_CPU=1                      generator, node NAPI, sink NAPI CPUs
#                                                        (-1: no pinning / no threaded NAPI)
#   NAPI_RT_PRIO=50                                      SCHED_FIFO priority of those threads (0: none)
#   GEN_RT_PRIO=0                                        SCHED_FIFO for the generator (below the sink, which
#                                                        preempts it; 0: none)
#   SINK=xdp                                             xdp: XDP_DROP on eth0; tc: GRO + TC drop
#   GENERATOR=xdp                                        xdp (live frames) or af_packet (the old
#                                                        sendmmsg one: skbs the veth copies before
#                                                        XDP; without XDP the veth hands them to
#                                                        netif_rx on the generator's CPU, so the
#                                                        iptables run gets no NAPI thread and no
#                                                        node ns/packet)
#   GEN_BATCH=64                                         live-frames batch size (up to 256: more load offered)
#   BUILD_DIR=<repo>/build                               where the tool is built
#   GATEWAY=1                                            0: skip bench/gateway.sh (HTTPS Gateway vs nginx)
#
# Everything lives in namespaces created here (prefix sl + 6 hex) and is
# removed on exit, failure or Ctrl-C. Nothing attaches in the root netns (the
# tool refuses to).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
VIPS=${VIPS:-1000}
BACKENDS=${BACKENDS:-100}
REPEAT=${REPEAT:-1000000}
MAGLEV=${MAGLEV:-10007}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
ROUNDS=${ROUNDS:-3}
FLOWS=${FLOWS:-1024}
GEN_CPU=${GEN_CPU:-1}
NODE_CPU=${NODE_CPU:-0}
SINK_CPU=${SINK_CPU:-1}
GENERATOR=${GENERATOR:-xdp}
NAPI_RT_PRIO=${NAPI_RT_PRIO:-50}
SINK=${SINK:-xdp}
GEN_RT_PRIO=${GEN_RT_PRIO:-0}
GEN_RT=""; (( GEN_RT_PRIO > 0 )) && GEN_RT="chrt -f $GEN_RT_PRIO"
TOOL=$BUILD_DIR/bench/sluice-bench-xdp

(( REPEAT >= 1000000 )) || { echo "REPEAT must be >= 1000000" >&2; exit 2; }
(( SECONDS_PER_RUN <= 10 )) || { echo "SECONDS_PER_RUN must be <= 10" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "run as root" >&2; exit 2; }

if [[ ! -x $TOOL || ${BENCH_BUILD:-1} == 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >/dev/null
  ninja -C "$BUILD_DIR" sluice-bench-xdp >/dev/null
fi

P=sl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
G=$P-g N=$P-n S=$P-s
PIN=/sys/fs/bpf/$P

cleanup() {
  set +e
  for ns in "$G" "$N" "$S"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "${PIN:?}"
}
trap cleanup EXIT INT TERM

in_ns() { local ns=$1; shift; nsenter --net=/run/netns/"$ns" -- "$@"; }  # keeps /sys/fs/bpf visible
pin_cpu() { if (( GEN_CPU >= 0 )); then taskset -c "$GEN_CPU" "$@"; else "$@"; fi; }

echo "== BPF_PROG_TEST_RUN: $VIPS VIPs x $BACKENDS backends, Maglev $MAGLEV, repeat $REPEAT"
mkdir -p "$PIN"
TR=$(pin_cpu "$TOOL" testrun --pin-dir "$PIN" --vips "$VIPS" --backends "$BACKENDS" --repeat "$REPEAT" --maglev "$MAGLEV")
echo "$TR"
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$TR" | tail -1; }
TRACKED=$(kv tracked_ns) CT_HIT=$(kv ct_hit_ns) NEW_FLOW=$(kv new_flow_ns)

echo "== pps through veth: sluice XDP vs iptables DNAT ($ROUNDS rounds of ${SECONDS_PER_RUN}s, $FLOWS flows, $GENERATOR generator)"
# Every run gets a fresh set of namespaces, so no run inherits another's
# state (an iptables nat table left in the node netns keeps conntrack hooked
# for every later packet, even with the rules flushed).
netns_up() {
  for ns in "$G" "$N" "$S"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip -n "$N" link add x0 type veth peer name g0 netns "$G"
  ip -n "$N" link add s0 type veth peer name eth0 netns "$S"
  ip -n "$G" addr add 10.111.250.2/24 dev g0
  ip -n "$N" addr add 10.111.250.1/24 dev x0
  ip -n "$N" addr add 10.200.0.1/16 dev s0
  ip -n "$S" addr add 10.200.1.1/16 dev eth0
  for l in "$G g0" "$N x0" "$N s0" "$S eth0"; do set -- $l; ip -n "$1" link set "$2" up; done
  ip netns exec "$N" sysctl -qw net.ipv4.ip_forward=1
  X0_MAC=$(ip -n "$N" -br link show x0 | awk '{print $3}')
  SINK_MAC=$(ip -n "$S" -br link show eth0 | awk '{print $3}')
  ip -n "$N" neigh replace 10.200.1.1 lladdr "$SINK_MAC" dev s0 nud permanent
  # The sink's work is on SINK_CPU, not the node's. SINK=xdp (default):
  # XDP_DROP, the cheapest for XDP frames, though the veth copies each skb
  # from the stack into a page first (too little headroom), on the sink's
  # CPU. SINK=tc: as a pod's veth takes packets (GRO on, so NAPI: an skb,
  # or an XDP frame built into one), dropped at TC ingress.
  if [[ $SINK == xdp ]]; then
    in_ns "$S" "$TOOL" xdp-drop --iface eth0
  else
    in_ns "$S" "$TOOL" gro --iface eth0 --on
    in_ns "$S" "$TOOL" tc-drop --iface eth0
  fi
  # x0 gets NAPI in every run (GRO on; attaching XDP turns it on too), so
  # the node receives the same way with or without XDP.
  in_ns "$N" "$TOOL" gro --iface x0 --on
  for _ in $(seq 100); do ip -n "$G" link show g0 | grep -q LOWER_UP && break; sleep 0.05; done
}
netns_down() { for ns in "$G" "$N" "$S"; do ip netns del "$ns" 2>/dev/null; done; true; }

# Threaded NAPI: the node's receive processing (x0) runs in kernel threads
# pinned to NODE_CPU, the sink's (eth0) to SINK_CPU, away from the generator.
# They run SCHED_FIFO (NAPI_RT_PRIO, 0: SCHED_OTHER), as softirq processing
# would preempt ordinary tasks, so another process on the CPU (a build) does
# not take the node's time; the kernel's RT throttling still leaves 5% to
# everything else, and a run lasts at most 10 s. The generator stays an
# ordinary task unless GEN_RT_PRIO is set (it offered less load as FIFO).
napi_threads() { ps -eo pid=,comm= | awk -v p="napi/$1-" 'index($2, p) == 1 { print $1 }' | sort; }
NEW_THREADS=""
thread_napi() {  # netns dev cpu; sets NEW_THREADS
  local before after pid
  before=$(napi_threads "$2")
  ip netns exec "$1" sh -c "echo 1 > /sys/class/net/$2/threaded"
  after=$(napi_threads "$2")
  NEW_THREADS=$(comm -13 <(echo "$before") <(echo "$after"))
  for pid in $NEW_THREADS; do
    taskset -pc "$3" "$pid" >/dev/null
    if (( NAPI_RT_PRIO > 0 )); then chrt -f -p "$NAPI_RT_PRIO" "$pid"; fi
  done
}

stat_of() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
# CPU time (ns) the node's NAPI threads ran: all of the node's forwarding
# work happens in them (XDP, the stack, the transmit to s0).
thread_ns() { local t=0 pid; for pid in "$@"; do t=$(( t + $(cut -d' ' -f1 "/proc/$pid/schedstat") )); done; echo "$t"; }

# One run: prints "<delivered pps> <offered pps> <node input drops> <sink drops> <node ns/packet>".
# delivered: what the node forwarded to the backend (s0 tx_packets, counted
# when the sink's NAPI takes it); input drops: frames the node's receive
# ring (x0) had no room for, i.e. offered beyond the node's capacity; sink
# drops: forwarded frames the sink's ring refused (should be 0). node
# ns/packet: CPU time of the node's NAPI threads per forwarded packet (the
# node's cost, whatever else runs; 1e9 / it is the capacity of one CPU).
# With input drops and the threads busy all the time, pps is the capacity.
run_pps() {
  local b_tx b_in b_sink a_tx a_in a_sink out secs sent gen b_cpu a_cpu node=""
  if (( NODE_CPU >= 0 )); then thread_napi "$N" x0 "$NODE_CPU"; node=$NEW_THREADS; fi
  if (( SINK_CPU >= 0 )); then thread_napi "$S" eth0 "$SINK_CPU"; fi
  gen=gen-xdp; [[ $GENERATOR == af_packet ]] && gen=gen
  b_tx=$(stat_of "$N" s0 tx_packets) b_in=$(stat_of "$G" g0 tx_dropped) b_sink=$(stat_of "$N" s0 tx_dropped)
  b_cpu=$(thread_ns $node)
  out=$(in_ns "$G" taskset -c "${GEN_CPU/#-1/0-$(( $(nproc) - 1 ))}" $GEN_RT "$TOOL" "$gen" --iface g0 --dst-mac "$X0_MAC" \
        --src 10.111.250.2 --dst 10.111.0.10:80 --flows "$FLOWS" --seconds "$SECONDS_PER_RUN" ${GEN_BATCH:+--batch "$GEN_BATCH"})
  a_cpu=$(thread_ns $node)
  sleep 0.2
  a_tx=$(stat_of "$N" s0 tx_packets) a_in=$(stat_of "$G" g0 tx_dropped) a_sink=$(stat_of "$N" s0 tx_dropped)
  secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
  sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$out")
  awk -v d=$((a_tx - b_tx)) -v o="$sent" -v s="$secs" -v i=$((a_in - b_in)) -v k=$((a_sink - b_sink)) \
    -v c=$((a_cpu - b_cpu)) 'BEGIN { printf "%.0f %.0f %d %d %.0f", d / s, o / s, i, k, (d > 0 ? c / d : 0) }'
}

# mode: xdp (sluice as sluiced runs it: XDP forward to listed devices, else
# the stack), xdp-pass (sluice with --no-redirect: always the stack),
# iptables (nat PREROUTING DNAT, the stack).
one_run() {
  local mode=$1 r
  netns_up
  local m=""
  case $mode in
    xdp) m=$(in_ns "$N" "$TOOL" attach --pin-dir "$PIN" --iface x0 --vip 10.111.0.10:80 --backend 10.200.1.1:8080) ;;
    xdp-pass) in_ns "$N" "$TOOL" attach --pin-dir "$PIN" --iface x0 --vip 10.111.0.10:80 --backend 10.200.1.1:8080 \
                --no-redirect >/dev/null ;;
    iptables) ip netns exec "$N" iptables -t nat -A PREROUTING -d 10.111.0.10 -p udp --dport 80 \
                -j DNAT --to-destination 10.200.1.1:8080 ;;
  esac
  r=$(run_pps)
  [[ $mode == iptables ]] || in_ns "$N" "$TOOL" detach --pin-dir "$PIN" --iface x0
  netns_down
  mkdir -p "$PIN"
  echo "$r ${m// /,}"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

XDP_RUNS="" PASS_RUNS="" IPT_RUNS="" XDP_NS="" PASS_NS="" IPT_NS=""
for r in $(seq "$ROUNDS"); do
  x=$(one_run xdp) p=$(one_run xdp-pass) i=$(one_run iptables)
  fmt() { set -- $1; printf '%s pps (offered %s, input drops %s, sink drops %s, node %s ns/packet)%s' \
    "$1" "$2" "$3" "$4" "$5" "${6:+ $6}"; }
  echo "round $r: sluice-xdp $(fmt "$x")"
  echo "         sluice-xdp-pass $(fmt "$p")"
  echo "         iptables-dnat $(fmt "$i")"
  XDP_RUNS+=" ${x%% *}" PASS_RUNS+=" ${p%% *}" IPT_RUNS+=" ${i%% *}"
  nth5() { set -- $1; echo "$5"; }
  XDP_NS+=" $(nth5 "$x")" PASS_NS+=" $(nth5 "$p")" IPT_NS+=" $(nth5 "$i")"
done
PPS=$(echo "$XDP_RUNS" | median)
PASS=$(echo "$PASS_RUNS" | median)
IPT=$(echo "$IPT_RUNS" | median)
XNS=$(echo "$XDP_NS" | median) PNS=$(echo "$PASS_NS" | median) INS=$(echo "$IPT_NS" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "na" }'; }
RATIO=$(ratio "$PPS" "$IPT")
CPU_RATIO=$(ratio "$INS" "$XNS")  # packets per node CPU-second, sluice vs iptables
echo
echo "medians of $ROUNDS rounds (pps: delivered; ns/packet: node CPU time per forwarded packet):"
printf '%-52s %10s %8s %12s %8s\n' "path" "pps" "vs ipt" "ns/packet" "vs ipt" \
  "sluice XDP (default: XDP forward, stack fallback)" "$PPS" "$RATIO" "$XNS" "$CPU_RATIO" \
  "sluice XDP --no-redirect (DNAT, XDP_PASS, stack)" "$PASS" "$(ratio "$PASS" "$IPT")" "$PNS" "$(ratio "$INS" "$PNS")" \
  "iptables DNAT + stack forward" "$IPT" "1.00" "$INS" "1.00"
echo "iptables: $(iptables --version 2>/dev/null || echo unknown); kernel $(uname -r), $(nproc) CPU(s);" \
  "generator $GENERATOR on CPU $GEN_CPU, node NAPI on CPU $NODE_CPU, sink NAPI on CPU $SINK_CPU"
echo "xdp-lb stack path (--no-redirect): pps=$PASS pps_ratio_vs_iptables=$(ratio "$PASS" "$IPT") node_ns_per_packet=$PNS"
# The Gateway's HTTPS throughput against nginx (bench/gateway.sh; GATEWAY=0 skips it).
GW_RATIO=na
if [[ ${GATEWAY:-1} != 0 ]]; then
  gw_line=$("$(dirname "$0")/gateway.sh" | tee >(cat >&2) | tail -1) || gw_line=""
  GW_RATIO=$(sed -n 's/.*gw_rps_ratio_vs_nginx=\([0-9.a-z]*\).*/\1/p' <<<"$gw_line")
  GW_RATIO=${GW_RATIO:-na}
fi
# The last line reports the default design (XDP forward to devices listed as
# taking XDP frames, the stack for everything else).
echo "xdp-lb: tracked_ns=$TRACKED ct_hit_ns=$CT_HIT new_flow_ns=$NEW_FLOW pps=$PPS pps_ratio_vs_iptables=$RATIO node_ns_per_packet=$XNS node_cpu_ratio_vs_iptables=$CPU_RATIO gw_rps_ratio_vs_nginx=$GW_RATIO"
