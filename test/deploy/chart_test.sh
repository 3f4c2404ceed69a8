#!/usr/bin/env bash
# chart_test.sh: offline checks of the Helm chart (deploy/helm/sluice) and
# its rendered manifests (deploy/manifests/sluice.yaml). No cluster:
#   1. helm lint, for the default values and each optional mode;
#   2. the committed manifests equal a fresh render (deploy/render-manifests.sh);
#   3. `kubectl apply --dry-run=client --validate=false` on every render,
#      against a stub discovery endpoint on loopback (stub_discovery.py);
#   4. every object validated against the Kubernetes OpenAPI schema
#      (validate_openapi.mjs, schemas from the npm package kubernetes-models);
#   5. the ClusterRole grants exactly the resources userspace/k8s watches;
#   6. values that would break the DaemonSet are refused at render time
#      (the template's own checks and values.schema.json).
# The tools come from scripts/setup-k8s-tools.sh (.tools/). Without them the
# test skips (exit 77), except under CI=true, where a skip is a failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here=$repo/test/deploy
helm=$repo/.tools/bin/helm
kubectl=$repo/.tools/bin/kubectl
models=$repo/.tools/openapi/node_modules/kubernetes-models
chart=$repo/deploy/helm/sluice

skip_or_fail() {
  if [[ "${CI:-}" == "true" ]]; then echo "FAIL: $* (under CI=true a skip is a failure)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
for tool in "$helm" "$kubectl"; do
  [[ -x "$tool" ]] || skip_or_fail "$tool missing: run scripts/setup.sh (or scripts/setup-k8s-tools.sh)"
done
[[ -d "$models" ]] || skip_or_fail "$models missing: run scripts/setup-k8s-tools.sh"
command -v node >/dev/null || skip_or_fail "node missing: run scripts/setup.sh"
command -v python3 >/dev/null || skip_or_fail "python3 missing"

work=$(mktemp -d /tmp/sluice-chart-test.XXXXXX)
stub_pid=""
cleanup() {
  [[ -n "$stub_pid" ]] && kill "$stub_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

# The renders checked: the defaults, then each values file of values/
# (the optional modes).
modes=("")
for f in "$here"/values/*.yaml; do modes+=("-f $f"); done

# 1. lint
for i in "${!modes[@]}"; do
  # shellcheck disable=SC2086 # each mode is a list of flags
  if out=$("$helm" lint --strict "$chart" ${modes[$i]} 2>&1); then
    pass "helm lint --strict ${modes[$i]:-(defaults)}"
  else
    fail "helm lint --strict ${modes[$i]}"; echo "$out"
  fi
done

# 2. the committed manifests are the chart's current render
HELM=$helm "$repo/deploy/render-manifests.sh" "$work/rendered.yaml"
if diff -u "$repo/deploy/manifests/sluice.yaml" "$work/rendered.yaml" > "$work/sync.diff"; then
  pass "deploy/manifests/sluice.yaml matches the chart"
else
  fail "deploy/manifests/sluice.yaml differs from the chart: run deploy/render-manifests.sh and commit"
  head -40 "$work/sync.diff"
fi

# 3 and 4. kubectl dry-run and OpenAPI validation of every render
python3 "$here/stub_discovery.py" "$work/port" &
stub_pid=$!
for _ in $(seq 50); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || { fail "stub discovery server did not start"; exit 1; }
cat > "$work/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: stub, cluster: {server: "http://127.0.0.1:$(cat "$work/port")"}}]
users: [{name: stub, user: {}}]
contexts: [{name: stub, context: {cluster: stub, user: stub}}]
current-context: stub
EOF
# kubectl caches discovery under $HOME: keep it out of the caller's home.
export HOME=$work/home

for i in "${!modes[@]}"; do
  label=${modes[$i]#-f "$here"/}; label=${label:-(defaults)}
  # shellcheck disable=SC2086
  "$helm" template sluice "$chart" --namespace sluice-system --include-crds ${modes[$i]} > "$work/mode$i.yaml"
  if "$kubectl" --kubeconfig "$work/kubeconfig" apply --dry-run=client --validate=false \
       -f "$work/mode$i.yaml" -o json > "$work/mode$i.json" 2> "$work/mode$i.err"; then
    pass "kubectl apply --dry-run=client $label"
  else
    fail "kubectl apply --dry-run=client $label"; cat "$work/mode$i.err"; continue
  fi
  if node "$here/validate_openapi.mjs" "$models" "$work/mode$i.json" > "$work/mode$i.openapi"; then
    pass "OpenAPI schema $label: $(tail -1 "$work/mode$i.openapi")"
  else
    fail "OpenAPI schema $label"; cat "$work/mode$i.openapi"
  fi
done

# 5. RBAC: the resources of userspace/k8s/resource_types.cpp (group, plural)
# against the ClusterRole's rules, both ways, verbs get/list/watch only.
watched=$(sed -n 's/^ *{"\([^"]*\)", "[^"]*", "\([^"]*\)".*/\1 \2/p' "$repo/userspace/k8s/resource_types.cpp" | sort -u)
granted=$(python3 - "$work/mode0.json" <<'EOF'
import json, sys
for obj in json.load(open(sys.argv[1]))["items"]:
    if obj["kind"] != "ClusterRole":
        continue
    for rule in obj["rules"]:
        if sorted(rule["verbs"]) != ["get", "list", "watch"]:
            print("BADVERBS", rule["verbs"])
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                print(g, r)
EOF
)
# The core group is "" in both: its lines start with a space.
# shellcheck disable=SC2001 # an anchored replacement, line by line
watched=$(sed 's/^ /core /' <<< "$watched" | sort -u)
# shellcheck disable=SC2001
granted=$(sed 's/^ /core /' <<< "$granted" | sort -u)
if [[ -n "$watched" && "$watched" == "$granted" ]]; then
  pass "ClusterRole grants get/list/watch on exactly the $(wc -l <<< "$watched") watched resources"
else
  fail "ClusterRole differs from userspace/k8s/resource_types.cpp"
  diff <(echo "$watched") <(echo "$granted") || true
fi

# 6. refused values
if "$helm" template sluice "$chart" --set terminationGracePeriodSeconds=20 > /dev/null 2> "$work/refused.err" ||
   ! grep -q "must exceed daemon.drainTimeout" "$work/refused.err"; then
  fail "a grace period not above --drain-timeout must be refused"; cat "$work/refused.err"
else
  pass "terminationGracePeriodSeconds <= daemon.drainTimeout is refused"
fi
# values.schema.json: each of these must fail to render.
for bad in configSource=files daemon.drainTimeout=soon 'capabilities={CAP_BPF}' daemon.pinDir=/tmp/pins \
           host.cgroupSubpath=../etc host.cgroupSubpath=/kubepods.slice; do
  if "$helm" template sluice "$chart" --set "$bad" > /dev/null 2>&1; then
    fail "--set $bad must be refused"
  else
    pass "--set $bad is refused"
  fi
done

# The CRD path the docs name still resolves (it links into the chart).
if cmp -s "$repo/deploy/crds/ratelimitpolicies.sluice.io.yaml" "$chart/crds/ratelimitpolicies.sluice.io.yaml"; then
  pass "deploy/crds/ratelimitpolicies.sluice.io.yaml is the chart's CRD"
else
  fail "deploy/crds/ratelimitpolicies.sluice.io.yaml differs from the chart's CRD"
fi

if (( failures > 0 )); then echo "$failures check(s) failed"; exit 1; fi
echo "all chart checks passed"
