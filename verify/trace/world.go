// Package trace follows one packet through a lab's tables, hop by hop: the pod's route to
// 169.254.1.1, the host end's proxy ARP, the node's route to the destination, vxlan.calico's
// neighbour and FDB entry and the outer header, the underlay through the switch's VLANs and
// SVIs, decapsulation on the remote node and delivery through the pod's cali interface. It
// walks the tables a source gives (a live lab, a capture), asks a live node's kernel for its
// route decisions where the source can (source.Router), and walks the tables verify expects
// with the same code, so that the first hop where the two paths part is named with the
// expectation's reason.
package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
	"github.com/knetlab/knetlab/verify/spec"
)

// World is what a walk reads: the facts, each node's tables (read once, on first use), the
// switch, and where the source can, the kernel's own route decisions.
type World struct {
	// Facts are the cluster's pools, nodes, affinities and pods.
	Facts *facts.Facts
	// Describe names where the tables came from ("netns lab calico-overlay", "capture ./cap").
	Describe string
	// Live is true for a running lab.
	Live bool
	// Switch is the switch's state; nil when the lab has none or it was not read (SwitchWhy).
	Switch    *observed.Switch
	SwitchWhy string
	// NoSwitch is true when the lab is known and declares no switch: its nodes share one
	// network (kind's docker network), and a capture holds nothing else of it.
	NoSwitch bool
	// Ports maps a switch port (eth2) to the lab node behind it.
	Ports map[string]string
	// SwitchSpec is the switch the lab declares; the expected tables take its VLANs and SVIs.
	SwitchSpec *spec.Switch
	// BGP is how the lab routes its pools with BGP (its peers and route reflectors); nil when
	// it does not, or the lab is not known. The reasons of expected BGP routes name them.
	BGP *spec.BGP
	// Networks name the members of a live lab that are no node but can hold an underlay next
	// hop: the management network's gateway (the netns lab's "network"). A route the nodes
	// do not expect (a default route) can send a packet there.
	Networks []string
	// NotReady holds, by node, why a node on the path is not ready (its agent stopped):
	// its tables are the last it wrote and nothing keeps them.
	NotReady map[string]string

	load   func(ctx context.Context, node string) (*observed.Node, error)
	router source.Router
	// gateways asks the kernels of the Networks (the expected world has it too: a gateway's
	// tables are no Calico's).
	gateways source.Router
	nodes    map[string]nodeRead

	// expected is set on the world of expected tables: why each entry must be so.
	expected *expectation
}

type nodeRead struct {
	n   *observed.Node
	err error
}

// NewWorld makes a world over already read node tables (tests, and what a source gave).
func NewWorld(f *facts.Facts, nodes map[string]*observed.Node, sw *observed.Switch) *World {
	w := &World{Facts: f, Switch: sw, Ports: portsFromSwitch(sw), nodes: map[string]nodeRead{}}
	for name, n := range nodes {
		w.nodes[name] = nodeRead{n: n}
	}
	w.load = func(_ context.Context, node string) (*observed.Node, error) {
		return nil, fmt.Errorf("the tables of %s were not captured: %w", node, source.ErrAbsent)
	}
	return w
}

// FromSource makes a world that reads src: the facts and the switch at once, each node's
// tables when the walk first reaches it. The lab, when known, says which node is behind which
// switch port and what the switch must be (its VLANs and SVIs); without it the ports are read
// from their descriptions ("Connection to <node>") and the switch is expected as found.
func FromSource(ctx context.Context, src source.Source, l *spec.Lab) (*World, error) {
	f, err := src.Facts(ctx)
	if err != nil {
		return nil, err
	}
	w := &World{Facts: f, Describe: src.Describe(), Live: source.IsLive(src), nodes: map[string]nodeRead{}}
	w.load = src.NodeState
	if r, ok := src.(source.Router); ok {
		w.router, w.gateways = r, r
	}
	sw, err := src.Switch(ctx)
	switch {
	case errors.Is(err, source.ErrAbsent):
		w.SwitchWhy = err.Error()
	case err != nil:
		return nil, err
	default:
		w.Switch = sw
	}
	w.Ports = portsFromSwitch(w.Switch)
	if l != nil && l.Switch != nil {
		w.SwitchSpec = l.Switch
		w.Ports = map[string]string{}
		for _, p := range l.Switch.Ports {
			w.Ports[p.Name] = p.Node
		}
	}
	if l != nil {
		w.BGP = l.BGP
		w.NoSwitch = l.Switch == nil
	}
	if w.Live {
		w.NotReady = map[string]string{}
		if st, err := src.Topology(ctx); err == nil {
			for _, s := range st {
				switch {
				case s.Kind == "node" && !s.Ready:
					w.NotReady[s.Name] = s.Detail
				case s.Kind == "network" && s.Running:
					w.Networks = append(w.Networks, s.Name)
				}
			}
		}
	}
	return w, nil
}

