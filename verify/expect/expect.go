// Package expect computes what every node's dataplane must hold (docs/dataplane.md) from the cluster's
// facts alone: the vxlan.calico device, one route per block, the tolerated extras, the VXLAN
// neighbours and FDB entries, and the pod routes. Every expected entry carries why it must exist,
// so that a failed check can say it.
//
// The interface that holds a node's underlay address (P in docs/dataplane.md) is not a fact of the
// cluster: it is read from the node's own state when the checks run. Entries that go "via the
// underlay" say so with Underlay instead of naming a device.
package expect

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/facts"
)

// Calico's fixed VXLAN parameters.
const (
	VXLANDevice = "vxlan.calico"
	VXLANVNI    = 4096
	VXLANPort   = 4789
	// VXLANOverhead is what VXLAN encapsulation costs: the device MTU is the underlay's minus this.
	VXLANOverhead = 50
	// IPIPDevice is the IP-in-IP tunnel device.
	IPIPDevice = "tunl0"
	// IPIPOverhead is what IP-in-IP encapsulation costs: tunl0's MTU is the underlay's minus this.
	IPIPOverhead = 20
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

// Protocols is the set of route protocols an expected route accepts: what current Calico
// programs first, then what other Calico versions (or iproute2 spellings) show for the same route.
type Protocols uint8

// The protocol sets.
const (
	ProtoFelix     Protocols = iota // felix: proto 80
	ProtoVXLAN                      // felix (3.30 too) shows no proto on vxlan routes; boot and 80 accepted
	ProtoBird                       // BIRD (BGP)
	ProtoBirdFelix                  // IPIP routes moved from BIRD to felix
)

var protocolSets = [...][]string{
	ProtoFelix:     {"80"},
	ProtoVXLAN:     {"", "boot", "80"},
	ProtoBird:      {"bird"},
	ProtoBirdFelix: {"bird", "80"},
}

// List returns the accepted protocols, the canonical one first.
func (p Protocols) List() []string { return protocolSets[p] }

// Canonical is the protocol current Calico programs ("" for none shown).
func (p Protocols) Canonical() string { return protocolSets[p][0] }

// Accepts reports whether a found route's protocol is one of the set.
func (p Protocols) Accepts(proto string) bool {
	for _, a := range protocolSets[p] {
		if a == proto {
			return true
		}
	}
	return false
}

// Cluster is the expected state of every node. Compute builds only what is linear in the
// cluster's size (nodes, blocks, devices, pod routes); the tables that have an entry per remote
// node or block on every node — routes, neighbours, FDB — are computed per node when a check
// asks for them, so that a 2,000-node cluster never holds its four million routes at once.
type Cluster struct {
	// Nodes in name order.
	Nodes []*Node
	// Pools are the facts' pools.
	Pools []facts.Pool
	// Blocks are the blocks the facts give one known node (facts.Ownership), by address.
	Blocks []Block
	// Contested are the blocks whose owner the facts do not settle (two owners, BlockAffinity
	// and IPAMBlock disagreeing): no route to them can be expected.
	Contested []facts.OwnershipConflict
	// VXLAN is true when any enabled pool has vxlanMode other than Never.
	VXLAN bool

	byName   map[string]*Node
	byTunnel map[netip.Addr]*Node
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
	// PodRoutes are the /32 routes to local pods, by address.
	PodRoutes []PodRoute

	c *Cluster
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

// MTU is the device MTU on an underlay of the given MTU. The underlay's MTU is never assumed:
// it comes from the node state, and where that lacks the underlay device the MTU is not judged.
func (d *Device) MTU(underlayMTU int) int { return underlayMTU - VXLANOverhead }

// ContestedBlock returns the contested block that holds p, when one does.
func (c *Cluster) ContestedBlock(p netip.Prefix) (facts.OwnershipConflict, bool) {
	for _, b := range c.Contested {
		if b.CIDR.Bits() <= p.Bits() && b.CIDR.Contains(p.Addr()) {
			return b, true
		}
	}
	return facts.OwnershipConflict{}, false
}

// TunnelDevice is the device whose MTU a node's pods take: vxlan.calico when an enabled pool
// uses VXLAN, else tunl0 when one uses IP-in-IP; "" for plain routing, where pods take the
// underlay's MTU.
func (c *Cluster) TunnelDevice() string {
	if c.VXLAN {
		return VXLANDevice
	}
	for i := range c.Pools {
		if !c.Pools[i].Disabled && ipipOn(&c.Pools[i]) {
			return IPIPDevice
		}
	}
	return ""
}

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
	Protocols Protocols

	// Why the route must exist, kept as the facts it came from (see Reason).
	kind ReasonKind
	self *facts.Node
	peer *facts.Node
	pool *facts.Pool
}

// Why says why the route must exist.
func (r *Route) Why() Reason {
	return Reason{Kind: r.kind, Self: r.self, Peer: r.peer, Pool: r.pool, Dst: r.Dst}
}

// AcceptsProtocol reports whether p is one of the route's accepted protocols.
func (r *Route) AcceptsProtocol(p string) bool { return r.Protocols.Accepts(p) }

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

// Compute indexes the facts: nodes, blocks with their owner and pool, each node's device and
// pod routes. It is linear in the facts; the per-node tables come from the Node methods.
func Compute(f *facts.Facts) *Cluster {
	c := &Cluster{Pools: append([]facts.Pool(nil), f.Pools...), byName: map[string]*Node{}, byTunnel: map[netip.Addr]*Node{}}
	for _, p := range c.Pools {
		if !p.Disabled && p.VXLANMode.OrNever() != calico.EncapNever {
			c.VXLAN = true
		}
	}

	nodes := make([]*Node, 0, len(f.Nodes))
	for _, fn := range f.Nodes {
		if _, dup := c.byName[fn.Name]; dup {
			continue
		}
		n := &Node{Facts: fn, MAC: VTEPMAC(fn), c: c}
		c.byName[fn.Name] = n
		if fn.VXLANTunnelAddr.IsValid() {
			c.byTunnel[fn.VXLANTunnelAddr] = n
		}
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Facts.Name < nodes[j].Facts.Name })
	c.Nodes = nodes

	owners, contested := f.Ownership()
	c.Contested = contested
	for _, o := range owners {
		owner, ok := c.byName[o.Node]
		if !ok {
			continue
		}
		pool, _ := poolOf(c.Pools, o.CIDR)
		c.Blocks = append(c.Blocks, Block{CIDR: o.CIDR, Owner: &owner.Facts, Pool: pool})
	}
	sort.Slice(c.Blocks, func(i, j int) bool { return c.Blocks[i].CIDR.Addr().Less(c.Blocks[j].CIDR.Addr()) })

	podsByNode := map[string][]facts.Pod{}
	for _, p := range f.Pods {
		if p.IP.IsValid() && c.InPool(netip.PrefixFrom(p.IP, p.IP.BitLen())) {
			podsByNode[p.Node] = append(podsByNode[p.Node], p)
		}
	}
	for _, n := range c.Nodes {
		n.expectLinear(podsByNode[n.Facts.Name])
	}
	return c
}

