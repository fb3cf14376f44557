#!/bin/sh
# Rebuilds k01-worker's Calico VXLAN CrossSubnet dataplane (lesson 06) inside throw-away network
# namespaces and prints what `ip`/`bridge` show there, so the parser fixtures are real iproute2
# output rather than hand-typed text. Run as root: sh capture-k01-worker.sh OUTDIR
# Nothing is created in the root namespace; both namespaces are removed on exit.
set -eu
out=${1:?usage: capture-k01-worker.sh OUTDIR}
node=knetlab-fixture-node pod=knetlab-fixture-pod
trap 'ip netns del $node 2>/dev/null || true; ip netns del $pod 2>/dev/null || true' EXIT
ip netns add $node
ip netns add $pod
n="ip netns exec $node"
$n ip link set lo up
$n ip link add eth0 type veth peer name mgmt
$n ip link add eth1 type veth peer name ceos-et2
# Fixed MACs, so that regenerating gives the same files (the tests pin eth1's).
$n ip link set eth0 address ca:3f:78:f4:dd:f5
$n ip link set mgmt address 56:9c:ce:80:95:79
$n ip link set eth1 address 72:17:7d:f3:a5:06
$n ip link set ceos-et2 address 8e:e5:29:6d:ee:2d
for l in eth0 mgmt eth1 ceos-et2; do $n ip link set $l up; done
$n ip addr add 172.18.0.3/16 dev eth0
$n ip addr add 10.10.10.11/24 dev eth1
$n ip route add default via 172.18.0.1 dev eth0
$n ip route add 10.10.20.0/24 via 10.10.10.1 dev eth1
$n ip link add vxlan.calico type vxlan id 4096 local 10.10.10.11 dev eth1 dstport 4789 nolearning
$n ip link set vxlan.calico address 66:fb:ad:98:aa:13 mtu 1450 up
$n ip addr add 192.168.93.64/32 dev vxlan.calico
$n ip route add blackhole 192.168.93.64/26 proto 80
$n ip route add 192.168.19.128/26 via 10.10.10.10 dev eth1 proto 80 onlink
$n ip route add 192.168.150.192/26 via 10.10.10.12 dev eth1 proto 80 onlink
$n ip route add 192.168.209.64/26 via 192.168.209.64 dev vxlan.calico onlink
i=1
for pair in cali33a6ed01365:192.168.93.65 cali0d7763386da:192.168.93.66; do
	host=${pair%%:*} ip=${pair#*:}
	$n ip link add $host type veth peer name eth0 netns $pod 2>/dev/null || $n ip link add $host type veth peer name podeth$i netns $pod
	$n ip link set $host address ee:ee:ee:ee:ee:ee up
	$n ip route add $ip dev $host scope link
	i=$((i+1))
done
for nb in 192.168.19.128:66:15:9d:fa:c6:aa:10.10.10.10 192.168.150.193:66:c7:4d:6e:6b:f3:10.10.10.12 192.168.209.64:66:d2:0c:f0:ef:e5:10.10.20.20; do
	tip=${nb%%:*} rest=${nb#*:} mac=${rest%:*} under=${rest##*:}
	$n ip neigh add $tip dev vxlan.calico lladdr $mac nud permanent
	$n bridge fdb add $mac dev vxlan.calico dst $under self permanent
done
$n ip neigh add 10.10.10.1 dev eth1 lladdr 00:1c:73:aa:bb:01 nud reachable
$n ip neigh add 172.18.0.1 dev eth0 lladdr 02:42:9a:1f:3c:00 nud stale
mkdir -p "$out"
$n ip route >"$out/ip-route.txt"
$n ip -j route >"$out/ip-route.json"
$n ip neigh >"$out/ip-neigh.txt"
$n ip -j neigh >"$out/ip-neigh.json"
$n bridge fdb show >"$out/bridge-fdb.txt"
$n bridge -j fdb show >"$out/bridge-fdb.json"
$n ip -d link show >"$out/ip-d-link.txt"
$n ip -j -d link show >"$out/ip-d-link.json"
$n ip link show type vxlan >"$out/ip-link-vxlan.txt"
$n ip addr >"$out/ip-addr.txt"
$n ip -j addr >"$out/ip-addr.json"
