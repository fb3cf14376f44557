package netns

import (
	"context"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/kernelstate"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netns/labstate"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/state"
)

// Source implements provider.Provider: the live verify source of a deployed netns lab.
func (p *Provider) Source(_ context.Context, l *lab.Lab) (verify.Source, error) {
	if err := requireRoot("verify of a netns lab"); err != nil {
		return nil, err
	}
	rec, err := labstate.Read(p.root, l.Name)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("lab %s is not deployed by the netns provider", l.Name), "knetlab deploy "+l.Name)
	}
	return &Source{lab: l}, nil
}

// Source reads a live netns lab for the verify engine: the switch and node tables with netlink
// from inside their namespaces.
type Source struct {
	lab *lab.Lab
}

// Describe implements verify.Source.
func (s *Source) Describe() string { return "netns lab " + s.lab.Name }

// Facts implements verify.Source. The lab has no datastore until the CNI is deployed.
func (s *Source) Facts(context.Context) (*facts.Facts, error) {
	return nil, fmt.Errorf("no datastore in netns lab %s yet: %w", s.lab.Name, verify.ErrAbsent)
}

// Topology implements verify.Source: a node runs when its namespace exists, and is ready when
// its underlay interface is up (the CNI issue adds the agent to readiness).
func (s *Source) Topology(context.Context) ([]state.NodeStatus, error) {
	var out []state.NodeStatus
	for _, n := range s.lab.Nodes {
		out = append(out, memberStatus(s.lab.Name, n.Name, "node", n.Interface))
	}
	if sw := s.lab.Switch; sw != nil {
		st := memberStatus(s.lab.Name, sw.Name, "switch", "")
		out = append(out, st)
	}
	out = append(out, memberStatus(s.lab.Name, networkMember, "network", mgmtBridge))
	return out, nil
}

func memberStatus(labName, member, kind, iface string) state.NodeStatus {
	ns := NamespaceName(labName, member)
	st := state.NodeStatus{Name: member, Kind: kind}
	if inspectNamespace(ns) != nsPresent {
		st.Detail = fmt.Sprintf("namespace %s is missing; knetlab deploy %s repairs it", ns, labName)
		return st
	}
	st.Running = true
	if iface == "" {
		st.Ready = true
		return st
	}
	h, err := openNamespace(ns)
	if err != nil {
		st.Detail = err.Error()
		return st
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		st.Detail = err.Error()
		return st
	}
	defer nl.Close()
	link, err := nl.LinkByName(iface)
	switch {
	case err != nil:
		st.Detail = fmt.Sprintf("%s has no %s; knetlab deploy %s repairs it", member, iface, labName)
	case link.Attrs().RawFlags&unix.IFF_LOWER_UP == 0 || link.Attrs().Flags&net.FlagUp == 0:
		// Carrier, not operstate: operstate trails carrier by up to a second (linkwatch).
		st.Detail = fmt.Sprintf("%s %s is down (no carrier)", member, iface)
	default:
		st.Ready = true
	}
	return st
}

// NodeState implements verify.Source.
func (s *Source) NodeState(_ context.Context, node string) (*state.Node, error) {
	if _, ok := s.lab.Node(node); !ok {
		return nil, fmt.Errorf("lab %s has no node %q", s.lab.Name, node)
	}
	h, err := openNamespace(NamespaceName(s.lab.Name, node))
	if err != nil {
		return nil, fmt.Errorf("%w; knetlab deploy %s repairs it", err, s.lab.Name)
	}
	defer h.Close()
	return kernelstate.ReadNode(h, node)
}

// Switch implements verify.Source.
func (s *Source) Switch(context.Context) (*state.Switch, error) {
	if s.lab.Switch == nil {
		return nil, fmt.Errorf("lab %s has no switch: %w", s.lab.Name, verify.ErrAbsent)
	}
	h, err := openNamespace(NamespaceName(s.lab.Name, s.lab.Switch.Name))
	if err != nil {
		return nil, fmt.Errorf("%w; knetlab deploy %s repairs it", err, s.lab.Name)
	}
	defer h.Close()
	return kernelstate.ReadSwitch(h, s.lab.Switch.Name)
}