// portsFromSwitch reads "Connection to <node>" from the port descriptions.
func portsFromSwitch(sw *observed.Switch) map[string]string {
	out := map[string]string{}
	if sw == nil {
		return out
	}
	for _, p := range sw.Ports {
		if node, ok := strings.CutPrefix(p.Description, "Connection to "); ok {
			out[p.Name] = strings.TrimSpace(node)
		}
	}
	return out
}

// Node returns a node's tables, reading them on first use; nil with the reason when they are
// not there.
func (w *World) Node(ctx context.Context, name string) (*observed.Node, error) {
	if r, ok := w.nodes[name]; ok {
		return r.n, r.err
	}
	n, err := w.load(ctx, name)
	if err == nil && w.expected != nil {
		n = w.expected.node(name, n)
	}
	w.nodes[name] = nodeRead{n: n, err: err}
	return n, err
}

// factsNode is the named node of the facts.
func (w *World) factsNode(name string) (*facts.Node, bool) {
	for i := range w.Facts.Nodes {
		if w.Facts.Nodes[i].Name == name {
			return &w.Facts.Nodes[i], true
		}
	}
	return nil, false
}

// portOf is the switch port a node is behind.
func (w *World) portOf(node string) (*observed.SwitchPort, bool) {
	if w.Switch == nil {
		return nil, false
	}
	for i := range w.Switch.Ports {
		if w.Ports[w.Switch.Ports[i].Name] == node {
			return &w.Switch.Ports[i], true
		}
	}
	return nil, false
}

// onSwitch reports whether a node's device with address a is cabled to the switch: the
// switch has an SVI in a's subnet.
func (w *World) onSwitch(a netip.Prefix) bool {
	if w.Switch == nil || !a.IsValid() {
		return false
	}
	for _, s := range w.Switch.SVIs {
		if s.Address.IsValid() && s.Address.Masked().Contains(a.Addr()) {
			return true
		}
	}
	return false
}

// Endpoint is one end of a trace: a pod, a node, or an address.
type Endpoint struct {
	// Kind is "pod", "node" or "ip".
	Kind string `json:"kind"`
	// Name is ns/name for a pod, the node's name, or the address.
	Name string     `json:"name"`
	IP   netip.Addr `json:"ip"`
	// Node is the pod's node, or the node itself.
	Node string    `json:"node,omitempty"`
	pod  facts.Pod // for a pod
}

// String is "default/net-w1 (192.168.93.65)".
func (e Endpoint) String() string {
	if e.Kind == "ip" {
		return e.Name
	}
	return fmt.Sprintf("%s (%s)", e.Name, e.IP)
}

// Resolve names an endpoint: "ns/name" or "name" of a pod, a node's name, or an IP address
// (which is named after the pod or node that holds it). The error is a usage error naming arg.
func (w *World) Resolve(arg string) (Endpoint, error) {
	if ns, name, ok := strings.Cut(arg, "/"); ok {
		for _, p := range w.Facts.Pods {
			if p.Namespace == ns && p.Name == name {
				return podEndpoint(p), nil
			}
		}
		return Endpoint{}, fmt.Errorf("no pod %s", arg)
	}
	var found []facts.Pod
	for _, p := range w.Facts.Pods {
		if p.Name == arg {
			found = append(found, p)
		}
	}
	if len(found) > 1 {
		return Endpoint{}, fmt.Errorf("pod name %s is in %d namespaces; say which: %s/%s or %s/%s", arg, len(found),
			found[0].Namespace, arg, found[1].Namespace, arg)
	}
	if len(found) == 1 {
		return podEndpoint(found[0]), nil
	}
	if n, ok := w.factsNode(arg); ok {
		if !n.Address.IsValid() {
			return Endpoint{}, fmt.Errorf("node %s has no underlay address in the facts", arg)
		}
		return Endpoint{Kind: "node", Name: n.Name, IP: n.Address.Addr(), Node: n.Name}, nil
	}
	ip, err := netip.ParseAddr(arg)
	if err != nil || !ip.Is4() {
		return Endpoint{}, fmt.Errorf("no pod, node or IPv4 address %q", arg)
	}
	for _, p := range w.Facts.Pods {
		if p.IP == ip {
			return podEndpoint(p), nil
		}
	}
	for _, n := range w.Facts.Nodes {
		if n.Address.Addr() == ip {
			return Endpoint{Kind: "node", Name: n.Name, IP: ip, Node: n.Name}, nil
		}
	}
	return Endpoint{Kind: "ip", Name: ip.String(), IP: ip}, nil
}

func podEndpoint(p facts.Pod) Endpoint {
	return Endpoint{Kind: "pod", Name: p.Namespace + "/" + p.Name, IP: p.IP, Node: p.Node, pod: p}
}
