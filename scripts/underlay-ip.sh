#!/usr/bin/env bash
# The calico-overlay underlay built the way the lessons' READMEs do it: one `ip` command at a
# time. It exists only as the baseline knetlab's netns provider is measured against
# (scripts/bench.sh); knetlab itself never runs `ip`.
#
#   scripts/underlay-ip.sh up|down [PREFIX]
#
# Everything lives in namespaces named PREFIX-* (default ipx); nothing is created in the root
# namespace but the transient veth ends moved out at once.
set -euo pipefail
cmd=${1:?usage: $0 up|down [PREFIX]}
p=${2:-ipx}

nodes=(k01-control-plane k01-worker k01-worker2 k01-worker3)
addrs=(10.10.10.10/24 10.10.10.11/24 10.10.10.12/24 10.10.20.20/24)
mgmt=(172.18.0.2/16 172.18.0.3/16 172.18.0.4/16 172.18.0.5/16)
vlans=(10 10 10 20)

down() {
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^${p}-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns"
  done
}

up() {
  ip netns add "$p-kind"
  ip netns add "$p-ceos01"
  ip -n "$p-kind" link add kind type bridge
  ip -n "$p-kind" addr add 172.18.0.1/16 dev kind
  ip -n "$p-kind" link set kind up
  ip -n "$p-kind" link set lo up
  for v in 10 20; do
    ip -n "$p-ceos01" link add "Vlan$v" type bridge
    ip -n "$p-ceos01" link set "Vlan$v" up
  done
  ip -n "$p-ceos01" addr add 10.10.10.1/24 dev Vlan10
  ip -n "$p-ceos01" addr add 10.10.20.1/24 dev Vlan20
  ip -n "$p-ceos01" link set lo up
  ip netns exec "$p-ceos01" sysctl -qw net.ipv4.ip_forward=1
  for i in "${!nodes[@]}"; do
    n=${nodes[$i]} ns="$p-${nodes[$i]}" port="eth$((i + 1))" vlan=${vlans[$i]}
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # switch cable: created in the node namespace, peer straight into the switch
    ip -n "$ns" link add eth1 type veth peer name "$port" netns "$p-ceos01"
    ip -n "$p-ceos01" link set "$port" master "Vlan$vlan" alias "Connection to $n" up
    ip -n "$ns" addr add "${addrs[$i]}" dev eth1
    ip -n "$ns" link set eth1 up
    # management network (kind's docker network stand-in)
    ip -n "$ns" link add eth0 type veth peer name "veth$i" netns "$p-kind"
    ip -n "$p-kind" link set "veth$i" master kind up
    ip -n "$ns" addr add "${mgmt[$i]}" dev eth0
    ip -n "$ns" link set eth0 up
    if [ "$vlan" = 10 ]; then
      ip -n "$ns" route add 10.10.20.0/24 via 10.10.10.1
    else
      ip -n "$ns" route add 10.10.10.0/24 via 10.10.20.1
    fi
    ip -n "$ns" route add default via 172.18.0.1
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down [PREFIX]" >&2; exit 2 ;;
esac
