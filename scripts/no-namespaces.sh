#!/usr/bin/env bash
# Runs a command — by default the unit tests, `go test -count=1 -short ./...` — and fails if it
# created or entered a network namespace, or left a namespace or link behind: the proof that
# -short runs no lab even as root. It compares `ip netns list` and `ip -o link` before and
# after; as root with perf, it also counts, in every process the command starts, the
# unshare/clone calls with CLONE_NEWNET and the setns calls, which catches namespaces that came
# and went during the run (perf counts without stopping the processes, as strace would).
# Run it while nothing else deploys labs on this host (e.g. under the lock the root tests use).
set -euo pipefail
[ $# -gt 0 ] || set -- go test -count=1 -short ./...

snapshot() {
  ip netns list 2>/dev/null | awk '{print "netns " $1}' | sort
  ip -o link show 2>/dev/null | awk -F': ' '{print "link " $2}' | sort
}

newnet=0x40000000 # CLONE_NEWNET
before=$(snapshot)
counts=$(mktemp)
trap 'rm -f "$counts"' EXIT
status=0
if [ "$(id -u)" = 0 ] && perf stat -e syscalls:sys_enter_setns -- true >/dev/null 2>&1; then
  perf stat -x, -o "$counts" \
    -e syscalls:sys_enter_unshare --filter "unshare_flags & $newnet" \
    -e syscalls:sys_enter_clone --filter "clone_flags & $newnet" \
    -e syscalls:sys_enter_setns -- "$@" || status=$?
else
  echo "no-namespaces: not root or no perf: comparing before and after only" >&2
  "$@" || status=$?
fi
after=$(snapshot)

fail=0
if [ "$before" != "$after" ]; then
  echo "no-namespaces: the host's namespaces or links changed:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  fail=1
fi
# perf's CSV: count,unit,event,...
if calls=$(awk -F, '$3 ~ /^syscalls:/ && $1 != 0 {print "  " $3 ": " $1}' "$counts") && [ -n "$calls" ]; then
  echo "no-namespaces: the command created or entered network namespaces:" >&2
  echo "$calls" >&2
  fail=1
fi
if [ "$fail" = 0 ]; then
  if [ -s "$counts" ]; then
    echo "no-namespaces: no network namespace created or entered (perf counted 0 unshare/clone with CLONE_NEWNET, 0 setns)" >&2
  else
    echo "no-namespaces: no namespace or link left behind" >&2
  fi
fi
[ "$status" = 0 ] || exit "$status"
exit "$fail"
