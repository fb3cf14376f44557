// Package state is the normalised model of what is on a node and on the switch. Every collector
// (netlink in a netns lab, docker exec on a kind node, scrapligo on cEOS, capture files) fills
// these types, and the verify engine judges only these types: it never knows where they came from.
package observed

import (
	"net/netip"
)

// Table names one table of node state. A collector records which tables it read, so that a
// check whose table is absent is skipped, never passed.
type Table string

// The node tables.
const (
	TableRoutes  Table = "routes"
	TableLinks   Table = "links"
	TableAddrs   Table = "addrs"
	TableNeigh   Table = "neigh"
	TableFDB     Table = "fdb"
	TableSysctls Table = "sysctls"
	TablePods    Table = "pods"
	// TableNAT is the natOutgoing masquerade state (nat.outgoing).
	TableNAT Table = "nat"
	// TableBGPSessions are a BGP speaker's sessions (a node's, or a route reflector's).
	TableBGPSessions Table = "bgp-sessions"
	// TableBGPRoutes are the routes a BGP speaker holds: a node's learned routes, a route
	// reflector's RIB.
	TableBGPRoutes Table = "bgp-routes"
)

// Node is one node's dataplane tables.
type Node struct {
	Name    string
	Tables  map[Table]bool // which tables were collected
	Routes  []Route
	Links   []Link // with their addresses when TableAddrs is collected
	Neighs  []Neigh
	FDB     []FDBEntry
	Sysctls map[string]string // e.g. "net.ipv4.conf.cali1234567890a.proxy_arp" → "1"
	Pods    []PodWiring       // pod-side wiring, one per local pod when TablePods is collected
	// NATOutgoing are the pool CIDRs whose traffic to outside all pools the node masquerades,
	// when TableNAT is collected (iptables cali-nat-outgoing or the agent's nftables sets).
	NATOutgoing []netip.Prefix
	// BGPSpeaker is the node's BGP daemon, SpeakerBIRD (calico-node) or SpeakerGoBGP
	// (knetlab's agent), when TableBGPSessions or TableBGPRoutes is collected: a capture
	// saves its state in that daemon's own format.
	BGPSpeaker string
	// BGPSessions are the node's BGP sessions, when TableBGPSessions is collected.
	BGPSessions []BGPSession
	// BGPRoutes are the routes the node's BGP speaker holds, when TableBGPRoutes is collected.
	BGPRoutes []BGPRoute
	// Filtered says, per table, why a collected table is known to hold only part of what the
	// node has (e.g. `ip link show dev vxlan.calico`: no lo). An entry absent from such a table
	// was not captured, rather than missing.
	Filtered map[Table]string
}

// FilteredWhy is why table t holds only part of the node's entries, or "" when it is whole.
func (n *Node) FilteredWhy(t Table) string {
	if n == nil {
		return ""
	}
	return n.Filtered[t]
}

// Has reports whether table t was collected.
func (n *Node) Has(t Table) bool { return n != nil && n.Tables[t] }

// Mark records that table t was collected (possibly empty).
func (n *Node) Mark(t Table) {
	if n.Tables == nil {
		n.Tables = map[Table]bool{}
	}
	n.Tables[t] = true
}

// Link returns the named link.
func (n *Node) Link(name string) (*Link, bool) {
	for i := range n.Links {
		if n.Links[i].Name == name {
			return &n.Links[i], true
		}
	}
	return nil, false
}

// Route is one IPv4 route, with the fields that verify compares. Protocol is kept as the
// kernel names it in `ip route` ("80" for Calico's felix, "bird", "kernel", "boot", "static").
//
// A multipath route (`nexthop via … nexthop via …`) has its next hops in Nexthops and no
// Gateway, Dev or Onlink of its own, as the kernel keeps it: traffic to Dst is spread over all
// of them, so a check must judge each one, never only the first or the last.
type Route struct {
	Type     string // "unicast" (the default), "blackhole", "local", ...
	Dst      netip.Prefix
	Gateway  netip.Addr // invalid when none
	Dev      string
	Protocol string
	Scope    string // "link", "host", "global" ("" when not shown)
	Onlink   bool
	Metric   int
	MTU      int
	Src      netip.Addr
	Table    string    // "" for main
	Nexthops []Nexthop // the next hops of a multipath route, in the kernel's order; nil otherwise
}

// Nexthop is one next hop of a multipath route.
type Nexthop struct {
	Gateway netip.Addr // invalid when none (or not IPv4)
	Dev     string
	Weight  int // the share of the flows it takes, relative to the others' (iproute2's "weight", 1 by default)
	Onlink  bool
}

// Hops returns the route's next hops: its Nexthops when it is multipath, otherwise the one next
// hop its own Gateway, Dev and Onlink make (Weight 1). A blackhole or other typed route without
// a device still has that one, empty, next hop.
func (r *Route) Hops() []Nexthop {
	if len(r.Nexthops) > 0 {
		return r.Nexthops
	}
	return []Nexthop{{Gateway: r.Gateway, Dev: r.Dev, Weight: 1, Onlink: r.Onlink}}
}

// Link is one network interface.
type Link struct {
	Name      string
	Index     int
	Kind      string // "vxlan", "veth", "bridge", "" when unknown
	MTU       int
	MAC       string // lower-case colon form
	Up        bool   // administratively up (the UP flag)
	OperState string // "UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN"
	Master    string
	Parent    string // the link@parent of veth and vlan devices, if shown
	Alias     string
	Addrs     []netip.Prefix
	VXLAN     *VXLAN
	Stats     *LinkStats
}

