#!/usr/bin/env bash
# image_run_test.sh BUILD_DIR SLUICE_ECHO: builds the sluice image from
# BUILD_DIR's binaries (deploy/build-image.sh, no registry pull) and runs it
# as the DaemonSet would, on a simulated node (scripts/node_sim.sh):
#
#   - the network namespace is the node's (podman --network ns:<node netns>:
#     on a real node, hostNetwork; here the simulator's node netns, so the
#     host's own network is never touched);
#   - --cap-drop=all plus exactly the capabilities of the rendered
#     DaemonSet (deploy/manifests/sluice.yaml), seccomp unconfined as the
#     chart sets it, a read-only root file system (and, as in a pod, no
#     tmpfs that podman would otherwise add on /tmp and /run);
#   - /sys/fs/bpf and the cgroup v2 root mounted; sluiced attaches to this
#     test's own cgroup (a child of the v2 root, never the root) and pins
#     under its own directory.
#
# It checks that sluiced becomes ready, that `sluicectl status` in the image
# reaches it, that a pod of the test cgroup connecting to a Service VIP is
# balanced over both backends through sluiced's L7 proxy, that a Gateway on
# port 80 accepts, that a second container started beside the first takes
# over (the chart's maxSurge rollout), that `podman stop` (SIGTERM) drains
# and exits 0 while the pinned programs go on balancing, and that each of
# the chart's capabilities is needed. Everything it made (container,
# image tag, netns, cgroup, pins, config) is removed on every exit path.
#
# Needs root, podman, buildah and runc (scripts/setup.sh). Without them it
# skips (exit 77), except under CI=true, where a skip is a failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${1:?usage: image_run_test.sh BUILD_DIR SLUICE_ECHO}
echo_bin=${2:?usage: image_run_test.sh BUILD_DIR SLUICE_ECHO}
node_sim=$repo/scripts/node_sim.sh
cg_root=${SLUICE_CGROUP2_ROOT:-/sys/fs/cgroup/unified}

