#!/usr/bin/env bash
# kernel-matrix.sh: runs the bpf tier (test/bpf: socket LB, sockmap redirect,
# XDP/TC through BPF_PROG_TEST_RUN and the XDP forward path on veths) on
# other kernels than the host's, and on the host's, and reports pass/fail per
# test and per kernel. docs/kernels.md says why, docs/testing.md has counts.
#
# For each kernel package (Debian's linux-image-*-cloud-amd64, bookworm: 6.1):
#   1. apt-get download the image (cached under $MATRIX_DIR/debs), unpack it
#      and run depmod on its modules (once);
#   2. pack an initramfs: the tier's test binaries (stripped), the shared
#      libraries ldd names, the tools the harness runs (bash, ip, sysctl...),
#      scripts/node_sim.sh at its build-time path, the modules the tests need
#      (veth, bridge, sch_ingress, cls_bpf and their dependencies) and this
#      script as /init's helper;
#   3. boot it under qemu-system-x86_64 with TCG (no KVM: nested
#      virtualization hangs on these hosts), no network device at all, a hard
#      timeout, and the results on a second serial port;
#   4. kill qemu by its PID whatever happens.
# Then the same tier runs on the host kernel.
#
# Usage: scripts/kernel-matrix.sh            (as root; builds the tier if needed)
# Environment:
#   BUILD_DIR                     build directory (default build)
#   MATRIX_DIR                    cache and results (default $BUILD_DIR/kernel-matrix)
#   SLUICE_MATRIX_KERNELS         kernel packages, or meta-packages whose dependency
#                                 names one (default linux-image-cloud-amd64)
#   SLUICE_MATRIX_HOST            1 (default): also run the tier on the host kernel
#   SLUICE_MATRIX_TIMEOUT         seconds a guest may run before it is killed (default 900)
#   SLUICE_MATRIX_SMP, _MEM_MB    guest CPUs (default 2) and memory (default 2048)
#   SLUICE_MATRIX_FILTER          gtest filter for every binary (default: all tests)
#   SLUICE_MATRIX_JOBS            lanes of gtest shards run at once, in the guest and on the host (default 2)
#   SLUICE_MATRIX_BINARIES        the tier's binaries (default: the four of test/bpf)
#   SLUICE_BPF_SHORT_CONNECTIONS  connections of the sockhash churn test (default 2000
#                                 here; 100000 in plain ctest)
# Exit status: 0 when every test passed on every kernel that ran.
#
# Internal mode, used inside the guest and for the host run:
#   kernel-matrix.sh --tier <dir-with-test-binaries>
set -euo pipefail

read -r -a TIER_BINARIES <<<"${SLUICE_MATRIX_BINARIES:-sluice_bpf_sock_lb_test sluice_bpf_sock_redir_test sluice_bpf_xdp_lb_test sluice_bpf_feature_probe_test}"
TIER_TEST_TIMEOUT=${SLUICE_MATRIX_TEST_TIMEOUT:-600}

# --tier: run the tier here and print each binary's output, then one
# "RESULT <status> <binary> <test> <ms>" line per test. A test that started
# but never finished (crash, timeout) is a FAILED one. Each binary is split
# into SLUICE_MATRIX_JOBS gtest shards (default 2), and the shards run in as
# many lanes at once: under emulation a test mostly waits on one CPU, and
# every test owns its names, netns, cgroups and pins.
run_unit() {
  local dir=$1 bin=$2 shard=$3 shards=$4 log=$5 status=0
  {
    echo "=== $bin (shard $((shard + 1))/$shards) on $(uname -r)"
    GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$shard timeout -k 5 "$TIER_TEST_TIMEOUT" "$dir/$bin" --gtest_color=no \
      ${SLUICE_MATRIX_FILTER:+--gtest_filter="$SLUICE_MATRIX_FILTER"} 2>&1 || status=$?
    echo "=== $bin (shard $((shard + 1))/$shards) exit status $status"
  } >"$log"
}

