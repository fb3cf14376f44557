// Package checkid holds the stable check IDs of docs/verify.md ("The checks"). They are part of knetlab's public
// contract (--check, JSON, JUnit), so they live in one place that lab files and the verify
// engine both read.
package checkid

// The check IDs, in report order.
const (
	TopologyNodes     = "topology.nodes"
	SwitchPorts       = "switch.ports"
	SwitchSVIs        = "switch.svis"
	SwitchRoutes      = "switch.routes"
	IPAMPools         = "ipam.pools"
	IPAMAffinities    = "ipam.affinities"
	RoutesBlocks      = "routes.blocks"
	RoutesPods        = "routes.pods"
	VXLANDevice       = "vxlan.device"
	VXLANNeigh        = "vxlan.neigh"
	VXLANFDB          = "vxlan.fdb"
	PodsWiring        = "pods.wiring"
	ConnectivityPods  = "connectivity.pods"
	ConnectivityEncap = "connectivity.encap"
	NATOutgoing       = "nat.outgoing"
)

// The BGP check IDs. They read the lab's BGP configuration, so a lab without one cannot
// declare them.
const (
	BGPPeers = "bgp.peers"
	BGPRIB   = "bgp.rib"
)

// All lists every check ID in report order.
var All = []string{
	TopologyNodes, SwitchPorts, SwitchSVIs, SwitchRoutes,
	IPAMPools, IPAMAffinities,
	RoutesBlocks, RoutesPods,
	VXLANDevice, VXLANNeigh, VXLANFDB,
	PodsWiring,
	ConnectivityPods, ConnectivityEncap,
	NATOutgoing,
	BGPPeers, BGPRIB,
}

// Known reports whether id is a check ID.
func Known(id string) bool {
	for _, c := range All {
		if c == id {
			return true
		}
	}
	return false
}

// NeedsSwitch reports whether the check reads the lab's switch.
func NeedsSwitch(id string) bool {
	return id == SwitchPorts || id == SwitchSVIs || id == SwitchRoutes
}

// NeedsBGP reports whether the check reads the lab's BGP configuration (peers, reflectors).
func NeedsBGP(id string) bool {
	return id == BGPPeers || id == BGPRIB
}
