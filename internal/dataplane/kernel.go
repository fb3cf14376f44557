package dataplane

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/utils/sysctl"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrIPIPUnsupported is reported when a pool wants IPIP and the kernel cannot create tunl0
// (no ipip module, as in many containers). Routes that need it are left out; the rest is
// programmed.
var ErrIPIPUnsupported = errors.New("IPIP is unsupported on this kernel (no ipip module); use a VXLAN pool")

// PodDevicePrefix names the host ends of pod veths. Their /32 routes belong to the CNI plugin,
// which installs them with proto boot, as Calico's CNI plugin and Felix do (Felix's
// DeviceRouteProtocol defaults to RTPROT_BOOT). The agent never deletes a route through a cali
// device, and pod routes are neither proto 80 nor bird, so pod routes are safe twice over. It
// restores a missing pod route of a workload the datastore records (workload.go).
const PodDevicePrefix = "cali"

// Changes lists what one Apply changed in the kernel, one line per change; empty means the
// node already matched.
type Changes []string

// Programmer applies plans to one network namespace.
type Programmer struct {
	netNS  ns.NetNS
	handle *netlink.Handle
	log    *slog.Logger
	// owned remembers the routes this programmer installed, so that a route stays "ours" even
	// after its pool disappears from the desired state and can still be removed.
	owned map[netip.Prefix]bool
	pools []netip.Prefix // the pools of the last Apply, for Teardown
}

// openNetNS opens the network namespace at nsPath, or the caller's own when nsPath is "".
func openNetNS(nsPath string) (ns.NetNS, error) {
	if nsPath == "" {
		target, err := ns.GetCurrentNS()
		if err != nil {
			return nil, fmt.Errorf("open the current network namespace: %w", err)
		}
		return target, nil
	}
	target, err := ns.GetNS(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %q: %w", nsPath, err)
	}
	return target, nil
}

// NewProgrammer programs the network namespace at nsPath (e.g. /var/run/netns/k01-worker), or
// the caller's own namespace when nsPath is "".
func NewProgrammer(nsPath string, log *slog.Logger) (*Programmer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	target, err := openNetNS(nsPath)
	if err != nil {
		return nil, fmt.Errorf("%w; is the node running?", err)
	}
	// A handle opened in the namespace keeps its sockets there, so later calls work from any
	// OS thread without switching namespaces.
	handle, err := netlink.NewHandleAt(netns.NsHandle(target.Fd()))
	if err != nil {
		target.Close()
		return nil, fmt.Errorf("netlink in %s: %w", target.Path(), err)
	}
	return &Programmer{netNS: target, handle: handle, log: log, owned: map[netip.Prefix]bool{}}, nil
}

// Close releases the namespace and netlink sockets; it does not change the dataplane.
func (p *Programmer) Close() error {
	p.handle.Close()
	return p.netNS.Close()
}

// NamespacePath is the namespace this programmer works in.
func (p *Programmer) NamespacePath() string { return p.netNS.Path() }