skip_or_fail() {
  if [[ "${CI:-}" == "true" ]]; then echo "FAIL: $* (under CI=true a skip is a failure)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
[[ $(id -u) -eq 0 ]] || skip_or_fail "needs root (netns, cgroups, bpffs, BPF)"
for tool in podman buildah runc curl ip; do
  command -v "$tool" >/dev/null || skip_or_fail "$tool missing: run scripts/setup.sh"
done
[[ -d "$cg_root" ]] || skip_or_fail "no cgroup v2 root at $cg_root"

export CONTAINERS_CONF=$repo/deploy/podman/containers.conf

prefix=sl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
tag=localhost/sluice-test:$prefix
container=$prefix-sluiced
config=/tmp/$prefix-config
node_ns=$prefix-node
vip=10.96.0.10
node_ip=$("$node_sim" node-ip)
sim_up=0

cleanup() {
  local rc=$?
  set +e
  if [[ $rc -ne 0 ]] && podman container exists "$container" 2>/dev/null; then
    echo "--- sluiced log (container $container) ---"; podman logs "$container" 2>&1 | tail -60; echo "--- end ---"
  fi
  podman ps -aq --filter "label=sluice-test=$prefix" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
  podman rmi -f "$tag" >/dev/null 2>&1
  # Only our own prefix, and only once `up` claimed it: a failed claim means
  # another run holds it.
  (( sim_up )) && "$node_sim" down "$prefix"
  rm -rf "$config"
  local left=""
  [[ -n "$(podman ps -aq --filter "label=sluice-test=$prefix" 2>/dev/null)" ]] && left+=" container"
  podman image exists "$tag" 2>/dev/null && left+=" image"
  [[ -e "$cg_root/$prefix" ]] && left+=" cgroup"
  [[ -e "/sys/fs/bpf/$prefix" ]] && left+=" pins"
  ip netns list 2>/dev/null | grep -q "^$prefix-" && left+=" netns"
  if [[ -n "$left" ]]; then echo "FAIL: left behind:$left"; rc=1; fi
  exit $rc
}
trap cleanup EXIT

step() { echo "== $*"; }
die() { echo "FAIL: $*"; exit 1; }
in_node() { ip netns exec "$node_ns" "$@"; }
admin() { in_node curl -s -m 5 "http://127.0.0.1:15000$1"; }

# The capability list of the chart, as rendered: what this test proves is
# enough is what the DaemonSet asks for.
caps=$(sed -n 's/^ *add: \[\(.*\)\]$/\1/p' "$repo/deploy/manifests/sluice.yaml" | tr -d '"')
[[ "$caps" =~ ^[A-Z_,]+$ ]] || die "no capability list in deploy/manifests/sluice.yaml (got '$caps')"

step "simulated node $prefix: 3 pods; web-2 and web-3 serve on :8080"
"$node_sim" up "$prefix" 3
sim_up=1
for i in 2 3; do
  "$node_sim" exec "$prefix" "p$i" "$echo_bin" --listen 0.0.0.0:8080 --name "web-$i" >/dev/null 2>&1 &
  disown  # `down` kills them; no job-control notice then
done
for i in 2 3; do
  for _ in $(seq 100); do
    in_node curl -s -m 1 -o /dev/null "http://10.200.1.$i:8080/" && break
    sleep 0.1
  done
  in_node curl -s -m 1 -o /dev/null "http://10.200.1.$i:8080/" || die "backend web-$i did not start"
done

mkdir -p "$config"
cat > "$config/web.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: $vip
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: default, labels: {app: web}}
status: {phase: Running, podIP: 10.200.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: web-3, namespace: default, labels: {app: web}}
status: {phase: Running, podIP: 10.200.1.3}
---
# Port 80: binding it needs NET_BIND_SERVICE, one of the chart's capabilities.
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [web.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web-ingress, namespace: default}
spec:
  hosts: [web.example.com]
  gateways: [web-gateway]
  http:
  - route:
    - destination: {host: web.default.svc.cluster.local}
EOF

step "build image $tag"
"$repo/deploy/build-image.sh" --build-dir "$build_dir" --tag "$tag" >/dev/null
size=$(podman image inspect "$tag" --format '{{.Size}}')
echo "image size: $size bytes ($(( size / 1000000 )) MB)"

# The DaemonSet's own arguments, from the rendered manifest, so that a flag
# the chart gets wrong fails here. Four are bent to the simulated node: the
# config comes from a directory instead of the API, the cgroup is this
# test's child of the v2 root, the pin directory is this test's, and the
# node IP is the simulator's ($(NODE_IP) comes from the Downward API there).
mapfile -t chart_args < <(awk '/^ *args:$/ { a = 1; next } a && /^ *env:$/ { exit } a && /^ *- / { sub(/^ *- /, ""); print }' \
  "$repo/deploy/manifests/sluice.yaml")
(( ${#chart_args[@]} > 5 )) || die "no sluiced arguments in deploy/manifests/sluice.yaml"
args=()
for a in "${chart_args[@]}"; do
  # shellcheck disable=SC2016 # '$(NODE_IP)' is the manifest's literal text
  case "$a" in
    --kube) args+=(--config=/etc/sluice) ;;
    --cgroup=*) args+=("--cgroup=/host/cgroup/$prefix") ;;
    --pin-dir=*) args+=("--pin-dir=/sys/fs/bpf/$prefix") ;;
    '--node-ip=$(NODE_IP)') args+=("--node-ip=$node_ip") ;;
    *) args+=("$a") ;;
  esac
done
[[ " ${args[*]} " == *" --admin-port=15000 "* && " ${args[*]} " == *" --metrics-port=15020 "* ]] ||
  die "the chart no longer uses admin port 15000 and metrics port 15020: update this test"

