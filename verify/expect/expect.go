// Package expect computes what every node's dataplane must hold (SPEC §2) from the cluster's
// facts alone: the vxlan.calico device, one route per block, the tolerated extras, the VXLAN
// neighbours and FDB entries, and the pod routes. Every expected entry carries why it must exist,
// so that a failed check can say it.
//
// The interface that holds a node's underlay address (P in SPEC §2) is not a fact of the
// cluster: it is read from the node's own state when the checks run. Entries that go "via the
// underlay" say so with Underlay instead of naming a device.
package expect

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"

	"github.com/knetlab/knetlab/verify/facts"
)

// Calico's fixed VXLAN parameters.
const (
	VXLANDevice = "vxlan.calico"
	VXLANVNI    = 4096
	VXLANPort   = 4789
	// VXLANOverhead is what VXLAN encapsulation costs: the device MTU is the underlay's minus this.
	VXLANOverhead = 50
	// DefaultUnderlayMTU is assumed when the parent interface's MTU is not in the node state.
	DefaultUnderlayMTU = 1500
	// IPIPDevice is the IP-in-IP tunnel device.
	IPIPDevice = "tunl0"
	// PodHostMAC is the MAC of every host-side cali interface.
	PodHostMAC = "ee:ee:ee:ee:ee:ee"
	// PodGateway is the link-local next hop every pod routes through.
	PodGateway = "169.254.1.1"
)

// Route types as the state package names them.
const (
	TypeUnicast   = "unicast"
	TypeBlackhole = "blackhole"
)

// Accepted route protocols. The first one is what current Calico programs; the others are
// what other Calico versions (or iproute2 spellings) show for the same route.
var (
	protoFelix      = []string{"80"}
	protoVXLAN      = []string{"", "boot", "80"} // older felix shows no proto on vxlan routes
	protoBird       = []string{"bird"}
	protoBirdOrFlx  = []string{"bird", "80"} // IPIP routes moved from bird to felix
	protoBlackholes = []string{"80"}
)

// Cluster is the expected state of every node.
type Cluster struct {
	// Nodes in the order of the facts, sorted by name.
	Nodes []*Node
	// Pools are the facts' pools.
	Pools []facts.Pool
	// Blocks are the confirmed, non-deleted affinities whose owner is a known node, by address.
	Blocks []Block
	// VXLAN is true when any enabled pool has vxlanMode other than Never.
	VXLAN bool

	byName map[string]*Node
}

// Block is a block with its owner and pool.
type Block struct {
	CIDR  netip.Prefix
	Owner *facts.Node
	Pool  *facts.Pool // nil when the block is in no pool
}

// Node is what one node must hold.
type Node struct {
	Facts facts.Node
	// MAC is the node's VTEP MAC (configured, else derived from the name).
	MAC string
	// Device is the expected vxlan.calico device; nil when no enabled pool uses VXLAN.
	Device *Device
	// Routes are the block routes: blackholes for local blocks, one route per remote block.
	Routes []Route
	// Tolerated are the /32 routes to remote tunnel addresses some Calico versions add.
	Tolerated []Route
	// Neighs and FDB are the permanent entries on vxlan.calico, one per remote node.
	Neighs []Neigh
	FDB    []FDBEntry
	// PodRoutes are the /32 routes to local pods.
	PodRoutes []PodRoute
	// Problems are expectations that cannot be computed from the facts (a VXLAN block of a node
	// that has no tunnel address): the facts themselves are inconsistent.
	Problems []Problem
}

// Name is the node's name.
func (n *Node) Name() string { return n.Facts.Name }

// Device is the expected vxlan.calico.
type Device struct {
	Name     string
	VNI      int
	Port     int
	Local    netip.Addr // the node's underlay address
	Learning bool
	Addr     netip.Prefix // <tunnel IP>/32; invalid when the node has no tunnel address
	MAC      string
}

// MTU is the device MTU on an underlay of the given MTU.
func (d *Device) MTU(underlayMTU int) int { return underlayMTU - VXLANOverhead }