// Apply makes the namespace match d: it adds what is missing, replaces what differs and
// deletes what is stale, and touches nothing it does not own. It carries on past a failing
// entry so that one bad peer does not stop the rest, and returns every error joined.
func (p *Programmer) Apply(d DesiredState) (Changes, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	var ch Changes
	var errs []error
	if d.Parent == "" {
		parent, err := p.linkHolding(d.Self.Underlay.Addr())
		if err != nil {
			return nil, err
		}
		d.Parent = parent.Attrs().Name
	}
	plan := ComputePlan(d)
	for _, s := range plan.Skipped {
		p.log.Debug("not routed yet", "why", s)
	}
	p.pools = plan.NAT.AllPools

	// Pods reach remote blocks through this node, so it must forward (kubelet nodes do).
	if err := p.ensureSysctl("net.ipv4.ip_forward", "1", &ch); err != nil {
		errs = append(errs, err)
	}
	vxlanIndex, err := p.applyVXLAN(plan.VXLAN, &ch)
	if err != nil {
		errs = append(errs, err)
	}
	ipipErr := error(nil)
	if plan.NeedsIPIP {
		ipipErr = p.ensureIPIP(d.Self.TunnelIP, &ch)
		if ipipErr != nil {
			errs = append(errs, ipipErr)
		}
	}
	if err := p.applyRoutes(plan, vxlanIndex, ipipErr == nil, &ch); err != nil {
		errs = append(errs, err)
	}
	if vxlanIndex > 0 {
		if err := p.applyNeighbours(plan.Neighbours, vxlanIndex, &ch); err != nil {
			errs = append(errs, err)
		}
		if err := p.applyFDB(plan.FDB, vxlanIndex, &ch); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.applyNAT(plan.NAT, &ch); err != nil {
		errs = append(errs, err)
	}
	if err := p.applyWorkloads(d.Workloads, &ch); err != nil {
		errs = append(errs, err)
	}
	for _, c := range ch {
		p.log.Info("dataplane change", "change", c)
	}
	return ch, errors.Join(errs...)
}

// Teardown removes everything the agent programs: vxlan.calico (and with it its neighbours,
// FDB entries and routes), its other routes, and the NAT table. Nothing there is success.
func (p *Programmer) Teardown() error {
	var errs []error
	if link, err := p.handle.LinkByName(VXLANDeviceName); err == nil {
		if err := p.handle.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", VXLANDeviceName, err))
		}
	}
	routes, err := p.ownRoutes()
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range routes {
		if p.isStale(r) {
			if err := p.handle.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("delete route %s: %w", r.Dst, err))
			}
		}
	}
	if err := p.deleteNAT(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// linkHolding finds the interface that holds addr: the VXLAN parent P of docs/dataplane.md.
func (p *Programmer) linkHolding(addr netip.Addr) (netlink.Link, error) {
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return p.handle.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list addresses in %s: %w", p.netNS.Path(), err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr {
			return p.handle.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("no interface in %s holds the underlay address %s; check the node's address (autodetection CIDRs)", p.netNS.Path(), addr)
}

func (p *Programmer) ensureSysctl(name, value string, ch *Changes) error {
	return p.netNS.Do(func(ns.NetNS) error {
		cur, err := sysctl.Sysctl(name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if strings.TrimSpace(cur) == value {
			return nil
		}
		if _, err := sysctl.Sysctl(name, value); err != nil {
			return fmt.Errorf("set %s=%s: %w", name, value, err)
		}
		*ch = append(*ch, fmt.Sprintf("set %s=%s", name, value))
		return nil
	})
}

// applyVXLAN creates, repairs or removes vxlan.calico and returns its index (0 when absent).
func (p *Programmer) applyVXLAN(want *VXLANDevice, ch *Changes) (int, error) {
	existing, err := p.handle.LinkByName(VXLANDeviceName)
	if err != nil && !isNotFound(err) {
		return 0, fmt.Errorf("look up %s: %w", VXLANDeviceName, err)
	}
	if want == nil {
		if existing != nil {
			if err := p.handle.LinkDel(existing); err != nil {
				return 0, fmt.Errorf("delete %s (no VXLAN pool left): %w", VXLANDeviceName, err)
			}
			*ch = append(*ch, "delete device "+VXLANDeviceName)
		}
		return 0, nil
	}
	parent, err := p.handle.LinkByName(want.Parent)
	if err != nil {
		return 0, fmt.Errorf("VXLAN parent %s: %w", want.Parent, err)
	}
	desired := &netlink.Vxlan{
		LinkAttrs: netlink.LinkAttrs{
			Name:         VXLANDeviceName,
			MTU:          parent.Attrs().MTU - VXLANOverhead,
			HardwareAddr: want.MAC,
			// The kernel's default queue length (1000 for an Ethernet-like device), as Felix
			// leaves it: `ip link` shows "qlen 1000" as on a Calico node. 0 would set none.
			TxQLen: -1,
		},
		VxlanId:      VXLANVNI,
		VtepDevIndex: parent.Attrs().Index,
		SrcAddr:      want.Local.AsSlice(),
		Learning:     false,
		Port:         VXLANPort,
	}
	// VNI, port, local address, parent and learning cannot be changed in place on every
	// kernel, so a device that differs in any of them is rebuilt.
	if existing != nil && !sameVXLAN(existing, desired) {
		if err := p.handle.LinkDel(existing); err != nil {
			return 0, fmt.Errorf("delete mismatching %s: %w", VXLANDeviceName, err)
		}
		*ch = append(*ch, "delete mismatching device "+VXLANDeviceName)
		existing = nil
	}
	if existing == nil {
		if err := p.handle.LinkAdd(desired); err != nil {
			return 0, fmt.Errorf("create %s (VNI %d, port %d, local %s dev %s): %w", VXLANDeviceName, VXLANVNI, VXLANPort, want.Local, want.Parent, err)
		}
		*ch = append(*ch, fmt.Sprintf("create device %s vni %d dstport %d local %s dev %s", VXLANDeviceName, VXLANVNI, VXLANPort, want.Local, want.Parent))
		if existing, err = p.handle.LinkByName(VXLANDeviceName); err != nil {
			return 0, fmt.Errorf("find %s after creating it: %w", VXLANDeviceName, err)
		}
	}
	attrs := existing.Attrs()
	if attrs.MTU != desired.MTU {
		if err := p.handle.LinkSetMTU(existing, desired.MTU); err != nil {
			return 0, fmt.Errorf("set %s mtu %d: %w", VXLANDeviceName, desired.MTU, err)
		}
		*ch = append(*ch, fmt.Sprintf("set %s mtu %d", VXLANDeviceName, desired.MTU))
	}
	if !bytes.Equal(attrs.HardwareAddr, want.MAC) {
		if err := p.handle.LinkSetHardwareAddr(existing, want.MAC); err != nil {
			return 0, fmt.Errorf("set %s address %s: %w", VXLANDeviceName, want.MAC, err)
		}
		*ch = append(*ch, fmt.Sprintf("set %s address %s", VXLANDeviceName, want.MAC))
	}
	if err := p.applyDeviceAddress(existing, want.Address, ch); err != nil {
		return 0, err
	}
	if attrs.Flags&net.FlagUp == 0 {
		if err := p.handle.LinkSetUp(existing); err != nil {
			return 0, fmt.Errorf("set %s up: %w", VXLANDeviceName, err)
		}
		*ch = append(*ch, "set "+VXLANDeviceName+" up")
	}
	return attrs.Index, nil
}

func sameVXLAN(l netlink.Link, want *netlink.Vxlan) bool {
	v, ok := l.(*netlink.Vxlan)
	return ok && v.VxlanId == want.VxlanId && v.Port == want.Port && v.VtepDevIndex == want.VtepDevIndex &&
		v.SrcAddr.Equal(want.SrcAddr) && v.Learning == want.Learning
}

// applyDeviceAddress leaves exactly addr/32 on a tunnel device (none when addr is invalid).
func (p *Programmer) applyDeviceAddress(link netlink.Link, addr netip.Addr, ch *Changes) error {
	name := link.Attrs().Name
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return p.handle.AddrList(link, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", name, err)
	}
	have := false
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if addr.IsValid() && ip.Unmap() == addr && ones == 32 {
			have = true
			continue
		}
		if err := p.handle.AddrDel(link, &a); err != nil {
			return fmt.Errorf("remove stale address %s from %s: %w", a.IPNet, name, err)
		}
		*ch = append(*ch, fmt.Sprintf("remove address %s from %s", a.IPNet, name))
	}
	if addr.IsValid() && !have {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(32, 32)}}
		if err := p.handle.AddrAdd(link, a); err != nil {
			return fmt.Errorf("add address %s/32 to %s: %w", addr, name, err)
		}
		*ch = append(*ch, fmt.Sprintf("add address %s/32 to %s", addr, name))
	}
	return nil
}

