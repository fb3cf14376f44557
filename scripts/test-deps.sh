#!/usr/bin/env bash
# Installs the host tools the end-to-end tests run inside lab namespaces (they check what
# knetlab built with the same commands a person would type): iproute2 (ip, bridge),
# iputils-ping (ping), nftables (nft); and bird2 (bird, birdcl), the BGP speaker the
# calico-bgp lab's nodes run, as calico-node does. knetlab itself needs only bird2, and only
# for that lab.
# Called by `make test` and .ci/run; does nothing when everything is there.
set -euo pipefail
need=()
command -v ip >/dev/null 2>&1 && command -v bridge >/dev/null 2>&1 || need+=(iproute2)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v nft >/dev/null 2>&1 || need+=(nftables)
PATH=$PATH:/usr/sbin command -v bird >/dev/null 2>&1 && PATH=$PATH:/usr/sbin command -v birdcl >/dev/null 2>&1 || need+=(bird2)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing ${need[*]}; install them (the root tests that use them would fail)" >&2
  exit 0
fi
echo "test-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
