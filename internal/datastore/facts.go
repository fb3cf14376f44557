package datastore

import (
	"context"
	"fmt"
	"slices"

	"github.com/knetlab/knetlab/verify/facts"
)

// Facts reads what verify needs from a datastore, etcd or kubernetes alike: pools, nodes, block
// affinities, and pods (every allocation recorded with a namespace and pod name). Both
// providers' labs running knetlab's CNI are judged from it.
func Facts(ctx context.Context, s Store) (*facts.Facts, error) {
	f := &facts.Facts{}
	pools, _, err := IPPools(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("facts from datastore: %w", err)
	}
	for _, p := range pools {
		f.Pools = append(f.Pools, facts.Pool{
			Name: p.Metadata.Name, CIDR: p.Spec.CIDR, BlockSize: p.Spec.BlockSize,
			VXLANMode: p.Spec.VXLANMode, IPIPMode: p.Spec.IPIPMode,
			NATOutgoing: p.Spec.NATOutgoing, Disabled: p.Spec.Disabled,
		})
	}
	nodes, _, err := Nodes(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("facts from datastore: %w", err)
	}
	for _, n := range nodes {
		f.Nodes = append(f.Nodes, facts.Node{
			Name: n.Metadata.Name, Address: n.Spec.BGP.IPv4Address,
			VXLANTunnelAddr: n.Spec.IPv4VXLANTunnelAddr, VXLANTunnelMAC: n.Spec.VXLANTunnelMACAddr,
		})
	}
	affs, _, err := BlockAffinities(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("facts from datastore: %w", err)
	}
	for _, a := range affs {
		f.Affinities = append(f.Affinities, facts.BlockAffinity{
			Node: a.Spec.Node, CIDR: a.Spec.CIDR, State: a.Spec.State, Deleted: a.Spec.Deleted,
		})
	}
	blocks, _, err := IPAMBlocks(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("facts from datastore: %w", err)
	}
	for _, b := range blocks {
		f.Pods = append(f.Pods, blockPods(b)...)
	}
	slices.SortFunc(f.Pods, func(a, b facts.Pod) int { return a.IP.Compare(b.IP) })
	return f, nil
}

// blockPods lists the pods holding addresses in the block. Allocations without a pod (the
// tunnel address) are not pods.
func blockPods(b *IPAMBlock) []facts.Pod {
	var out []facts.Pod
	addr := b.Spec.CIDR.Masked().Addr()
	for ord, attr := range b.Spec.Allocations {
		if ord > 0 {
			addr = addr.Next()
		}
		if attr == nil || *attr < 0 || *attr >= len(b.Spec.Attributes) {
			continue
		}
		sec := b.Spec.Attributes[*attr].Secondary
		if sec[AttrNamespace] == "" || sec[AttrPod] == "" {
			continue
		}
		node := sec[AttrNode]
		if node == "" {
			node = b.Spec.AffineNode()
		}
		out = append(out, facts.Pod{Namespace: sec[AttrNamespace], Name: sec[AttrPod], Node: node, IP: addr})
	}
	return out
}
