package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/source"
)

// The steps of a hop.
const (
	StepRoute    = "route"     // a route lookup and the entry that matched
	StepProxyARP = "proxy-arp" // the host end of a pod answers ARP for the pod's gateway
	StepNeigh    = "neigh"     // the neighbour of vxlan.calico's next hop (never ARPed)
	StepFDB      = "fdb"       // the FDB entry that gives the VTEP of a MAC
	StepEncap    = "encap"     // the VXLAN outer header
	StepARP      = "arp"       // an underlay next hop resolved on its segment
	StepSwitch   = "switch"    // the switch bridges in a VLAN (port → port, port → SVI, SVI → port)
	StepDecap    = "decap"     // a vxlan device takes the outer packet off
	StepDeliver  = "deliver"   // the packet reaches the pod's eth0
)

// The ends of a path.
const (
	EndDelivered   = "delivered"
	EndBlackhole   = "blackhole"    // a blackhole, unreachable or prohibit route
	EndNoRoute     = "no-route"     // no route matches
	EndNoNeighbour = "no-neighbour" // no neighbour entry, nobody answers ARP
	EndNoFDB       = "no-fdb"       // vxlan.calico has no FDB entry for the neighbour's MAC
	EndTTL         = "ttl-exceeded" // a loop
	EndDropped     = "dropped"      // anything else that stops it (a port down, no VXLAN device)
	EndUnknown     = "unknown"      // a table the next hop needs was not captured or read
)

// maxHops bounds a walk: IP's default TTL.
const maxHops = 64

// Hop is one decision on the way.
type Hop struct {
	// At is where the packet is: a node, a pod (ns/name) or the switch.
	At string `json:"at"`
	// Step is what was decided (StepRoute, ...).
	Step string `json:"step"`
	// Entry is the table entry that decided it, as iproute2 (or the switch) prints it.
	Entry string `json:"entry"`
	// Note says more: the device, the neighbour's answer, a multipath choice.
	Note string `json:"note,omitempty"`
	// Warning says the hop rests on tables nothing keeps (its node's agent is not running).
	Warning string `json:"warning,omitempty"`

	key string // what must agree between the found and the expected path
	why string // on the expected path: why the entry must be so
}

// End is where a path ends.
type End struct {
	Kind   string `json:"kind"`
	At     string `json:"at,omitempty"`
	Detail string `json:"detail"`
}

// Path is one walk.
type Path struct {
	Hops []Hop `json:"hops"`
	End  End   `json:"end"`
}

// Kind is "vxlan" when the packet was encapsulated, "bgp" when a BGP route carried it, "direct"
// when it crossed the underlay as it is, "local" when it stayed on its node.
func (p *Path) Kind() string {
	if len(p.Hops) == 0 {
		return "-"
	}
	kind := "local"
	for _, h := range p.Hops {
		switch {
		case h.Step == StepEncap || h.Step == StepRoute && strings.Contains(h.Entry, " dev "+expect.VXLANDevice):
			return "vxlan"
		case h.Step == StepRoute && strings.Contains(h.Entry, " proto bird"):
			kind = "bgp"
		case h.Step == StepARP && kind == "local":
			kind = "direct"
		}
	}
	return kind
}

// packet is the IP header the walk routes on.
type packet struct{ src, dst netip.Addr }

// tunnel is a packet inside an outer VXLAN header, and the header's port and VNI.
type tunnel struct {
	inner     packet
	port, vni int
}

// place is where the packet is.
type place struct {
	node     string // a node, or the switch (atSwitch)
	pod      *observed.PodWiring
	in       string // the device it came in on; "" when the node sends it itself
	atSwitch bool
}

type walker struct {
	ctx   context.Context
	w     *World
	p     Path
	pkt   packet
	inner []tunnel // packets waiting inside their VXLAN outer header
	seen  map[string]bool
	ttl   int
}

