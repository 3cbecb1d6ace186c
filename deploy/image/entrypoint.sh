#!/bin/sh
# The image's entry point: use the iptables flavour the node already uses (as kube-proxy's
# iptables-wrapper decides: the one holding more rules, nft when neither has any), then run the
# agent with the container's arguments.
set -eu

rules() {
  { "$1-save" 2>/dev/null || true; "$2-save" 2>/dev/null || true; } | grep -c '^-' || true
}

legacy=$(rules iptables-legacy ip6tables-legacy)
nft=$(rules iptables-nft ip6tables-nft)
mode=nft
if [ "$legacy" -gt "$nft" ]; then mode=legacy; fi
for tool in iptables ip6tables; do
  update-alternatives --set "$tool" "/usr/sbin/$tool-$mode" >/dev/null
done

exec node /opt/cni-ts/agent/cni-ts-agent.mjs "$@"
