#!/usr/bin/env bash
# Installs the system packages cni-ts builds, tests and demos with, on Debian/Ubuntu, as root.
#   iproute2 (ip, netns), util-linux (nsenter, flock), iptables + nftables + conntrack (masquerade,
#   port mappings), procps (sysctl), iputils-ping (connectivity checks), kmod, hyperfine (bench),
#   containernetworking-plugins (Debian's Go reference plugins in /usr/lib/cni, for differential tests)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  iproute2 util-linux iptables nftables conntrack procps iputils-ping kmod hyperfine \
  containernetworking-plugins >/dev/null