// Walk follows a packet from one endpoint to the other over the world's tables.
func (w *World) Walk(ctx context.Context, from, to Endpoint) Path {
	k := &walker{ctx: ctx, w: w, seen: map[string]bool{}, ttl: maxHops, pkt: packet{src: from.IP, dst: to.IP}}
	pl := place{node: from.Node}
	if from.Kind == "pod" {
		pod, end := k.podOf(from)
		if end != nil {
			k.p.End = *end
			return k.p
		}
		pl.pod = pod
	}
	for steps := 0; ; steps++ {
		if steps > 4*maxHops { // a bound of its own, whatever the tables do
			k.p.End = End{Kind: EndTTL, At: pl.node, Detail: fmt.Sprintf("more than %d steps: the packet circles", 4*maxHops)}
			return k.p
		}
		var end *End
		switch {
		case pl.pod != nil:
			pl, end = k.fromPod(pl)
		case pl.atSwitch:
			pl, end = k.atSwitch(pl)
		default:
			pl, end = k.atNode(pl)
		}
		if end != nil {
			k.p.End = *end
			return k.p
		}
	}
}

func (k *walker) hop(h Hop, whyIdent string) {
	if k.w.expected != nil {
		h.why = k.w.expected.why[whyKey(h.At, h.Step, whyIdent)]
	}
	k.p.Hops = append(k.p.Hops, h)
}

func unknown(at, format string, args ...any) *End {
	return &End{Kind: EndUnknown, At: at, Detail: fmt.Sprintf(format, args...)}
}

// nodeTables returns a node's tables, or the end that says they are not there.
func (k *walker) nodeTables(name string) (*observed.Node, *End) {
	n, err := k.w.Node(k.ctx, name)
	if err != nil || n == nil {
		if err == nil {
			err = errors.New("no tables")
		}
		return nil, unknown(name, "the tables of %s were not read: %v", name, err)
	}
	return n, nil
}

// need says which table of a node was not captured.
func need(n *observed.Node, t observed.Table, what string) *End {
	if n.Has(t) {
		return nil
	}
	return unknown(n.Name, "%s of %s: not captured (the %s table), so the next hop cannot be told", what, n.Name, t)
}

func (k *walker) podOf(from Endpoint) (*observed.PodWiring, *End) {
	n, end := k.nodeTables(from.Node)
	if end != nil {
		return nil, end
	}
	if !n.Has(observed.TablePods) {
		return nil, unknown(from.Name, "the pods of %s were not captured: pod %s's tables are unknown (trace from its node %s instead)", from.Node, from.Name, from.Node)
	}
	for i := range n.Pods {
		if n.Pods[i].Namespace == from.pod.Namespace && n.Pods[i].Name == from.pod.Name {
			return &n.Pods[i], nil
		}
	}
	return nil, unknown(from.Name, "pod %s: its tables on %s were not read (its namespace is gone, or not captured; trace from its node %s instead)",
		from.Name, from.Node, from.Node)
}

// fromPod: the pod's route, and the host end that answers for its next hop.
func (k *walker) fromPod(pl place) (place, *End) {
	pod := pl.pod
	at := pod.Namespace + "/" + pod.Name
	for _, a := range pod.Eth0.Addrs {
		if a.Addr() == k.pkt.dst {
			return pl, &End{Kind: EndDelivered, At: at, Detail: fmt.Sprintf("delivered to %s (%s is its own address)", at, k.pkt.dst)}
		}
	}
	if pod.Absent[observed.TableRoutes] {
		return pl, unknown(at, "the routes of pod %s were not captured (trace from its node %s instead)", at, pl.node)
	}
	r := longestMatch(pod.Routes, k.pkt.dst)
	if r == nil {
		return pl, &End{Kind: EndNoRoute, At: at, Detail: fmt.Sprintf("pod %s has no route to %s", at, k.pkt.dst)}
	}
	k.routeHop(at, r)
	if end := dropRoute(at, r); end != nil {
		return pl, end
	}
	nh := r.Hops()[0]
	gw := nh.Gateway
	if !gw.IsValid() {
		gw = k.pkt.dst
	}
	n, end := k.nodeTables(pl.node)
	if end != nil {
		return pl, end
	}
	if end := need(n, observed.TableSysctls, "the sysctls"); end != nil {
		return pl, end
	}
	key := "net.ipv4.conf." + pod.HostIface + ".proxy_arp"
	v, ok := n.Sysctls[key]
	switch {
	case !ok:
		return pl, unknown(n.Name, "%s of %s was not captured: who answers ARP for %s cannot be told", key, n.Name, gw)
	case strings.TrimSpace(v) != "1":
		return pl, &End{Kind: EndNoNeighbour, At: at, Detail: fmt.Sprintf("nobody answers ARP for %s: %s = %s on %s, so the host end does not answer for it",
			gw, key, strings.TrimSpace(v), n.Name)}
	}
	mac := expect.PodHostMAC
	if l, ok := n.Link(pod.HostIface); ok && l.MAC != "" {
		mac = l.MAC
	}
	k.hop(Hop{At: n.Name, Step: StepProxyARP, Entry: key + " = 1",
		Note: fmt.Sprintf("%s answers ARP for %s with %s", pod.HostIface, gw, mac),
		key:  "proxy-arp|" + n.Name + "|" + pod.HostIface}, pod.HostIface)
	return place{node: n.Name, in: pod.HostIface}, nil
}

