#!/usr/bin/env bash
# Puts the Go reference plugins (containernetworking/plugins) into /opt/cni/bin of every node of
# a kind cluster, for the job that runs the checks against them.
#   e2e/kind/go-plugins.sh <cluster name> <version, e.g. v1.6.2>
set -euo pipefail
name=$1
version=$2
tgz=$(mktemp)
curl -fsSL -o "$tgz" "https://github.com/containernetworking/plugins/releases/download/$version/cni-plugins-linux-amd64-$version.tgz"
for node in $(kind get nodes --name "$name"); do
  docker cp "$tgz" "$node:/tmp/cni-plugins.tgz"
  docker exec "$node" sh -c 'mkdir -p /opt/cni/bin && tar -C /opt/cni/bin -xzf /tmp/cni-plugins.tgz && rm /tmp/cni-plugins.tgz'
done
rm -f "$tgz"