// expectLinear fills what does not grow with the cluster: the device and the pod routes.
func (n *Node) expectLinear(pods []facts.Pod) {
	self := &n.Facts
	if n.c.VXLAN {
		d := &Device{Name: VXLANDevice, VNI: VXLANVNI, Port: VXLANPort, Local: self.Address.Addr(), MAC: n.MAC}
		if self.VXLANTunnelAddr.IsValid() {
			d.Addr = netip.PrefixFrom(self.VXLANTunnelAddr, 32)
		}
		n.Device = d
	}
	for _, p := range pods {
		n.PodRoutes = append(n.PodRoutes, PodRoute{
			Dst: netip.PrefixFrom(p.IP, p.IP.BitLen()), Dev: PodInterface(p.Namespace, p.Name), Pod: p,
		})
	}
	sort.Slice(n.PodRoutes, func(i, j int) bool { return n.PodRoutes[i].Dst.Addr().Less(n.PodRoutes[j].Dst.Addr()) })
}

// Routes are the node's block routes, by block address: a blackhole per local block and one
// route per remote block as docs/dataplane.md ("Remote blocks by pool mode") says for the block's pool. Blocks whose route the facts do
// not determine (a VXLAN block of a node without a tunnel address) are problems instead.
func (n *Node) Routes() ([]Route, []Problem) {
	routes := make([]Route, 0, len(n.c.Blocks))
	var problems []Problem
	for i := range n.c.Blocks {
		b := &n.c.Blocks[i]
		if b.Pool == nil {
			continue // not Calico's to route; ipam.affinities reports it
		}
		r, problem := n.blockRoute(b)
		if problem != "" {
			problems = append(problems, Problem{Entry: b.CIDR.String(), Reason: problem})
			continue
		}
		routes = append(routes, r)
	}
	return routes, problems
}