// routeHop records a route decision.
func (k *walker) routeHop(at string, r *observed.Route) {
	var gws []string
	for _, h := range r.Hops() {
		gws = append(gws, h.Gateway.String()+"%"+h.Dev)
	}
	note := ""
	if len(r.Nexthops) > 1 {
		note = fmt.Sprintf("multipath: %d next hops; the kernel puts each flow on one of them, this trace follows the first", len(r.Nexthops))
	}
	typ := r.Type
	if typ == "" {
		typ = "unicast"
	}
	k.hop(Hop{At: at, Step: StepRoute, Entry: routeText(r), Note: note,
		key: "route|" + at + "|" + typ + "|" + r.Dst.String() + "|" + strings.Join(gws, ",")}, r.Dst.String())
}

// routeText is the route as `ip route` prints it, on one line: like iproute2, it does not show
// the kernel's default protocol (boot), which pod routes and Felix's vxlan.calico routes have.
func routeText(r *observed.Route) string {
	c := *r
	if c.Protocol == "boot" {
		c.Protocol = ""
	}
	hops := c.Nexthops
	c.Nexthops = nil
	s := parse.FormatRoute(c)
	for _, h := range hops {
		s += " " + parse.FormatNexthop(h)
	}
	return s
}

// dropRoute is the end a route of a dropping type makes.
func dropRoute(at string, r *observed.Route) *End {
	switch r.Type {
	case "", "unicast":
		return nil
	case "blackhole", "unreachable", "prohibit":
		return &End{Kind: EndBlackhole, At: at, Detail: fmt.Sprintf("dropped by %s", routeText(r))}
	}
	return &End{Kind: EndDropped, At: at, Detail: fmt.Sprintf("%s route %s: not forwarded", r.Type, routeText(r))}
}

// longestMatch is the kernel's choice in one table: the longest prefix holding dst, and among
// equal prefixes the lowest metric.
func longestMatch(routes []observed.Route, dst netip.Addr) *observed.Route {
	var best *observed.Route
	for i := range routes {
		r := &routes[i]
		if r.Table != "" && r.Table != "main" || !r.Dst.IsValid() || !r.Dst.Contains(dst) {
			continue
		}
		if best == nil || r.Dst.Bits() > best.Dst.Bits() || r.Dst.Bits() == best.Dst.Bits() && r.Metric < best.Metric {
			best = r
		}
	}
	return best
}

// holds reports whether a node holds address a: on one of its links, or (its addresses not
// captured) as its underlay address in the facts. dev names the link.
func (k *walker) holds(n *observed.Node, a netip.Addr) (dev string, ok bool) {
	if n == nil {
		return "", false
	}
	if n.Has(observed.TableAddrs) {
		for _, l := range n.Links {
			for _, p := range l.Addrs {
				if p.Addr() == a {
					return l.Name, true
				}
			}
		}
		return "", false
	}
	if f, ok := k.w.factsNode(n.Name); ok && f.Address.Addr() == a {
		return "", true
	}
	return "", false
}

// holdsNode is holds for a node by name; a node whose tables were not read holds its underlay
// address of the facts (the walk then stops there, saying its tables are unknown).
func (k *walker) holdsNode(name string, a netip.Addr) (string, bool) {
	m, err := k.w.Node(k.ctx, name)
	if err != nil || m == nil {
		f, ok := k.w.factsNode(name)
		return "", ok && f.Address.Addr() == a
	}
	return k.holds(m, a)
}

