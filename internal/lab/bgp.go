package lab

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/knetlab/knetlab/internal/calico"
)

// BGP is Calico's BGP configuration (BGPConfiguration default and the BGPPeers) and the lab's
// route reflectors.
type BGP struct {
	ASNumber        uint32           `yaml:"asNumber"`
	NodeToNodeMesh  bool             `yaml:"nodeToNodeMesh"`
	Peers           []BGPPeer        `yaml:"peers,omitempty"`
	RouteReflectors []RouteReflector `yaml:"routeReflectors,omitempty"`
}

// BGPPeer is a Calico BGPPeer: the nodes it selects open a session to its address.
type BGPPeer struct {
	Name string `yaml:"name"`
	// PeerIP is the peer's address; exactly one of PeerIP and Reflector is set.
	PeerIP netip.Addr `yaml:"peerIP,omitempty"`
	// Reflector names a route reflector of this lab; the peer's address is the reflector's.
	Reflector string `yaml:"reflector,omitempty"`
	ASNumber  uint32 `yaml:"asNumber"`
	// NodeSelector is Calico's selector of the nodes that peer; only all() is supported.
	NodeSelector string `yaml:"nodeSelector"`
}

// RouteReflector is a BGP route reflector beside the cluster: the GoBGP container `gobgp` on
// kind's network in the real lab, a namespace on the management network in the netns lab.
type RouteReflector struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	// Address is the reflector's address with the management subnet's prefix length.
	Address   netip.Prefix `yaml:"address"`
	ASNumber  uint32       `yaml:"asNumber"`
	RouterID  netip.Addr   `yaml:"routerID"`
	ClusterID netip.Addr   `yaml:"clusterID"`
	Clients   RRClients    `yaml:"clients"`
}

// RRClients are a reflector's clients: whoever connects from Prefix is accepted as a passive
// dynamic neighbour of PeerGroup, AS PeerAS, and is a route-reflector client.
type RRClients struct {
	Prefix    netip.Prefix `yaml:"prefix"`
	PeerGroup string       `yaml:"peerGroup"`
	PeerAS    uint32       `yaml:"peerAS"`
}

// Address is the peer's address: its PeerIP, or the address of the reflector it names
// (invalid when there is no such reflector).
func (p BGPPeer) Address(l *Lab) netip.Addr {
	if p.PeerIP.IsValid() {
		return p.PeerIP
	}
	if rr, ok := l.RouteReflector(p.Reflector); ok {
		return rr.Address.Addr()
	}
	return netip.Addr{}
}

// PeersOf is the BGP peers whose selector takes node n (every peer: all() is the only selector
// a lab may use). The node-to-node mesh is not among them; callers add it when NodeToNodeMesh.
func (l *Lab) PeersOf(n Node) []BGPPeer {
	if l == nil || l.BGP == nil {
		return nil
	}
	var out []BGPPeer
	for _, p := range l.BGP.Peers {
		if p.NodeSelector == selectAll {
			out = append(out, p)
		}
	}
	return out
}

// RouteReflectors is the lab's route reflectors (none without BGP).
func (l *Lab) RouteReflectors() []RouteReflector {
	if l == nil || l.BGP == nil {
		return nil
	}
	return l.BGP.RouteReflectors
}

// ReflectorNames are the names of the lab's route reflectors, sorted.
func (l *Lab) ReflectorNames() []string {
	var names []string
	for _, rr := range l.RouteReflectors() {
		names = append(names, rr.Name)
	}
	slices.Sort(names)
	return names
}

// RouteReflector returns the named route reflector.
func (l *Lab) RouteReflector(name string) (RouteReflector, bool) {
	if l == nil || l.BGP == nil {
		return RouteReflector{}, false
	}
	for _, rr := range l.BGP.RouteReflectors {
		if rr.Name == name {
			return rr, true
		}
	}
	return RouteReflector{}, false
}

// selectAll is the Calico selector of every node.
const selectAll = "all()"

// peerGroupName is a GoBGP peer-group name as it is written into rr.conf.
var peerGroupName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// reservedAS says why an AS number cannot be a lab's (RFC 7607, RFC 6793, RFC 7300), or "".
func reservedAS(as uint32) string {
	switch as {
	case 0:
		return "AS 0 is reserved (RFC 7607); give an AS number such as 64512 (private: 64512-65534)"
	case 23456:
		return "AS 23456 is reserved as AS_TRANS (RFC 6793)"
	case 65535, 4294967295:
		return fmt.Sprintf("AS %d is reserved (RFC 7300); private AS numbers are 64512-65534 and 4200000000-4294967294", as)
	}
	return ""
}