// VXLAN holds the attributes `ip -d link` shows for a vxlan device.
type VXLAN struct {
	VNI      int
	Port     int
	Local    netip.Addr
	Dev      string // the parent device
	Learning bool
}

// LinkStats are a link's packet counters, as `ip -s link` shows them.
type LinkStats struct {
	RxPackets, TxPackets uint64
}

// Neigh is one neighbour (ARP) entry.
type Neigh struct {
	Dst    netip.Addr
	Dev    string
	LLAddr string   // lower-case colon form, "" when incomplete
	State  []string // e.g. ["PERMANENT"], ["REACHABLE"]
}

// Permanent reports whether the entry is PERMANENT.
func (n Neigh) Permanent() bool {
	for _, s := range n.State {
		if s == "PERMANENT" {
			return true
		}
	}
	return false
}

// FDBEntry is one bridge forwarding database entry.
type FDBEntry struct {
	MAC       string
	Dev       string
	Dst       netip.Addr // the VTEP for vxlan entries
	Self      bool
	Permanent bool
	Master    string
}

// PodWiring is what a pod's network namespace holds, as pods.wiring checks it.
type PodWiring struct {
	Namespace string
	Name      string
	HostIface string // the cali... end on the node
	Eth0      Link   // the pod's eth0 with its addresses
	Routes    []Route
	// Absent names the pod's tables (TableAddrs, TableRoutes) the source did not collect — a
	// capture without the pod's ip-addr.txt or ip-route.txt — so that they are not judged.
	Absent map[Table]bool
}

// Switch is the normalised switch: cEOS read with scrapligo or the netns switch read with netlink.
// Port names are the containerlab names (eth1, eth2, ...); collectors translate EOS names.
type Switch struct {
	Name   string
	Ports  []SwitchPort
	SVIs   []SVI
	Routes []SwitchRoute
	VLANs  []SwitchVLAN
}

// SwitchPort is one front-panel port.
type SwitchPort struct {
	Name        string // eth1
	Up          bool   // link up ("connected" on EOS)
	Status      string // as the switch says it: "connected", "notconnect", "up", "down"
	Mode        string // "access", "trunk", "routed"
	VLAN        int    // access VLAN
	Description string
}

// SVI is a VLAN interface with its address.
type SVI struct {
	Name    string // Vlan10
	VLAN    int
	Up      bool // line protocol up
	Address netip.Prefix
	MTU     int // 0 when the source did not say
}

// SwitchRoute is one route of the switch's routing table.
type SwitchRoute struct {
	Dst   netip.Prefix
	Type  string // "connected", "static", ...
	Iface string // Vlan10
}

// SwitchVLAN is a VLAN as the switch knows it.
type SwitchVLAN struct {
	ID    int
	Name  string
	Ports []string
}

// NodeStatus is whether a lab node exists and runs (topology.nodes).
type NodeStatus struct {
	Name    string
	Kind    string // "node", "switch", "network", "reflector"
	Running bool
	Ready   bool   // kind: Ready after the CNI; netns: the agent is up
	Detail  string // why not running/ready, as the provider sees it
}

// The BGP daemons whose state verify reads.
const (
	SpeakerBIRD  = "bird"  // calico-node's BIRD (birdcl)
	SpeakerGoBGP = "gobgp" // GoBGP (gobgp): the lab's route reflector, or a node that runs it
)

// The BGP session states (RFC 4271's finite state machine), as speakers are normalised to.
const (
	BGPIdle        = "Idle"
	BGPConnect     = "Connect"
	BGPActive      = "Active"
	BGPOpenSent    = "OpenSent"
	BGPOpenConfirm = "OpenConfirm"
	BGPEstablished = "Established"
)

// BGPSession is one BGP session as one speaker reports it.
type BGPSession struct {
	// Name is the speaker's name for it: BIRD's protocol (Node_172_18_0_5), or the neighbour
	// address for GoBGP.
	Name   string
	Peer   netip.Addr // invalid when the speaker does not show it
	PeerAS uint32     // 0 when the speaker does not show it
	// State is the session's state, normalised to the BGP* constants where the speaker says
	// one of them; otherwise as the speaker says it (BIRD's "Passive", "down").
	State string
	// Info is the rest of what the speaker says about it: BIRD's info column (Socket: Connection
	// refused), GoBGP's disconnect reason, for the findings.
	Info string
}

// Established reports whether the session is up.
func (s BGPSession) Established() bool { return s.State == BGPEstablished }

// BGPRoute is one path a BGP speaker holds for a prefix.
type BGPRoute struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
	Best    bool
	// From is the peer the path was learned from; invalid for a path the speaker originated
	// itself, or when the speaker does not show it.
	From netip.Addr
}

// Reflector is a BGP route reflector's state.
type Reflector struct {
	Name     string
	Tables   map[Table]bool // TableBGPSessions, TableBGPRoutes: which were collected
	Sessions []BGPSession
	// RIB is the reflector's global RIB: every path it holds, best or not.
	RIB []BGPRoute
}

// Has reports whether table t was collected.
func (r *Reflector) Has(t Table) bool { return r != nil && r.Tables[t] }

// Mark records that table t was collected (possibly empty).
func (r *Reflector) Mark(t Table) {
	if r.Tables == nil {
		r.Tables = map[Table]bool{}
	}
	r.Tables[t] = true
}
