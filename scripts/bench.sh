#!/usr/bin/env bash
# End-to-end timings of the netns lab (issue 7's performance list), printed as a Markdown table
# for docs/benchmarks.md. Run as root from the repository root:
#
#   sudo scripts/bench.sh [RUNS]
#
# Every lab it deploys has a name of its own (bench-*) and is destroyed, also on failure.
# Each figure is the median of RUNS runs (default 5), wall-clock, measured around the CLI.
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the netns lab needs it" >&2; exit 3; }

bin=$(mktemp -d)
labs=$(mktemp -d)
cleanup() {
  "$bin/knetlab" destroy bench-overlay >/dev/null 2>&1 || true
  "$bin/knetlab" destroy bench-big >/dev/null 2>&1 || true
  scripts/underlay-ip.sh down bench-ip >/dev/null 2>&1 || true
  rm -rf "$bin" "$labs"
}
trap cleanup EXIT

go build -o "$bin/knetlab" ./cmd/knetlab
sed 's/^name: calico-overlay/name: bench-overlay/' labs/calico-overlay/lab.yaml > "$labs/overlay.yaml"
go run ./scripts/genlab -name bench-big -nodes 100 -vlans 4 > "$labs/big.yaml"
k="$bin/knetlab"
offline=topology.nodes,switch.ports,switch.svis,switch.routes,ipam.pools,ipam.affinities,routes.blocks,routes.pods,vxlan.device,vxlan.neigh,vxlan.fdb,pods.wiring,nat.outgoing

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A samples
record() { samples[$1]+="$2 "; }

for _ in $(seq "$runs"); do
  t0=$(now)
  "$k" deploy --lab-file "$labs/overlay.yaml" >/dev/null 2>&1
  t1=$(now)
  "$k" verify --lab-file "$labs/overlay.yaml" --check "$offline" >/dev/null
  t2=$(now)
  "$k" verify --lab-file "$labs/overlay.yaml" --check connectivity.pods,connectivity.encap >/dev/null
  t3=$(now)
  "$k" verify --lab-file "$labs/overlay.yaml" >/dev/null
  t4=$(now)
  "$k" destroy bench-overlay >/dev/null 2>&1
  t5=$(now)
  record deploy "$(ms "$t0" "$t1")"
  record verify-offline "$(ms "$t1" "$t2")"
  record verify-connectivity "$(ms "$t2" "$t3")"
  record verify-full "$(ms "$t3" "$t4")"
  record destroy "$(ms "$t4" "$t5")"

  t0=$(now)
  scripts/underlay-ip.sh up bench-ip
  t1=$(now)
  scripts/underlay-ip.sh down bench-ip
  t2=$(now)
  record ip-up "$(ms "$t0" "$t1")"
  record ip-down "$(ms "$t1" "$t2")"
done

big_runs=$(( runs < 3 ? runs : 3 ))
for _ in $(seq "$big_runs"); do
  t0=$(now)
  "$k" deploy --lab-file "$labs/big.yaml" >/dev/null 2>&1
  t1=$(now)
  "$k" verify --lab-file "$labs/big.yaml" --check "$offline" >/dev/null
  t2=$(now)
  "$k" destroy bench-big >/dev/null 2>&1
  t3=$(now)
  record big-deploy "$(ms "$t0" "$t1")"
  record big-verify "$(ms "$t1" "$t2")"
  record big-destroy "$(ms "$t2" "$t3")"
done

# knetlab's underlay alone (no CNI), in-process with netlink, to set beside the ip script.
underlay=$(go test -run '^$' -bench 'BenchmarkDeployCalicoOverlay$|BenchmarkDestroyCalicoOverlay$' \
  -benchtime "${runs}x" ./internal/provider/netnslab | awk '/^Benchmark/ {printf "%s %d\n", $1, $3/1000000}')
underlay_up=$(awk '/DeployCalicoOverlay/ {print $2}' <<<"$underlay")
underlay_down=$(awk '/DestroyCalicoOverlay/ {print $2}' <<<"$underlay")

m() { tr ' ' '\n' <<<"${samples[$1]}" | grep -v '^$' | median; }
all() { echo "${samples[$1]}" | sed 's/ $//; s/ /, /g'; }

echo "Machine: $(nproc) cores, $(uname -r), $(go version | awk '{print $3}'); $(date -u +%Y-%m-%d). Runs: $runs (100-node lab: $big_runs)."
echo
echo "| what | median | all runs (ms) | target |"
echo "|---|---|---|---|"
echo "| calico-overlay deploy (underlay, datastore, 4 agents converged, 4 pods) | $(m deploy) ms | $(all deploy) | — |"
echo "| verify without connectivity (13 checks) | $(m verify-offline) ms | $(all verify-offline) | ≤ 300 ms |"
echo "| connectivity.pods + connectivity.encap | $(m verify-connectivity) ms | $(all verify-connectivity) | ≤ 2 s |"
echo "| verify, all 15 checks | $(m verify-full) ms | $(all verify-full) | — |"
echo "| destroy | $(m destroy) ms | $(all destroy) | — |"
echo "| deploy → verify (all) → destroy | $(( $(m deploy) + $(m verify-full) + $(m destroy) )) ms | (sum of medians) | ≤ 6 s |"
echo "| knetlab underlay only (no CNI; BenchmarkDeployCalicoOverlay, mean of $runs) | $underlay_up ms | — | ≤ 1 s |"
echo "| baseline: the same underlay with \`ip\` commands (scripts/underlay-ip.sh up), no CNI | $(m ip-up) ms | $(all ip-up) | — |"
echo "| knetlab underlay destroy (BenchmarkDestroyCalicoOverlay, mean of $runs) | $underlay_down ms | — | ≤ 0.5 s |"
echo "| baseline: its teardown (\`ip netns del\`) | $(m ip-down) ms | $(all ip-down) | — |"
echo "| generated 100-node lab over 4 VLANs: deploy with the CNI | $(m big-deploy) ms | $(all big-deploy) | ≤ 30 s |"
echo "| generated 100-node lab: verify, the 13 checks without connectivity (no test pods in it) | $(m big-verify) ms | $(all big-verify) | ≤ 3 s |"
echo "| generated 100-node lab: destroy | $(m big-destroy) ms | $(all big-destroy) | — |"
