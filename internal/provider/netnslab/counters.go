package netnslab

import (
	"context"
	"fmt"
	"sort"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// LinkCounters implements provider.LinkCounters: every interface of the node's namespace with
// the counters netlink reports (IFLA_STATS64), read without the lab's lock, changing nothing.
func (p *Provider) LinkCounters(ctx context.Context, labName, node string) ([]provider.LinkCounter, error) {
	if err := checkLabName(labName); err != nil {
		return nil, err
	}
	if err := requireRoot("watch"); err != nil {
		return nil, err
	}
	rec, err := journal.Read(p.root, labName)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("lab %s is not deployed by the netns provider", labName), "sudo knetlab deploy "+labName)
	}
	ns, ok := rec.Namespace(node)
	if !ok || ns.Role != journal.RoleNode && ns.Role != journal.RoleSwitch {
		var names []string
		for _, n := range rec.Namespaces {
			if n.Role == journal.RoleNode || n.Role == journal.RoleSwitch {
				names = append(names, n.Node)
			}
		}
		sort.Strings(names)
		return nil, exitcode.Usagef("lab %s has no node %q (nodes: %v)", labName, node, names)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w; knetlab deploy %s repairs it", ns.Name, err, labName)
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns.Name, err)
	}
	defer nl.Close()
	links, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list the links of %s: %w", node, err)
	}
	out := make([]provider.LinkCounter, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		c := provider.LinkCounter{Name: a.Name}
		if st := a.Statistics; st != nil {
			c.RxPackets, c.TxPackets, c.RxBytes, c.TxBytes = st.RxPackets, st.TxPackets, st.RxBytes, st.TxBytes
		}
		out = append(out, c)
	}
	return out, nil
}
