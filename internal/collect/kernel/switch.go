package kernel

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/knetlab/knetlab/verify/observed"
)

var (
	// frontPanel are a switch's data ports, as containerlab names them (eth0 is management).
	frontPanel = regexp.MustCompile(`^eth[1-9][0-9]*$`)
	// sviName is an EOS VLAN interface name; the netns switch names its SVI devices the same.
	sviName = regexp.MustCompile(`^Vlan([1-9][0-9]{0,3})$`)
)

// ReadSwitch reads a netns switch: its front-panel ports eth1.. with their access VLAN and
// description (the interface alias), its SVIs VlanN (a bridge per VLAN, or an 802.1Q device on a
// VLAN-aware bridge) and the connected routes of their subnets. A port's VLAN comes from the
// bridge it is enslaved to: a per-VLAN bridge names it (Vlan10 → 10), a VLAN-aware bridge gives
// it as the port's PVID. A VLAN's name is its SVI's alias.
func ReadSwitch(ns netns.NsHandle, name string) (*observed.Switch, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("read switch %s: open netlink in its namespace: %w", name, err)
	}
	defer h.Close()

	links, names, carrier, err := readLinks(h)
	if err != nil {
		return nil, fmt.Errorf("read switch %s links: %w", name, err)
	}
	pvids, err := portPVIDs(h)
	if err != nil {
		return nil, fmt.Errorf("read switch %s bridge VLANs: %w", name, err)
	}

	sw := &observed.Switch{Name: name}
	vlans := map[int]*observed.SwitchVLAN{}
	for _, l := range links {
		m := sviName.FindStringSubmatch(l.Name)
		if m == nil || (l.Kind != "bridge" && l.Kind != "vlan") {
			continue
		}
		id, _ := strconv.Atoi(m[1])
		svi := observed.SVI{Name: l.Name, VLAN: id, Up: carrier[l.Index], MTU: l.MTU}
		if len(l.Addrs) > 0 {
			svi.Address = l.Addrs[0]
		}
		sw.SVIs = append(sw.SVIs, svi)
		vlans[id] = &observed.SwitchVLAN{ID: id, Name: l.Alias}
	}

	for _, l := range links {
		if !frontPanel.MatchString(l.Name) {
			continue
		}
		p := observed.SwitchPort{Name: l.Name, Up: carrier[l.Index], Mode: "access", Description: l.Alias}
		p.Status = "notconnect"
		if p.Up {
			p.Status = "connected"
		}
		if m := sviName.FindStringSubmatch(l.Master); m != nil {
			p.VLAN, _ = strconv.Atoi(m[1])
		} else if pvid, ok := pvids[l.Index]; ok {
			p.VLAN = pvid
		}
		if v, ok := vlans[p.VLAN]; ok {
			v.Ports = append(v.Ports, l.Name)
		}
		sw.Ports = append(sw.Ports, p)
	}
	sort.Slice(sw.Ports, func(i, j int) bool { return portNumber(sw.Ports[i].Name) < portNumber(sw.Ports[j].Name) })

	routes, err := readRoutes(h, names)
	if err != nil {
		return nil, fmt.Errorf("read switch %s routes: %w", name, err)
	}
	for _, r := range routes {
		if r.Type == "unicast" && r.Protocol == "kernel" && sviName.MatchString(r.Dev) {
			sw.Routes = append(sw.Routes, observed.SwitchRoute{Dst: r.Dst, Type: "connected", Iface: r.Dev})
		}
	}

	for _, v := range vlans {
		sw.VLANs = append(sw.VLANs, *v)
	}
	sort.Slice(sw.VLANs, func(i, j int) bool { return sw.VLANs[i].ID < sw.VLANs[j].ID })
	sort.Slice(sw.SVIs, func(i, j int) bool { return sw.SVIs[i].VLAN < sw.SVIs[j].VLAN })
	return sw, nil
}

func portNumber(name string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(name, "eth"))
	return n
}

// portPVIDs returns each bridge port's PVID on a VLAN-aware bridge; a kernel without bridge VLAN
// support answers with nothing, which leaves the per-VLAN-bridge reading.
func portPVIDs(h *netlink.Handle) (map[int]int, error) {
	all, err := h.BridgeVlanList()
	if err != nil {
		return nil, err
	}
	out := map[int]int{}
	for index, infos := range all {
		for _, info := range infos {
			if info.PortVID() {
				out[int(index)] = int(info.Vid)
			}
		}
	}
	return out, nil
}
