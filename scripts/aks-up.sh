#!/usr/bin/env bash
# aks-up.sh: sluice on Azure Kubernetes Service, end to end (docs/aks.md).
#
#   scripts/aks-up.sh up        resource group, registry, cluster, image, Istio
#                               CRDs, the chart, the bookinfo app and the
#                               examples' Istio YAML
#   scripts/aks-up.sh walk      each examples/tasks/ file in turn: the YAML,
#                               then requests from a client pod, counted
#   scripts/aks-up.sh status    nodes, kernels, sluiced pods and their readiness
#   scripts/aks-up.sh down      uninstall sluice cleanly (pins removed on every
#                               node), keep the cluster
#   scripts/aks-up.sh delete    delete the resource group (cluster, registry)
#
# Settings (environment): AKS_RG (sluice-rg), AKS_LOCATION (westeurope),
# AKS_CLUSTER (sluice), AKS_ACR (sluice<random>, must be globally unique),
# AKS_NODES (2), AKS_VM_SIZE (Standard_D2s_v5), AKS_OS_SKU (AzureLinux3:
# kernel 6.6; Ubuntu2404: 6.8; Ubuntu2204: 5.15, see docs/kernels.md),
# AKS_K8S_VERSION (empty: AKS's default), ISTIO_VERSION (1.26.2: the Istio
# release whose CRDs and bookinfo sample are applied), EXAMPLES (examples/),
# AKS_CLUSTER_CIDRS (10.224.0.0/12: the VNet AKS creates for Azure CNI, where
# nodes and pods get their addresses; comma-separated; passed as
# --cluster-cidr, which egress REGISTRY_ONLY always allows).
#
# Needs az (logged in: `az login`), kubectl and helm (.tools/bin from
# scripts/setup.sh work). Not run by the test suite: it creates billable
# Azure resources, and the development machine has no Azure access. The
# same chart and manifests are checked offline by test/deploy/chart_test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

RG=${AKS_RG:-sluice-rg}
LOCATION=${AKS_LOCATION:-westeurope}
CLUSTER=${AKS_CLUSTER:-sluice}
NODES=${AKS_NODES:-2}
VM_SIZE=${AKS_VM_SIZE:-Standard_D2s_v5}
OS_SKU=${AKS_OS_SKU:-AzureLinux3}
K8S_VERSION=${AKS_K8S_VERSION:-}
ISTIO_VERSION=${ISTIO_VERSION:-1.26.2}
CLUSTER_CIDRS=${AKS_CLUSTER_CIDRS:-10.224.0.0/12}
EXAMPLES=${EXAMPLES:-$repo/examples}
NAMESPACE=sluice-system
RELEASE=sluice
# docs/kernels.md: the socket load balancer's floor. sluiced refuses to
# start below it anyway; checking first saves a crash-looping rollout.
KERNEL_FLOOR=5.13

PATH=$repo/.tools/bin:$PATH
die() { echo "aks-up: $*" >&2; exit 1; }
say() { echo "== $*"; }
for tool in az kubectl helm; do command -v "$tool" >/dev/null || die "$tool not found"; done

acr_name() {
  if [[ -n "${AKS_ACR:-}" ]]; then echo "$AKS_ACR"; return; fi
  # One registry per resource group, found again on later runs.
  local existing
  existing=$(az acr list -g "$RG" --query '[0].name' -o tsv 2>/dev/null || true)
  if [[ -n "$existing" ]]; then echo "$existing"; else echo "sluice$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"; fi
}

version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" == "$2" ]]; }

