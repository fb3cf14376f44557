package trace

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/spec"
)

// expectation turns a node's found tables into the tables verify expects: Calico's entries
// (block and pod routes, vxlan.calico's neighbours and FDB, the device, the pods' wiring and
// proxy ARP) as docs/dataplane.md says, everything else (connected and underlay routes, the
// underlay's links) as found. It remembers why each expected entry must be so.
type expectation struct {
	c   *expect.Cluster
	bgp *spec.BGP
	why map[string]string
}

func whyKey(at, step, ident string) string { return at + "|" + step + "|" + ident }

// Expected is the world of the expected tables over w's found ones, walked by the same code.
// It asks no kernel: the kernel holds the found tables.
func (w *World) Expected() *World {
	ew := &World{Facts: w.Facts, Describe: "expected tables", Switch: w.Switch, SwitchWhy: w.SwitchWhy, Ports: w.Ports,
		Live: w.Live, BGP: w.BGP, NoSwitch: w.NoSwitch, Networks: w.Networks, nodes: map[string]nodeRead{}}
	ew.expected = &expectation{c: expect.Compute(w.Facts), bgp: w.BGP, why: map[string]string{}}
	ew.gateways = w.router // only the members that are no node are asked: the gateways' tables are found, never expected
	if w.Switch != nil && w.SwitchSpec != nil {
		ew.Switch = ew.expected.lab(w.Switch, w.SwitchSpec)
	}
	ew.load = w.Node
	return ew
}

// node is n with Calico's entries replaced by the expected ones.
func (e *expectation) node(name string, n *observed.Node) *observed.Node {
	en, ok := e.c.Node(name)
	if !ok || n == nil {
		return n
	}
	out := *n
	out.Tables = maps.Clone(n.Tables)

	parent, parentMTU := "", 0
	for _, l := range n.Links {
		for _, a := range l.Addrs {
			if a.Addr() == en.Facts.Address.Addr() {
				parent, parentMTU = l.Name, l.MTU
			}
		}
	}

	// Routes: the found ones outside the pools (and the tolerated /32s to tunnel addresses),
	// then the expected block and pod routes.
	out.Routes = nil
	for _, r := range n.Routes {
		if !e.c.InPool(r.Dst) || len(en.ToleratedTo(r.Dst)) > 0 {
			out.Routes = append(out.Routes, r)
		}
	}
	blocks, _ := en.Routes()
	for _, r := range blocks {
		dev := r.Dev
		if r.Underlay {
			dev = parent
		}
		out.Routes = append(out.Routes, observed.Route{Type: r.Type, Dst: r.Dst, Gateway: r.Gateway, Dev: dev,
			Protocol: r.Protocols.Canonical(), Onlink: r.Onlink})
		e.why[whyKey(name, StepRoute, r.Dst.String())] = e.routeWhy(r.Why(), parent)
	}
	for _, p := range en.PodRoutes {
		out.Routes = append(out.Routes, observed.Route{Type: expect.TypeUnicast, Dst: p.Dst, Dev: p.Dev, Scope: "link"})
		e.why[whyKey(name, StepRoute, p.Dst.String())] = fmt.Sprintf("pod %s/%s holds %s on %s: Calico routes its /32 to the pod's host end %s",
			p.Pod.Namespace, p.Pod.Name, p.Dst.Addr(), name, p.Dev)
	}
	out.Mark(observed.TableRoutes)

	// vxlan.calico: the device, its neighbours and FDB entries.
	if en.Device != nil {
		out.Links = append([]observed.Link(nil), n.Links...)
		i := -1
		for j := range out.Links {
			if out.Links[j].Name == expect.VXLANDevice {
				i = j
			}
		}
		if i < 0 {
			out.Links = append(out.Links, observed.Link{Name: expect.VXLANDevice, Kind: "vxlan", Up: true})
			i = len(out.Links) - 1
		}
		d := en.Device
		l := &out.Links[i]
		l.Kind, l.MAC = "vxlan", d.MAC
		l.VXLAN = &observed.VXLAN{VNI: d.VNI, Port: d.Port, Local: d.Local, Dev: parent}
		if parentMTU > 0 {
			l.MTU = d.MTU(parentMTU)
			e.why[whyKey(name, StepEncap, l.Name)] = fmt.Sprintf("vxlan.calico carries pod packets of up to %d bytes: the underlay %s's %d less the %d of VXLAN's outer headers",
				l.MTU, parent, parentMTU, expect.VXLANOverhead)
		}
		if d.Addr.IsValid() {
			l.Addrs = []netip.Prefix{d.Addr}
		}
	}
	out.Neighs = nil
	for _, nb := range n.Neighs {
		if nb.Dev != expect.VXLANDevice {
			out.Neighs = append(out.Neighs, nb)
		}
	}
	for _, nb := range en.Neighs() {
		out.Neighs = append(out.Neighs, observed.Neigh{Dst: nb.Dst, Dev: expect.VXLANDevice, LLAddr: nb.LLAddr, State: []string{"PERMANENT"}})
		e.why[whyKey(name, StepNeigh, nb.Dst.String())] = fmt.Sprintf("%s's tunnel address is %s and its VTEP MAC %s: %s answers ARP for it from this entry (Calico never lets vxlan.calico ARP)",
			nb.Peer.Name, nb.Dst, nb.LLAddr, name)
	}
	out.Mark(observed.TableNeigh)
	out.FDB = nil
	for _, f := range n.FDB {
		if f.Dev != expect.VXLANDevice {
			out.FDB = append(out.FDB, f)
		}
	}
	for _, f := range en.FDB() {
		out.FDB = append(out.FDB, observed.FDBEntry{MAC: f.MAC, Dev: expect.VXLANDevice, Dst: f.Dst, Self: true, Permanent: true})
		e.why[whyKey(name, StepFDB, f.MAC)] = fmt.Sprintf("%s's VTEP MAC is %s and its underlay address %s: frames for it are sent to that address",
			f.Peer.Name, f.MAC, f.Dst)
	}
	out.Mark(observed.TableFDB)

	// Pods: every pod routes via 169.254.1.1, which its host end answers by proxy ARP.
	out.Sysctls = maps.Clone(n.Sysctls)
	if out.Sysctls == nil {
		out.Sysctls = map[string]string{}
	}
	gw := netip.MustParseAddr(expect.PodGateway)
	out.Pods = append([]observed.PodWiring(nil), n.Pods...)
	for i := range out.Pods {
		p := &out.Pods[i]
		p.Routes = []observed.Route{
			{Type: expect.TypeUnicast, Dst: netip.PrefixFrom(gw, 32), Dev: "eth0", Scope: "link"},
			{Type: expect.TypeUnicast, Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: gw, Dev: "eth0"},
		}
		p.Absent = nil
		at := p.Namespace + "/" + p.Name
		e.why[whyKey(at, StepRoute, "0.0.0.0/0")] = fmt.Sprintf("Calico gives pod %s its IP as a /32 and routes everything via the link-local %s", at, gw)
		out.Sysctls["net.ipv4.conf."+p.HostIface+".proxy_arp"] = "1"
		e.why[whyKey(name, StepProxyARP, p.HostIface)] = "the host end answers the pod's ARP for 169.254.1.1"
	}
	out.Mark(observed.TableSysctls)
	return &out
}