// atNode: delivered here, decapsulated here, or routed on.
func (k *walker) atNode(pl place) (place, *End) {
	n, end := k.nodeTables(pl.node)
	if end != nil {
		return pl, end
	}
	if _, local := k.holds(n, k.pkt.dst); local {
		if len(k.inner) == 0 {
			return pl, &End{Kind: EndDelivered, At: n.Name, Detail: fmt.Sprintf("delivered to %s (%s is its own address)", n.Name, k.pkt.dst)}
		}
		return k.decap(n)
	}
	state := fmt.Sprintf("%s|%s|%d", n.Name, k.pkt.dst, len(k.inner))
	if k.seen[state] {
		return pl, &End{Kind: EndTTL, At: n.Name, Detail: fmt.Sprintf("loop: the packet to %s is back on %s; it circles until its TTL runs out", k.pkt.dst, n.Name)}
	}
	k.seen[state] = true
	if pl.in != "" {
		if k.ttl--; k.ttl == 0 {
			return pl, &End{Kind: EndTTL, At: n.Name, Detail: "TTL exceeded"}
		}
	}
	r, end := k.route(n, n.Name, k.pkt.dst)
	if end != nil {
		return pl, end
	}
	k.routeHop(n.Name, r)
	if end := dropRoute(n.Name, r); end != nil {
		return pl, end
	}
	nh := r.Hops()[0]
	gw := nh.Gateway
	if !gw.IsValid() {
		gw = k.pkt.dst
	}
	if pod, ok := podBehind(n, nh.Dev); ok {
		return k.deliver(n, pod)
	}
	if strings.HasPrefix(nh.Dev, "cali") && !n.Has(observed.TablePods) {
		return pl, unknown(n.Name, "the pods of %s were not captured: what is behind %s cannot be told", n.Name, nh.Dev)
	}
	if end := need(n, observed.TableLinks, "the links"); end != nil {
		return pl, end
	}
	link, ok := n.Link(nh.Dev)
	if why := n.FilteredWhy(observed.TableLinks); !ok && why != "" {
		return pl, unknown(n.Name, "%s's links were captured filtered (%s): %s is not among them", n.Name, why, nh.Dev)
	}
	if !ok {
		return pl, &End{Kind: EndDropped, At: n.Name, Detail: fmt.Sprintf("%s has no device %s", n.Name, nh.Dev)}
	}
	if link.Kind == "vxlan" || nh.Dev == expect.VXLANDevice {
		return k.encap(n, link, gw)
	}
	return k.underlay(n, link, gw)
}

// route is the node's route to dst: the kernel's own answer where the source can ask it,
// otherwise the longest match over the node's routes.
func (k *walker) route(n *observed.Node, member string, dst netip.Addr) (*observed.Route, *End) {
	var got observed.Route
	var err error
	if k.w.router != nil {
		got, err = k.w.router.RouteGet(k.ctx, member, dst)
	}
	if k.w.router != nil && !errors.Is(err, source.ErrAbsent) { // ErrAbsent: this member is not asked
		switch {
		case errors.Is(err, source.ErrNoRoute):
			return nil, &End{Kind: EndNoRoute, At: member, Detail: fmt.Sprintf("%s has no route to %s (the kernel: %v)", member, dst, err)}
		case errors.Is(err, syscall.EINVAL) && n.Has(observed.TableRoutes):
			// The kernel answers a lookup that ends in a blackhole, unreachable or prohibit
			// route with EINVAL, even with fibmatch: such a route is found in the table.
			if r := longestMatch(n.Routes, dst); r != nil && dropRoute(member, r) != nil {
				return r, nil
			}
			return nil, unknown(member, "ask %s's kernel for its route to %s: %v", member, dst, err)
		case err != nil:
			return nil, unknown(member, "ask %s's kernel for its route to %s: %v", member, dst, err)
		}
		if n != nil {
			for i := range n.Routes { // the entry as the table shows it
				if r := &n.Routes[i]; r.Dst == got.Dst && r.Type == got.Type && r.Metric == got.Metric {
					return r, nil
				}
			}
		}
		return &got, nil
	}
	if end := need(n, observed.TableRoutes, "the routes"); end != nil {
		return nil, end
	}
	r := longestMatch(n.Routes, dst)
	if why := n.FilteredWhy(observed.TableRoutes); why != "" {
		return nil, unknown(member, "the routes of %s were captured filtered (%s): the route to %s cannot be told", member, why, dst)
	}
	if r == nil {
		return nil, &End{Kind: EndNoRoute, At: member, Detail: fmt.Sprintf("%s has no route to %s", member, dst)}
	}
	return r, nil
}

func podBehind(n *observed.Node, dev string) (*observed.PodWiring, bool) {
	for i := range n.Pods {
		if n.Pods[i].HostIface == dev {
			return &n.Pods[i], true
		}
	}
	return nil, false
}

