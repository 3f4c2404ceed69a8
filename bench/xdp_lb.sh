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
#       AF_PACKET UDP generator  XDP DNAT (then the stack forwards)   XDP_DROP sink
#       -> 10.111.0.10:80        or iptables nat PREROUTING DNAT
#
#     pps = packets the node forwarded to the backend (s0 tx_packets delta)
#     per second of generation. One-way UDP over FLOWS source ports.
#
# Run as root:  bench/xdp_lb.sh
# Environment:
#   VIPS=1000 BACKENDS=100 REPEAT=1000000 MAGLEV=10007   test-run scale
#   SECONDS_PER_RUN=3 ROUNDS=3 FLOWS=1024                pps runs (interleaved, median)
#   GEN_CPU=1                                            generator CPU (-1: none)
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

echo "== pps through veth: sluice XDP vs iptables DNAT ($ROUNDS rounds of ${SECONDS_PER_RUN}s, $FLOWS flows)"
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
in_ns "$S" "$TOOL" xdp-drop --iface eth0
for _ in $(seq 100); do ip -n "$G" link show g0 | grep -q LOWER_UP && break; sleep 0.05; done

tx_s0() { ip netns exec "$N" cat /sys/class/net/s0/statistics/tx_packets; }

# One run: prints delivered packets per second.
run_pps() {
  local before after out secs
  before=$(tx_s0)
  out=$(in_ns "$G" taskset -c "${GEN_CPU/#-1/0-$(( $(nproc) - 1 ))}" "$TOOL" gen --iface g0 --dst-mac "$X0_MAC" \
        --src 10.111.250.2 --dst 10.111.0.10:80 --flows "$FLOWS" --seconds "$SECONDS_PER_RUN")
  sleep 0.2
  after=$(tx_s0)
  secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
  awk -v d=$((after - before)) -v s="$secs" 'BEGIN { printf "%.0f", d / s }'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

XDP_RUNS="" RED_RUNS="" IPT_RUNS="" MODE=""
for r in $(seq "$ROUNDS"); do
  MODE=$(in_ns "$N" "$TOOL" attach --pin-dir "$PIN" --iface x0 --vip 10.111.0.10:80 --backend 10.200.1.1:8080 \
    --no-redirect)
  x=$(run_pps)
  in_ns "$N" "$TOOL" detach --pin-dir "$PIN" --iface x0
  mkdir -p "$PIN"
  in_ns "$N" "$TOOL" attach --pin-dir "$PIN" --iface x0 --vip 10.111.0.10:80 --backend 10.200.1.1:8080 >/dev/null
  d=$(run_pps)
  in_ns "$N" "$TOOL" detach --pin-dir "$PIN" --iface x0
  mkdir -p "$PIN"
  ip netns exec "$N" iptables -t nat -A PREROUTING -d 10.111.0.10 -p udp --dport 80 \
    -j DNAT --to-destination 10.200.1.1:8080
  i=$(run_pps)
  ip netns exec "$N" iptables -t nat -F PREROUTING
  echo "round $r: sluice-xdp ${x} pps ($MODE)  sluice-xdp-redirect ${d} pps  iptables-dnat ${i} pps"
  XDP_RUNS+=" $x" RED_RUNS+=" $d" IPT_RUNS+=" $i"
done
PPS=$(echo "$XDP_RUNS" | median)
RED=$(echo "$RED_RUNS" | median)
IPT=$(echo "$IPT_RUNS" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "na" }'; }
RATIO=$(ratio "$PPS" "$IPT")
echo
echo "medians of $ROUNDS rounds:"
printf '%-40s %12s %8s\n' "path" "pps" "vs ipt" \
  "sluice XDP DNAT, XDP_PASS + stack forward" "$PPS" "$RATIO" \
  "sluice XDP DNAT, opt-in FIB XDP_REDIRECT" "$RED" "$(ratio "$RED" "$IPT")" \
  "iptables DNAT + stack forward" "$IPT" "1.00"
echo "iptables: $(iptables --version 2>/dev/null || echo unknown); kernel $(uname -r), $(nproc) CPU(s), generator on CPU $GEN_CPU"
echo "xdp-lb fast path (opt-in fib_redirect, needs XDP on the egress veth's peer): pps=$RED pps_ratio_vs_iptables=$(ratio "$RED" "$IPT")"
# The Gateway's HTTPS throughput against nginx (bench/gateway.sh; GATEWAY=0 skips it).
GW_RATIO=na
if [[ ${GATEWAY:-1} != 0 ]]; then
  gw_line=$("$(dirname "$0")/gateway.sh" | tee /dev/stderr | tail -1) || gw_line=""
  GW_RATIO=$(sed -n 's/.*gw_rps_ratio_vs_nginx=\([0-9.a-z]*\).*/\1/p' <<<"$gw_line")
  GW_RATIO=${GW_RATIO:-na}
fi
# The last line reports the default design (DNAT, then XDP_PASS to the stack).
echo "xdp-lb: tracked_ns=$TRACKED ct_hit_ns=$CT_HIT new_flow_ns=$NEW_FLOW pps=$PPS pps_ratio_vs_iptables=$RATIO gw_rps_ratio_vs_nginx=$GW_RATIO"
