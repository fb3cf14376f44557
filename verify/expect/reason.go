package expect

import (
	"fmt"
	"net/netip"

	"github.com/knetlab/knetlab/verify/facts"
)

// ReasonKind is which rule of docs/dataplane.md an expected entry comes from.
type ReasonKind uint8

// The rules.
const (
	LocalBlock ReasonKind = iota + 1
	VXLANSameSubnet
	VXLANCrossSubnet
	VXLANAlways
	IPIPSameSubnet
	IPIPCrossSubnet
	IPIPAlways
	BGPDirect
	TunnelHostRoute
)

// Reason is why an expected entry must exist. It is kept as the facts it was derived from and
// only turned into text for a finding: a 1,000-node cluster has a million expected routes and
// only the wrong ones are ever explained.
type Reason struct {
	Kind ReasonKind
	Self *facts.Node // the node the entry is on
	Peer *facts.Node // the block's owner, or the remote node
	Pool *facts.Pool
	Dst  netip.Prefix
}

// Text explains the expectation. parent names the node's underlay interface when the node
// state showed which one it is; "" says "the underlay interface".
func (r Reason) Text(parent string) string {
	if parent == "" {
		parent = "the underlay interface"
	}
	switch r.Kind {
	case LocalBlock:
		return fmt.Sprintf("%s owns %s (confirmed affinity, pool %s): a local block is blackholed so that its unused addresses are dropped, not sent to the default route",
			r.Self.Name, r.Dst, r.Pool.Name)
	case VXLANSameSubnet:
		return fmt.Sprintf("pool %s is VXLAN CrossSubnet and %s %s is inside %s's %s: %s goes direct via %s",
			r.Pool.Name, r.Peer.Name, r.Peer.Address.Addr(), r.Self.Name, r.Self.Address.Masked(), r.Dst, parent)
	case VXLANCrossSubnet:
		return fmt.Sprintf("%s is in %s, not in %s's %s: %s must go via vxlan.calico (pool %s is VXLAN CrossSubnet)",
			r.Peer.Name, r.Peer.Address.Masked(), r.Self.Name, r.Self.Address.Masked(), r.Dst, r.Pool.Name)
	case VXLANAlways:
		return fmt.Sprintf("pool %s is VXLAN Always: %s of %s must go via vxlan.calico to its tunnel address %s",
			r.Pool.Name, r.Dst, r.Peer.Name, r.Peer.VXLANTunnelAddr)
	case IPIPSameSubnet:
		return fmt.Sprintf("pool %s is IPIP CrossSubnet and %s %s is inside %s's %s: %s goes direct via %s",
			r.Pool.Name, r.Peer.Name, r.Peer.Address.Addr(), r.Self.Name, r.Self.Address.Masked(), r.Dst, parent)
	case IPIPCrossSubnet:
		return fmt.Sprintf("%s is in %s, not in %s's %s: %s must go through tunl0 (pool %s is IPIP CrossSubnet)",
			r.Peer.Name, r.Peer.Address.Masked(), r.Self.Name, r.Self.Address.Masked(), r.Dst, r.Pool.Name)
	case IPIPAlways:
		return fmt.Sprintf("pool %s is IPIP Always: %s of %s must go through tunl0 to %s",
			r.Pool.Name, r.Dst, r.Peer.Name, r.Peer.Address.Addr())
	case BGPDirect:
		return fmt.Sprintf("pool %s has no encapsulation (vxlanMode and ipipMode Never): %s of %s is routed by BGP via %s on %s",
			r.Pool.Name, r.Dst, r.Peer.Name, r.Peer.Address.Addr(), parent)
	case TunnelHostRoute:
		return fmt.Sprintf("some Calico versions add a /32 to %s's tunnel address %s; tolerated, never required",
			r.Peer.Name, r.Dst.Addr())
	}
	return ""
}
