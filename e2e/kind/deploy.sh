#!/usr/bin/env bash
# Applies deploy/ to the current kubectl context with the e2e image, the cluster CIDRs of the IP
# family and, for the reference job, the Go plugins already on the nodes instead of ours; then
# waits for the agents and the nodes.
#   e2e/kind/deploy.sh <image> <ipv4|dual> [ours|go]
set -euo pipefail
image=$1
family=$2
plugins=${3:-ours}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
cp "$root"/deploy/*.yaml "$work/"
sed -i "s#ghcr.io/cni-ts/cni-ts-agent:v0.1.0#$image#" "$work/daemonset.yaml"
if [ "$family" = dual ]; then
  sed -i 's#      - 10.244.0.0/16#      - 10.244.0.0/16\n      - fd00:10:244::/56#' "$work/configmap.yaml"
fi
if [ "$plugins" = go ]; then
  # the Go reference plugins are on the nodes already: the agent writes the conflist only
  sed -i 's#^    conflist:#    cni:\n      installBinaries: false\n    conflist:#' "$work/configmap.yaml"
fi
kubectl apply -f "$work"
rm -rf "$work"
kubectl -n kube-system rollout status ds/cni-ts-agent --timeout=180s
kubectl wait --for=condition=Ready nodes --all --timeout=180s
