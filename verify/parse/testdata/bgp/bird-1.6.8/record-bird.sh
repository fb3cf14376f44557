#!/bin/sh
# Records BIRD 1.6.8's own answers (Debian's bird 1.6.8, the upstream of calico-node's BIRD
# v0.3.3+birdv1.6.8) on the calico-bgp lab's BGP, built in network namespaces of its own: a hub
# namespace (unshare -n) with a bridge, and one namespace per speaker whose eth0 (a veth to the
# bridge) has the lab's address — the route reflector at 172.18.0.5/16 (AS 64496, cluster id
# 192.0.2.1, every node a client) and three node speakers at 172.18.0.2-4/16 configured as
# Calico configures BIRD for a BGPPeer: protocol Node_172_18_0_5, the node's block a static1
# blackhole exported with the node itself as next hop, direct1 giving the route to the underlay
# network that resolves the learned next hops. No kernel protocol. Run as root in an empty
# directory (birdc is Debian's name for birdcl with readline); every BIRD and every namespace
# goes away when it ends.
#
# With UNRESOLVED=1 the nodes' direct protocol is off: BIRD has no route to the next hops and
# shows the learned paths unreachable; the files are prefixed "unresolved-".
set -eu
if [ -z "${IN_NS:-}" ]; then
  exec env IN_NS=1 unshare -n sh "$0" "$@"
fi
ip link add br0 type bridge
ip link set br0 up

dir=$(pwd)
out=""
direct='protocol direct { interface "eth0"; }'
if [ "${UNRESOLVED:-0}" = 1 ]; then
  out="unresolved-"
  direct='protocol direct { disabled; }'
fi

cat > rr.conf <<CONF
router id 192.0.2.1;
protocol device { scan time 2; }
protocol direct { interface "eth0"; }
template bgp clients {
  local 172.18.0.5 as 64496;
  rr client;
  rr cluster id 192.0.2.1;
  import all;
  export all;
}
protocol bgp rr_172_18_0_2 from clients { neighbor 172.18.0.2 as 64496; }
protocol bgp rr_172_18_0_3 from clients { neighbor 172.18.0.3 as 64496; }
protocol bgp rr_172_18_0_4 from clients { neighbor 172.18.0.4 as 64496; }
CONF
for n in 2:10.244.236.0/24 3:10.244.175.0/24 4:10.244.190.0/24; do
  i=${n%%:*}; block=${n#*:}
  cat > node$i.conf <<CONF
router id 172.18.0.$i;
protocol device { scan time 2; }
$direct
protocol static static1 { route $block blackhole; }
filter calico_export_to_bgp_peers { if proto = "static1" then accept; reject; }
protocol bgp Node_172_18_0_5 {
  local 172.18.0.$i as 64496;
  neighbor 172.18.0.5 as 64496;
  import all;
  export filter calico_export_to_bgp_peers;
  next hop self;
}
CONF
done

# speaker NAME ADDRESS: BIRD in a namespace of its own, on eth0 with ADDRESS/16.
pids=""
speaker() {
  unshare -n sh -c 'while ! ip link show eth0 >/dev/null 2>&1; do sleep 0.1; done
    ip link set lo up; ip addr add '"$2"'/16 dev eth0; ip link set eth0 up
    exec bird -f -c '"$1"'.conf -s '"$dir/$1"'.ctl' &
  pid=$!
  pids="$pids $pid"
  while [ "$(readlink /proc/$pid/ns/net)" = "$(readlink /proc/$$/ns/net)" ]; do sleep 0.05; done
  ip link add "v-$1" type veth peer name eth0 netns "$pid"
  ip link set "v-$1" master br0 up
  eval "pid_$1=$pid"
}
trap 'kill $pids 2>/dev/null || true' EXIT
speaker rr 172.18.0.5
speaker node2 172.18.0.2
speaker node3 172.18.0.3
speaker node4 172.18.0.4
sleep 10   # the sessions come up within a few seconds (BIRD's first connect retry)
# Every node's routes; k8s-guide-worker's (172.18.0.3) protocols and show route all; the
# reflector's routes.
for i in 2 3 4; do birdc -s "$dir/node$i.ctl" show route > ${out}node$i-show-route.txt; done
birdc -s "$dir/node3.ctl" show protocols > ${out}node3-show-protocols.txt
birdc -s "$dir/node3.ctl" show route all > ${out}node3-show-route-all.txt
birdc -s "$dir/rr.ctl" show route > ${out}rr-show-route.txt
# The reflector stops: the node keeps only its own block.
kill "$pid_rr"
sleep 3
birdc -s "$dir/node3.ctl" show protocols > ${out}node3-rr-down-show-protocols.txt
birdc -s "$dir/node3.ctl" show route > ${out}node3-rr-down-show-route.txt
