#!/usr/bin/env bash
# The e2e checks on a kind cluster with cni-ts deployed (or the Go reference plugins under the
# agent): pod↔pod across nodes with the source kept (IPv4, and IPv6 on dual-stack), Service
# traffic through kube-proxy, a hostPort from the nodes, the 1M bandwidth annotations in tc and
# by a measured transfer, and a deleted pod leaving no reservation. Each check prints one line;
# the script fails when any does.
#   e2e/kind/checks.sh <cluster name> <ipv4|dual> [network name, default cni-ts]
# shellcheck disable=SC2015  # `test && ok … || bad …`: ok always succeeds
set -uo pipefail
name=$1
family=$2
network=${3:-cni-ts}
w1="$name-worker"
w2="$name-worker2"
AGNHOST=registry.k8s.io/e2e-test-images/agnhost:2.53
BUSYBOX=registry.k8s.io/e2e-test-images/busybox:1.36.1-1
failed=0

ok() { echo "✓ $*"; }
bad() { echo "✗ $*"; failed=1; }

pod() { # name node image [extra spec yaml] [annotations yaml]
  kubectl apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels: {app: $1}
  annotations: {${5:-}}
spec:
  nodeName: $2
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: $3
${4:-}
YAML
}

netexec='      args: [netexec, --http-port=8080]'
pod srv-a "$w1" "$AGNHOST" "$netexec"
pod srv-b "$w2" "$AGNHOST" "$netexec"
pod client "$w1" "$BUSYBOX" '      command: [sleep, "3600"]'
pod hp "$w2" "$AGNHOST" "$netexec
      ports: [{containerPort: 8080, hostPort: 30080}]"
pod shaped "$w2" "$BUSYBOX" '      command: [sh, -c, "while true; do head -c 4194304 /dev/zero | nc -l -p 5000; done"]' \
  'kubernetes.io/ingress-bandwidth: 1M, kubernetes.io/egress-bandwidth: 1M'
kubectl expose pod srv-b --name srv-b --port 80 --target-port 8080
kubectl wait --for=condition=Ready pod/srv-a pod/srv-b pod/client pod/hp pod/shaped --timeout=180s || bad "pods did not become Ready"

ips() { kubectl get pod "$1" -o jsonpath='{range .status.podIPs[*]}{.ip}{" "}{end}'; }
v4() { ips "$1" | tr ' ' '\n' | grep -v : | head -n1; }
v6() { ips "$1" | tr ' ' '\n' | grep : | head -n1; }
fetch() { kubectl exec client -- wget -qO- -T 5 "$1"; }

# pod↔pod across nodes, the source kept (agnhost's /clientip echoes the address it saw)
client4=$(v4 client)
seen=$(fetch "http://$(v4 srv-b):8080/clientip")
if [ "${seen%:*}" = "$client4" ]; then ok "pod→pod across nodes (IPv4), source kept: $seen"
else bad "pod→pod across nodes (IPv4): srv-b saw '${seen}', expected ${client4}"; fi
seen=$(kubectl exec srv-b -- /agnhost connect --timeout=5s "$(v4 srv-a):8080" 2>&1) \
  && ok "pod→pod back across nodes (IPv4)" || bad "srv-b → srv-a (IPv4): $seen"
if [ "$family" = dual ]; then
  client6=$(v6 client)
  seen=$(fetch "http://[$(v6 srv-b)]:8080/clientip")
  if [ "${seen%:*}" = "[$client6]" ] || [ "${seen%:*}" = "$client6" ]; then ok "pod→pod across nodes (IPv6), source kept: $seen"
  else bad "pod→pod across nodes (IPv6): srv-b saw '${seen}', expected ${client6}"; fi
fi

# a Service through kube-proxy
svc=$(kubectl get svc srv-b -o jsonpath='{.spec.clusterIP}')
seen=$(fetch "http://$svc/hostname")
[ "$seen" = srv-b ] && ok "Service $svc reaches srv-b" || bad "Service $svc answered '${seen}', expected srv-b"

# hostPort from the node itself and from another node
ip2=$(kubectl get node "$w2" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}' | cut -d' ' -f1)
seen=$(docker exec "$w2" curl -s -m 5 "http://$ip2:30080/hostname")
[ "$seen" = hp ] && ok "hostPort 30080 from its node" || bad "hostPort from $w2 answered '${seen}', expected hp"
seen=$(docker exec "$w1" curl -s -m 5 "http://$ip2:30080/hostname")
[ "$seen" = hp ] && ok "hostPort 30080 from another node" || bad "hostPort from $w1 answered '${seen}', expected hp"

# bandwidth: the annotations in tc on the node, and a measured transfer from the shaped pod
qdiscs=$(docker exec "$w2" tc qdisc show)
n=$(grep -c 'tbf .*rate 1Mbit' <<<"$qdiscs")
[ "$n" -ge 2 ] && ok "shaped pod: $n tbf qdiscs at 1Mbit (host veth and ifb)" || bad "expected 2 tbf 1Mbit qdiscs on $w2, got: $qdiscs"
start=$(date +%s.%N)
bytes=$(kubectl exec client -- sh -c "nc -w 60 $(v4 shaped) 5000 | wc -c" | tr -d ' ')
end=$(date +%s.%N)
rate=$(awk -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", b * 8 / (e - s) / 1000000 }')
if awk -v r="$rate" 'BEGIN { exit !(r >= 0.8 && r <= 1.2) }'; then ok "shaped pod sends at $rate Mbit/s (1M ±20%, $bytes bytes)"
else bad "shaped pod sent $bytes bytes at $rate Mbit/s, expected 1M ±20%"; fi

# a deleted pod leaves no reservation in host-local's store
ip=$(v4 srv-a)
kubectl delete pod srv-a --wait=true --timeout=60s >/dev/null
if docker exec "$w1" test -e "/var/lib/cni/networks/$network/$ip"; then bad "deleting srv-a left its reservation $ip on $w1"
else ok "deleting srv-a released $ip"; fi

exit "$failed"