cmd_up() {
  local acr image k8s_flag=()
  acr=$(acr_name)
  [[ -n "$K8S_VERSION" ]] && k8s_flag=(--kubernetes-version "$K8S_VERSION")

  say "resource group $RG ($LOCATION), registry $acr"
  az group create -n "$RG" -l "$LOCATION" -o none
  az acr show -n "$acr" -g "$RG" -o none 2>/dev/null || az acr create -n "$acr" -g "$RG" --sku Basic -o none

  # The image is built in Azure from this checkout: the Containerfile's
  # from-source target compiles in debian:bookworm (there the registry is
  # reachable), so the binaries and their libraries match.
  image=$acr.azurecr.io/sluice:$(git rev-parse --short HEAD)
  say "image $image (az acr build, target from-source)"
  az acr build -r "$acr" -g "$RG" -f deploy/Containerfile --target from-source \
    -t "sluice:$(git rev-parse --short HEAD)" . -o none

  # Azure CNI (pods get VNet addresses) with kube-proxy in its default
  # iptables mode, and no network policy engine: docs/aks.md says what
  # sluice coexists with. Not --network-dataplane cilium: Cilium's own
  # socket load balancer would attach to the same cgroup hooks.
  if ! az aks show -g "$RG" -n "$CLUSTER" -o none 2>/dev/null; then
    say "cluster $CLUSTER: $NODES x $VM_SIZE, os-sku $OS_SKU, network plugin azure"
    az aks create -g "$RG" -n "$CLUSTER" "${k8s_flag[@]}" \
      --node-count "$NODES" --node-vm-size "$VM_SIZE" --os-sku "$OS_SKU" \
      --network-plugin azure \
      --attach-acr "$acr" --generate-ssh-keys -o none
  else
    say "cluster $CLUSTER exists"
    az aks update -g "$RG" -n "$CLUSTER" --attach-acr "$acr" -o none
  fi
  az aks get-credentials -g "$RG" -n "$CLUSTER" --overwrite-existing

  say "node kernels (floor $KERNEL_FLOOR) and cgroup v2"
  local bad=0 node kernel kernel_short
  while read -r node kernel; do
    kernel_short=${kernel%%-*}
    if version_ge "$kernel_short" "$KERNEL_FLOOR"; then echo "  $node: $kernel"; else echo "  $node: $kernel is below $KERNEL_FLOOR"; bad=1; fi
  done < <(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.status.nodeInfo.kernelVersion}{"\n"}{end}')
  (( bad == 0 )) || die "a node kernel is below the floor: pick another AKS_OS_SKU"
  # cgroup v2: AKS's Ubuntu 22.04+ and Azure Linux images boot with the
  # unified hierarchy. sluiced checks it itself (it refuses a --cgroup that
  # is not on cgroup2fs, and the pod's log says so), so a node that lacks
  # it shows up in the rollout below.

  # sluiced lists Istio's networking and security resources; without their
  # CRDs those lists fail and its first config never applies (docs/aks.md).
  # The CRDs alone: no istiod, no injection.
  say "Istio $ISTIO_VERSION CRDs"
  kubectl apply --server-side -f \
    "https://raw.githubusercontent.com/istio/istio/$ISTIO_VERSION/manifests/charts/base/files/crd-all.gen.yaml"

  say "helm install $RELEASE into $NAMESPACE"
  # The pods need the privileged Pod Security level (docs/install.md).
  kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f -
  kubectl label namespace "$NAMESPACE" pod-security.kubernetes.io/enforce=privileged --overwrite
  helm upgrade --install "$RELEASE" deploy/helm/sluice -n "$NAMESPACE" --create-namespace \
    --set image.repository="$acr.azurecr.io/sluice" --set image.tag="$(git rev-parse --short HEAD)" \
    --set "daemon.clusterCidrs={$CLUSTER_CIDRS}"
  if ! kubectl -n "$NAMESPACE" rollout status "ds/$RELEASE" --timeout 5m; then
    kubectl -n "$NAMESPACE" logs -l app.kubernetes.io/name=sluice --tail 20 --prefix || true
    die "sluiced did not become ready on every node"
  fi

  # The sample app: Istio's own bookinfo (Deployments of productpage,
  # details, reviews v1-v3, ratings), as Istio's tasks use it. The
  # examples' cluster.yaml is not applied: it stands in for the API server
  # on the demo's simulated node (fake Pods, fixed cluster IPs).
  say "bookinfo (Istio $ISTIO_VERSION sample) and a client pod"
  kubectl apply -f "https://raw.githubusercontent.com/istio/istio/$ISTIO_VERSION/samples/bookinfo/platform/kube/bookinfo.yaml"
  kubectl apply -f - <<'EOF_CLIENT'
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: default}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers:
      - {name: curl, image: curlimages/curl:8.11.1, command: [sleep, infinity]}
EOF_CLIENT
  kubectl wait --for=condition=Available deploy --all -n default --timeout 5m
  say "Istio YAML of $EXAMPLES/bookinfo (subsets, gateway)"
  kubectl apply -f "$EXAMPLES/bookinfo/destination-rule-all.yaml" -f "$EXAMPLES/bookinfo/gateway.yaml"
  cmd_status
}

