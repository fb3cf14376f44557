package check

import (
	"github.com/knetlab/knetlab/verify/checkid"
)

// registry declares every check, in the report order of checkid.All. Adding a check is one
// entry here and one file.
var registry = []Check{
	{ID: checkid.TopologyNodes, Title: "lab nodes exist and run", Needs: NeedTopology, Run: topologyNodes},
	{ID: checkid.SwitchPorts, Title: "switch ports up, in the lab VLANs, named", Needs: NeedLab | NeedSwitch, Run: switchPorts},
	{ID: checkid.SwitchSVIs, Title: "SVIs up with the gateway addresses", Needs: NeedLab | NeedSwitch, Run: switchSVIs},
	{ID: checkid.SwitchRoutes, Title: "switch routes to every node subnet", Needs: NeedLab | NeedSwitch, Run: switchRoutes},
	{ID: checkid.IPAMPools, Title: "IP pools as declared", Needs: NeedFacts, Run: ipamPools},
	{ID: checkid.IPAMAffinities, Title: "block affinities consistent", Needs: NeedFacts, Run: ipamAffinities},
	{ID: checkid.RoutesBlocks, Title: "block routes as the affinities say", Needs: NeedFacts | NeedNodes, Run: routesBlocks},
	{ID: checkid.RoutesPods, Title: "a route per local pod, none stale", Needs: NeedFacts | NeedNodes, Run: routesPods},
	{ID: checkid.VXLANDevice, Title: "vxlan.calico device", Needs: NeedFacts | NeedNodes, Run: vxlanDevice},
	{ID: checkid.VXLANNeigh, Title: "permanent neighbours for remote VTEPs", Needs: NeedFacts | NeedNodes, Run: vxlanNeigh},
	{ID: checkid.VXLANFDB, Title: "FDB entries for remote VTEPs", Needs: NeedFacts | NeedNodes, Run: vxlanFDB},
	{ID: checkid.PodsWiring, Title: "pod and host veth wiring", Needs: NeedFacts | NeedNodes, Run: podsWiring},
	{ID: checkid.ConnectivityPods, Title: "every pod pings every pod", Needs: NeedFacts | NeedProber | WantNodes, Run: connectivityPods},
	{ID: checkid.ConnectivityEncap, Title: "only cross-subnet traffic is encapsulated", Needs: NeedFacts | NeedProber | WantNodes, Run: connectivityEncap},
	{ID: checkid.NATOutgoing, Title: "masquerade for natOutgoing pools", Needs: NeedFacts | NeedNodes, Run: natOutgoing},
	{ID: checkid.BGPPeers, Title: "BGP sessions Established with every peer", Needs: NeedFacts | NeedNodes | NeedLab | NeedReflectors,
		Run: bgpPeers, NotApplicable: noBGPInLab},
	{ID: checkid.BGPRIB, Title: "blocks in BGP RIBs once, via their owner", Needs: NeedFacts | NeedNodes | NeedReflectors,
		Run: bgpRIB, NotApplicable: bgpRIBNotApplicable},
}

// All returns every check in report order.
func All() []Check { return append([]Check(nil), registry...) }

// Lookup returns the check with the ID.
func Lookup(id string) (Check, bool) {
	for _, c := range registry {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}