// lab is the switch as the lab declares it: each lab port up in its VLAN, each VLAN's SVI up
// with its gateway address, a connected route per VLAN subnet. Ports the lab does not name stay
// as found.
func (e *expectation) lab(found *observed.Switch, sp *spec.Switch) *observed.Switch {
	sw := &observed.Switch{Name: found.Name, Ports: append([]observed.SwitchPort(nil), found.Ports...)}
	for _, p := range sp.Ports {
		i := slices.IndexFunc(sw.Ports, func(q observed.SwitchPort) bool { return q.Name == p.Name })
		if i < 0 {
			sw.Ports = append(sw.Ports, observed.SwitchPort{Name: p.Name})
			i = len(sw.Ports) - 1
		}
		q := &sw.Ports[i]
		q.VLAN, q.Up, q.Status, q.Mode = p.VLAN, true, "connected", "access"
		e.why[whyKey(sw.Name, StepSwitch, p.Name)] = fmt.Sprintf("the lab puts %s behind %s %s, an access port in VLAN %d", p.Node, sw.Name, p.Name, p.VLAN)
	}
	for _, v := range sp.VLANs {
		sw.VLANs = append(sw.VLANs, observed.SwitchVLAN{ID: v.ID, Name: v.Name})
		sw.SVIs = append(sw.SVIs, observed.SVI{Name: v.SVI, VLAN: v.ID, Up: true, Address: v.Gateway})
		sw.Routes = append(sw.Routes, observed.SwitchRoute{Dst: v.Subnet, Type: "connected", Iface: v.SVI})
		e.why[whyKey(sw.Name, StepSwitch, v.SVI)] = fmt.Sprintf("the lab's VLAN %d (%s) has its gateway %s on %s", v.ID, v.Name, v.Gateway, v.SVI)
		e.why[whyKey(sw.Name, StepRoute, v.Subnet.String())] = fmt.Sprintf("%s routes the lab's %s through %s, its connected subnet", sw.Name, v.Subnet, v.SVI)
	}
	return sw
}

// routeWhy is why an expected block route must be so. A block routed by BGP is there because
// its owner announces it and the node learns it: through the lab's route reflectors, or over
// the node-to-node mesh.
func (e *expectation) routeWhy(r expect.Reason, parent string) string {
	if r.Kind != expect.BGPDirect || e.bgp == nil || r.Peer == nil || r.Self == nil {
		return r.Text(parent)
	}
	var via []string
	for _, p := range e.bgp.Peers[r.Peer.Name] {
		if p.Reflector != "" {
			via = append(via, fmt.Sprintf("the route reflector %s (%s)", p.Reflector, p.Address))
		}
	}
	to := ""
	switch {
	case len(via) > 0:
		to = "to " + strings.Join(via, " and ")
	case e.bgp.Mesh:
		to = "to every node over the node-to-node mesh"
	default:
		return r.Text(parent)
	}
	if parent == "" {
		parent = "the underlay interface"
	}
	return fmt.Sprintf("%s owns %s and announces it %s; every node learns it via %s, its owner's address, and routes it there on %s (pool %s has no encapsulation)",
		r.Peer.Name, r.Dst, to, r.Peer.Address.Addr(), parent, r.Pool.Name)
}
