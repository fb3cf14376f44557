package storefacts

import (
	"context"
	"fmt"

	"github.com/knetlab/knetlab/internal/calicoview"
	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore"
)

// Objects reads the datastore's IPAM data as Calico's own objects, for knetlab get: pools,
// nodes and workload endpoints as projectcalico.org/v3, block affinities and IPAM blocks as
// the crd.projectcalico.org/v1 CRDs. Each list is sorted by name.
func Objects(ctx context.Context, s datastore.Store) (*calicoview.Objects, error) {
	o := &calicoview.Objects{}
	pools, _, err := datastore.IPPools(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("ippools from datastore: %w", err)
	}
	for _, p := range pools {
		o.Pools = append(o.Pools, calicoview.IPPool{
			APIVersion: calicoview.APIv3, Kind: "IPPool", Metadata: calicoview.Meta{Name: p.Metadata.Name},
			Spec: calicoview.IPPoolSpec{
				CIDR: p.Spec.CIDR.String(), BlockSize: p.Spec.BlockSize,
				IPIPMode: string(p.Spec.IPIPMode), VXLANMode: string(p.Spec.VXLANMode),
				NATOutgoing: p.Spec.NATOutgoing, Disabled: p.Spec.Disabled, NodeSelector: p.Spec.NodeSelector,
				DisableBGPExport: p.Spec.DisableBGPExport,
			},
		})
	}
	nodes, _, err := datastore.Nodes(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("nodes from datastore: %w", err)
	}
	for _, n := range nodes {
		cn := calicoview.Node{APIVersion: calicoview.APIv3, Kind: "Node", Metadata: calicoview.Meta{Name: n.Metadata.Name},
			Spec: calicoview.NodeSpec{VXLANTunnelMACAddr: n.Spec.VXLANTunnelMACAddr}}
		if n.Spec.BGP.IPv4Address.IsValid() {
			cn.Spec.BGP = &calicoview.NodeBGPSpec{IPv4Address: n.Spec.BGP.IPv4Address.String()}
		}
		if n.Spec.IPv4VXLANTunnelAddr.IsValid() {
			cn.Spec.IPv4VXLANTunnelAddr = n.Spec.IPv4VXLANTunnelAddr.String()
		}
		o.Nodes = append(o.Nodes, cn)
	}
	affs, _, err := datastore.BlockAffinities(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("block affinities from datastore: %w", err)
	}
	for _, a := range affs {
		o.Affinities = append(o.Affinities, calicoview.BlockAffinity{
			APIVersion: calicoview.APICRDv1, Kind: "BlockAffinity", Metadata: calicoview.Meta{Name: a.Metadata.Name},
			Spec: calicoview.BlockAffinitySpec{CIDR: a.Spec.CIDR.String(), Deleted: fmt.Sprint(a.Spec.Deleted), Node: a.Spec.Node, State: a.Spec.State},
		})
	}
	blocks, _, err := datastore.IPAMBlocks(s).List(ctx)
	if err != nil {
		return nil, fmt.Errorf("ipam blocks from datastore: %w", err)
	}
	for _, b := range blocks {
		cb := calicoview.IPAMBlock{
			APIVersion: calicoview.APICRDv1, Kind: "IPAMBlock", Metadata: calicoview.Meta{Name: b.Metadata.Name},
			Spec: calicoview.IPAMBlockSpec{
				Affinity: b.Spec.Affinity, Allocations: b.Spec.Allocations, CIDR: b.Spec.CIDR.String(),
				Deleted: b.Spec.Deleted, Unallocated: b.Spec.Unallocated,
			},
		}
		for _, a := range b.Spec.Attributes {
			cb.Spec.Attributes = append(cb.Spec.Attributes, calicoview.AllocationAttribute{HandleID: a.HandleID, Secondary: a.Secondary})
		}
		o.Blocks = append(o.Blocks, cb)
		for _, p := range blockPods(b) {
			o.Endpoints = append(o.Endpoints, calicoview.PodEndpoint(p.Namespace, p.Name, p.Node, p.IP,
				cni.HostVethName(cni.PodID{Namespace: p.Namespace, Name: p.Name})))
		}
	}
	o.Sort()
	return o, nil
}
