#!/usr/bin/env bash
# build-image.sh [--build-dir DIR] [--tag NAME]: builds the sluice image from
# the binaries of a local build, with no registry pull (deploy/Containerfile,
# target `local`). Prints the image ID on stdout.
#
#   deploy/build-image.sh                       # build/ -> localhost/sluice:dev
#   deploy/build-image.sh --tag localhost/sluice:test-1
#
# Needs buildah (scripts/setup.sh installs it). CONTAINERS_CONF defaults to
# deploy/podman/containers.conf (runc, no default rlimits): see that file.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$repo/build
tag=localhost/sluice:dev

die() { echo "build-image: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$(cd "${2:?}" && pwd); shift 2 ;;
    --tag) tag=${2:?}; shift 2 ;;
    *) die "unknown argument '$1' (usage: build-image.sh [--build-dir DIR] [--tag NAME])" ;;
  esac
done

command -v buildah >/dev/null || die "buildah not found: run scripts/setup.sh"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/deploy/podman/containers.conf}

bins=("$build_dir/userspace/cmd/sluiced" "$build_dir/userspace/cmd/sluicectl")
for b in "${bins[@]}"; do
  [[ -x "$b" ]] || die "$b not built (cmake --build $build_dir --target sluiced sluicectl)"
done

# The context holds only the rootfs, so nothing else of the checkout (build
# trees of several GB) is sent to the builder.
context=$(mktemp -d /tmp/sluice-image.XXXXXX)
trap 'rm -rf "$context"' EXIT
"$repo/deploy/collect-rootfs.sh" "$context/rootfs" "${bins[@]}"

# --layers=false: one layer, no intermediate images left behind.
# --pull=false: FROM scratch needs nothing, and no stage may reach out.
buildah bud --quiet --layers=false --pull=false --target local \
  -f "$repo/deploy/Containerfile" -t "$tag" "$context"