// deliver hands the packet through a pod's veth to its eth0.
func (k *walker) deliver(n *observed.Node, pod *observed.PodWiring) (place, *End) {
	at := pod.Namespace + "/" + pod.Name
	if pod.Absent[observed.TableAddrs] {
		return place{}, unknown(at, "the addresses of pod %s were not captured: whether it takes %s cannot be told", at, k.pkt.dst)
	}
	for _, a := range pod.Eth0.Addrs {
		if a.Addr() == k.pkt.dst {
			k.hop(Hop{At: at, Step: StepDeliver, Entry: "eth0 " + a.String(), Note: "through " + pod.HostIface + " on " + n.Name,
				key: "deliver|" + at}, at)
			return place{}, &End{Kind: EndDelivered, At: at, Detail: "delivered to " + at}
		}
	}
	return place{}, &End{Kind: EndDropped, At: at, Detail: fmt.Sprintf("%s's eth0 does not hold %s: the pod drops it", at, k.pkt.dst)}
}

// encap: vxlan.calico's neighbour for the next hop, its FDB entry, the outer header.
func (k *walker) encap(n *observed.Node, link *observed.Link, gw netip.Addr) (place, *End) {
	if link.VXLAN == nil {
		return place{}, unknown(n.Name, "%s's %s was captured without its vxlan attributes (ip -d link show): VNI, port and local address unknown", n.Name, link.Name)
	}
	if end := need(n, observed.TableNeigh, "the neighbours"); end != nil {
		return place{}, end
	}
	var nb *observed.Neigh
	for i := range n.Neighs {
		if x := &n.Neighs[i]; x.Dst == gw && x.Dev == link.Name {
			nb = x
		}
	}
	if why := n.FilteredWhy(observed.TableNeigh); nb == nil && why != "" {
		return place{}, unknown(n.Name, "the neighbours of %s were captured filtered (%s): the one for %s is not among them", n.Name, why, gw)
	}
	if nb == nil || nb.LLAddr == "" || hasState(nb, "FAILED", "INCOMPLETE") {
		found := "no entry"
		if nb != nil {
			found = parse.FormatNeigh(*nb)
		}
		return place{}, &End{Kind: EndNoNeighbour, At: n.Name, Detail: fmt.Sprintf("no neighbour for %s on %s (%s); the device does not ARP, so the packet is dropped",
			gw, link.Name, found)}
	}
	k.hop(Hop{At: n.Name, Step: StepNeigh, Entry: parse.FormatNeigh(*nb), key: "neigh|" + n.Name + "|" + gw.String() + "|" + strings.ToLower(nb.LLAddr)}, gw.String())

	if end := need(n, observed.TableFDB, "the FDB"); end != nil {
		return place{}, end
	}
	var fdb *observed.FDBEntry
	for i := range n.FDB {
		if e := &n.FDB[i]; e.Dev == link.Name && e.Dst.IsValid() && strings.EqualFold(e.MAC, nb.LLAddr) {
			fdb = e
		}
	}
	if fdb == nil {
		for i := range n.FDB { // the all-zeros entry floods what no entry names
			if e := &n.FDB[i]; e.Dev == link.Name && e.Dst.IsValid() && e.MAC == "00:00:00:00:00:00" {
				fdb = e
			}
		}
	}
	if why := n.FilteredWhy(observed.TableFDB); fdb == nil && why != "" {
		return place{}, unknown(n.Name, "the FDB of %s was captured filtered (%s): the entry for %s is not among it", n.Name, why, nb.LLAddr)
	}
	if fdb == nil {
		return place{}, &End{Kind: EndNoFDB, At: n.Name, Detail: fmt.Sprintf("no FDB entry for %s on %s: the frame has no VTEP to go to and is dropped",
			nb.LLAddr, link.Name)}
	}
	k.hop(Hop{At: n.Name, Step: StepFDB, Entry: parse.FormatFDBEntry(*fdb), key: "fdb|" + n.Name + "|" + strings.ToLower(fdb.MAC) + "|" + fdb.Dst.String()},
		strings.ToLower(fdb.MAC))

	src := link.VXLAN.Local
	if !src.IsValid() {
		if f, ok := k.w.factsNode(n.Name); ok {
			src = f.Address.Addr()
		}
	}
	entry := fmt.Sprintf("%s → %s udp/%d vni %d", src, fdb.Dst, link.VXLAN.Port, link.VXLAN.VNI)
	k.hop(Hop{At: n.Name, Step: StepEncap, Entry: entry, Note: fmt.Sprintf("%s mtu %d", link.Name, link.MTU),
		key: fmt.Sprintf("encap|%s|%s|%d", n.Name, entry, link.MTU)}, link.Name)
	k.inner = append(k.inner, tunnel{inner: k.pkt, port: link.VXLAN.Port, vni: link.VXLAN.VNI})
	k.pkt = packet{src: src, dst: fdb.Dst}
	return place{node: n.Name}, nil
}