// Route is one expected route. Fields that are "don't care" are said so explicitly.
type Route struct {
	Type    string // TypeUnicast or TypeBlackhole
	Dst     netip.Prefix
	Gateway netip.Addr // invalid for blackholes and device routes
	// Dev is the route's device; when Underlay is true it is the node's underlay interface,
	// which only the node state can name, and Dev is "".
	Dev      string
	Underlay bool
	Onlink   bool
	// AnyOnlink is true where Calico versions differ on the onlink flag.
	AnyOnlink bool
	// Protocols are the accepted protocols, the first the canonical one.
	Protocols []string
	Why       Reason
}

// AcceptsProtocol reports whether p is one of the route's accepted protocols.
func (r *Route) AcceptsProtocol(p string) bool {
	for _, a := range r.Protocols {
		if a == p {
			return true
		}
	}
	return false
}

// Neigh is one expected permanent neighbour on vxlan.calico.
type Neigh struct {
	Dst    netip.Addr // the remote tunnel address
	LLAddr string     // the remote VTEP MAC
	Peer   *facts.Node
}

// FDBEntry is one expected FDB entry on vxlan.calico.
type FDBEntry struct {
	MAC  string
	Dst  netip.Addr // the remote underlay address
	Peer *facts.Node
}

// PodRoute is the expected route to a local pod.
type PodRoute struct {
	Dst netip.Prefix // <pod IP>/32
	Dev string       // cali + 11 hex
	Pod facts.Pod
}

// Problem is an expectation the facts do not allow to compute.
type Problem struct {
	Entry  string
	Reason string
}

// Node returns the expectation of the named node.
func (c *Cluster) Node(name string) (*Node, bool) {
	n, ok := c.byName[name]
	return n, ok
}

// PoolOf returns the pool that contains the prefix.
func (c *Cluster) PoolOf(p netip.Prefix) (*facts.Pool, bool) {
	return poolOf(c.Pools, p)
}

// InPool reports whether a prefix lies inside any pool: only those routes are Calico's.
func (c *Cluster) InPool(p netip.Prefix) bool {
	_, ok := c.PoolOf(p)
	return ok
}

func poolOf(pools []facts.Pool, p netip.Prefix) (*facts.Pool, bool) {
	for i := range pools {
		if pools[i].CIDR.IsValid() && pools[i].CIDR.Bits() <= p.Bits() && pools[i].CIDR.Contains(p.Addr()) {
			return &pools[i], true
		}
	}
	return nil, false
}

// VTEPMAC is the MAC Calico gives a node's vxlan.calico: the configured one, else 0x66
// followed by the first five bytes of SHA-1 of the node name (locally administered, unicast).
func VTEPMAC(n facts.Node) string {
	if n.VXLANTunnelMAC != "" {
		return n.VXLANTunnelMAC
	}
	sum := sha1.Sum([]byte(n.Name))
	const hexdig = "0123456789abcdef"
	b := make([]byte, 0, 17)
	b = append(b, '6', '6')
	for _, x := range sum[:5] {
		b = append(b, ':', hexdig[x>>4], hexdig[x&0xf])
	}
	return string(b)
}

// PodInterface is the host-side interface Calico names for a pod: cali followed by the first
// 11 hex digits of SHA-1("<namespace>.<pod>").
func PodInterface(namespace, pod string) string {
	sum := sha1.Sum([]byte(namespace + "." + pod))
	return "cali" + hex.EncodeToString(sum[:])[:11]
}

