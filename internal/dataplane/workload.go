package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/utils/sysctl"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Workload is a local pod as the datastore records it (an allocation whose attributes name
// the pod and this node): its address and the host end of its veth.
//
// Ownership: the CNI plugin creates the veth and the pod route; the agent, like Felix, only
// restores the route and the host-side settings of a workload the datastore records, and only
// while its veth exists. It never creates or deletes a veth and never deletes a pod route.
type Workload struct {
	Pod      string // "<namespace>/<name>", for logs
	IP       netip.Addr
	HostVeth string // a PodDevicePrefix device
}

// PodRouteProtocol marks pod routes: proto boot, as Calico's CNI plugin and Felix install them.
const PodRouteProtocol = unix.RTPROT_BOOT

// WorkloadSysctls are the host-side veth settings of docs/dataplane.md ("Pod wiring"), in the
// order they are applied: proxy ARP answering at once for 169.254.1.1, and forwarding.
func WorkloadSysctls(dev string) [][2]string {
	return [][2]string{
		{"net.ipv4.conf." + dev + ".proxy_arp", "1"},
		{"net.ipv4.neigh." + dev + ".proxy_delay", "0"},
		{"net.ipv4.conf." + dev + ".forwarding", "1"},
	}
}

// podRoute is the route the CNI plugin installs for w on the veth with index idx.
func podRoute(w Workload, idx int) *netlink.Route {
	return &netlink.Route{
		LinkIndex: idx,
		Dst:       &net.IPNet{IP: w.IP.AsSlice(), Mask: net.CIDRMask(32, 32)},
		Scope:     netlink.SCOPE_LINK,
		Protocol:  PodRouteProtocol,
		Table:     unix.RT_TABLE_MAIN,
	}
}

// applyWorkloads restores the pod route and host-side settings of every workload whose veth
// exists and is up. A veth that is absent or down is the CNI plugin's business (a pod being
// wired or removed); a route event or the next resync brings the agent back to it.
func (p *Programmer) applyWorkloads(ws []Workload, ch *Changes) error {
	var errs []error
	var live []Workload
	for _, w := range ws {
		if !strings.HasPrefix(w.HostVeth, PodDevicePrefix) || !w.IP.Is4() {
			errs = append(errs, fmt.Errorf("workload %s: %s/%s is not a pod veth and IPv4 address; the agent touches %s* devices only", w.Pod, w.HostVeth, w.IP, PodDevicePrefix))
			continue
		}
		link, err := p.handle.LinkByName(w.HostVeth)
		if err != nil || link.Attrs().Flags&net.FlagUp == 0 {
			continue
		}
		live = append(live, w)
		want := podRoute(w, link.Attrs().Index)
		have, err := p.handle.RouteListFiltered(netlink.FAMILY_V4, want, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
		if err != nil {
			errs = append(errs, fmt.Errorf("list routes to %s/32: %w", w.IP, err))
			continue
		}
		if slices.ContainsFunc(have, func(r netlink.Route) bool {
			return r.LinkIndex == want.LinkIndex && r.Scope == netlink.SCOPE_LINK && r.Gw == nil && r.Type == unix.RTN_UNICAST
		}) {
			continue
		}
		if err := p.handle.RouteReplace(want); err != nil {
			errs = append(errs, fmt.Errorf("restore pod route %s/32 dev %s of %s: %w", w.IP, w.HostVeth, w.Pod, err))
			continue
		}
		*ch = append(*ch, fmt.Sprintf("restore pod route %s/32 dev %s proto boot (%s)", w.IP, w.HostVeth, w.Pod))
	}
	if len(live) == 0 {
		return errors.Join(errs...)
	}
	err := p.netNS.Do(func(ns.NetNS) error {
		for _, w := range live {
			for _, kv := range WorkloadSysctls(w.HostVeth) {
				cur, err := sysctl.Sysctl(kv[0])
				if errors.Is(err, os.ErrNotExist) {
					break // the veth went away meanwhile
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("read %s: %w", kv[0], err))
					continue
				}
				if strings.TrimSpace(cur) == kv[1] {
					continue
				}
				if _, err := sysctl.Sysctl(kv[0], kv[1]); err != nil {
					errs = append(errs, fmt.Errorf("set %s=%s: %w", kv[0], kv[1], err))
					continue
				}
				*ch = append(*ch, fmt.Sprintf("set %s=%s (%s)", kv[0], kv[1], w.Pod))
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
