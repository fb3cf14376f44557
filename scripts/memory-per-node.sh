#!/usr/bin/env bash
# Memory per node of a netns lab with its CNI (issue 12): deploys generated labs of the given
# sizes, lets them settle, and reads the resident memory of every process the lab recorded (the
# datastore and one agent per node) from /proc/<pid>/status (VmRSS) and
# /proc/<pid>/smaps_rollup (Pss: shared pages — the knetlab binary's text — split between the
# processes that map them, so the Pss of all processes adds up to what the lab costs; RssAnon is
# a process's private memory, what each further node adds). "Host per node" is the drop of
# MemAvailable from before the deploy to after it settled, divided by the node count: everything
# the lab costs, the kernel's share (namespaces, veths, routes, page tables) included — noisy
# when other work runs on the host.
# Prints a Markdown table for docs/benchmarks.md. Run as root from the repository root, under
# the shared lock when others use the machine:
#
#   sudo flock /tmp/knetlab-root.lock scripts/memory-per-node.sh [NODES...]   (default: 4 25 100)
#
# SETTLE (seconds, default 10) is how long a lab runs after deploy before it is measured.
# Extra environment (e.g. GOGC=50) is passed on to the lab's processes, for comparisons.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the netns lab needs it" >&2; exit 3; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(4 25 100)
settle=${SETTLE:-10}

work=$(mktemp -d)
state=$work/state
export KNETLAB_STATE_DIR=$state
k=$work/knetlab
labs=()
cleanup() {
  for l in "${labs[@]}"; do "$k" destroy "$l" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$k" ./cmd/knetlab

kib() { awk -v f="$2" '$1 == f":" {print $2}' "$1" 2>/dev/null || true; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }

echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), $(go env GOVERSION); $(date -u +%F). Settle: ${settle}s. Extra env: ${EXTRA_ENV_NOTE:-none}."
echo
echo "| nodes | agent VmRSS median / max | agent RssAnon median | agent Pss median | datastore VmRSS / RssAnon | lab total VmRSS | lab total Pss | Pss per node | host per node |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  name=mem-n$n
  labs+=("$name")
  go run ./scripts/genlab -name "$name" -nodes "$n" -vlans 4 > "$work/$name.yaml"
  before=$(kib /proc/meminfo MemAvailable)
  "$k" deploy --lab-file "$work/$name.yaml" >/dev/null 2>"$work/$name.deploy.log" || { cat "$work/$name.deploy.log" >&2; exit 1; }
  sleep "$settle"
  after=$(kib /proc/meminfo MemAvailable)
  agents_rss=() agents_anon=() agents_pss=() ds_rss=0 ds_anon=0 tot_rss=0 tot_pss=0
  while read -r pname pid; do
    rss=$(kib "/proc/$pid/status" VmRSS); anon=$(kib "/proc/$pid/status" RssAnon); pss=$(kib "/proc/$pid/smaps_rollup" Pss)
    [ -n "$rss" ] || { echo "process $pname ($pid) is gone" >&2; exit 1; }
    tot_rss=$((tot_rss + rss)); tot_pss=$((tot_pss + pss))
    case $pname in
      agent*) agents_rss+=("$rss"); agents_anon+=("$anon"); agents_pss+=("$pss") ;;
      *) ds_rss=$rss; ds_anon=$anon ;;
    esac
  done < <(jq -r '.processes[] | "\(.name|gsub(" ";"-")) \(.pid)"' "$state/$name/state.json")
  [ ${#agents_rss[@]} -eq "$n" ] || { echo "$name: ${#agents_rss[@]} agents running, want $n" >&2; exit 1; }
  a_med=$(printf '%s\n' "${agents_rss[@]}" | median)
  a_max=$(printf '%s\n' "${agents_rss[@]}" | sort -n | tail -1)
  p_med=$(printf '%s\n' "${agents_pss[@]}" | median)
  an_med=$(printf '%s\n' "${agents_anon[@]}" | median)
  echo "| $n | $(mib "$a_med") / $(mib "$a_max") MiB | $(mib "$an_med") MiB | $(mib "$p_med") MiB | $(mib "$ds_rss") / $(mib "$ds_anon") MiB | $(mib "$tot_rss") MiB | $(mib "$tot_pss") MiB | $(mib $((tot_pss / n))) MiB | $(mib $(((before - after) / n))) MiB |"
  "$k" destroy "$name" >/dev/null 2>&1
done