// ensureIPIP makes tunl0 usable. tunl0 is the ipip module's fallback device: it appears in
// every namespace once the module is loaded, and asking for it loads the module where the
// kernel allows. If that fails, IPIP is not available here, which is a fact to report, not a
// bug to retry.
func (p *Programmer) ensureIPIP(tunnelIP netip.Addr, ch *Changes) error {
	link, err := p.handle.LinkByName(IPIPDeviceName)
	if err != nil {
		addErr := p.handle.LinkAdd(&netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: IPIPDeviceName}})
		if addErr != nil && !errors.Is(addErr, unix.EEXIST) {
			return fmt.Errorf("%w: creating %s: %v", ErrIPIPUnsupported, IPIPDeviceName, addErr)
		}
		if link, err = p.handle.LinkByName(IPIPDeviceName); err != nil {
			return fmt.Errorf("%w: %s did not appear: %v", ErrIPIPUnsupported, IPIPDeviceName, err)
		}
		*ch = append(*ch, "create device "+IPIPDeviceName)
	}
	if err := p.applyDeviceAddress(link, tunnelIP, ch); err != nil {
		return err
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := p.handle.LinkSetUp(link); err != nil {
			return fmt.Errorf("set %s up: %w", IPIPDeviceName, err)
		}
		*ch = append(*ch, "set "+IPIPDeviceName+" up")
	}
	return nil
}

