// Package spec is what the verify engine knows of a lab definition: the nodes, the switch and
// the pools the lab declares, which the checks compare the cluster against. It is a leaf: the
// lab model fills it (lab.Lab.VerifySpec), the engine and the checks read it, and neither has
// to know the other.
package spec

import (
	"net/netip"

	"github.com/knetlab/knetlab/internal/calico"
)

// Lab is a lab definition as verify reads it.
type Lab struct {
	Name string
	// Nodes are the names of the lab's nodes, each of which must run.
	Nodes []string
	// Switch is nil when the lab has none: the switch checks skip.
	Switch *Switch
	// Pools are the IP pools the lab declares: ipam.pools wants exactly these.
	Pools []Pool
	// BGP is nil when the lab does not route its pools with BGP: the bgp checks skip.
	BGP *BGP
}

// Switch is the lab's switch.
type Switch struct {
	Name string
	// Ports are the ports a lab node is connected to, in the order of the lab's nodes.
	Ports []Port
	VLANs []VLAN
}

// Port is a switch port with a lab node behind it.
type Port struct {
	Name string // as the lab names it: eth3
	Node string
	VLAN int // the port's access VLAN
}

// VLAN is one switch VLAN with its SVI.
type VLAN struct {
	ID     int
	Name   string
	Subnet netip.Prefix
	// SVI is the switch interface of the VLAN's gateway (Vlan10), and Gateway its address with
	// the subnet's prefix length (10.10.10.1/24).
	SVI     string
	Gateway netip.Prefix
}

// Pool is one IP pool the lab declares.
type Pool struct {
	Name        string
	CIDR        netip.Prefix
	BlockSize   int
	VXLANMode   calico.EncapMode
	IPIPMode    calico.EncapMode
	NATOutgoing bool
}

// BGP is how the lab's pools are routed by BGP: Calico's BGPConfiguration and BGPPeers, and the
// lab's own route reflectors.
type BGP struct {
	// ASNumber is the nodes' AS (BGPConfiguration default).
	ASNumber uint32
	// Mesh is the node-to-node mesh: every node peers with every other node.
	Mesh bool
	// Peers are, per node name, the BGP peers that apply to it (BGPPeers whose node selector
	// selects it); the mesh is not listed.
	Peers map[string][]Peer
	// Reflectors are the lab's route reflectors, each of which must see every node.
	Reflectors []Reflector
}

// Peer is one BGPPeer as it applies to a node.
type Peer struct {
	Name     string // the BGPPeer's name, e.g. gobgp-peer
	Address  netip.Addr
	ASNumber uint32
	// Selector is the BGPPeer's node selector, e.g. all(), for the findings.
	Selector string
	// Reflector names the lab's route reflector at Address; "" when the peer is another speaker.
	Reflector string
}

// Reflector is one route reflector of the lab.
type Reflector struct {
	Name     string
	Address  netip.Addr
	RouterID netip.Addr
	ASNumber uint32
}
