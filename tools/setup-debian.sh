#!/usr/bin/env bash
# Installs the system packages cni-ts builds, tests and demos with, on Debian/Ubuntu, as root.
#   iproute2 (ip, netns), util-linux (nsenter, flock), iptables + nftables + conntrack (masquerade,
#   port mappings), procps (sysctl), iputils-ping (connectivity checks), kmod, hyperfine and time (bench),
#   iperf3 (measured rates of shaped pods), curl (the agent's HTTP endpoints), shellcheck (the e2e
#   scripts), containernetworking-plugins
#   (Debian's Go reference plugins in /usr/lib/cni, for differential tests), golang-go +
#   golang-github-appc-cni-dev (upstream libcni v1.1.2's source: tests build tools/libcni-go to run
#   conflists through the real libcni)
#   qemu-user-static (the release dry run runs the arm64 executable, and the amd64 one on an
#   emulated older CPU), binutils (readelf: the ELF reader's tests), strace (the requests tc sends,
#   compared with ours byte for byte), python3 with its standard library (ctypes: the agent's page-cache
#   probe reads folios through pagemap and kpageflags)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# wait for another apt/dpkg run (a concurrent CI job) instead of failing on its lock
APT=(apt-get -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
"${APT[@]}" update -qq
"${APT[@]}" install -y -qq --no-install-recommends \
  iproute2 util-linux iptables nftables conntrack procps iputils-ping kmod hyperfine time iperf3 curl shellcheck \
  containernetworking-plugins golang-go golang-github-appc-cni-dev \
  qemu-user-static binutils strace python3 >/dev/null