func (v *validator) as(field string, as uint32) bool {
	if why := reservedAS(as); why != "" {
		v.addf(field, "%s", why)
		return false
	}
	return true
}

// unencapsulated reports whether the pool's blocks are routed natively (BGP, no tunnel).
func unencapsulated(p Pool) bool {
	return p.VXLANMode.OrNever() == calico.EncapNever && p.IPIPMode.OrNever() == calico.EncapNever
}

func (v *validator) validateBGP(l *Lab) {
	b := l.BGP
	if b == nil {
		for i, p := range l.CNI.Pools {
			if p.VXLANMode.Valid() && p.IPIPMode.Valid() && unencapsulated(p) {
				v.addf(fmt.Sprintf("cni.pools[%d].vxlanMode", i), "pool %s has vxlanMode and ipipMode Never: without encapsulation only BGP routes its blocks, and the lab has no bgp section", p.Name)
			}
		}
		return
	}
	nodesAS := v.as("bgp.asNumber", b.ASNumber)
	for i, p := range l.CNI.Pools {
		if p.DisableBGPExport && unencapsulated(p) {
			v.addf(fmt.Sprintf("cni.pools[%d].disableBGPExport", i), "pool %s is not announced over BGP and not encapsulated: nothing would route its blocks", p.Name)
		}
	}
	if !b.NodeToNodeMesh && len(b.Peers) == 0 {
		v.addf("bgp.nodeToNodeMesh", "the node-to-node mesh is off and there are no peers: no node would learn another's blocks (add bgp.peers or set nodeToNodeMesh: true)")
	}

	reflectors := map[string]int{}
	for i, rr := range b.RouteReflectors {
		if _, dup := reflectors[rr.Name]; !dup {
			reflectors[rr.Name] = i
		}
	}
	used := map[string]bool{}
	peerNames := map[string]int{}
	for i, p := range b.Peers {
		f := fmt.Sprintf("bgp.peers[%d]", i)
		v.name(f+".name", p.Name, "peer name", 63)
		if j, dup := peerNames[p.Name]; dup && p.Name != "" {
			v.addf(f+".name", "peer %q is declared twice (also bgp.peers[%d])", p.Name, j)
		}
		peerNames[p.Name] = i
		peerAS := v.as(f+".asNumber", p.ASNumber)
		if p.NodeSelector != selectAll {
			v.addf(f+".nodeSelector", "selector %q is not supported: only all() (every node peers)", p.NodeSelector)
		}
		if p.Reflector != "" {
			used[p.Reflector] = true
		}
		switch {
		case p.PeerIP.IsValid() && p.Reflector != "":
			v.addf(f+".peerIP", "a peer has either peerIP or reflector, not both")
		case p.Reflector != "":
			j, ok := reflectors[p.Reflector]
			if !ok {
				v.addf(f+".reflector", "no route reflector %q (reflectors: %s)", p.Reflector, reflectorNames(b))
			} else if rr := b.RouteReflectors[j]; peerAS && rr.ASNumber != 0 && p.ASNumber != rr.ASNumber {
				v.addf(f+".asNumber", "AS %d, but reflector %s is AS %d: the session would never come up", p.ASNumber, rr.Name, rr.ASNumber)
			}
		case p.PeerIP.IsValid():
			if !p.PeerIP.Is4() {
				v.addf(f+".peerIP", "%s is not IPv4 (knetlab labs are IPv4)", p.PeerIP)
			} else if !reachable(l, p.PeerIP) {
				v.addf(f+".peerIP", "%s is outside every node subnet and the management subnet %s: no node could reach it", p.PeerIP, l.Cluster.ManagementSubnet)
			}
		default:
			v.addf(f, "give the peer's peerIP or the reflector it peers with (reflector: NAME)")
		}
	}

	for i, rr := range b.RouteReflectors {
		v.validateReflector(l, fmt.Sprintf("bgp.routeReflectors[%d]", i), rr, nodesAS)
		if j := reflectors[rr.Name]; j != i && rr.Name != "" {
			v.addf(fmt.Sprintf("bgp.routeReflectors[%d].name", i), "reflector %q is declared twice (also bgp.routeReflectors[%d])", rr.Name, j)
		} else if !used[rr.Name] {
			v.addf(fmt.Sprintf("bgp.routeReflectors[%d].name", i), "no peer of bgp.peers peers with reflector %s: no node would have a session to it", rr.Name)
		}
	}
}

