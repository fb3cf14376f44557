#!/bin/sh
# Records the outputs the format gate must tell apart: iproute2's own forms (multipath routes in
# the text, one-line and JSON forms, `ip route show table all`, `ip -br`, `ip -s -d link`) and
# what other tools print for the same tables (net-tools `route -n`, `netstat -rn`, `arp -n`,
# bridge-utils `brctl showmacs`).
# Everything happens inside one throw-away network namespace; nothing touches the root
# namespace. Run as root: sh capture-gate.sh OUTDIR (under /tmp/knetlab-root.lock).
set -eu
out=${1:?usage: capture-gate.sh OUTDIR}
ns=knetlab-gate-fixture
trap 'ip netns del $ns 2>/dev/null || true' EXIT
ip netns add $ns
n="ip netns exec $ns"
$n ip link set lo up
$n ip link add eth0 type veth peer name peer0
$n ip link set eth0 address ca:3f:78:f4:dd:f5
$n ip link set peer0 address 56:9c:ce:80:95:79
$n ip link set eth0 up
$n ip link set peer0 up
$n ip addr add 10.18.132.11/24 dev eth0
$n ip route add default via 10.18.132.1 dev eth0
# The multipath route of issue 10: a Calico block spread over two nodes by ECMP.
$n ip route add 10.148.158.64/26 proto bird nexthop via 10.18.132.12 dev eth0 weight 1 nexthop via 10.18.132.13 dev eth0 weight 1
$n ip route add blackhole 10.148.158.0/26 proto bird
$n ip route add 10.148.158.128/26 via 10.18.132.14 dev eth0 proto bird metric 20
# A link without carrier (its peer down) shows linkdown; an IPv6 route with a lifetime shows
# expires and pref.
$n ip link add eth1 type veth peer name peer1
$n ip link set eth1 address 3e:1a:4f:00:00:01
$n ip link set peer1 address 3e:1a:4f:00:00:02
$n ip link set eth1 up
$n ip addr add 10.18.133.11/24 dev eth1
$n ip -6 addr add 2001:db8:1::11/64 dev eth0 nodad
$n ip -6 route add 2001:db8:2::/64 via 2001:db8:1::1 dev eth0 expires 600 pref high
$n ip neigh add 10.18.132.12 dev eth0 lladdr 02:42:0a:12:84:0c nud permanent
$n ip neigh add 10.18.132.13 dev eth0 lladdr 02:42:0a:12:84:0d nud reachable
# A bridge with a port, for `brctl showmacs` (bridge-utils).
$n ip link add br0 type bridge
$n ip link set peer1 master br0
$n ip link set br0 address 6a:4c:2d:10:00:01 up
mkdir -p "$out"
$n ip route >"$out/ip-route-multipath.txt"
$n ip -o route >"$out/ip-o-route-multipath.txt"
$n ip -j route >"$out/ip-j-route-multipath.json"
$n ip route show table all | sed 's/expires [0-9]*sec/expires 600sec/'  >"$out/ip-route-table-all.txt"
$n route -n >"$out/route-n.txt"
$n netstat -rn >"$out/netstat-rn.txt"
$n arp -n >"$out/arp-n.txt"
$n ip neigh >"$out/ip-neigh.txt"
$n ip -br neigh >"$out/ip-br-neigh.txt" 2>&1 || true
$n ip -br link >"$out/ip-br-link.txt"
$n ip -br addr >"$out/ip-br-addr.txt"
$n ip -s -d link >"$out/ip-s-d-link.txt"
$n ip link >"$out/ip-link.txt"
$n ip addr >"$out/ip-addr.txt"
$n brctl showmacs br0 >"$out/brctl-showmacs.txt"
$n bridge fdb show >"$out/bridge-fdb.txt"
