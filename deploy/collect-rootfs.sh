#!/usr/bin/env bash
# collect-rootfs.sh OUT BINARY...: lays out the root file system of the
# sluice image in OUT: each binary, stripped, in /usr/local/bin, plus exactly
# the shared libraries it loads (as ldd resolves them on this machine) and
# the dynamic loader, at the paths the binaries look for them.
#
# One script for both image paths (deploy/Containerfile): the host build
# (deploy/build-image.sh, with this machine's libraries) and the builder
# stage of a registry build (with the builder image's libraries). Either way
# the libraries come from the system the binaries were linked on, so they
# match.
#
# The BPF programs need no files: they are compiled into the daemon as
# libbpf skeletons (cmake/BpfSkeleton.cmake), and libbpf, libelf, zlib,
# OpenSSL, protobuf, RE2 and libyaml are linked from their archives
# (cmake/StaticDeps.cmake); what remains dynamic is the C/C++ runtime,
# spdlog/fmt and simdjson.
set -euo pipefail

die() { echo "collect-rootfs: $*" >&2; exit 1; }

[[ $# -ge 2 ]] || die "usage: collect-rootfs.sh OUT BINARY..."
out=$1
shift
[[ -n "$out" && "$out" != "/" ]] || die "refusing output directory '$out'"

mkdir -p "$out/usr/local/bin"

# copy_lib PATH: the library's file once, at its resolved path, and PATH
# as a symlink to it when the two differ. On a merged-/usr system ldd names
# /lib/x86_64-linux-gnu/libc.so.6 and the file is
# /usr/lib/x86_64-linux-gnu/libc.so.6: copying both would ship every
# library twice. The link is absolute, so it resolves inside the image.
copy_lib() {
  local path=$1 real
  real=$(readlink -f "$path")
  if [[ ! -e "$out$real" ]]; then
    mkdir -p "$out$(dirname "$real")"
    cp "$real" "$out$real"
  fi
  if [[ "$real" != "$path" && ! -e "$out$path" && ! -L "$out$path" ]]; then
    mkdir -p "$out$(dirname "$path")"
    ln -s "$real" "$out$path"
  fi
}

for bin in "$@"; do
  [[ -x "$bin" ]] || die "not an executable: $bin"
  # Debug info is most of a RelWithDebInfo binary (about 260 MB of sluiced's
  # 264); the symbol table stays, so a crash still names functions.
  objcopy --strip-debug "$bin" "$out/usr/local/bin/$(basename "$bin")"
  # ldd lines: "libx.so => /path (addr)" or "/lib64/ld-linux... (addr)";
  # linux-vdso has no file. A "not found" is a broken build: stop.
  if ldd "$bin" | grep -q 'not found'; then
    ldd "$bin" >&2
    die "$bin has unresolved libraries"
  fi
  while read -r lib; do
    copy_lib "$lib"
  done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
done

# Directories the daemon expects to mount over or write to. /sys/fs/bpf and
# the cgroup v2 root are mounted by the pod spec; /tmp for anything that
# wants a scratch file.
mkdir -p "$out/sys/fs/bpf" "$out/host/cgroup" "$out/etc/sluice" "$out/tmp"
chmod 1777 "$out/tmp"
