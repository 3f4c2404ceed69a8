#!/usr/bin/env bash
# render-manifests.sh [OUT]: renders the Helm chart with its default values
# into plain manifests for `kubectl apply -f` (default OUT:
# deploy/manifests/sluice.yaml). test/deploy/chart_test.sh renders again
# and fails when the committed file differs: after changing the chart, run
# this and commit both.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/deploy/manifests/sluice.yaml}
helm=${HELM:-$repo/.tools/bin/helm}
[[ -x "$helm" ]] || { echo "render-manifests: no helm at $helm (scripts/setup.sh fetches it)" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
{
  echo "# sluice, rendered from deploy/helm/sluice with its default values by"
  echo "# deploy/render-manifests.sh. Do not edit: change the chart and render again."
  echo "# The namespace is sluice-system; the image (image.repository in the chart)"
  echo "# must be replaced by one in your registry (docs/install.md)."
  # --include-crds: the RateLimitPolicy CRD comes first, as helm install
  # would apply it; createNamespace: the file stands alone.
  "$helm" template sluice "$repo/deploy/helm/sluice" --namespace sluice-system \
    --include-crds --set createNamespace=true
} > "$out"
