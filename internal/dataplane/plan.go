package dataplane

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/calico"
)

// The names and numbers of docs/dataplane.md. They are Calico's, so that one verify judges both.
const (
	VXLANDeviceName = "vxlan.calico"
	VXLANVNI        = 4096
	VXLANPort       = 4789
	// VXLANOverhead is what VXLAN adds to an IPv4 packet (outer IP 20 + UDP 8 + VXLAN 8 + inner
	// Ethernet 14): the device MTU is the parent's minus this, 1450 on a 1500 underlay.
	VXLANOverhead  = 50
	IPIPDeviceName = "tunl0"
)

// Route protocols, the numbers `ip route` prints after "proto". Each route carries the one
// Calico itself would give it, so that the lab's tables read like a Calico node's.
const (
	// ProtoNone is RTPROT_BOOT, which `ip route` does not print: what Felix gives its routes
	// through vxlan.calico (remote blocks and the /32 to each remote tunnel address).
	ProtoNone = unix.RTPROT_BOOT
	// ProtoFelix (80) marks Felix's other routes: local blackholes and same-subnet routes.
	ProtoFelix = 80
	// ProtoBird (12) marks routes a BGP daemon (BIRD in Calico) learned from its peers.
	ProtoBird = unix.RTPROT_BIRD
)

// protoNames are the names iproute2 prints instead of a number (/etc/iproute2/rt_protos).
var protoNames = map[int]string{unix.RTPROT_KERNEL: "kernel", unix.RTPROT_STATIC: "static", ProtoBird: "bird"}

// protoString is the "proto X" part of a route as `ip route` prints it, "" for ProtoNone.
func protoString(p int) string {
	if p == ProtoNone || p == 0 {
		return ""
	}
	if n, ok := protoNames[p]; ok {
		return " proto " + n
	}
	return fmt.Sprintf(" proto %d", p)
}

// Route is one route the node must have. A route either blackholes Dst, or sends it Via a
// gateway out of Dev, or (no Via) reaches Dst directly on Dev's link ("scope link").
type Route struct {
	Dst       netip.Prefix
	Blackhole bool
	Via       netip.Addr
	Dev       string
	OnLink    bool
	// Protocol is the route's "proto" (ProtoNone, ProtoFelix, ProtoBird).
	Protocol int
	// Why is the rule of docs/dataplane.md that demands the route, for logs and error messages.
	Why string
}

func (r Route) String() string {
	if r.Blackhole {
		return fmt.Sprintf("blackhole %s%s", r.Dst, protoString(r.Protocol))
	}
	dst := r.Dst.String()
	if r.Dst.IsSingleIP() {
		dst = r.Dst.Addr().String() // ip route prints a host route without its /32
	}
	if !r.Via.IsValid() {
		return fmt.Sprintf("%s dev %s%s scope link", dst, r.Dev, protoString(r.Protocol))
	}
	s := fmt.Sprintf("%s via %s dev %s%s", dst, r.Via, r.Dev, protoString(r.Protocol))
	if r.OnLink {
		s += " onlink"
	}
	return s
}

// Neighbour is a permanent ARP entry on vxlan.calico: a peer's tunnel address resolves to its
// VTEP MAC without ARP ever crossing the overlay.
type Neighbour struct {
	IP  netip.Addr
	MAC net.HardwareAddr
}

func (n Neighbour) String() string {
	return fmt.Sprintf("%s dev %s lladdr %s PERMANENT", n.IP, VXLANDeviceName, n.MAC)
}

// FDBEntry tells vxlan.calico which underlay address a VTEP MAC lives behind; with learning
// off, these entries are the only way the device knows where to send a frame.
type FDBEntry struct {
	MAC net.HardwareAddr
	Dst netip.Addr
}

func (f FDBEntry) String() string {
	return fmt.Sprintf("%s dev %s dst %s self permanent", f.MAC, VXLANDeviceName, f.Dst)
}

// VXLANDevice is vxlan.calico as docs/dataplane.md describes it. The MTU is not here: it follows the
// parent's MTU, which only the kernel knows.
type VXLANDevice struct {
	Local   netip.Addr
	Parent  string
	MAC     net.HardwareAddr
	Address netip.Addr // the tunnel IP, assigned as a /32
}

// NATPlan is the natOutgoing rule: traffic from Masquerade to anything outside AllPools is
// masqueraded. Empty Masquerade means no NAT table at all.
type NATPlan struct {
	Masquerade []netip.Prefix
	AllPools   []netip.Prefix
}

