// Package kernel reads a network namespace's live tables with netlink into the normalised
// model of verify/observed: a node's routes, links, addresses, neighbours, vxlan FDB and the sysctls
// of its cali interfaces (ReadNode), and a netns switch's ports, SVIs and routes (ReadSwitch).
//
// Names follow what iproute2 prints, so a live read and a person's capture of the same node
// compare equal: route protocols as in iproute2's rt_protos (2 "kernel", 3 "boot", 4 "static",
// 11 "zebra", 12 "bird", ...), unknown ones as their number ("80", Calico felix's); neighbour
// states as `ip neigh` prints them (PERMANENT, REACHABLE, ...); operstate as `ip link` does.
//
// Every netlink call goes through a socket opened inside the namespace (netlink.NewHandleAt), so
// no thread changes namespace except for /proc/sys reads (see Do).
package kernel

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/verify/observed"
)

// ReadNode reads the node tables of the namespace ns. name is the lab node's name.
func ReadNode(ns netns.NsHandle, name string) (*observed.Node, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("read %s: open netlink in its namespace: %w", name, err)
	}
	defer h.Close()

	node := &observed.Node{Name: name}
	links, names, _, err := readLinks(h)
	if err != nil {
		return nil, fmt.Errorf("read %s links: %w", name, err)
	}
	node.Links = links
	node.Mark(observed.TableLinks)
	node.Mark(observed.TableAddrs)

	if node.Routes, err = readRoutes(h, names); err != nil {
		return nil, fmt.Errorf("read %s routes: %w", name, err)
	}
	node.Mark(observed.TableRoutes)

	if node.Neighs, err = readNeighs(h, names); err != nil {
		return nil, fmt.Errorf("read %s neighbours: %w", name, err)
	}
	node.Mark(observed.TableNeigh)

	if node.FDB, err = readFDB(h, links, names); err != nil {
		return nil, fmt.Errorf("read %s fdb: %w", name, err)
	}
	node.Mark(observed.TableFDB)

	var keys []string
	for _, l := range links {
		if strings.HasPrefix(l.Name, "cali") {
			keys = append(keys, CaliSysctls(l.Name)...)
		}
	}
	if node.Sysctls, err = ReadSysctls(ns, keys); err != nil {
		return nil, fmt.Errorf("read %s sysctls: %w", name, err)
	}
	node.Mark(observed.TableSysctls)
	return node, nil
}

// CaliSysctls are the per-interface sysctls pods.wiring judges on a pod's host-side veth.
func CaliSysctls(iface string) []string {
	return []string{
		"net.ipv4.conf." + iface + ".proxy_arp",
		"net.ipv4.conf." + iface + ".forwarding",
		"net.ipv4.neigh." + iface + ".proxy_delay",
	}
}

// linkNames maps interface indexes of one namespace to names.
type linkNames map[int]string

// parent names a peer as `ip link` does: its name when it is in this namespace, else "if<index>".
func (n linkNames) parent(index int) string {
	if index == 0 {
		return ""
	}
	if name, ok := n[index]; ok {
		return name
	}
	return "if" + strconv.Itoa(index)
}