// Compute returns every node's expected state. It costs one pass over the blocks per node:
// the output itself has a route per block on every node.
func Compute(f *facts.Facts) *Cluster {
	c := &Cluster{Pools: append([]facts.Pool(nil), f.Pools...), byName: map[string]*Node{}}
	for _, p := range c.Pools {
		if !p.Disabled && p.VXLANMode != "" && p.VXLANMode != ModeNever {
			c.VXLAN = true
		}
	}

	nodes := make([]*Node, 0, len(f.Nodes))
	for _, fn := range f.Nodes {
		if _, dup := c.byName[fn.Name]; dup {
			continue
		}
		n := &Node{Facts: fn, MAC: VTEPMAC(fn)}
		c.byName[fn.Name] = n
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Facts.Name < nodes[j].Facts.Name })
	c.Nodes = nodes

	for _, a := range f.Affinities {
		if a.Deleted || a.State != "confirmed" || !a.CIDR.IsValid() {
			continue
		}
		owner, ok := c.byName[a.Node]
		if !ok {
			continue
		}
		pool, _ := poolOf(c.Pools, a.CIDR)
		c.Blocks = append(c.Blocks, Block{CIDR: a.CIDR.Masked(), Owner: &owner.Facts, Pool: pool})
	}
	sort.Slice(c.Blocks, func(i, j int) bool { return c.Blocks[i].CIDR.Addr().Less(c.Blocks[j].CIDR.Addr()) })

	podsByNode := map[string][]facts.Pod{}
	for _, p := range f.Pods {
		if p.IP.IsValid() && c.InPool(netip.PrefixFrom(p.IP, p.IP.BitLen())) {
			podsByNode[p.Node] = append(podsByNode[p.Node], p)
		}
	}

	for _, n := range c.Nodes {
		c.expectNode(n, podsByNode[n.Facts.Name])
	}
	return c
}

func (c *Cluster) expectNode(n *Node, pods []facts.Pod) {
	self := &n.Facts
	if c.VXLAN {
		d := &Device{Name: VXLANDevice, VNI: VXLANVNI, Port: VXLANPort, Local: self.Address.Addr(), MAC: n.MAC}
		if self.VXLANTunnelAddr.IsValid() {
			d.Addr = netip.PrefixFrom(self.VXLANTunnelAddr, 32)
		}
		n.Device = d
	}

	n.Routes = make([]Route, 0, len(c.Blocks))
	for i := range c.Blocks {
		b := &c.Blocks[i]
		if b.Pool == nil {
			continue // not Calico's to route; ipam.affinities reports it
		}
		if b.Owner.Name == self.Name {
			n.Routes = append(n.Routes, localBlock(self, b))
			continue
		}
		r, problem := remoteBlock(self, b)
		if problem != "" {
			n.Problems = append(n.Problems, Problem{Entry: b.CIDR.String(), Reason: problem})
			continue
		}
		n.Routes = append(n.Routes, r)
	}

	if c.VXLAN {
		for _, m := range c.Nodes {
			if m == n {
				continue
			}
			peer := &m.Facts
			if peer.Address.IsValid() {
				n.FDB = append(n.FDB, FDBEntry{MAC: m.MAC, Dst: peer.Address.Addr(), Peer: peer})
			}
			if !peer.VXLANTunnelAddr.IsValid() {
				continue
			}
			n.Neighs = append(n.Neighs, Neigh{Dst: peer.VXLANTunnelAddr, LLAddr: m.MAC, Peer: peer})
			host := netip.PrefixFrom(peer.VXLANTunnelAddr, 32)
			n.Tolerated = append(n.Tolerated, Route{
				Type: TypeUnicast, Dst: host, Dev: VXLANDevice, AnyOnlink: true, Protocols: protoVXLAN,
				Why: Reason{Kind: TunnelHostRoute, Self: self, Peer: peer, Dst: host},
			})
			if sameSubnet(self, peer) {
				n.Tolerated = append(n.Tolerated, Route{
					Type: TypeUnicast, Dst: host, Gateway: peer.Address.Addr(), Underlay: true, Onlink: true,
					Protocols: protoFelix,
					Why:       Reason{Kind: TunnelHostRoute, Self: self, Peer: peer, Dst: host},
				})
			}
		}
	}

	for _, p := range pods {
		n.PodRoutes = append(n.PodRoutes, PodRoute{
			Dst: netip.PrefixFrom(p.IP, p.IP.BitLen()), Dev: PodInterface(p.Namespace, p.Name), Pod: p,
		})
	}
	sort.Slice(n.PodRoutes, func(i, j int) bool { return n.PodRoutes[i].Dst.Addr().Less(n.PodRoutes[j].Dst.Addr()) })
}