// Plan is the complete dataplane one node must have.
type Plan struct {
	VXLAN      *VXLANDevice // nil when no enabled pool uses VXLAN
	NeedsIPIP  bool         // some route goes through tunl0
	Routes     []Route
	Neighbours []Neighbour
	FDB        []FDBEntry
	NAT        NATPlan
	// Skipped names blocks that cannot be routed yet and why (an owner without a Node, a
	// block outside every pool); the agent logs them and routes them once the data arrives.
	Skipped []string
}

// ComputePlan applies the rules of docs/dataplane.md to d. It is pure: the same input gives the same plan, sorted.
func ComputePlan(d DesiredState) Plan {
	var plan Plan
	self := d.Self
	peers := make(map[string]Host, len(d.Peers))
	for _, p := range d.Peers {
		peers[p.Name] = p
	}

	// The device exists as soon as one enabled pool may encapsulate in VXLAN, even before any
	// remote block needs it, so that peers can already reach this node's tunnel address.
	for _, pool := range d.Pools {
		if !pool.Disabled && usesEncap(pool.VXLANMode) {
			plan.VXLAN = &VXLANDevice{
				Local:   self.Underlay.Addr(),
				Parent:  d.Parent,
				MAC:     macOf(self),
				Address: self.TunnelIP,
			}
			break
		}
	}

	for _, b := range d.Blocks {
		pool, ok := poolOf(d.Pools, b.CIDR)
		if !ok {
			plan.Skipped = append(plan.Skipped, fmt.Sprintf("block %s of %s is inside no pool", b.CIDR, b.Node))
			continue
		}
		if d.BGP && pool.RoutedByBGP() {
			continue // the BGP daemon's: its blackhole or the route it learned
		}
		if b.Node == self.Name {
			// Addresses of a local block that no pod holds must not leak to the default route.
			plan.Routes = append(plan.Routes, Route{Dst: b.CIDR, Blackhole: true, Protocol: ProtoFelix, Why: "local block"})
			continue
		}
		peer, ok := peers[b.Node]
		if !ok {
			plan.Skipped = append(plan.Skipped, fmt.Sprintf("block %s: owner %s has no Node", b.CIDR, b.Node))
			continue
		}
		r, why, ok := remoteBlockRoute(self, peer, pool, d.Parent, plan.VXLAN != nil)
		if !ok {
			plan.Skipped = append(plan.Skipped, fmt.Sprintf("block %s of %s: %s", b.CIDR, b.Node, why))
			continue
		}
		r.Dst = b.CIDR
		r.Why = why
		if r.Dev == IPIPDeviceName {
			plan.NeedsIPIP = true
		}
		plan.Routes = append(plan.Routes, r)
	}

	plan.Routes = append(plan.Routes, tunnelRoutes(d, plan)...)

	if plan.VXLAN != nil {
		for _, p := range d.Peers {
			mac := macOf(p)
			if p.TunnelIP.IsValid() {
				plan.Neighbours = append(plan.Neighbours, Neighbour{IP: p.TunnelIP, MAC: mac})
			}
			plan.FDB = append(plan.FDB, FDBEntry{MAC: mac, Dst: p.Underlay.Addr()})
		}
	}

	for _, pool := range d.Pools {
		plan.NAT.AllPools = append(plan.NAT.AllPools, pool.CIDR.Masked())
		if pool.NATOutgoing {
			plan.NAT.Masquerade = append(plan.NAT.Masquerade, pool.CIDR.Masked())
		}
	}

	slices.SortFunc(plan.Routes, func(a, b Route) int { return comparePrefix(a.Dst, b.Dst) })
	slices.SortFunc(plan.Neighbours, func(a, b Neighbour) int { return a.IP.Compare(b.IP) })
	slices.SortFunc(plan.FDB, func(a, b FDBEntry) int { return a.Dst.Compare(b.Dst) })
	slices.SortFunc(plan.NAT.AllPools, comparePrefix)
	slices.SortFunc(plan.NAT.Masquerade, comparePrefix)
	return plan
}

// destinations is the set of the routes' destinations.
func destinations(routes []Route) map[netip.Prefix]bool {
	taken := make(map[netip.Prefix]bool, len(routes))
	for _, r := range routes {
		taken[r.Dst] = true
	}
	return taken
}

// RoutedByBGP says whether a pool's blocks travel unencapsulated, so that only BGP can tell a
// node where they are.
func (p Pool) RoutedByBGP() bool {
	return p.VXLANMode.OrNever() == calico.EncapNever && p.IPIPMode.OrNever() == calico.EncapNever
}

