#!/usr/bin/env bash
# Creates the kind cluster of the e2e pipeline: 1 control plane + 2 workers, no default CNI.
#   e2e/kind/cluster.sh <name> <ipv4|dual>
set -euo pipefail
name=$1
family=$2
case "$family" in
  ipv4) subnet="10.244.0.0/16" ;;
  dual) subnet="10.244.0.0/16,fd00:10:244::/56" ;;
  *) echo "unknown IP family $family (ipv4 or dual)" >&2; exit 1 ;;
esac
config=$(mktemp)
cat >"$config" <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
  ipFamily: $family
  podSubnet: "$subnet"
nodes:
  - role: control-plane
  - role: worker
  - role: worker
YAML
kind create cluster --name "$name" --config "$config" --wait 0s
rm -f "$config"
