#!/usr/bin/env bash
# Collects what explains a failed e2e run into a directory: kind's node logs, the agents' logs,
# every pod, and each node's CNI files, routes, rules and qdiscs.
#   e2e/kind/logs.sh <cluster name> <dir>
set -uo pipefail
name=$1
dir=$2
mkdir -p "$dir"
kind export logs "$dir/kind" --name "$name"
kubectl get nodes,pods -A -o wide >"$dir/objects.txt" 2>&1
kubectl -n kube-system logs -l app.kubernetes.io/name=cni-ts-agent --prefix --tail=-1 >"$dir/agents.log" 2>&1
kubectl get events -A --sort-by=.lastTimestamp >"$dir/events.txt" 2>&1
for node in $(kind get nodes --name "$name"); do
  docker exec "$node" sh -c '
    ls -l /opt/cni/bin /etc/cni/net.d; cat /etc/cni/net.d/*.conflist
    ip -d addr; ip route; ip -6 route
    iptables-save; ip6tables-save; tc qdisc show
    ls -lR /var/lib/cni' >"$dir/node-$node.txt" 2>&1
done