# probe: 20 requests to reviews (as anyone and as jason) and to ratings
# from the client pod, counted by the reviews pod that answered (bookinfo's
# reviews JSON names its pod), by status code, and timed.
probe() {
  # shellcheck disable=SC2016 # the script runs in the client pod's shell
  kubectl exec deploy/client -- sh -c '
    for who in anyone jason; do
      out=""
      for i in $(seq 20); do
        r=$(curl -s -m 10 -H "end-user: $who" -w " status=%{http_code}" http://reviews:9080/reviews/0)
        out="$out$(echo "$r" | grep -o "reviews-v[123]" | head -1) $(echo "$r" | grep -o "status=[0-9]*")\n"
      done
      printf "  reviews as %s:\n" "$who"; printf "$out" | sort | uniq -c | sed "s/^/   /"
    done
    printf "  ratings:\n"
    for i in $(seq 20); do curl -s -o /dev/null -m 10 -H "end-user: jason" -w "%{http_code} %{time_total}s\n" http://ratings:9080/ratings/0; done |
      awk "{ n[\$1]++; t += \$2 } END { for (c in n) printf \"    %s x%d\n\", c, n[c]; printf \"    mean %.3fs\n\", t / NR }"
  '
}

# The walkthrough of scripts/demo.sh, against the cluster: each task's YAML
# applied in order, then the same probe. What a step should show is in the
# task file's comments; docs/aks.md says what does not apply on a cluster.
cmd_walk() {
  local task
  say "before any task"
  probe
  for task in "$EXAMPLES"/tasks/*.yaml; do
    say "$(basename "$task")"
    # REGISTRY_ONLY is one mode per node and covers every meshed process,
    # the cluster's own agents included (they call Azure endpoints that no
    # ServiceEntry can name yet): on AKS it would cut nodes off (docs/aks.md).
    if grep -q 'REGISTRY_ONLY' "$task"; then
      echo "skipped on AKS: egress REGISTRY_ONLY would also block the node's Azure agents (docs/aks.md)"
      continue
    fi
    grep -v '^#' "$task"
    kubectl apply -f "$task"
    sleep 2  # the watch brings the change to every node well within this
    probe
  done
}

cmd_status() {
  kubectl get nodes -o wide
  kubectl -n "$NAMESPACE" get pods -o wide -l app.kubernetes.io/name=sluice
  local pod
  for pod in $(kubectl -n "$NAMESPACE" get pods -l app.kubernetes.io/name=sluice -o name); do
    echo "--- $pod"
    kubectl -n "$NAMESPACE" exec "$pod" -- sluicectl status --admin 127.0.0.1:15000 | head -3 || true
  done
}

# Uninstall in two steps. sluiced keeps its programs and maps pinned when
# it stops, so that the kernel balances through restarts and upgrades; a
# plain `helm uninstall` would leave them attached to every node's root
# cgroup with frozen endpoints. First roll every pod to --cleanup (the new
# pod takes over from the old one, which removes nothing), then uninstall:
# each sluiced drains, detaches and unpins on its SIGTERM.
cmd_down() {
  say "roll sluiced to --cleanup"
  helm upgrade "$RELEASE" deploy/helm/sluice -n "$NAMESPACE" --reuse-values \
    --set daemon.cleanupOnExit=true --wait --timeout 10m
  kubectl -n "$NAMESPACE" rollout status "ds/$RELEASE" --timeout 5m
  say "helm uninstall"
  helm uninstall "$RELEASE" -n "$NAMESPACE" --wait --timeout 5m
  # helm leaves CRDs of crds/ in place (their objects would go with them).
  echo "aks-up: kept CRD ratelimitpolicies.sluice.io and Istio's CRDs; kubectl delete them if unwanted"
  kubectl delete namespace "$NAMESPACE" --ignore-not-found
}

cmd_delete() {
  say "delete resource group $RG"
  az group delete -n "$RG" --yes --no-wait
}

case "${1:-}" in
  up) cmd_up ;;
  walk) cmd_walk ;;
  status) cmd_status ;;
  down) cmd_down ;;
  delete) cmd_delete ;;
  *) sed -n 's/^#   scripts\/aks-up.sh \(.*\)/  \1/p' "$0" >&2; exit 2 ;;
esac