// readLinks also returns, per index, whether the link has carrier (IFF_LOWER_UP). The kernel
// sets carrier synchronously, while operstate follows through the linkwatch work queue, up to
// a second later for a bridge; "line protocol up" is read from carrier for that reason.
func readLinks(h *netlink.Handle) ([]observed.Link, linkNames, map[int]bool, error) {
	list, err := h.LinkList()
	if err != nil {
		return nil, nil, nil, err
	}
	names := linkNames{}
	carrier := map[int]bool{}
	for _, l := range list {
		names[l.Attrs().Index] = l.Attrs().Name
		carrier[l.Attrs().Index] = l.Attrs().RawFlags&unix.IFF_UP != 0 && l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("addresses: %w", err)
	}
	byIndex := map[int][]netip.Prefix{}
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			byIndex[a.LinkIndex] = append(byIndex[a.LinkIndex], p)
		}
	}

	out := make([]observed.Link, 0, len(list))
	for _, l := range list {
		a := l.Attrs()
		sl := observed.Link{
			Name:      a.Name,
			Index:     a.Index,
			Kind:      linkKind(l),
			MTU:       a.MTU,
			MAC:       linkMAC(a),
			Up:        a.Flags&net.FlagUp != 0,
			OperState: operState(a.OperState),
			Master:    names.parent(a.MasterIndex),
			Alias:     a.Alias,
			Addrs:     byIndex[a.Index],
		}
		switch l.Type() {
		case "veth", "vlan", "macvlan", "ipvlan":
			sl.Parent = names.parent(a.ParentIndex)
		}
		if vx, ok := l.(*netlink.Vxlan); ok {
			local, _ := netip.AddrFromSlice(vx.SrcAddr.To4())
			sl.VXLAN = &observed.VXLAN{VNI: vx.VxlanId, Port: vx.Port, Local: local, Dev: names.parent(vx.VtepDevIndex), Learning: vx.Learning}
		}
		if st := a.Statistics; st != nil {
			sl.Stats = &observed.LinkStats{RxPackets: st.RxPackets, TxPackets: st.TxPackets}
		}
		out = append(out, sl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, names, carrier, nil
}

// linkMAC is the MAC as `ip link` prints it. The netlink library drops an all-zero address, but
// ip prints the loopback's (and any Ethernet device's) as 00:00:00:00:00:00.
func linkMAC(a *netlink.LinkAttrs) string {
	if len(a.HardwareAddr) == 0 && (a.EncapType == "loopback" || a.EncapType == "ether") {
		return "00:00:00:00:00:00"
	}
	return strings.ToLower(a.HardwareAddr.String())
}

// linkKind is the kind `ip -d link` shows; netlink calls links without IFLA_INFO_KIND (loopback,
// physical NICs) "device", which ip shows no kind for.
func linkKind(l netlink.Link) string {
	if t := l.Type(); t != "device" {
		return t
	}
	return ""
}

func operState(s netlink.LinkOperState) string {
	switch s {
	case netlink.OperUp:
		return "UP"
	case netlink.OperDown:
		return "DOWN"
	case netlink.OperLowerLayerDown:
		return "LOWERLAYERDOWN"
	case netlink.OperNotPresent:
		return "NOTPRESENT"
	case netlink.OperTesting:
		return "TESTING"
	case netlink.OperDormant:
		return "DORMANT"
	}
	return "UNKNOWN"
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(ip, bits), true
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip.To4())
	return a
}

func readRoutes(h *netlink.Handle, names linkNames) ([]observed.Route, error) {
	list, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	out := make([]observed.Route, 0, len(list))
	for _, r := range list {
		out = append(out, routeOf(r, names))
	}
	return out, nil
}

// routeOf is one netlink route in the names `ip route` prints.
func routeOf(r netlink.Route, names linkNames) observed.Route {
	dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0) // the default route has no RTA_DST
	if p, ok := prefixOf(r.Dst); ok {
		dst = p
	}
	return observed.Route{
		Type:     RouteType(r.Type),
		Dst:      dst,
		Gateway:  addrOf(r.Gw),
		Dev:      names.parent(r.LinkIndex),
		Protocol: ProtocolName(int(r.Protocol)),
		Scope:    scopeName(r.Scope),
		Onlink:   r.Flags&unix.RTNH_F_ONLINK != 0,
		Metric:   r.Priority,
		MTU:      r.MTU,
		Src:      addrOf(r.Src),
		Nexthops: nexthops(r.MultiPath, names),
	}
}

// nexthops are the next hops of a multipath route (RTA_MULTIPATH), as `ip route` shows them:
// weight is the kernel's rtnh_hops plus one.
func nexthops(mp []*netlink.NexthopInfo, names linkNames) []observed.Nexthop {
	if len(mp) == 0 {
		return nil
	}
	out := make([]observed.Nexthop, 0, len(mp))
	for _, nh := range mp {
		out = append(out, observed.Nexthop{
			Gateway: addrOf(nh.Gw),
			Dev:     names.parent(nh.LinkIndex),
			Weight:  nh.Hops + 1,
			Onlink:  nh.Flags&unix.RTNH_F_ONLINK != 0,
		})
	}
	return out
}

