// Package dataplane makes one node's kernel match the Calico dataplane of docs/dataplane.md: the
// vxlan.calico device, block routes, VTEP neighbours and FDB entries, and natOutgoing. It takes
// plain inputs (the node, its peers, the block affinities, the pools) so that the agent can feed
// it from any datastore, and it touches only what it owns.
//
// The computation of what must exist (Plan) is kept apart from the code that talks to the
// kernel (Programmer), so that a reader can learn Calico's rules from plan.go alone.
package dataplane

import (
	"crypto/sha1"
	"fmt"
	"net"
	"net/netip"

	"github.com/knetlab/knetlab/internal/calico"
)

// Pool is an IPPool as far as the dataplane cares.
type Pool struct {
	CIDR        netip.Prefix
	VXLANMode   calico.EncapMode
	IPIPMode    calico.EncapMode
	NATOutgoing bool
	Disabled    bool
}

// Host is a Kubernetes node seen by the dataplane: the node being programmed or one of its peers.
type Host struct {
	Name string
	// Underlay is the node's address with the prefix of its subnet, e.g. 10.10.10.11/24. Only
	// the programmed node's prefix length matters (CrossSubnet compares against it).
	Underlay netip.Prefix
	// TunnelIP is the address of vxlan.calico; invalid when the node has none yet.
	TunnelIP netip.Addr
	// VTEPMAC is the configured VXLAN MAC; empty means "derive it from the name" (VTEPMAC).
	VTEPMAC net.HardwareAddr
}

// Block is a confirmed block affinity: Node owns CIDR.
type Block struct {
	CIDR netip.Prefix
	Node string
}

// DesiredState is everything the agent knows about the cluster, from the point of view of Self.
type DesiredState struct {
	Self Host
	// Parent is the interface holding Self's underlay address; empty means find it by address.
	Parent string
	Peers  []Host
	Blocks []Block
	Pools  []Pool
	// Workloads are the local pods the datastore records, whose routes and host-side veth
	// settings the agent restores (Workload says what it owns).
	Workloads []Workload
	// BGP says the node speaks BGP through a BGP daemon (BIRD, as on calico-node): the
	// blocks of pools without encapsulation are the daemon's to route. It installs what it
	// learned (`via <owner> proto bird`) and blackholes the node's own blocks proto bird, so
	// the plan leaves those blocks out and the agent never touches a proto bird route.
	BGP bool
}

// VTEPMAC returns the VXLAN MAC a node uses when none is configured: 0x66 followed by the
// first five bytes of SHA-1 of the node name. Deriving it from the name gives every node a
// stable, locally administered MAC (0x66 has the local bit set) that peers can compute too.
func VTEPMAC(nodeName string) net.HardwareAddr {
	sum := sha1.Sum([]byte(nodeName))
	return net.HardwareAddr{0x66, sum[0], sum[1], sum[2], sum[3], sum[4]}
}

// macOf is h's configured VTEP MAC or the derived one.
func macOf(h Host) net.HardwareAddr {
	if len(h.VTEPMAC) == 6 {
		return h.VTEPMAC
	}
	return VTEPMAC(h.Name)
}

// Validate reports what makes the desired state impossible to program, all at once.
func (d DesiredState) Validate() error {
	var problems []string
	if d.Self.Name == "" {
		problems = append(problems, "the node has no name")
	}
	if !d.Self.Underlay.IsValid() || !d.Self.Underlay.Addr().Is4() {
		problems = append(problems, fmt.Sprintf("node %q has no IPv4 underlay address", d.Self.Name))
	}
	for _, p := range d.Peers {
		if p.Name == d.Self.Name {
			problems = append(problems, fmt.Sprintf("peer %q is the node itself", p.Name))
		}
		if !p.Underlay.IsValid() {
			problems = append(problems, fmt.Sprintf("peer %q has no underlay address", p.Name))
		}
	}
	for _, p := range d.Pools {
		if !p.CIDR.IsValid() {
			problems = append(problems, "a pool has no CIDR")
		}
		if p.VXLANMode.OrNever() != calico.EncapNever && p.IPIPMode.OrNever() != calico.EncapNever {
			problems = append(problems, fmt.Sprintf("pool %s enables both VXLAN and IPIP", p.CIDR))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("desired state of node %q: %v; fix the node/pool data in the datastore", d.Self.Name, problems)
}
