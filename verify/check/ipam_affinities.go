package check

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/knetlab/knetlab/verify/report"
)

// ipamAffinities: every node owns at least one confirmed block; every confirmed block lies in
// a pool, is aligned to the pool's blockSize, overlaps no other block and has one owner.
// Per node for ownership, "cluster" for the blocks themselves.
func ipamAffinities(_ context.Context, in *Inputs) []*report.Node {
	owned := map[string]int{}
	type block struct {
		cidr  netip.Prefix
		owner string
	}
	var blocks []block
	cluster := &report.Node{Node: Cluster}
	known := map[string]bool{}
	for _, n := range in.Facts.Nodes {
		known[n.Name] = true
	}
	for _, a := range in.Facts.Affinities {
		if a.Deleted || a.State != "confirmed" || !a.CIDR.IsValid() {
			continue
		}
		entry := a.CIDR.String()
		if !known[a.Node] {
			cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Unexpected, Entry: entry, Found: "affinity to " + a.Node,
				Reason: fmt.Sprintf("no node %s in the facts: the block of a deleted node is never routed", a.Node)})
		}
		owned[a.Node]++
		blocks = append(blocks, block{a.CIDR, a.Node})
		pool, ok := in.Expect.PoolOf(a.CIDR)
		switch {
		case !ok:
			cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Broken, Entry: entry, Field: "pool",
				Expected: "inside a pool", Found: "in no pool", Reason: "only blocks inside a pool are Calico's to route"})
		case a.CIDR.Bits() != pool.BlockSize || a.CIDR != a.CIDR.Masked():
			cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Broken, Entry: entry, Field: "alignment",
				Expected: fmt.Sprintf("a /%d aligned to its size", pool.BlockSize), Found: a.CIDR.String(),
				Reason: fmt.Sprintf("pool %s has blockSize %d", pool.Name, pool.BlockSize)})
		}
	}
	// Sorted by address, a block can only overlap the ones that follow it until one starts past
	// its end: n log n, not n².
	sort.Slice(blocks, func(i, j int) bool {
		if c := blocks[i].cidr.Addr().Compare(blocks[j].cidr.Addr()); c != 0 {
			return c < 0
		}
		return blocks[i].cidr.Bits() < blocks[j].cidr.Bits()
	})
	for i := range blocks {
		for j := i + 1; j < len(blocks) && blocks[i].cidr.Contains(blocks[j].cidr.Addr()); j++ {
			a, b := blocks[i], blocks[j]
			if a.cidr == b.cidr {
				if a.owner == b.owner {
					continue // the same affinity listed twice (v1 and v3 objects)
				}
				cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Broken, Entry: a.cidr.String(), Field: "owner",
					Expected: "one owner", Found: a.owner + " and " + b.owner, Reason: "a block has exactly one confirmed affinity"})
				continue
			}
			cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Broken, Entry: b.cidr.String(), Field: "overlap",
				Expected: "no overlap", Found: fmt.Sprintf("inside %s (%s)", a.cidr, a.owner), Reason: "blocks of one pool never overlap"})
		}
	}

	out := make([]*report.Node, 0, len(in.Expect.Nodes)+1)
	for _, n := range in.Expect.Nodes {
		r := &report.Node{Node: n.Name()}
		if owned[n.Name()] == 0 {
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: "block affinity", Expected: "at least one confirmed block",
				Reason: fmt.Sprintf("every node with pods gets a block; %s has none confirmed, so its pods have no addresses to route", n.Name())})
		}
		out = append(out, r)
	}
	return append(out, cluster)
}
