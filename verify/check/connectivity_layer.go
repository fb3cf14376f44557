package check

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
)

// A lost ping says that something on the path failed, not what. failedLayer follows the echo
// request and then the reply through the tables read from both nodes — the first hop out of the
// pod (the host end's proxy ARP for 169.254.1.1, forwarding), the sending node's route, the
// VXLAN neighbour and FDB entry when the route goes through vxlan.calico (or the underlay
// neighbour when it goes direct), the receiving node's route to the pod — and names each entry
// on it that is not as the path needs. It names a layer only from what a table shows: when
// every entry is right, or a table was not read, it says so instead of guessing.
func failedLayer(in *Inputs, src, dst facts.Pod) string {
	var missing []string
	for _, n := range []string{src.Node, dst.Node} {
		if s, ok := in.Nodes[n]; !ok || s == nil || !s.Has(observed.TableRoutes) {
			if !slices.Contains(missing, n) {
				missing = append(missing, n)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("cannot tell which layer failed: the tables of %s were not read", strings.Join(missing, " and "))
	}
	var found []string
	add := func(direction string, layers ...string) {
		for _, l := range layers {
			if name, rest, ok := strings.Cut(l, ": "); ok && direction != "" {
				l = name + ", " + direction + ": " + rest
			}
			if l != "" {
				found = append(found, l)
			}
		}
	}
	req, rep := "", "on the way back"
	add(req, firstHop(in, src.Node, src), forward(in, src.Node, dst))
	if dst.Node != src.Node {
		add(req, forward(in, dst.Node, dst))
	}
	add(rep, firstHop(in, dst.Node, dst), forward(in, dst.Node, src))
	if dst.Node != src.Node {
		add(rep, forward(in, src.Node, src))
	}
	if len(found) == 0 {
		nodes := src.Node
		if dst.Node != src.Node {
			nodes += " and " + dst.Node
		}
		needs := "the veths' proxy_arp and forwarding, the routes"
		if e, ok := in.Expect.Node(src.Node); ok && e.Device != nil {
			needs += ", vxlan.calico's neighbours and FDB"
		}
		return fmt.Sprintf("cannot be told from the tables: those of %s hold every entry this path needs (%s)", nodes, needs)
	}
	return strings.Join(slices.Compact(found), "; ")
}

// firstHop judges the way out of pod p on its node: the pod's default route via 169.254.1.1,
// and the host end of its veth, which must answer the pod's ARP for that address (proxy_arp)
// and route what it receives (forwarding).
func firstHop(in *Inputs, node string, p facts.Pod) string {
	e, ok := in.Expect.Node(node)
	s := in.Nodes[node]
	if !ok || s == nil {
		return ""
	}
	dev := ""
	for _, pr := range e.PodRoutes {
		if pr.Pod.Namespace == p.Namespace && pr.Pod.Name == p.Name {
			dev = pr.Dev
		}
	}
	id := podID(p.Namespace, p.Name)
	if dev != "" && s.Has(observed.TableSysctls) {
		if v := s.Sysctls["net.ipv4.conf."+dev+".proxy_arp"]; v == "0" {
			return fmt.Sprintf("neighbour (ARP): on %s the host end of %s's veth, %s, has proxy_arp 0: nothing answers the pod's ARP for its gateway %s", node, id, dev, expect.PodGateway)
		}
		if v := s.Sysctls["net.ipv4.conf."+dev+".forwarding"]; v == "0" {
			return fmt.Sprintf("forwarding: on %s, %s (the host end of %s's veth) has forwarding 0: the node does not route the pod's packets", node, dev, id)
		}
	}
	if dev != "" && s.Has(observed.TableLinks) {
		if l, ok := s.Link(dev); ok && !l.Up {
			return fmt.Sprintf("link: on %s, %s (the host end of %s's veth) is down", node, dev, id)
		}
	}
	if s.Has(observed.TablePods) {
		for _, w := range s.Pods {
			if w.Namespace != p.Namespace || w.Name != p.Name || w.Absent[observed.TableRoutes] {
				continue
			}
			gw := netip.MustParseAddr(expect.PodGateway)
			if !slices.ContainsFunc(w.Routes, func(r observed.Route) bool { return r.Dst.Bits() == 0 && r.Gateway == gw }) {
				return fmt.Sprintf("route: pod %s has no default route via %s", id, expect.PodGateway)
			}
		}
	}
	return ""
}

// forward judges node's way toward pod to: its route (the pod's /32 when the pod is local, the
// block route the facts call for otherwise) and, after it, the neighbour and FDB entries that
// route needs.
func forward(in *Inputs, node string, to facts.Pod) string {
	e, ok := in.Expect.Node(node)
	s := in.Nodes[node]
	if !ok || s == nil || !s.Has(observed.TableRoutes) {
		return ""
	}
	got := lookup(s, to.IP)
	if to.Node == node {
		for _, pr := range e.PodRoutes {
			if pr.Pod.IP != to.IP {
				continue
			}
			if got == nil || got.Dst != pr.Dst || got.Dev != pr.Dev {
				return fmt.Sprintf("route: %s has no route %s dev %s to its pod %s%s", node, pr.Dst, pr.Dev, podID(to.Namespace, to.Name), followed(got))
			}
		}
		return ""
	}
	want, ok := e.RouteTo(to.IP)
	if !ok {
		return "" // no block holds the address: routes.blocks reports it
	}
	switch {
	case got == nil:
		return fmt.Sprintf("route: %s has no route to %s (block %s)", node, to.IP, want.Dst)
	case got.Type != "" && got.Type != "unicast":
		return fmt.Sprintf("route: %s's route to %s (%s) is %s", node, to.IP, got.Dst, got.Type)
	case got.Dst.Bits() < want.Dst.Bits():
		return fmt.Sprintf("route: %s has no route to %s's block %s%s", node, to.IP, want.Dst, followed(got))
	}
	wantDev := want.Dev
	if want.Underlay {
		wantDev = findUnderlay(e, s).Dev
	}
	if (wantDev != "" && got.Dev != wantDev) || (want.Gateway.IsValid() && got.Gateway != want.Gateway) {
		return fmt.Sprintf("route: %s routes %s %s; the path needs %s", node, got.Dst, via(got.Gateway, got.Dev), via(want.Gateway, orDefault(wantDev, "the underlay interface")))
	}
	if got.Dev == expect.VXLANDevice {
		return encapsulation(in, e, s, got.Gateway)
	}
	if got.Gateway.IsValid() && s.Has(observed.TableNeigh) {
		for _, n := range s.Neighs {
			if n.Dst == got.Gateway && n.Dev == got.Dev && unresolved(n) {
				return fmt.Sprintf("neighbour (ARP): %s's neighbour entry for %s on %s is %s: nobody answers its ARP there", node, got.Gateway, got.Dev, strings.Join(n.State, ","))
			}
		}
	}
	return ""
}

// encapsulation judges what a route through vxlan.calico via gw needs: a neighbour giving gw
// (a remote tunnel address) its VTEP MAC, and an FDB entry giving that MAC the remote node's
// underlay address as the outer destination.
func encapsulation(in *Inputs, e *expect.Node, s *observed.Node, gw netip.Addr) string {
	node := e.Name()
	var peer *expect.Neigh
	for _, n := range e.Neighs() {
		if n.Dst == gw {
			peer = &n
		}
	}
	if s.Has(observed.TableNeigh) {
		i := slices.IndexFunc(s.Neighs, func(n observed.Neigh) bool { return n.Dst == gw && n.Dev == expect.VXLANDevice })
		switch {
		case i < 0:
			return fmt.Sprintf("encapsulation: %s has no neighbour for the tunnel address %s on %s: the inner frame gets no destination MAC", node, gw, expect.VXLANDevice)
		case unresolved(s.Neighs[i]) || s.Neighs[i].LLAddr == "":
			return fmt.Sprintf("encapsulation: %s's neighbour for the tunnel address %s on %s is %s, not a permanent VTEP MAC", node, gw, expect.VXLANDevice, strings.Join(s.Neighs[i].State, ","))
		case peer != nil && s.Neighs[i].LLAddr != peer.LLAddr:
			return fmt.Sprintf("encapsulation: %s's neighbour %s on %s has MAC %s; %s's VTEP MAC is %s", node, gw, expect.VXLANDevice, s.Neighs[i].LLAddr, peer.Peer.Name, peer.LLAddr)
		}
	}
	if peer == nil || !s.Has(observed.TableFDB) {
		return ""
	}
	under := peer.Peer.Address.Addr()
	i := slices.IndexFunc(s.FDB, func(f observed.FDBEntry) bool {
		return f.Dev == expect.VXLANDevice && strings.EqualFold(f.MAC, peer.LLAddr) && f.Dst.IsValid()
	})
	switch {
	case i < 0:
		return fmt.Sprintf("encapsulation: %s's FDB has no entry for %s (%s's VTEP) on %s: the VXLAN packet gets no outer destination (%s)", node, peer.LLAddr, peer.Peer.Name, expect.VXLANDevice, under)
	case under.IsValid() && s.FDB[i].Dst != under:
		return fmt.Sprintf("encapsulation: %s's FDB sends %s to %s; %s's underlay address is %s", node, peer.LLAddr, s.FDB[i].Dst, peer.Peer.Name, under)
	}
	return ""
}

// lookup is the route the kernel would choose toward ip in the main table: the longest prefix
// holding it (nil when none does).
func lookup(s *observed.Node, ip netip.Addr) *observed.Route {
	var best *observed.Route
	for i := range s.Routes {
		r := &s.Routes[i]
		if !mainTable(r) || !r.Dst.Contains(ip) || r.Type == "local" || r.Type == "broadcast" {
			continue
		}
		if best == nil || r.Dst.Bits() > best.Dst.Bits() {
			best = r
		}
	}
	return best
}

// followed says which route a packet takes instead, when one does.
func followed(r *observed.Route) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf(": the packet follows %s %s instead", r.Dst, via(r.Gateway, r.Dev))
}

func via(gw netip.Addr, dev string) string {
	if gw.IsValid() {
		return fmt.Sprintf("via %s dev %s", gw, dev)
	}
	return "dev " + dev
}

// unresolved reports whether a neighbour entry holds no usable MAC.
func unresolved(n observed.Neigh) bool {
	return slices.ContainsFunc(n.State, func(st string) bool { return st == "FAILED" || st == "INCOMPLETE" })
}
