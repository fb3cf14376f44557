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
	Pods       []Pod
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

// Pod is a pod with its IP.
type Pod struct {
	Namespace string
	Name      string
	Node      string
	IP        netip.Addr
}
