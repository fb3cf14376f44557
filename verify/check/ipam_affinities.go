package check

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/knetlab/knetlab/verify/report"
)

// ipamAffinities: every node owns at least one confirmed block; every block lies in a pool, is
// aligned to the pool's blockSize, overlaps no other block and has one owner, the same in its
// BlockAffinity and its IPAMBlock where the facts hold both. Per node for ownership, "cluster"
// for the blocks themselves.
func ipamAffinities(_ context.Context, in *Inputs) []*report.Node {
	if why := ownershipNotCaptured(in); why != "" {
		return append(skipAll(in, why), &report.Node{Node: Cluster, Status: report.Skipped, Reason: why})
	}
	owners, conflicts := in.Facts.Ownership()
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
	for _, o := range owners {
		entry := o.CIDR.String()
		if !known[o.Node] {
			cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Unexpected, Entry: entry, Found: "affinity to " + o.Node,
				Reason: fmt.Sprintf("no node %s in the facts (%s): the block of a deleted node is never routed", o.Node, strings.Join(o.Sources, ", "))})
		}
		owned[o.Node]++
		blocks = append(blocks, block{o.CIDR, o.Node})
		pool, ok := in.Expect.PoolOf(o.CIDR)
		switch {
		case !ok:
			cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Broken, Entry: entry, Field: "pool",
				Expected: "inside a pool", Found: "in no pool", Reason: "only blocks inside a pool are Calico's to route"})
		case o.CIDR.Bits() != pool.BlockSize:
			cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Broken, Entry: entry, Field: "alignment",
				Expected: fmt.Sprintf("a /%d aligned to its size", pool.BlockSize), Found: o.CIDR.String(),
				Reason: fmt.Sprintf("pool %s has blockSize %d", pool.Name, pool.BlockSize)})
		}
	}
	for _, c := range conflicts {
		if c.InProgress {
			cluster.Notes = append(cluster.Notes, fmt.Sprintf("%s not judged: %s (%s)", c.CIDR, c.Reason, strings.Join(c.Claims, "; ")))
			continue
		}
		cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Broken, Entry: c.CIDR.String(), Field: "owner",
			Expected: "one owner, the same in its BlockAffinity and its IPAMBlock", Found: strings.Join(c.Claims, "; "), Reason: c.Reason})
		for _, n := range c.Nodes {
			owned[n]++ // the conflict is the finding; the node is not also without a block
		}
		blocks = append(blocks, block{c.CIDR, strings.Join(c.Nodes, " and ")})
	}
	for _, b := range in.Facts.Blocks {
		if b.Contradiction != "" && !b.Deleted {
			cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Broken, Entry: b.CIDR.String(), Field: "allocations",
				Expected: "every address either free or in use", Found: b.Contradiction,
				Reason: "Calico hands out the addresses listed free: one in use would be given to a second pod"})
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
			cluster.Findings = append(cluster.Findings, report.Finding{Kind: report.Broken, Entry: b.cidr.String(), Field: "overlap",
				Expected: "no overlap", Found: fmt.Sprintf("inside %s (%s)", a.cidr, a.owner), Reason: "blocks of one pool never overlap"})
		}
	}

	// Without a tunnel (plain BGP pools) nothing but a pod gives a node a block: a node that
	// hosts none owns none, rightly. That is known only where the pods are (live, or captured).
	podsKnown := in.Live || len(in.Facts.Pods) > 0
	hosts := map[string]bool{}
	for _, p := range in.Facts.Pods {
		hosts[p.Node] = true
	}
	out := make([]*report.Node, 0, len(in.Expect.Nodes)+1)
	for _, n := range in.Expect.Nodes {
		r := &report.Node{Node: n.Name()}
		switch {
		case owned[n.Name()] > 0:
		case in.Expect.TunnelDevice() == "" && podsKnown && !hosts[n.Name()]:
			r.Notes = append(r.Notes, fmt.Sprintf("%s owns no confirmed block: it hosts no pod, and without a tunnel (no VXLAN or IPIP pool) nothing else gives a node a block", n.Name()))
		default:
			r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: "block affinity", Expected: "at least one confirmed block",
				Reason: fmt.Sprintf("every node with pods gets a block; %s has none confirmed, so its pods have no addresses to route", n.Name())})
		}
		out = append(out, r)
	}
	return append(out, cluster)
}