// ownRoutes lists the main table's IPv4 routes the agent may own (see mayOwn).
func (p *Programmer) ownRoutes() ([]netlink.Route, error) {
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN}
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return p.handle.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes in %s: %w", p.netNS.Path(), err)
	}
	out := routes[:0]
	for _, r := range routes {
		if p.mayOwn(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// mayOwn is the ownership rule: a route may be the agent's when it is proto 80, or when it
// goes through vxlan.calico (whatever its protocol, as Felix writes those without one), and
// never when it goes through a pod device (the CNI plugin's), is proto bird (BIRD's, the
// node's BGP daemon, in BGP mode) or the kernel made it. Which of these are stale is
// isStale's question.
func (p *Programmer) mayOwn(r netlink.Route) bool {
	if r.Dst == nil || r.Protocol == unix.RTPROT_KERNEL || r.Protocol == ProtoBird {
		return false
	}
	dev := ""
	if r.LinkIndex > 0 {
		if l, err := p.handle.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
	}
	if strings.HasPrefix(dev, PodDevicePrefix) {
		return false
	}
	return r.Protocol == ProtoFelix || dev == VXLANDeviceName
}

// isStale says whether an undesired route the agent may own is its to delete: one through
// vxlan.calico (the agent's device), or one inside a pool, or one this agent installed before.
func (p *Programmer) isStale(r netlink.Route) bool {
	dst, ok := prefixOf(r.Dst)
	if !ok || !p.mayOwn(r) {
		return false
	}
	if p.owned[dst] {
		return true
	}
	if l, err := p.handle.LinkByIndex(r.LinkIndex); r.LinkIndex > 0 && err == nil && l.Attrs().Name == VXLANDeviceName {
		return true
	}
	for _, pool := range p.pools {
		if pool.Bits() <= dst.Bits() && pool.Contains(dst.Addr()) {
			return true
		}
	}
	return false
}

func (p *Programmer) applyRoutes(plan Plan, vxlanIndex int, ipipOK bool, ch *Changes) error {
	var errs []error
	existing, err := p.ownRoutes()
	if err != nil {
		return err
	}
	byDst := map[netip.Prefix]netlink.Route{}
	for _, r := range existing {
		if dst, ok := prefixOf(r.Dst); ok {
			byDst[dst] = r
		}
	}
	indexOf := map[string]int{VXLANDeviceName: vxlanIndex}
	wanted := map[netip.Prefix]bool{}
	for _, want := range plan.Routes {
		wanted[want.Dst] = true
		if want.Dev == IPIPDeviceName && !ipipOK {
			continue // reported once by ensureIPIP
		}
		nr, err := p.toNetlink(want, indexOf)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if have, ok := byDst[want.Dst]; ok && sameRoute(have, nr) {
			p.owned[want.Dst] = true
			continue
		}
		if err := p.handle.RouteReplace(nr); err != nil {
			errs = append(errs, fmt.Errorf("program route %s (%s): %w", want, want.Why, err))
			continue
		}
		p.owned[want.Dst] = true
		*ch = append(*ch, "route "+want.String())
	}
	for dst, r := range byDst {
		if wanted[dst] || !p.isStale(r) {
			continue
		}
		if err := p.handle.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete stale route %s: %w", dst, err))
			continue
		}
		delete(p.owned, dst)
		*ch = append(*ch, fmt.Sprintf("delete stale route %s", dst))
	}
	return errors.Join(errs...)
}

func (p *Programmer) toNetlink(r Route, indexOf map[string]int) (*netlink.Route, error) {
	if r.Protocol == 0 {
		return nil, fmt.Errorf("route %s has no protocol (a knetlab bug: every planned route names one)", r.Dst)
	}
	nr := &netlink.Route{
		Dst:      &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), 32)},
		Protocol: netlink.RouteProtocol(r.Protocol),
		Table:    unix.RT_TABLE_MAIN,
		Type:     unix.RTN_UNICAST,
	}
	if r.Blackhole {
		nr.Type = unix.RTN_BLACKHOLE
		return nr, nil
	}
	idx, ok := indexOf[r.Dev]
	if !ok {
		link, err := p.handle.LinkByName(r.Dev)
		if err != nil {
			return nil, fmt.Errorf("route %s: device %s: %w", r.Dst, r.Dev, err)
		}
		idx = link.Attrs().Index
		indexOf[r.Dev] = idx
	}
	if idx == 0 {
		return nil, fmt.Errorf("route %s: device %s does not exist", r.Dst, r.Dev)
	}
	nr.LinkIndex = idx
	if !r.Via.IsValid() {
		nr.Scope = netlink.SCOPE_LINK
		return nr, nil
	}
	nr.Gw = r.Via.AsSlice()
	if r.OnLink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	return nr, nil
}