# run_sluiced NAME CAPS: the container as the DaemonSet runs it. Not --rm:
# its exit code and log are read after `podman stop`; cleanup removes it.
run_sluiced() {
  podman run -d --name "$1" --label "sluice-test=$prefix" \
    --network "ns:/run/netns/$node_ns" \
    --read-only --read-only-tmpfs=false --cap-drop=all --cap-add="$2" --security-opt seccomp=unconfined \
    -v /sys/fs/bpf:/sys/fs/bpf -v "$cg_root:/host/cgroup:ro" -v "$config:/etc/sluice:ro" \
    -e NODE_NAME=sim-node \
    "$tag" "${args[@]}" >/dev/null
}

step "run it: --cap-drop=all --cap-add=$caps, sluiced ${args[*]}"
run_sluiced "$container" "$caps"

# A bound on the wait, not a timing assertion: sluiced is normally ready in
# well under a second.
ready=""
for _ in $(seq 300); do
  ready=$(admin /ready || true)
  [[ "$ready" == "ready" ]] && break
  [[ "$(podman inspect "$container" --format '{{.State.Running}}')" == "true" ]] || die "sluiced exited before it was ready"
  sleep 0.2
done
[[ "$ready" == "ready" ]] || die "sluiced not ready after 60 s: $ready"
echo "ready"
details=$(admin '/ready?details')
grep -q '"name":"socket-lb","on":true' <<< "$details" || die "socket-lb is not on: $details"

step "sluicectl status, inside the image"
status=$(podman exec "$container" sluicectl status --admin 127.0.0.1:15000)
grep -q '^ready: yes' <<< "$status" || die "sluicectl status: $status"
echo "$status" | head -1

step "a pod of the test cgroup connects to the Service VIP $vip:80"
declare -A seen=()
for _ in $(seq 20); do
  pod=$("$node_sim" exec "$prefix" p1 curl -s -m 5 -D - -o /dev/null "http://$vip/" | tr -d '\r' | sed -n 's/^x-echo-pod: //Ip')
  [[ -n "$pod" ]] || die "a request to $vip got no answer from a backend"
  seen[$pod]=$(( ${seen[$pod]:-0} + 1 ))
done
for pod in "${!seen[@]}"; do echo "  $pod: ${seen[$pod]}"; done
[[ -n "${seen[web-2]:-}" && -n "${seen[web-3]:-}" ]] || die "not balanced over web-2 and web-3"
# They went through sluiced's proxy: Istio's request metric counts them.
proxied=$(in_node curl -s -m 5 "http://127.0.0.1:15020/metrics" |
  awk '/^istio_requests_total\{.*destination_service_name="web".*response_code="200"/ { n += $NF } END { print n + 0 }')
(( proxied >= 20 )) || die "istio_requests_total counts $proxied requests to web, want 20"
echo "  $proxied through the proxy (istio_requests_total)"

step "the Gateway on $node_ip:80"
gw=$("$node_sim" exec "$prefix" p1 curl -s -m 5 -D - -o /dev/null -H 'Host: web.example.com' "http://$node_ip/" | tr -d '\r')
grep -qi '^x-echo-pod: web-' <<< "$gw" || die "gateway answer: $gw"
echo "  $(head -1 <<< "$gw")"

# The chart's rolling update (maxSurge 1): a new pod starts beside the old
# one on the node, takes over its listening sockets through the hand-over
# socket of the shared network namespace, and the old one idles until its
# SIGTERM. Here the two are containers with separate mount and PID
# namespaces, as two pods are.
step "upgrade: a second container beside the first takes over"
successor=$prefix-next
run_sluiced "$successor" "$caps"
took=""
for _ in $(seq 300); do
  podman logs "$successor" 2>&1 | grep -q 'took over' && podman logs "$container" 2>&1 | grep -q 'handed over: idle' &&
    { took=yes; break; }
  [[ "$(podman inspect "$successor" --format '{{.State.Running}}')" == "true" ]] || die "the successor exited"
  sleep 0.2