func (v *validator) validateReflector(l *Lab, f string, rr RouteReflector, nodesAS bool) {
	v.name(f+".name", rr.Name, "reflector name", maxNodeName)
	if _, clash := l.Node(rr.Name); clash {
		v.addf(f+".name", "%q is already a node's name", rr.Name)
	}
	v.pinned(f+".image", rr.Image, "reflector image", "knetlab-gobgp:v4.8.0")
	if v.prefix(f+".address", rr.Address, true) {
		mgmt := l.Cluster.ManagementSubnet
		switch {
		case rr.Address.Bits() == 32:
			v.addf(f+".address", "address %s needs the management subnet's prefix length, e.g. /16", rr.Address)
		case mgmt.IsValid() && (!mgmt.Contains(rr.Address.Addr()) || rr.Address.Bits() != mgmt.Bits()):
			v.addf(f+".address", "address %s is outside the management subnet %s, where the nodes reach the reflector", rr.Address, mgmt)
		}
		for _, n := range l.Nodes {
			if n.IP() == rr.Address.Addr() || n.Management.Addr() == rr.Address.Addr() {
				v.addf(f+".address", "address %s is already %s's", rr.Address.Addr(), n.Name)
			}
		}
	}
	rrAS := v.as(f+".asNumber", rr.ASNumber)
	v.bgpID(f+".routerID", rr.RouterID, "router ID")
	v.bgpID(f+".clusterID", rr.ClusterID, "cluster ID")

	c := rr.Clients
	if c == (RRClients{}) {
		v.addf(f+".clients", "reflector %s has no clients: give clients.prefix (the nodes' subnet), peerGroup and peerAS", rr.Name)
		return
	}
	if v.subnet(f+".clients.prefix", c.Prefix) {
		holds := false
		for _, n := range l.Nodes {
			holds = holds || (n.Address.IsValid() && c.Prefix.Contains(n.IP()))
		}
		if !holds {
			v.addf(f+".clients.prefix", "%s holds none of the lab's nodes: the reflector would refuse every node's session", c.Prefix)
		}
	}
	if !peerGroupName.MatchString(c.PeerGroup) {
		if c.PeerGroup == "" {
			v.addf(f+".clients.peerGroup", "a peer group name is required, e.g. k8s-group")
		} else {
			v.addf(f+".clients.peerGroup", "peer group %q must be 1-64 letters, digits, '_', '.', '-'", c.PeerGroup)
		}
	}
	if !v.as(f+".clients.peerAS", c.PeerAS) {
		return
	}
	if nodesAS && c.PeerAS != l.BGP.ASNumber {
		v.addf(f+".clients.peerAS", "AS %d, but the nodes are AS %d (bgp.asNumber): the reflector would refuse them", c.PeerAS, l.BGP.ASNumber)
	} else if rrAS && rr.ASNumber != c.PeerAS {
		v.addf(f+".asNumber", "the reflector is AS %d but its clients are AS %d: route reflection is within one AS (iBGP)", rr.ASNumber, c.PeerAS)
	}
}

// bgpID checks a BGP identifier (router ID, cluster ID): a non-zero IPv4 address.
func (v *validator) bgpID(field string, id netip.Addr, what string) {
	switch {
	case !id.IsValid():
		v.addf(field, "a %s (an IPv4 address, e.g. 192.0.2.1) is required", what)
	case !id.Is4() || id.IsUnspecified():
		v.addf(field, "%s %s must be a non-zero IPv4 address", what, id)
	}
}

// reachable reports whether addr is on a network the nodes are on: a node subnet or the
// management network.
func reachable(l *Lab, addr netip.Addr) bool {
	if l.Cluster.ManagementSubnet.IsValid() && l.Cluster.ManagementSubnet.Contains(addr) {
		return true
	}
	for _, n := range l.Nodes {
		if n.Address.IsValid() && n.Address.Masked().Contains(addr) {
			return true
		}
	}
	return false
}

func reflectorNames(b *BGP) string {
	var names []string
	for _, rr := range b.RouteReflectors {
		names = append(names, rr.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
