#!/usr/bin/env bash
# gateway.sh: sluiced's Gateway (HTTPS, TLS terminated by sluiced) against
# nginx terminating TLS for the same backend, in one run on one simulated
# node. A benchmark, not a test: it prints numbers, asserts none.
#
# Run as root from anywhere:  bench/gateway.sh     (about 1 minute)
# Environment:
#   ROUNDS=3          rounds, paths interleaved; medians
#   HS_SECONDS=5      openssl s_time -new: full handshakes per second, one client
#   WRK_DURATION=5 WRK_CONNS=16
#                     wrk over HTTPS with keep-alive: request throughput
#   BUILD_DIR=<repo>/build
#   PERF=0            1: afterwards, perf-profile sluiced during one more wrk
#                     run and print its hottest symbols
#
# Layout: node_sim prefix "sl" + 6 hex (unique); pod p1 runs nginx (one
# worker) serving a 1 KiB file on :8080 as the backend; the node netns runs
# sluiced (Gateway :8443 on 10.111.250.1, one worker) and nginx (TLS :9443,
# one worker, proxy_pass with keepalive to the same backend); the external
# client netns <prefix>-ext (10.111.250.2) runs s_time and wrk. Both proxies
# use the same ECDSA P-256 certificate made at run time. Proxies on CPU 0,
# clients and the backend on CPU 1. No default routes; all removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
ROUNDS=${ROUNDS:-3}
HS_SECONDS=${HS_SECONDS:-5}
WRK_DURATION=${WRK_DURATION:-5}
WRK_CONNS=${WRK_CONNS:-16}
GW=10.111.250.1

log() { echo "gateway: $*" >&2; }
die() { log "$*"; exit 1; }
[[ $EUID -eq 0 ]] || die "run as root"
for t in wrk nginx openssl; do command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh)"; done
ninja -C "$BUILD_DIR" sluiced >/dev/null || die "build failed"

source "$ROOT/bench/lib.sh"
bench_start
trap 'exit 143' TERM

"$NODE_SIM" up "$PREFIX" 1 && NODE_UP=1 || die "node_sim up failed"
CGROUP=$CG_ROOT/$PREFIX
NODE=$PREFIX-node
EXT=$PREFIX-ext
ip netns add "$EXT"
ip -n "$EXT" link set lo up
ip -n "$NODE" link add ext0 type veth peer name eth0 netns "$EXT"
ip -n "$NODE" addr add $GW/24 dev ext0
ip -n "$NODE" link set ext0 up
ip -n "$EXT" addr add 10.111.250.2/24 dev eth0
ip -n "$EXT" link set eth0 up
P1=$("$NODE_SIM" pod-ip 1)

cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj '/CN=gateway.example.com' \
  -addext 'subjectAltName=DNS:gateway.example.com' -keyout tls.key -out tls.crt 2>/dev/null
mkdir -p www config
head -c 1024 /dev/zero | tr '\0' 'x' > www/index.html

# The backend: nginx in pod 1.
cat > backend.conf <<CONF
worker_processes 1; daemon off; pid $WORK/backend.pid; error_log $WORK/backend.err;
events { worker_connections 4096; }
http { access_log off; server { listen 8080; root $WORK/www; keepalive_requests 100000; } }
CONF
"$NODE_SIM" exec "$PREFIX" p1 taskset -c 1 nginx -c "$WORK/backend.conf" >/dev/null 2>&1 & PIDS+=($!)