// RouteTo is the expected block route toward ip, when a confirmed block in a pool holds it.
func (n *Node) RouteTo(ip netip.Addr) (Route, bool) {
	blocks := n.c.Blocks
	// The last block starting at or before ip is the only one that can hold it (blocks of
	// one pool do not overlap).
	i := sort.Search(len(blocks), func(i int) bool { return ip.Less(blocks[i].CIDR.Addr()) }) - 1
	if i < 0 || !blocks[i].CIDR.Contains(ip) || blocks[i].Pool == nil {
		return Route{}, false
	}
	r, problem := n.blockRoute(&blocks[i])
	return r, problem == ""
}

// HostRouteVia is the route to one address held by a pod on another node — an address the
// pod borrowed from a block that node does not own, which Calico routes as a /32 to the node
// that hosts it — by the rule of the address's pool, as for a block of that node. The string
// says why no route can be expected when the facts do not determine one.
func (n *Node) HostRouteVia(ip netip.Addr, host string) (Route, string) {
	m, ok := n.c.byName[host]
	if !ok {
		return Route{}, fmt.Sprintf("%s is not a node of the facts", host)
	}
	dst := netip.PrefixFrom(ip, ip.BitLen())
	pool, ok := poolOf(n.c.Pools, dst)
	if !ok {
		return Route{}, fmt.Sprintf("%s is in no pool", ip)
	}
	return remoteBlock(&n.Facts, &Block{CIDR: dst, Owner: &m.Facts, Pool: pool})
}

func (n *Node) blockRoute(b *Block) (Route, string) {
	if b.Owner.Name == n.Facts.Name {
		return localBlock(&n.Facts, b), ""
	}
	return remoteBlock(&n.Facts, b)
}

// Neighs are the permanent neighbours on vxlan.calico: one per remote node with a tunnel
// address, same subnet or not. None when no pool uses VXLAN.
func (n *Node) Neighs() []Neigh {
	if !n.c.VXLAN {
		return nil
	}
	out := make([]Neigh, 0, len(n.c.Nodes))
	for _, m := range n.c.Nodes {
		if m != n && m.Facts.VXLANTunnelAddr.IsValid() {
			out = append(out, Neigh{Dst: m.Facts.VXLANTunnelAddr, LLAddr: m.MAC, Peer: &m.Facts})
		}
	}
	return out
}

// FDB are the FDB entries on vxlan.calico: one per remote node with an underlay address.
func (n *Node) FDB() []FDBEntry {
	if !n.c.VXLAN {
		return nil
	}
	out := make([]FDBEntry, 0, len(n.c.Nodes))
	for _, m := range n.c.Nodes {
		if m != n && m.Facts.Address.IsValid() {
			out = append(out, FDBEntry{MAC: m.MAC, Dst: m.Facts.Address.Addr(), Peer: &m.Facts})
		}
	}
	return out
}

// ToleratedTo returns the forms a route to dst may take when it is one of the tolerated
// extras: a /32 to a remote node's tunnel address, via vxlan.calico, or via the peer's
// underlay address for a same-subnet peer. None when dst is not such a /32.
func (n *Node) ToleratedTo(dst netip.Prefix) []Route {
	if !n.c.VXLAN || !dst.IsSingleIP() {
		return nil
	}
	m, ok := n.c.byTunnel[dst.Addr()]
	if !ok || m == n {
		return nil
	}
	self, peer := &n.Facts, &m.Facts
	forms := []Route{{
		Type: TypeUnicast, Dst: dst, Dev: VXLANDevice, AnyOnlink: true, Protocols: ProtoVXLAN,
		kind: TunnelHostRoute, self: self, peer: peer,
	}}
	if sameSubnet(self, peer) {
		forms = append(forms, Route{
			Type: TypeUnicast, Dst: dst, Gateway: peer.Address.Addr(), Underlay: true, Onlink: true, Protocols: ProtoFelix,
			kind: TunnelHostRoute, self: self, peer: peer,
		})
	}
	return forms
}