// tunnelRoutes are the host routes Calico 3.30 writes to each remote node's tunnel address:
// `<T> dev vxlan.calico scope link` when the overlay reaches that node, and, because Felix
// puts these routes through the same same-subnet test as block routes, `<T> via <M IP> dev
// P proto 80 onlink` for a CrossSubnet peer in this node's subnet. A block route already
// covers the tunnel address (usually the block's first one); the host route keeps it
// reachable when it is not (a borrowed address).
func tunnelRoutes(d DesiredState, plan Plan) []Route {
	if plan.VXLAN == nil {
		return nil
	}
	taken := destinations(plan.Routes)
	var out []Route
	for _, peer := range d.Peers {
		if !peer.TunnelIP.IsValid() || peer.Name == d.Self.Name {
			continue
		}
		dst := netip.PrefixFrom(peer.TunnelIP, peer.TunnelIP.BitLen())
		pool, ok := poolOf(d.Pools, dst)
		if !ok || pool.Disabled || !usesEncap(pool.VXLANMode) || taken[dst] {
			continue
		}
		taken[dst] = true
		peerIP := peer.Underlay.Addr()
		if pool.VXLANMode == calico.EncapCrossSubnet && d.Self.Underlay.Masked().Contains(peerIP) {
			out = append(out, Route{Dst: dst, Via: peerIP, Dev: d.Parent, OnLink: true, Protocol: ProtoFelix,
				Why: fmt.Sprintf("%s's tunnel address; %s is in %s's subnet, so routed directly", peer.Name, peer.Name, d.Self.Name)})
			continue
		}
		out = append(out, Route{Dst: dst, Dev: VXLANDeviceName, Protocol: ProtoNone,
			Why: fmt.Sprintf("%s's tunnel address, reached on vxlan.calico's link", peer.Name)})
	}
	return out
}

// remoteBlockRoute is the heart of docs/dataplane.md: how a block owned by peer is reached from self.
func remoteBlockRoute(self, peer Host, pool Pool, parent string, haveVXLAN bool) (Route, string, bool) {
	peerIP := peer.Underlay.Addr()
	// CrossSubnet asks one question: is the peer inside my underlay subnet? Only my own
	// prefix length counts; the peer's may be written differently.
	sameSubnet := self.Underlay.Masked().Contains(peerIP)
	switch {
	case usesEncap(pool.VXLANMode):
		if pool.VXLANMode == calico.EncapCrossSubnet && sameSubnet {
			return Route{Via: peerIP, Dev: parent, OnLink: true, Protocol: ProtoFelix},
				fmt.Sprintf("CrossSubnet: %s (%s) is in %s's subnet %s, so routed directly", peer.Name, peerIP, self.Name, self.Underlay.Masked()), true
		}
		if !haveVXLAN {
			return Route{}, "its pool needs vxlan.calico, which only enabled VXLAN pools create", false
		}
		if !peer.TunnelIP.IsValid() {
			return Route{}, "its owner has no VXLAN tunnel address yet", false
		}
		why := fmt.Sprintf("VXLAN %s: through %s's tunnel address", pool.VXLANMode, peer.Name)
		if pool.VXLANMode == calico.EncapCrossSubnet {
			why = fmt.Sprintf("CrossSubnet: %s (%s) is not in %s's subnet %s, so through vxlan.calico", peer.Name, peerIP, self.Name, self.Underlay.Masked())
		}
		// Felix writes its routes through vxlan.calico without a protocol.
		return Route{Via: peer.TunnelIP, Dev: VXLANDeviceName, OnLink: true, Protocol: ProtoNone}, why, true
	case usesEncap(pool.IPIPMode):
		if pool.IPIPMode == calico.EncapCrossSubnet && sameSubnet {
			return Route{Via: peerIP, Dev: parent, Protocol: ProtoFelix}, "IPIP CrossSubnet: same subnet, routed directly", true
		}
		return Route{Via: peerIP, Dev: IPIPDeviceName, OnLink: true, Protocol: ProtoFelix}, fmt.Sprintf("IPIP %s: through tunl0", pool.IPIPMode), true
	default:
		return Route{Via: peerIP, Dev: parent, Protocol: ProtoFelix}, "no encapsulation: routed to the owner's underlay address", true
	}
}

func usesEncap(m calico.EncapMode) bool {
	return m == calico.EncapAlways || m == calico.EncapCrossSubnet
}

// poolOf finds the pool that holds the whole block.
func poolOf(pools []Pool, block netip.Prefix) (Pool, bool) {
	for _, p := range pools {
		if p.CIDR.Bits() <= block.Bits() && p.CIDR.Contains(block.Addr()) {
			return p, true
		}
	}
	return Pool{}, false
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
