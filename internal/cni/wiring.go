package cni

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/utils/sysctl"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The constants of Calico's pod wiring (docs/dataplane.md, "Pod wiring").
var (
	// HostVethMAC is the MAC of every host-side veth. The pod never ARPs for a real host
	// address: its gateway is the fake 169.254.1.1, answered by proxy ARP on the host end, so
	// one fixed MAC serves every pod.
	HostVethMAC = net.HardwareAddr{0xee, 0xee, 0xee, 0xee, 0xee, 0xee}
	// PodGateway is the link-local next hop every pod routes through.
	PodGateway = netip.MustParseAddr("169.254.1.1")
)

// DefaultMTU is the pod MTU when neither the config nor a vxlan.calico device gives one.
const DefaultMTU = 1500

// HostVethName is the host end of a pod's veth: "cali" and the first 11 hex digits of
// SHA-1("<namespace>.<pod>"), 15 characters, the longest name Linux allows.
func HostVethName(pod PodID) string {
	sum := sha1.Sum([]byte(pod.Namespace + "." + pod.Name))
	return "cali" + hex.EncodeToString(sum[:])[:11]
}

// hostSysctls make the host end answer ARP for 169.254.1.1 at once and route the pod's
// traffic: proxy_arp with no delay (the default delay of up to 0.8 s would stall every new
// pod's first packet), forwarding on.
func hostSysctls(dev string) map[string]string {
	return map[string]string{
		"net.ipv4.conf." + dev + ".proxy_arp":    "1",
		"net.ipv4.neigh." + dev + ".proxy_delay": "0",
		"net.ipv4.conf." + dev + ".forwarding":   "1",
	}
}

// podMTU is the configured MTU, else vxlan.calico's, else DefaultMTU.
func podMTU(conf *NetConf) int {
	if conf.MTU > 0 {
		return conf.MTU
	}
	if l, err := netlink.LinkByName("vxlan.calico"); err == nil {
		return l.Attrs().MTU
	}
	return DefaultMTU
}

// wiring is what ADD built and CHECK expects.
type wiring struct {
	hostVeth string
	podIf    string
	podIP    netip.Addr
	mtu      int
	podMAC   string
}

// wirePod creates the veth pair and configures both ends. It runs in the host (node)
// namespace; podNS is the pod's.
func wirePod(podNS ns.NetNS, w *wiring) error {
	// A veth of the same name is a leftover of an earlier sandbox of this pod: Calico removes
	// it too, since the name can only belong to this pod.
	if old, err := netlink.LinkByName(w.hostVeth); err == nil {
		if err := netlink.LinkDel(old); err != nil {
			return fmt.Errorf("remove leftover %s: %w", w.hostVeth, err)
		}
	}
	// Created from the host side with the peer placed straight into the pod namespace, so
	// the pod end never appears in the node namespace, not even for a moment.
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: w.hostVeth, MTU: w.mtu, HardwareAddr: HostVethMAC},
		PeerName:      w.podIf,
		PeerNamespace: netlink.NsFd(int(podNS.Fd())),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s<->%s:%s: %w", w.hostVeth, podNS.Path(), w.podIf, err)
	}
	err := podNS.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(w.podIf)
		if err != nil {
			return fmt.Errorf("pod end %s: %w", w.podIf, err)
		}
		w.podMAC = link.Attrs().HardwareAddr.String()
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("set %s up: %w", w.podIf, err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: w.podIP.AsSlice(), Mask: net.CIDRMask(32, 32)}}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("add %s/32 to %s: %w", w.podIP, w.podIf, err)
		}
		gw := PodGateway.AsSlice()
		// The /32 leaves the pod no connected subnet, so the gateway needs its own link route
		// before the default route can use it.
		routes := []*netlink.Route{
			{LinkIndex: link.Attrs().Index, Dst: &net.IPNet{IP: gw, Mask: net.CIDRMask(32, 32)}, Scope: netlink.SCOPE_LINK},
			{LinkIndex: link.Attrs().Index, Gw: gw},
		}
		for _, r := range routes {
			if err := netlink.RouteAdd(r); err != nil {
				return fmt.Errorf("pod route %s: %w", r, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	host, err := netlink.LinkByName(w.hostVeth)
	if err != nil {
		return fmt.Errorf("host end %s: %w", w.hostVeth, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("set %s up: %w", w.hostVeth, err)
	}
	for name, value := range hostSysctls(w.hostVeth) {
		if _, err := sysctl.Sysctl(name, value); err != nil {
			return fmt.Errorf("set %s=%s: %w", name, value, err)
		}
	}
	// proto boot, like Calico's pod routes: the agent deletes only proto-80 routes.
	route := &netlink.Route{
		LinkIndex: host.Attrs().Index,
		Dst:       &net.IPNet{IP: w.podIP.AsSlice(), Mask: net.CIDRMask(32, 32)},
		Scope:     netlink.SCOPE_LINK,
		Protocol:  unix.RTPROT_BOOT,
	}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("host route %s/32 dev %s: %w", w.podIP, w.hostVeth, err)
	}
	return nil
}

// unwirePod removes the pod's veth; the kernel removes the host route with it. Absent is fine.
func unwirePod(podNSPath, podIf, hostVeth string) error {
	var errs []error
	if hostVeth != "" {
		if l, err := netlink.LinkByName(hostVeth); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", hostVeth, err))
			}
		}
	}
	if podNSPath != "" {
		err := ns.WithNetNSPath(podNSPath, func(ns.NetNS) error {
			l, err := netlink.LinkByName(podIf)
			if err != nil {
				return nil // gone with the host end, or never created
			}
			return netlink.LinkDel(l)
		})
		// A namespace that no longer exists has taken the veth with it.
		var notExist ns.NSPathNotExistErr
		if err != nil && !errors.As(err, &notExist) {
			errs = append(errs, fmt.Errorf("delete %s in %s: %w", podIf, podNSPath, err))
		}
	}
	return errors.Join(errs...)
}