// sameRoute compares field by field what docs/dataplane.md ("How found entries are compared") cares about; metric and MTU may differ.
func sameRoute(have netlink.Route, want *netlink.Route) bool {
	onlink := func(r netlink.Route) bool { return r.Flags&int(netlink.FLAG_ONLINK) != 0 }
	if have.Type != want.Type || have.Protocol != want.Protocol {
		return false
	}
	if want.Type == unix.RTN_BLACKHOLE {
		return true
	}
	return have.LinkIndex == want.LinkIndex && have.Gw.Equal(want.Gw) && have.Scope == want.Scope &&
		onlink(have) == onlink(*want) && len(have.MultiPath) == 0
}

func (p *Programmer) applyNeighbours(want []Neighbour, linkIndex int, ch *Changes) error {
	var errs []error
	existing, err := retryDump(func() ([]netlink.Neigh, error) { return p.handle.NeighList(linkIndex, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("list neighbours of %s: %w", VXLANDeviceName, err)
	}
	have := map[netip.Addr]netlink.Neigh{}
	for _, n := range existing {
		if ip, ok := netip.AddrFromSlice(n.IP); ok && n.LinkIndex == linkIndex {
			have[ip.Unmap()] = n
		}
	}
	wanted := map[netip.Addr]bool{}
	for _, w := range want {
		wanted[w.IP] = true
		if n, ok := have[w.IP]; ok && n.State&netlink.NUD_PERMANENT != 0 && bytes.Equal(n.HardwareAddr, w.MAC) {
			continue
		}
		nn := &netlink.Neigh{LinkIndex: linkIndex, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT, IP: w.IP.AsSlice(), HardwareAddr: w.MAC}
		if err := p.handle.NeighSet(nn); err != nil {
			errs = append(errs, fmt.Errorf("program neighbour %s: %w", w, err))
			continue
		}
		*ch = append(*ch, "neighbour "+w.String())
	}
	for ip, n := range have {
		if wanted[ip] {
			continue
		}
		if err := p.handle.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("delete stale neighbour %s on %s: %w", ip, VXLANDeviceName, err))
			continue
		}
		*ch = append(*ch, fmt.Sprintf("delete stale neighbour %s dev %s", ip, VXLANDeviceName))
	}
	return errors.Join(errs...)
}

func (p *Programmer) applyFDB(want []FDBEntry, linkIndex int, ch *Changes) error {
	var errs []error
	existing, err := retryDump(func() ([]netlink.Neigh, error) { return p.handle.NeighList(linkIndex, unix.AF_BRIDGE) })
	if err != nil {
		return fmt.Errorf("list FDB of %s: %w", VXLANDeviceName, err)
	}
	// Key by MAC and destination: a MAC may have several destinations (appended entries),
	// and every one that is not desired is stale.
	type key struct {
		mac string
		dst netip.Addr
	}
	have := map[key]netlink.Neigh{}
	for _, n := range existing {
		if n.LinkIndex != linkIndex {
			continue
		}
		dst, _ := netip.AddrFromSlice(n.IP)
		have[key{n.HardwareAddr.String(), dst.Unmap()}] = n
	}
	wanted := map[key]bool{}
	for _, w := range want {
		k := key{w.MAC.String(), w.Dst}
		wanted[k] = true
		if n, ok := have[k]; ok && n.State&netlink.NUD_PERMANENT != 0 {
			continue
		}
		nn := &netlink.Neigh{
			LinkIndex: linkIndex, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
			State: netlink.NUD_PERMANENT, IP: w.Dst.AsSlice(), HardwareAddr: w.MAC,
		}
		if err := p.handle.NeighSet(nn); err != nil {
			errs = append(errs, fmt.Errorf("program FDB entry %s: %w", w, err))
			continue
		}
		*ch = append(*ch, "fdb "+w.String())
	}
	for k, n := range have {
		if wanted[k] {
			continue
		}
		n.Family = unix.AF_BRIDGE
		n.Flags |= netlink.NTF_SELF
		if err := p.handle.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("delete stale FDB entry %s dst %s: %w", k.mac, k.dst, err))
			continue
		}
		*ch = append(*ch, fmt.Sprintf("delete stale fdb %s dst %s", k.mac, k.dst))
	}
	return errors.Join(errs...)
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// retryDump repeats a netlink dump that the kernel interrupted because the table changed
// under it; the agent acts on the result, so a partial one is not good enough.
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range 5 {
		var out []T
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}