// Pool modes (vxlanMode, ipipMode).
const (
	ModeNever       = "Never"
	ModeAlways      = "Always"
	ModeCrossSubnet = "CrossSubnet"
)

func vxlanOn(p *facts.Pool) bool { return p.VXLANMode == ModeAlways || p.VXLANMode == ModeCrossSubnet }
func ipipOn(p *facts.Pool) bool  { return p.IPIPMode == ModeAlways || p.IPIPMode == ModeCrossSubnet }

// sameSubnet is Calico's CrossSubnet test: is the peer's underlay address inside this node's
// underlay prefix? Only this node's prefix length matters.
func sameSubnet(self, peer *facts.Node) bool {
	return self.Address.IsValid() && peer.Address.IsValid() && self.Address.Masked().Contains(peer.Address.Addr())
}

func localBlock(self *facts.Node, b *Block) Route {
	protos := protoBlackholes
	if !vxlanOn(b.Pool) {
		protos = protoBird // BGP and IPIP pools: bird programs the blackhole
		if ipipOn(b.Pool) {
			protos = protoBirdOrFlx
		}
	}
	return Route{Type: TypeBlackhole, Dst: b.CIDR, Protocols: protos,
		Why: Reason{Kind: LocalBlock, Self: self, Peer: b.Owner, Pool: b.Pool, Dst: b.CIDR}}
}

// remoteBlock is SPEC §2's table for a block owned by another node.
func remoteBlock(self *facts.Node, b *Block) (Route, string) {
	peer, pool := b.Owner, b.Pool
	why := Reason{Self: self, Peer: peer, Pool: pool, Dst: b.CIDR}
	if !peer.Address.IsValid() {
		return Route{}, fmt.Sprintf("%s owns %s but has no underlay address in the facts: no route can be expected", peer.Name, b.CIDR)
	}
	if !self.Address.IsValid() && (pool.VXLANMode == ModeCrossSubnet || pool.IPIPMode == ModeCrossSubnet) {
		return Route{}, fmt.Sprintf("%s has no underlay address in the facts: cannot tell whether %s is in its subnet", self.Name, peer.Name)
	}
	same := sameSubnet(self, peer)
	switch {
	case vxlanOn(pool):
		if pool.VXLANMode == ModeCrossSubnet && same {
			why.Kind = VXLANSameSubnet
			return Route{Type: TypeUnicast, Dst: b.CIDR, Gateway: peer.Address.Addr(), Underlay: true, Onlink: true,
				Protocols: protoFelix, Why: why}, ""
		}
		if !peer.VXLANTunnelAddr.IsValid() {
			return Route{}, fmt.Sprintf("pool %s sends %s through vxlan.calico, but %s has no VXLAN tunnel address in the facts",
				pool.Name, b.CIDR, peer.Name)
		}
		why.Kind = VXLANCrossSubnet
		if pool.VXLANMode == ModeAlways {
			why.Kind = VXLANAlways
		}
		return Route{Type: TypeUnicast, Dst: b.CIDR, Gateway: peer.VXLANTunnelAddr, Dev: VXLANDevice, Onlink: true,
			Protocols: protoVXLAN, Why: why}, ""
	case ipipOn(pool):
		if pool.IPIPMode == ModeCrossSubnet && same {
			why.Kind = IPIPSameSubnet
			return Route{Type: TypeUnicast, Dst: b.CIDR, Gateway: peer.Address.Addr(), Underlay: true, AnyOnlink: true,
				Protocols: protoBirdOrFlx, Why: why}, ""
		}
		why.Kind = IPIPCrossSubnet
		if pool.IPIPMode == ModeAlways {
			why.Kind = IPIPAlways
		}
		return Route{Type: TypeUnicast, Dst: b.CIDR, Gateway: peer.Address.Addr(), Dev: IPIPDevice, Onlink: true,
			Protocols: protoBirdOrFlx, Why: why}, ""
	default:
		why.Kind = BGPDirect
		return Route{Type: TypeUnicast, Dst: b.CIDR, Gateway: peer.Address.Addr(), Underlay: true,
			Protocols: protoBird, Why: why}, ""
	}
}