// RouteType names an rtm_type as `ip route` does.
func RouteType(t int) string {
	switch t {
	case unix.RTN_UNICAST:
		return "unicast"
	case unix.RTN_LOCAL:
		return "local"
	case unix.RTN_BROADCAST:
		return "broadcast"
	case unix.RTN_ANYCAST:
		return "anycast"
	case unix.RTN_MULTICAST:
		return "multicast"
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	case unix.RTN_THROW:
		return "throw"
	case unix.RTN_NAT:
		return "nat"
	}
	return strconv.Itoa(t)
}

// rtProtos are the names iproute2 ships in /etc/iproute2/rt_protos. Calico felix's 80 has no
// name there, so `ip route` prints "proto 80" and so does this package.
var rtProtos = map[int]string{
	0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static",
	8: "gated", 9: "ra", 10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp",
	15: "ntk", 16: "dhcp", 18: "keepalived", 42: "babel", 99: "openr",
	186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp",
}

// ProtocolName names a route protocol as `ip route` prints it.
func ProtocolName(p int) string {
	if n, ok := rtProtos[p]; ok {
		return n
	}
	return strconv.Itoa(p)
}

func scopeName(s netlink.Scope) string {
	switch s {
	case netlink.SCOPE_UNIVERSE:
		return "" // `ip route` does not print the global scope
	case netlink.SCOPE_LINK:
		return "link"
	case netlink.SCOPE_HOST:
		return "host"
	case netlink.SCOPE_SITE:
		return "site"
	case netlink.SCOPE_NOWHERE:
		return "nowhere"
	}
	return strconv.Itoa(int(s))
}

func readNeighs(h *netlink.Handle, names linkNames) ([]observed.Neigh, error) {
	list, err := h.NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var out []observed.Neigh
	for _, n := range list {
		// `ip neigh` shows only states inside 0xFF & ~NUD_NOARP: it hides NOARP entries
		// (multicast, loopback) and NONE ones; so does this reader.
		if n.State&unix.NUD_NOARP != 0 || n.State == unix.NUD_NONE {
			continue
		}
		out = append(out, observed.Neigh{
			Dst:    addrOf(n.IP),
			Dev:    names.parent(n.LinkIndex),
			LLAddr: strings.ToLower(n.HardwareAddr.String()),
			State:  NeighStates(n.State),
		})
	}
	return out, nil
}

var nudNames = []struct {
	bit  int
	name string
}{
	{unix.NUD_INCOMPLETE, "INCOMPLETE"},
	{unix.NUD_REACHABLE, "REACHABLE"},
	{unix.NUD_STALE, "STALE"},
	{unix.NUD_DELAY, "DELAY"},
	{unix.NUD_PROBE, "PROBE"},
	{unix.NUD_FAILED, "FAILED"},
	{unix.NUD_NOARP, "NOARP"},
	{unix.NUD_PERMANENT, "PERMANENT"},
}

// NeighStates names the NUD bits of a neighbour state as `ip neigh` prints them.
func NeighStates(s int) []string {
	if s == unix.NUD_NONE {
		return []string{"NONE"}
	}
	var out []string
	for _, n := range nudNames {
		if s&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// readFDB reads the forwarding entries of every vxlan device: the VTEP of each remote MAC.
func readFDB(h *netlink.Handle, links []observed.Link, names linkNames) ([]observed.FDBEntry, error) {
	var out []observed.FDBEntry
	for _, l := range links {
		if l.Kind != "vxlan" {
			continue
		}
		list, err := h.NeighList(l.Index, unix.AF_BRIDGE)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.Name, err)
		}
		for _, n := range list {
			out = append(out, observed.FDBEntry{
				MAC:       strings.ToLower(n.HardwareAddr.String()),
				Dev:       l.Name,
				Dst:       addrOf(n.IP),
				Self:      n.Flags&unix.NTF_SELF != 0,
				Permanent: n.State&unix.NUD_PERMANENT != 0,
				Master:    names.parent(n.MasterIndex),
			})
		}
	}
	return out, nil
}
