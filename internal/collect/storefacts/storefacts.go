// Package storefacts collects verify's facts from knetlab's own datastore (etcd or the
// Kubernetes CRD backend): pools, nodes, block affinities and the pods that IPAM allocations
// name. Both providers' labs running knetlab's CNI are judged from it; the datastore itself
// knows nothing of verify.
package storefacts

import (
	"context"
	"fmt"
	"slices"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/verify/facts"
)

// Load reads what verify needs from a datastore, etcd or kubernetes alike: pools, nodes, block
// affinities, and pods (every allocation recorded with a namespace and pod name). Both
// providers' labs running knetlab's CNI are judged from it.
func Load(ctx context.Context, s datastore.Store) (*facts.Facts, error) {
	f := &facts.Facts{}
	pools, _, err := datastore.IPPools(s).List(ctx)
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
	nodes, _, err := datastore.Nodes(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("facts from datastore: %w", err)
	}
	for _, n := range nodes {
		f.Nodes = append(f.Nodes, facts.Node{
			Name: n.Metadata.Name, Address: n.Spec.BGP.IPv4Address,
			VXLANTunnelAddr: n.Spec.IPv4VXLANTunnelAddr, VXLANTunnelMAC: n.Spec.VXLANTunnelMACAddr,
		})
	}
	affs, _, err := datastore.BlockAffinities(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("facts from datastore: %w", err)
	}
	for _, a := range affs {
		f.Affinities = append(f.Affinities, facts.BlockAffinity{
			Node: a.Spec.Node, CIDR: a.Spec.CIDR, State: a.Spec.State, Deleted: a.Spec.Deleted,
		})
	}
	blocks, _, err := datastore.IPAMBlocks(s).List(ctx)
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
func blockPods(b *datastore.IPAMBlock) []facts.Pod {
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
		if sec[datastore.AttrNamespace] == "" || sec[datastore.AttrPod] == "" {
			continue
		}
		node := sec[datastore.AttrNode]
		if node == "" {
			node = b.Spec.AffineNode()
		}
		out = append(out, facts.Pod{Namespace: sec[datastore.AttrNamespace], Name: sec[datastore.AttrPod], Node: node, IP: addr})
	}
	return out
}