run_tier() {
  local dir=$1 jobs=${SLUICE_MATRIX_JOBS:-2} work i lane n
  export CI=true
  export SLUICE_BPF_SHORT_CONNECTIONS=${SLUICE_BPF_SHORT_CONNECTIONS:-2000}
  work=$(mktemp -d)
  n=$(( ${#TIER_BINARIES[@]} * jobs ))  # unit u: binary u / jobs, shard u % jobs
  local pids=()
  for ((lane = 0; lane < jobs; lane++)); do
    (
      for ((i = lane; i < n; i += jobs)); do
        run_unit "$dir" "${TIER_BINARIES[i / jobs]}" $((i % jobs)) "$jobs" "$work/$i.log"
      done
    ) &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  for ((i = 0; i < n; i++)); do cat "$work/$i.log"; done
  for ((i = 0; i < n; i++)); do
    # gtest: "[       OK ] Suite.Name (12 ms)"; the summary repeats FAILED
    # names without the time, which the "(" rules out. A shard may have no
    # test at all ("0 tests"); one that says nothing else failed to run.
    awk -v bin="${TIER_BINARIES[i / jobs]}" '
      /^\[ RUN      \] / { order[++n] = $4 }
      /^\[       OK \] .* \(/ { done[$4] = "PASSED"; ms[$4] = substr($5, 2) }
      /^\[  FAILED  \] .* \(/ { done[$4] = "FAILED"; ms[$4] = substr($5, 2) }
      /^\[  SKIPPED \] .* \(/ { done[$4] = "SKIPPED"; ms[$4] = substr($5, 2) }
      /^\[==========\] 0 tests from 0 test suites ran/ { empty = 1 }
      END {
        for (i = 1; i <= n; i++) {
          t = order[i]
          printf "RESULT %s %s %s %s\n", (t in done ? done[t] : "FAILED"), bin, t, (t in ms ? ms[t] : "-")
        }
        if (n == 0 && !empty) printf "RESULT FAILED %s (no-test-ran) -\n", bin
      }' "$work/$i.log"
  done
  rm -rf "$work"
}

if [[ "${1:-}" == "--tier" ]]; then
  [[ $# -eq 2 ]] || { echo "usage: $0 --tier <dir>" >&2; exit 2; }
  run_tier "$2"
  exit 0
fi

cd "$(dirname "$0")/.."
SRC_DIR=$(pwd -P)
BUILD_DIR=${BUILD_DIR:-build}
MATRIX_DIR=${MATRIX_DIR:-$BUILD_DIR/kernel-matrix}
KERNELS=${SLUICE_MATRIX_KERNELS:-linux-image-cloud-amd64}
RUN_HOST=${SLUICE_MATRIX_HOST:-1}
GUEST_TIMEOUT=${SLUICE_MATRIX_TIMEOUT:-900}
GUEST_SMP=${SLUICE_MATRIX_SMP:-2}
GUEST_MEM=${SLUICE_MATRIX_MEM_MB:-2048}
# What the tier needs from a modular kernel: veth pairs and the node bridge
# (node_sim.sh), clsact and cls_bpf (TC attach). Dependencies come from
# modules.dep; a module built in is simply not found and skipped.
GUEST_MODULES=(veth bridge sch_ingress cls_bpf)
# Programs the harness and node_sim.sh run, copied from the host with their
# libraries.
GUEST_TOOLS=(bash cat mkdir rm rmdir sort tr xargs find seq sleep timeout ls uname head tail wc
  date env id ln mount umount chmod cp mv dirname basename grep awk sed cut tee mktemp stat readlink
  touch sync true false kill nproc ip sysctl insmod)

die() { echo "kernel-matrix: $*" >&2; exit 1; }
log() { echo "kernel-matrix: $*" >&2; }

[[ "$(id -u)" -eq 0 ]] || die "needs root (BPF, netns, cgroups; the guest's tests run as root too)"
for tool in qemu-system-x86_64 cpio depmod dpkg-deb apt-get objcopy gzip; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs it)"
done

mkdir -p "$MATRIX_DIR/debs" "$MATRIX_DIR/kernels" "$MATRIX_DIR/runs"
MATRIX_DIR=$(cd "$MATRIX_DIR" && pwd -P)
BIN_DIR="$BUILD_DIR/test/bpf"

cmake --build "$BUILD_DIR" --target "${TIER_BINARIES[@]}" >/dev/null || die "building the bpf tier failed"
BIN_DIR=$(cd "$BIN_DIR" && pwd -P)

QEMU_PID=""
cleanup() {
  if [[ -n "$QEMU_PID" ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
    kill "$QEMU_PID" 2>/dev/null || true
    sleep 1
    kill -KILL "$QEMU_PID" 2>/dev/null || true
  fi
  rm -rf "$MATRIX_DIR/rootfs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # so that the EXIT trap still kills qemu

# The deb of a kernel package: the package itself, or the image a meta-package
# depends on; the -unsigned flavour when there is one (the same kernel, without
# the Secure Boot signature). Cached: an existing deb is used as it is.
fetch_kernel() {
  local pkg=$1 image deb
  # A meta-package (linux-image-cloud-amd64, linux-image-6.12-cloud-amd64)
  # depends on the image; an image package depends on no other.
  image=$(apt-cache depends "$pkg" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  image=${image:-$pkg}
  image=${image%-unsigned}
  deb=$(ls "$MATRIX_DIR/debs/${image}-unsigned_"*.deb "$MATRIX_DIR/debs/${image}_"*.deb 2>/dev/null | head -n1 || true)
  if [[ -z "$deb" ]]; then
    log "downloading $image"
    (cd "$MATRIX_DIR/debs" && { apt-get download -q "${image}-unsigned" 2>/dev/null || apt-get download -q "$image"; }) >&2 ||
      die "apt-get download $image failed"
    deb=$(ls "$MATRIX_DIR/debs/${image}-unsigned_"*.deb "$MATRIX_DIR/debs/${image}_"*.deb 2>/dev/null | head -n1)
  fi
  echo "$deb"
}

# Unpacks a kernel deb once; prints the unpack dir.
unpack_kernel() {
  local deb=$1 dir kver
  dir="$MATRIX_DIR/kernels/$(basename "$deb" .deb)"
  if [[ ! -f "$dir/.unpacked" ]]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    dpkg-deb -x "$deb" "$dir"
    kver=$(ls "$dir/lib/modules")
    depmod -b "$dir" "$kver"
    touch "$dir/.unpacked"
  fi
  echo "$dir"
}

# Copies a file to the same path under root, dereferencing symlinks.
put() {
  local src=$1 root=$2 dst=${3:-$1}
  mkdir -p "$root$(dirname "$dst")"
  cp -L "$src" "$root$dst"
}

# Every library ldd names for a program, at its path.
put_libs() {
  local exe=$1 root=$2 lib
  for lib in $(ldd "$exe" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'); do
    [[ -e "$root$lib" ]] || put "$lib" "$root"
  done
}

# Module paths (relative to /lib/modules/<kver>) in load order: dependencies
# first, each once.
module_order() {
  local moddir=$1 want=$2
  awk -v want="$want" '
    { sub(":", "", $1); deps[$1] = ""; for (i = 2; i <= NF; i++) deps[$1] = deps[$1] " " $i
      n = split($1, parts, "/"); name = parts[n]; sub(/\.ko(\.[a-z]+)?$/, "", name); gsub("-", "_", name); path[name] = $1 }
    function visit(p,   list, k, m) {
      if (p in seen) return
      seen[p] = 1
      m = split(deps[p], list, " ")
      for (k = m; k >= 1; k--) visit(list[k])
      print p
    }
    END { n = split(want, names, " "); for (i = 1; i <= n; i++) if (names[i] in path) visit(path[names[i]]) }
  ' "$moddir/modules.dep"
}

# The guest's /init: mounts what the harness expects (cgroup v2 at
# /sys/fs/cgroup/unified, bpffs), loads the modules, runs the tier with its
# output on the second serial port, and powers off.
write_init() {
  local root=$1 kver=$2
  cat >"$root/init" <<EOF
#!/bin/bash
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
# /tmp stays the initramfs' own (already RAM): a tmpfs over it would hide
# what lives there, such as node_sim.sh of a checkout under /tmp.
mkdir -p /tmp && chmod 1777 /tmp
mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs cgroup-root /sys/fs/cgroup && mkdir /sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
ip link set lo up
exec >/dev/ttyS1 2>&1
echo "guest: kernel \$(uname -r), \$(nproc) CPU(s)"
while read -r m; do
  insmod "/lib/modules/$kver/\$m" || echo "guest: insmod \$m failed"
done </modules.load
SLUICE_BPF_SHORT_CONNECTIONS=${SLUICE_BPF_SHORT_CONNECTIONS:-2000} SLUICE_MATRIX_FILTER='${SLUICE_MATRIX_FILTER:-}' \\
  SLUICE_MATRIX_BINARIES='${TIER_BINARIES[*]}' SLUICE_MATRIX_TEST_TIMEOUT=$TIER_TEST_TIMEOUT \\
  SLUICE_MATRIX_JOBS=${SLUICE_MATRIX_JOBS:-2} /kernel-matrix.sh --tier /tier
echo "MATRIX-DONE"
sync
echo o >/proc/sysrq-trigger
sleep 5
echo b >/proc/sysrq-trigger
EOF
  chmod +x "$root/init"
}

build_initramfs() {
  local kdir=$1 out=$2 root="$MATRIX_DIR/rootfs" kver tool exe bin m
  kver=$(ls "$kdir/lib/modules")
  rm -rf "$root"
  mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,run,tmp,root,etc,tier}
  ln -s usr/bin "$root/bin"
  ln -s usr/sbin "$root/sbin"
  ln -s usr/lib "$root/lib"
  ln -s usr/lib64 "$root/lib64"
  mkdir -p "$root/var" && ln -s ../run "$root/var/run"
  for tool in "${GUEST_TOOLS[@]}"; do
    exe=$(type -P "$tool") || die "$tool not found on the host"
    put "$exe" "$root" "/usr/bin/$tool"
    put_libs "$exe" "$root"
  done
  ln -s bash "$root/usr/bin/sh"
  [[ -f /etc/ld.so.cache ]] && cp /etc/ld.so.cache "$root/etc/"
  for bin in "${TIER_BINARIES[@]}"; do
    objcopy --strip-debug "$BIN_DIR/$bin" "$root/tier/$bin"
    put_libs "$BIN_DIR/$bin" "$root"
  done
  # node_sim.sh where the harness was told it is (SLUICE_SOURCE_DIR).
  put "$SRC_DIR/scripts/node_sim.sh" "$root"
  put "$SRC_DIR/scripts/kernel-matrix.sh" "$root" /kernel-matrix.sh
  : >"$root/modules.load"
  for m in $(module_order "$kdir/lib/modules/$kver" "${GUEST_MODULES[*]}"); do
    put "$kdir/lib/modules/$kver/$m" "$root" "/lib/modules/$kver/$m"
    echo "$m" >>"$root/modules.load"
  done
  write_init "$root" "$kver"
  (cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$out"
  rm -rf "$root"
}

# Boots one kernel; the guest's tier output lands in $run/results.log.
boot_guest() {
  local kdir=$1 initrd=$2 run=$3 kver vmlinuz start
  kver=$(ls "$kdir/lib/modules")
  vmlinuz="$kdir/boot/vmlinuz-$kver"
  : >"$run/results.log"
  : >"$run/console.log"
  # -nodefaults and -nic none: no network device at all, so nothing in the
  # guest can reach out. TCG: see the header.
  qemu-system-x86_64 -accel tcg,thread=multi -smp "$GUEST_SMP" -m "$GUEST_MEM" \
    -nodefaults -nic none -display none -monitor none -no-reboot \
    -serial "file:$run/console.log" -serial "file:$run/results.log" \
    -kernel "$vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 rdinit=/init panic=-1 loglevel=4" &
  QEMU_PID=$!
  start=$SECONDS
  while kill -0 "$QEMU_PID" 2>/dev/null; do
    if (( SECONDS - start >= GUEST_TIMEOUT )); then
      log "$kver: no result after ${GUEST_TIMEOUT}s: killing qemu (pid $QEMU_PID)"
      kill "$QEMU_PID" 2>/dev/null || true
      sleep 2
      kill -KILL "$QEMU_PID" 2>/dev/null || true
      break
    fi
    sleep 1
  done
  wait "$QEMU_PID" 2>/dev/null || true
  QEMU_PID=""
}

SUMMARY=()
FAILED_ANY=0

# Reads RESULT lines of one kernel's run and adds its summary line.
report() {
  local label=$1 file=$2 wall=$3 complete=$4 passed failed skipped
  passed=$(grep -c '^RESULT PASSED ' "$file" || true)
  failed=$(grep -c '^RESULT FAILED ' "$file" || true)
  skipped=$(grep -c '^RESULT SKIPPED ' "$file" || true)
  grep '^RESULT ' "$file" | awk -v k="$label" '{ printf "  %-8s %-24s %-7s %s\n", k, $3, $2, $4 }' >&2
  if [[ "$complete" != 1 ]]; then
    failed=$((failed + 1))
    log "$label: the run did not complete (see $(dirname "$file"))"
  fi
  # A skip is a test finding its kernel without the feature it tests (root
  # is there, and under CI=true a missing root fails): listed, not failed.
  (( failed == 0 && passed > 0 )) || FAILED_ANY=1
  SUMMARY+=("$(printf '%-28s passed %3d  failed %2d  skipped %2d  wall %4ds' "$label" "$passed" "$failed" "$skipped" "$wall")")
}

for pkg in $KERNELS; do
  deb=$(fetch_kernel "$pkg")
  kdir=$(unpack_kernel "$deb")
  kver=$(ls "$kdir/lib/modules")
  run="$MATRIX_DIR/runs/$kver"
  mkdir -p "$run"
  start=$SECONDS
  log "$kver: packing the initramfs"
  build_initramfs "$kdir" "$run/initrd.img"
  log "$kver: booting under TCG (timeout ${GUEST_TIMEOUT}s, $GUEST_SMP CPU(s), ${GUEST_MEM} MiB)"
  boot_guest "$kdir" "$run/initrd.img" "$run"
  complete=0
  grep -q '^MATRIX-DONE' "$run/results.log" && complete=1
  report "$kver (qemu)" "$run/results.log" $((SECONDS - start)) "$complete"
done

if [[ "$RUN_HOST" == 1 ]]; then
  run="$MATRIX_DIR/runs/host-$(uname -r)"
  mkdir -p "$run"
  start=$SECONDS
  log "host $(uname -r): running the tier"
  "$SRC_DIR/scripts/kernel-matrix.sh" --tier "$BIN_DIR" >"$run/results.log" 2>&1 || true
  report "$(uname -r) (host)" "$run/results.log" $((SECONDS - start)) 1
fi

echo "kernel matrix (bpf tier; logs under $MATRIX_DIR/runs):"
printf '  %s\n' "${SUMMARY[@]}"
exit "$FAILED_ANY"
