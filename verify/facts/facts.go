// Package facts is what the cluster says must exist: IP pools, nodes, block affinities, pods
// (docs/dataplane.md, "The facts"). The expected tables are computed from these alone.
package facts

import (
	"net/netip"

	"github.com/knetlab/knetlab/internal/calico"
)

// Facts is the cluster's IPAM and node data.
type Facts struct {
	Pools      []Pool
	Nodes      []Node
	Affinities []BlockAffinity
	// Blocks are the IPAMBlock objects: block ownership beside or instead of Affinities, and
	// the addresses in use in each block.
	Blocks []IPAMBlock
	Pods   []Pod
}

// Pool is a Calico IPPool.
type Pool struct {
	Name        string
	CIDR        netip.Prefix
	BlockSize   int
	VXLANMode   calico.EncapMode
	IPIPMode    calico.EncapMode
	NATOutgoing bool
	Disabled    bool
}

// Node is a Calico node.
type Node struct {
	Name            string
	Address         netip.Prefix // underlay address with prefix, e.g. 10.10.10.11/24
	VXLANTunnelAddr netip.Addr   // invalid when the node has none
	VXLANTunnelMAC  string       // "" when not configured: derived from the name
	// Ready is the Kubernetes Node's Ready condition as the source recorded it ("True",
	// "False", "Unknown"); "" when the source does not say (a Calico Node, a bare capture).
	Ready string
}

// BlockAffinity ties a block to a node.
type BlockAffinity struct {
	Node    string
	CIDR    netip.Prefix
	State   string // "confirmed", "pending", "pendingDeletion"
	Deleted bool
}

// IPAMBlock is a Calico IPAM block as its IPAMBlock object states it.
type IPAMBlock struct {
	CIDR netip.Prefix
	// Node is the host of spec.affinity "host:<node>"; "" when the block is affine to no host.
	Node    string
	Deleted bool
	// AllocationsKnown is true when the object carries spec.allocations: then Allocations are
	// every address in use in the block, and an address not among them is free.
	AllocationsKnown bool
	Allocations      []Allocation
	// Contradiction says how spec.unallocated contradicts spec.allocations (an address both in
	// use and free); "" when they agree or unallocated is absent. A block that contradicts
	// itself does not make the facts complete (AllocationsKnown is then false).
	Contradiction string
}

// Allocation is one address in use in a block, with what its attributes say of its holder.
type Allocation struct {
	IP     netip.Addr
	Handle string // attributes[].handle_id, e.g. k8s-pod-network.<container id>
	// From attributes[].secondary: a pod's namespace, name and node; or the node and the type
	// ("vxlanTunnelAddress", "ipipTunnelAddress") of a tunnel address.
	Namespace, Pod, Node, Type string
}

// IsPod reports whether the allocation names the pod holding the address.
func (a Allocation) IsPod() bool { return a.Pod != "" }

// Pod is a pod with its IP.
type Pod struct {
	Namespace string
	Name      string
	Node      string
	IP        netip.Addr
}
