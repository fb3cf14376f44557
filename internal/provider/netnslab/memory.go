package netnslab

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
)

// What a netns lab costs in memory, measured with scripts/memory-per-node.sh
// (docs/benchmarks.md, "Memory per node and the node limit"): per node, the agent's private
// memory and the kernel's share of the node (its namespace, veths, routes); once per lab, the
// datastore and the knetlab binary's pages, which every lab process shares. Measured: 13.6 MiB
// per node at 100 nodes, 14.1 at 150, with agents at Go's default GOGC (11.6–12.0 at the
// agent's own GOGC=50), so a lab whose processes run with GOGC raised still fits.
const (
	nodeMemory = 14 << 20
	labMemory  = 64 << 20
	// A BGP lab's nodes each run BIRD too (a lab process beside the agent), and its route
	// reflectors are processes of their own: measured on calico-bgp 8 s after deploy (2026-12-01), an agent's private memory is
	// 11–13 MiB as in any lab, its BIRD's 0.8 MiB, a reflector's 22 MiB.
	bgpSpeakerMemory = 1 << 20
	reflectorMemory  = 22 << 20
)

// memoryHeadroom is the share of this host's available memory a new lab may take: the rest is
// left to the host and to the lab's growth (pods, verify).
const memoryHeadroom = 0.8

// estimateMemory is what a lab of l's size is expected to cost.
func estimateMemory(l *lab.Lab) uint64 {
	return labMemory + uint64(len(l.Nodes))*perNodeMemory(l) + uint64(len(l.RouteReflectors()))*reflectorMemory
}

// perNodeMemory is what one node of l costs: its agent (with its BIRD in a BGP lab) and
// the kernel's share.
func perNodeMemory(l *lab.Lab) uint64 {
	if l.BGP != nil {
		return nodeMemory + bgpSpeakerMemory
	}
	return nodeMemory
}

// memoryEstimateLine is the estimate as deploy --dry-run prints it.
func memoryEstimateLine(l *lab.Lab) string {
	if l.BGP != nil {
		return fmt.Sprintf("estimated memory: %s (%d nodes × %s per node, agent with its BIRD and kernel, + %s for the datastore + %d route reflector × %s; measured, docs/benchmarks.md)",
			mib(estimateMemory(l)), len(l.Nodes), mib(perNodeMemory(l)), mib(labMemory), len(l.RouteReflectors()), mib(reflectorMemory))
	}
	return fmt.Sprintf("estimated memory: %s (%d nodes × %s per node, agent and kernel, + %s for the datastore; measured, docs/benchmarks.md)",
		mib(estimateMemory(l)), len(l.Nodes), mib(nodeMemory), mib(labMemory))
}

// checkMemory refuses a lab that this host's available memory cannot hold with headroom
// (exit 3: another host, or fewer labs running, can deploy it).
func checkMemory(l *lab.Lab, available func() (uint64, error)) error {
	avail, err := available()
	if err != nil {
		return nil // the kernel does not say: deploy, as before there was an estimate
	}
	need := estimateMemory(l)
	if float64(need) <= memoryHeadroom*float64(avail) {
		return nil
	}
	return exitcode.NewEnvironment(
		fmt.Errorf("lab %s needs about %s (%d nodes × %s + %s), more than %.0f%% of the %s this host has available",
			l.Name, mib(need), len(l.Nodes), mib(perNodeMemory(l)), mib(labMemory), memoryHeadroom*100, mib(avail)),
		"free memory (knetlab status lists running labs; knetlab destroy removes one), use a lab with fewer nodes, or a larger host")
}

// availableMemory is MemAvailable of /proc/meminfo: what the host can give without swapping.
var availableMemory = func() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kib, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/meminfo has no MemAvailable")
}

// mib formats a byte count in MiB, or GiB from 1 GiB up.
func mib(b uint64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%d MiB", b>>20)
}