// checkWiring compares the live wiring with w and lists every difference.
func checkWiring(podNS ns.NetNS, w wiring) error {
	var problems []string
	host, err := netlink.LinkByName(w.hostVeth)
	if err != nil {
		problems = append(problems, fmt.Sprintf("host end %s is missing", w.hostVeth))
	} else {
		if host.Attrs().HardwareAddr.String() != HostVethMAC.String() {
			problems = append(problems, fmt.Sprintf("%s has MAC %s, want %s", w.hostVeth, host.Attrs().HardwareAddr, HostVethMAC))
		}
		if host.Attrs().Flags&net.FlagUp == 0 {
			problems = append(problems, w.hostVeth+" is down")
		}
		if addrs, _ := netlink.AddrList(host, netlink.FAMILY_V4); len(addrs) > 0 {
			problems = append(problems, fmt.Sprintf("%s has IPv4 addresses %v, want none", w.hostVeth, addrs))
		}
		for name, want := range hostSysctls(w.hostVeth) {
			if got, err := sysctl.Sysctl(name); err != nil || strings.TrimSpace(got) != want {
				problems = append(problems, fmt.Sprintf("%s = %q, want %s", name, strings.TrimSpace(got), want))
			}
		}
		if !hasRoute(host.Attrs().Index, netip.PrefixFrom(w.podIP, 32), netip.Addr{}, netlink.SCOPE_LINK) {
			problems = append(problems, fmt.Sprintf("host route %s/32 dev %s scope link is missing", w.podIP, w.hostVeth))
		}
	}
	err = podNS.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(w.podIf)
		if err != nil {
			problems = append(problems, fmt.Sprintf("pod interface %s is missing", w.podIf))
			return nil
		}
		addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IPNet.String() != netip.PrefixFrom(w.podIP, 32).String() {
			problems = append(problems, fmt.Sprintf("%s addresses %v, want [%s/32]", w.podIf, addrs, w.podIP))
		}
		idx := link.Attrs().Index
		if !hasRoute(idx, netip.PrefixFrom(PodGateway, 32), netip.Addr{}, netlink.SCOPE_LINK) {
			problems = append(problems, fmt.Sprintf("pod route %s dev %s scope link is missing", PodGateway, w.podIf))
		}
		if !hasRoute(idx, netip.Prefix{}, PodGateway, netlink.SCOPE_UNIVERSE) {
			problems = append(problems, fmt.Sprintf("pod default route via %s dev %s is missing", PodGateway, w.podIf))
		}
		if w.mtu > 0 && link.Attrs().MTU != w.mtu {
			problems = append(problems, fmt.Sprintf("%s MTU %d, want %d", w.podIf, link.Attrs().MTU, w.mtu))
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("pod wiring differs from ADD: %s", strings.Join(problems, "; "))
	}
	return nil
}

// hasRoute looks for a main-table route out of linkIndex; an invalid dst means the default.
func hasRoute(linkIndex int, dst netip.Prefix, gw netip.Addr, scope netlink.Scope) bool {
	filter := &netlink.Route{LinkIndex: linkIndex, Table: unix.RT_TABLE_MAIN}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	if err != nil {
		return false
	}
	for _, r := range routes {
		var rdst netip.Prefix
		if r.Dst != nil {
			a, _ := netip.AddrFromSlice(r.Dst.IP)
			ones, _ := r.Dst.Mask.Size()
			rdst = netip.PrefixFrom(a.Unmap(), ones)
			if ones == 0 {
				rdst = netip.Prefix{}
			}
		}
		rgw, _ := netip.AddrFromSlice(r.Gw)
		if rdst == dst && rgw.Unmap() == gw && r.Scope == scope {
			return true
		}
	}
	return false
}