func hasState(nb *observed.Neigh, states ...string) bool {
	for _, s := range nb.State {
		for _, x := range states {
			if s == x {
				return true
			}
		}
	}
	return false
}

// decap: the outer packet has reached its VTEP; the vxlan device with its port and VNI takes
// the inner packet off.
func (k *walker) decap(n *observed.Node) (place, *End) {
	if end := need(n, observed.TableLinks, "the links"); end != nil {
		return place{}, end
	}
	t := k.inner[len(k.inner)-1]
	vni, port := t.vni, t.port
	for i := range n.Links {
		l := &n.Links[i]
		if l.VXLAN != nil && l.VXLAN.VNI == vni && l.VXLAN.Port == port {
			k.hop(Hop{At: n.Name, Step: StepDecap, Entry: fmt.Sprintf("%s vni %d dstport %d local %s", l.Name, l.VXLAN.VNI, l.VXLAN.Port, l.VXLAN.Local),
				key: fmt.Sprintf("decap|%s|%s|%d", n.Name, l.Name, l.VXLAN.VNI)}, l.Name)
			k.pkt = t.inner
			k.inner = k.inner[:len(k.inner)-1]
			return place{node: n.Name, in: l.Name}, nil
		}
	}
	return place{}, &End{Kind: EndDropped, At: n.Name, Detail: fmt.Sprintf("%s has no vxlan device for vni %d on udp/%d: the outer packet is dropped", n.Name, vni, port)}
}