// Tolerated lists every tolerated extra route of the node.
func (n *Node) Tolerated() []Route {
	var out []Route
	for _, m := range n.c.Nodes {
		if m.Facts.VXLANTunnelAddr.IsValid() {
			out = append(out, n.ToleratedTo(netip.PrefixFrom(m.Facts.VXLANTunnelAddr, 32))...)
		}
	}
	return out
}

func vxlanOn(p *facts.Pool) bool {
	return p.VXLANMode == calico.EncapAlways || p.VXLANMode == calico.EncapCrossSubnet
}
func ipipOn(p *facts.Pool) bool {
	return p.IPIPMode == calico.EncapAlways || p.IPIPMode == calico.EncapCrossSubnet
}

// sameSubnet is Calico's CrossSubnet test: is the peer's underlay address inside this node's
// underlay prefix? Only this node's prefix length matters.
func sameSubnet(self, peer *facts.Node) bool {
	return self.Address.IsValid() && peer.Address.IsValid() && self.Address.Masked().Contains(peer.Address.Addr())
}

func localBlock(self *facts.Node, b *Block) Route {
	protos := ProtoFelix
	if !vxlanOn(b.Pool) {
		protos = ProtoBird // BGP and IPIP pools: BIRD programs the blackhole
		if ipipOn(b.Pool) {
			protos = ProtoBirdFelix
		}
	}
	return Route{Type: TypeBlackhole, Dst: b.CIDR, Protocols: protos, kind: LocalBlock, self: self, peer: b.Owner, pool: b.Pool}
}

// remoteBlock is the table of docs/dataplane.md ("Remote blocks by pool mode") for a block owned by another node.
func remoteBlock(self *facts.Node, b *Block) (Route, string) {
	peer, pool := b.Owner, b.Pool
	if !peer.Address.IsValid() {
		return Route{}, fmt.Sprintf("%s owns %s but has no underlay address in the facts: no route can be expected", peer.Name, b.CIDR)
	}
	if !self.Address.IsValid() && (pool.VXLANMode == calico.EncapCrossSubnet || pool.IPIPMode == calico.EncapCrossSubnet) {
		return Route{}, fmt.Sprintf("%s has no underlay address in the facts: cannot tell whether %s is in its subnet", self.Name, peer.Name)
	}
	// The route to the block, to be completed by the rule of the pool's mode.
	r := Route{Type: TypeUnicast, Dst: b.CIDR, Gateway: peer.Address.Addr(), self: self, peer: peer, pool: pool}
	same := sameSubnet(self, peer)
	switch {
	case vxlanOn(pool) && pool.VXLANMode == calico.EncapCrossSubnet && same:
		r.kind, r.Underlay, r.Onlink, r.Protocols = VXLANSameSubnet, true, true, ProtoFelix
	case vxlanOn(pool):
		if !peer.VXLANTunnelAddr.IsValid() {
			return Route{}, fmt.Sprintf("pool %s sends %s through vxlan.calico, but %s has no VXLAN tunnel address in the facts",
				pool.Name, b.CIDR, peer.Name)
		}
		r.kind = VXLANCrossSubnet
		if pool.VXLANMode == calico.EncapAlways {
			r.kind = VXLANAlways
		}
		r.Gateway, r.Dev, r.Onlink, r.Protocols = peer.VXLANTunnelAddr, VXLANDevice, true, ProtoVXLAN
	case ipipOn(pool) && pool.IPIPMode == calico.EncapCrossSubnet && same:
		r.kind, r.Underlay, r.AnyOnlink, r.Protocols = IPIPSameSubnet, true, true, ProtoBirdFelix
	case ipipOn(pool):
		r.kind = IPIPCrossSubnet
		if pool.IPIPMode == calico.EncapAlways {
			r.kind = IPIPAlways
		}
		r.Dev, r.Onlink, r.Protocols = IPIPDevice, true, ProtoBirdFelix
	default:
		r.kind, r.Underlay, r.Protocols = BGPDirect, true, ProtoBird
	}
	return r, ""
}