# nginx terminating TLS in the node netns.
cat > tls.conf <<CONF
worker_processes 1; daemon off; pid $WORK/tls.pid; error_log $WORK/tls.err;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server $P1:8080; keepalive 32; }
  server {
    listen $GW:9443 ssl; ssl_certificate $WORK/tls.crt; ssl_certificate_key $WORK/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3; keepalive_requests 100000;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CGROUP" taskset -c 0 \
  ip netns exec "$NODE" nginx -c "$WORK/tls.conf" >/dev/null 2>&1 & PIDS+=($!)

# sluiced with a Gateway for any host on :8443, routed to the backend Service.
cat > config/mesh.yaml <<YAML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.40, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
status: {phase: Running, podIP: $P1}
---
apiVersion: v1
kind: Secret
metadata: {name: gw-cert, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: $(openssl base64 -A -in tls.crt), tls.key: $(openssl base64 -A -in tls.key)}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: gw-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route:
    - destination: {host: web}
YAML
sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$CGROUP" taskset -c 0 \
  nsenter --net="/run/netns/$NODE" "$BUILD_DIR/userspace/cmd/sluiced" --config "$WORK/config" --cgroup "$CGROUP" \
  --pin-dir "/sys/fs/bpf/$PREFIX/sluice" --node-ip 10.200.0.1 --gateway-address $GW --workers 1 --no-access-log \
  >"$WORK/sluiced.log" 2>&1 & PIDS+=($!)
SLUICED_PID=$!

in_ext() { ip netns exec "$EXT" "$@"; }
for _ in $(seq 100); do
  in_ext curl -sk -o /dev/null -m 1 "https://$GW:8443/" && in_ext curl -sk -o /dev/null -m 1 "https://$GW:9443/" && break
  sleep 0.1
done
in_ext curl -sk -o /dev/null -m 1 "https://$GW:8443/" || { cat "$WORK/sluiced.log" >&2; die "sluiced gateway not up"; }
in_ext curl -sk -o /dev/null -m 1 "https://$GW:9443/" || die "nginx TLS not up"

handshakes() { # port -> full handshakes per second (one client, no resumption)
  # s_time's own "real seconds" is whole seconds and can run one over, so
  # the run is timed here.
  local t0=$EPOCHREALTIME out
  out=$(in_ext taskset -c 1 openssl s_time -connect "$GW:$1" -new -time "$HS_SECONDS" 2>/dev/null)
  awk -v t0="$t0" -v t1="$EPOCHREALTIME" '/connections in [0-9.]+ real seconds/ { print $1 / (t1 - t0); exit }' <<<"$out"
}
rps() { # port
  in_ext taskset -c 1 wrk -t1 -c"$WRK_CONNS" -d"${WRK_DURATION}s" "https://$GW:$1/" 2>/dev/null |
    sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'
}

: > results
for ((r = 1; r <= ROUNDS; r++)); do
  for path in sluice nginx; do
    port=8443; [[ $path == nginx ]] && port=9443
    echo "hs $path $(handshakes $port)" >> results
    echo "rps $path $(rps $port)" >> results
  done
  log "round $r/$ROUNDS done"
done
if [[ ${PERF:-0} == 1 ]]; then
  log "perf: profiling sluiced during one more wrk run"
  perf record -q -F 499 --call-graph dwarf,16384 -p "$SLUICED_PID" -o "$WORK/perf.data" -- sleep "$WRK_DURATION" \
    >/dev/null 2>&1 &
  perf_pid=$!
  rps 8443 >/dev/null
  wait "$perf_pid" || true
  for sort in dso dso,symbol; do
    perf report -i "$WORK/perf.data" --stdio -g none --no-children --sort "$sort" 2>/dev/null |
      grep -E '^ +[0-9.]+%' | cut -c1-150 | head -n 25 >&2 || true
  done
fi
get() { awk -v k="$1" -v p="$2" '$1 == k && $2 == p { print $3 }' results | median; }
printf '%-8s %14s %12s\n' path handshakes/s req/s
for p in sluice nginx; do printf '%-8s %14s %12s\n' "$p" "$(get hs $p)" "$(get rps $p)"; done
echo "gateway: handshakes_per_s=$(get hs sluice) nginx_handshakes_per_s=$(get hs nginx)" \
  "hs_ratio_vs_nginx=$(ratio "$(get hs sluice)" "$(get hs nginx)") rps=$(get rps sluice) nginx_rps=$(get rps nginx)" \
  "gw_rps_ratio_vs_nginx=$(ratio "$(get rps sluice)" "$(get rps nginx)")"