// underlay: the next hop gw on link, found on its segment: through the switch's VLAN, or on
// the network the nodes share.
func (k *walker) underlay(n *observed.Node, link *observed.Link, gw netip.Addr) (place, *End) {
	var addr netip.Prefix
	for _, a := range link.Addrs {
		if a.Masked().Contains(gw) || !addr.IsValid() {
			addr = a
		}
	}
	arp := Hop{At: n.Name, Step: StepARP, Entry: fmt.Sprintf("%s dev %s (no entry yet: ARP resolves it)", gw, link.Name), key: "arp|" + n.Name + "|" + gw.String()}
	if n.Has(observed.TableNeigh) {
		for _, nb := range n.Neighs {
			if nb.Dst == gw && nb.Dev == link.Name && nb.LLAddr != "" {
				arp.Entry = parse.FormatNeigh(nb)
			}
		}
	}
	if k.w.onSwitch(addr) {
		return k.throughSwitch(n, link, gw, arp)
	}
	// The network the nodes share (kind's docker network): whoever holds gw answers.
	for _, f := range k.w.Facts.Nodes {
		if f.Name == n.Name {
			continue
		}
		if dev, ok := k.holdsNode(f.Name, gw); ok {
			arp.Note = fmt.Sprintf("%s is %s's", gw, f.Name)
			k.hop(arp, gw.String())
			return place{node: f.Name, in: orDefault(dev, "underlay")}, nil
		}
	}
	if member, ok := k.gatewayHolding(gw); ok {
		arp.Note = fmt.Sprintf("%s is %s's, the management network's gateway: no node of the cluster", gw, member)
		k.hop(arp, gw.String())
		return place{}, k.atGateway(member)
	}
	if k.w.NoSwitch && !k.w.Live {
		return place{}, unknown(n.Name, "no captured node holds %s, and the lab has no switch: %s is on the network the nodes share (its gateway, or another host on it), of which a capture holds nothing", gw, gw)
	}
	if k.w.Switch == nil && k.w.SwitchWhy != "" && !k.w.Live {
		return place{}, unknown(n.Name, "no node holds %s and the switch was not captured (%s)", gw, k.w.SwitchWhy)
	}
	if k.w.Switch == nil && k.w.Live && len(k.w.Networks) == 0 {
		// The nodes share a network this source does not read all of (docker's): something
		// else on it may hold the address.
		return place{}, unknown(n.Name, "no node holds %s, and the source reads nothing else on %s's segment: who answers for it is not known", gw, link.Name)
	}
	return place{}, &End{Kind: EndNoNeighbour, At: n.Name, Detail: fmt.Sprintf("nothing on %s's segment holds %s: ARP goes unanswered", link.Name, gw)}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// throughSwitch: the node's port, its VLAN, and who in that VLAN holds gw (an SVI, or a node).
func (k *walker) throughSwitch(n *observed.Node, link *observed.Link, gw netip.Addr, arp Hop) (place, *End) {
	sw := k.w.Switch
	port, ok := k.w.portOf(n.Name)
	if !ok {
		return place{}, unknown(sw.Name, "which port of %s %s is cabled to is not known (no port description names it)", sw.Name, n.Name)
	}
	if !port.Up {
		return place{}, &End{Kind: EndDropped, At: sw.Name, Detail: fmt.Sprintf("%s port %s (%s) is %s", sw.Name, port.Name, n.Name, port.Status)}
	}
	vlan := vlanName(sw, port.VLAN)
	for _, s := range sw.SVIs {
		if s.VLAN == port.VLAN && s.Address.Addr() == gw {
			arp.Note = fmt.Sprintf("%s is %s %s", gw, sw.Name, s.Name)
			k.hop(arp, gw.String())
			k.hop(Hop{At: sw.Name, Step: StepSwitch, Entry: fmt.Sprintf("%s: %s → %s", vlan, port.Name, s.Name),
				Note: fmt.Sprintf("from %s %s", n.Name, link.Name), key: "switch|" + port.Name + "|" + s.Name}, s.Name)
			return place{node: sw.Name, atSwitch: true, in: s.Name}, nil
		}
	}
	pl, out, ok := k.portHolding(port.VLAN, gw, port.Name)
	if !ok {
		return place{}, &End{Kind: EndNoNeighbour, At: n.Name, Detail: fmt.Sprintf("nothing in %s of %s holds %s: ARP from %s goes unanswered", vlan, sw.Name, gw, link.Name)}
	}
	arp.Note = fmt.Sprintf("%s is %s's", gw, pl.node)
	k.hop(arp, gw.String())
	k.hop(Hop{At: sw.Name, Step: StepSwitch, Entry: fmt.Sprintf("%s: %s → %s", vlan, port.Name, out.Name),
		Note: fmt.Sprintf("%s %s → %s", n.Name, link.Name, pl.node), key: "switch|" + port.Name + "|" + out.Name}, out.Name)
	return pl, nil
}

// portHolding finds the port of a VLAN whose node holds a; skip is the port it came in on.
func (k *walker) portHolding(vlan int, a netip.Addr, skip string) (place, *observed.SwitchPort, bool) {
	sw := k.w.Switch
	for i := range sw.Ports {
		q := &sw.Ports[i]
		if q.VLAN != vlan || q.Name == skip || !q.Up {
			continue
		}
		node, ok := k.w.Ports[q.Name]
		if !ok {
			continue
		}
		if dev, ok := k.holdsNode(node, a); ok {
			return place{node: node, in: orDefault(dev, "underlay")}, q, true
		}
	}
	return place{}, nil, false
}

func vlanName(sw *observed.Switch, id int) string {
	for _, v := range sw.VLANs {
		if v.ID == id && v.Name != "" {
			return fmt.Sprintf("VLAN %d %s", id, v.Name)
		}
	}
	return fmt.Sprintf("VLAN %d", id)
}

// atSwitch: the switch routes between its SVIs.
func (k *walker) atSwitch(pl place) (place, *End) {
	sw := k.w.Switch
	for _, s := range sw.SVIs {
		if s.Address.Addr() == k.pkt.dst {
			return pl, &End{Kind: EndDelivered, At: sw.Name, Detail: fmt.Sprintf("delivered to %s %s", sw.Name, s.Name)}
		}
	}
	state := fmt.Sprintf("%s|%s|%d", sw.Name, k.pkt.dst, len(k.inner))
	if k.seen[state] {
		return pl, &End{Kind: EndTTL, At: sw.Name, Detail: fmt.Sprintf("loop: the packet to %s is back on %s", k.pkt.dst, sw.Name)}
	}
	k.seen[state] = true
	if k.ttl--; k.ttl == 0 {
		return pl, &End{Kind: EndTTL, At: sw.Name, Detail: "TTL exceeded"}
	}
	var best *observed.SwitchRoute
	var got observed.Route
	var err error
	if k.w.router != nil {
		got, err = k.w.router.RouteGet(k.ctx, sw.Name, k.pkt.dst)
	}
	if k.w.router != nil && !errors.Is(err, source.ErrAbsent) {
		switch {
		case errors.Is(err, source.ErrNoRoute):
		case err != nil:
			return pl, unknown(sw.Name, "ask %s's kernel for its route to %s: %v", sw.Name, k.pkt.dst, err)
		default:
			for i := range sw.Routes {
				if sw.Routes[i].Dst == got.Dst {
					best = &sw.Routes[i]
				}
			}
			if best == nil {
				best = &observed.SwitchRoute{Dst: got.Dst, Type: got.Protocol, Iface: got.Dev}
			}
		}
	} else {
		for i := range sw.Routes {
			r := &sw.Routes[i]
			if r.Dst.Contains(k.pkt.dst) && (best == nil || r.Dst.Bits() > best.Dst.Bits()) {
				best = r
			}
		}
	}
	if best == nil {
		return pl, &End{Kind: EndNoRoute, At: sw.Name, Detail: fmt.Sprintf("%s has no route to %s", sw.Name, k.pkt.dst)}
	}
	k.hop(Hop{At: sw.Name, Step: StepRoute, Entry: fmt.Sprintf("%s %s %s", best.Dst, best.Type, best.Iface),
		key: "sroute|" + best.Dst.String() + "|" + best.Iface}, best.Dst.String())
	var svi *observed.SVI
	for i := range sw.SVIs {
		if sw.SVIs[i].Name == best.Iface {
			svi = &sw.SVIs[i]
		}
	}
	if svi == nil {
		return pl, unknown(sw.Name, "%s routes %s out of %s, which is no VLAN interface this trace follows", sw.Name, best.Dst, best.Iface)
	}
	if !svi.Up {
		return pl, &End{Kind: EndDropped, At: sw.Name, Detail: fmt.Sprintf("%s %s is down", sw.Name, svi.Name)}
	}
	next, out, ok := k.portHolding(svi.VLAN, k.pkt.dst, "")
	if !ok {
		return pl, &End{Kind: EndNoNeighbour, At: sw.Name, Detail: fmt.Sprintf("nothing in %s of %s holds %s: ARP from %s goes unanswered",
			vlanName(sw, svi.VLAN), sw.Name, k.pkt.dst, svi.Name)}
	}
	k.hop(Hop{At: sw.Name, Step: StepSwitch, Entry: fmt.Sprintf("%s: %s → %s", vlanName(sw, svi.VLAN), svi.Name, out.Name),
		Note: fmt.Sprintf("%s is %s's", k.pkt.dst, next.node), key: "switch|" + svi.Name + "|" + out.Name}, out.Name)
	return next, nil
}

// gatewayHolding finds the lab member that is no node (the management network's gateway) and
// holds a: its kernel has a as a local address.
func (k *walker) gatewayHolding(a netip.Addr) (string, bool) {
	if k.w.gateways == nil {
		return "", false
	}
	for _, m := range k.w.Networks {
		r, err := k.w.gateways.RouteGet(k.ctx, m, a)
		if err == nil && r.Type == "local" {
			return m, true
		}
	}
	return "", false
}

// atGateway: the packet reached the management network's gateway, which is no node of the
// cluster and holds none of its routes. Its kernel says whether it routes the packet on (out
// of the lab: the walk follows it no further) or drops it.
func (k *walker) atGateway(member string) *End {
	r, err := k.w.gateways.RouteGet(k.ctx, member, k.pkt.dst)
	switch {
	case errors.Is(err, source.ErrNoRoute):
		return &End{Kind: EndNoRoute, At: member, Detail: fmt.Sprintf("%s, the management network's gateway, has no route to %s: the packet is dropped there",
			member, k.pkt.dst)}
	case err != nil:
		return unknown(member, "ask %s's kernel for its route to %s: %v", member, k.pkt.dst, err)
	}
	k.hop(Hop{At: member, Step: StepRoute, Entry: routeText(&r), key: "route|" + member + "|" + r.Dst.String()}, r.Dst.String())
	return &End{Kind: EndDropped, At: member, Detail: fmt.Sprintf("%s, the management network's gateway, routes %s out of the lab (%s): it never reaches a node of the cluster",
		member, k.pkt.dst, routeText(&r))}
}