done
[[ -n "$took" ]] || die "no hand-over within 60 s"
[[ "$(admin /ready || true)" == "ready" ]] || die "not ready after the hand-over"
for _ in $(seq 10); do
  "$node_sim" exec "$prefix" p1 curl -s -m 5 -o /dev/null -w '%{http_code}\n' "http://$vip/" | grep -q '^200$' ||
    die "a request to $vip failed after the hand-over"
done
before=$proxied
proxied=$(in_node curl -s -m 5 "http://127.0.0.1:15020/metrics" |
  awk '/^istio_requests_total\{.*destination_service_name="web".*response_code="200"/ { n += $NF } END { print n + 0 }')
(( proxied >= 10 )) || die "the successor's proxy counts $proxied requests, want 10"
echo "  the successor took over; 10 of 10 answered, $proxied through its proxy (the old one counted $before)"
# The old pod's deletion: SIGTERM ends the idle predecessor at once.
podman stop -t 30 "$container" >/dev/null
[[ "$(podman inspect "$container" --format '{{.State.ExitCode}}')" == "0" ]] || die "the predecessor exited non-zero"
podman rm "$container" >/dev/null
container=$successor

step "podman stop: SIGTERM, drain, exit"
# -t: seconds before SIGKILL, above the chart's --drain-timeout.
podman stop -t 30 "$container" >/dev/null
code=$(podman inspect "$container" --format '{{.State.ExitCode}}')
logs=$(podman logs "$container" 2>&1)
[[ "$code" == "0" ]] || die "sluiced exited with $code"
grep -q 'draining' <<< "$logs" || die "no drain in the log"
grep -q 'pinned programs and maps stay' <<< "$logs" || die "no pinned-state message in the log"
echo "  exit 0: $(grep -o 'drained in [0-9]* ms' <<< "$logs" || echo 'drained')"

step "with sluiced gone, the pinned programs still balance $vip at L4"
for _ in $(seq 5); do
  "$node_sim" exec "$prefix" p1 curl -s -m 5 -o /dev/null -w '%{http_code}\n' "http://$vip/" | grep -q '^200$' ||
    die "a request to $vip failed after sluiced stopped"
done
echo "  5 of 5 answered"

# Each capability is needed: without it sluiced refuses to start (the
# kernel refuses a program load and the start-up probe says which), or,
# for NET_BIND_SERVICE, never gets ready (the Gateway cannot bind port 80).
# Bounded waits again; a refusal comes within a second.
step "without each capability in turn"
podman rm "$container" >/dev/null
for drop in ${caps//,/ }; do
  fewer=$(tr ',' '\n' <<< "$caps" | grep -vx "$drop" | paste -sd, -)
  name=$prefix-no-${drop,,}
  name=${name//_/-}
  run_sluiced "$name" "$fewer"
  outcome=""
  for _ in $(seq 150); do
    if [[ "$(podman inspect "$name" --format '{{.State.Running}}')" != "true" ]]; then
      outcome="exited $(podman inspect "$name" --format '{{.State.ExitCode}}')"
      break
    fi
    if admin /ready | grep -q 'gateway listener on port 80'; then outcome="not ready: gateway port 80"; break; fi
    sleep 0.2
  done
  case "$drop:$outcome" in
    NET_BIND_SERVICE:"not ready: gateway port 80") ;;
    NET_BIND_SERVICE:*) die "without NET_BIND_SERVICE: $outcome, want the gateway unbound" ;;
    *:"exited 0" | *:"") die "without $drop: '$outcome', want a refusal" ;;
    *:"exited "*) podman logs "$name" 2>&1 | grep -q 'cannot run' || die "without $drop: no refusal in the log" ;;
    *) die "without $drop: $outcome" ;;
  esac
  echo "  without $drop: $outcome"
  podman rm -f -t 0 "$name" >/dev/null
done

echo "PASS"
