// Package eosview prints a switch in Arista EOS's words: the text of `show vlan`, `show
// interfaces status`, `show ip interface brief` and `show ip route` as cEOS 4.34 prints them on
// the course's lab, rendered from the normalised switch model verify reads. It knows nothing of
// where the model was read.
package eosview

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse/eosjson"
)

// The commands, as EOS spells them.
const (
	ShowVLAN             = "show vlan"
	ShowInterfacesStatus = "show interfaces status"
	ShowIPInterfaceBrief = "show ip interface brief"
	ShowIPRoute          = "show ip route"
)

// Commands lists the commands in the order knetlab switch's help gives them.
var Commands = []string{ShowVLAN, ShowInterfacesStatus, ShowIPInterfaceBrief, ShowIPRoute}

// ParseCommand reads words typed after `knetlab switch <lab>` as one of Commands. Like EOS it
// takes "interface" for "interfaces" and any unambiguous prefix of each word ("sh ip int br").
func ParseCommand(words []string) (string, bool) {
	for _, cmd := range Commands {
		want := strings.Fields(cmd)
		if len(words) != len(want) {
			continue
		}
		ok := true
		for i, w := range words {
			w = strings.ToLower(w)
			if w == "" || !strings.HasPrefix(want[i], w) && !(want[i] == "interfaces" && w == "interface") {
				ok = false
				break
			}
		}
		if ok {
			return cmd, true
		}
	}
	return "", false
}

// Show prints the part of sw that cmd (one of Commands) shows.
func Show(sw *observed.Switch, cmd string) ([]byte, error) {
	var b bytes.Buffer
	switch cmd {
	case ShowVLAN:
		showVLAN(&b, sw)
	case ShowInterfacesStatus:
		showInterfacesStatus(&b, sw)
	case ShowIPInterfaceBrief:
		showIPInterfaceBrief(&b, sw)
	case ShowIPRoute:
		showIPRoute(&b, sw)
	default:
		return nil, fmt.Errorf("%q is not a command knetlab can show (want one of %s)", cmd, strings.Join(Commands, ", "))
	}
	return b.Bytes(), nil
}

// line writes one row with its trailing blanks trimmed, as the terminal shows it.
func line(b *bytes.Buffer, format string, args ...any) {
	b.WriteString(strings.TrimRight(fmt.Sprintf(format, args...), " "))
	b.WriteByte('\n')
}

// short is EOS's short interface name: eth3 → Et3.
func short(port string) string {
	return strings.Replace(eosjson.InterfaceName(port), "Ethernet", "Et", 1)
}

// showVLAN: VLAN 1 (default) always exists on EOS; a VLAN with an SVI lists the CPU among its
// ports, as EOS does.
func showVLAN(b *bytes.Buffer, sw *observed.Switch) {
	line(b, "%-5s %-32s %-9s %s", "VLAN", "Name", "Status", "Ports")
	line(b, "%s %s %s %s", strings.Repeat("-", 5), strings.Repeat("-", 32), strings.Repeat("-", 9), strings.Repeat("-", 31))
	vlans := append([]observed.SwitchVLAN(nil), sw.VLANs...)
	if !containsVLAN(vlans, 1) {
		vlans = append(vlans, observed.SwitchVLAN{ID: 1, Name: "default"})
	}
	sort.Slice(vlans, func(i, j int) bool { return vlans[i].ID < vlans[j].ID })
	for _, v := range vlans {
		var ports []string
		for _, s := range sw.SVIs {
			if s.VLAN == v.ID {
				ports = append(ports, "Cpu")
				break
			}
		}
		members := append([]string(nil), v.Ports...)
		sort.Slice(members, func(i, j int) bool { return portNumber(members[i]) < portNumber(members[j]) })
		for _, p := range members {
			ports = append(ports, short(p))
		}
		name := v.Name
		if name == "" {
			name = fmt.Sprintf("VLAN%04d", v.ID)
		}
		rows := wrapPorts(ports, 31)
		line(b, "%-5s %-32s %-9s %s", strconv.Itoa(v.ID), name, "active", rows[0])
		for _, r := range rows[1:] {
			line(b, "%-5s %-32s %-9s %s", "", "", "", r)
		}
	}
}

func containsVLAN(vlans []observed.SwitchVLAN, id int) bool {
	for _, v := range vlans {
		if v.ID == id {
			return true
		}
	}
	return false
}

// wrapPorts joins ports with ", " into lines of at most width characters.
func wrapPorts(ports []string, width int) []string {
	rows := []string{""}
	for i, p := range ports {
		cur := &rows[len(rows)-1]
		add := p
		if i < len(ports)-1 {
			add += ","
		}
		switch {
		case *cur == "":
			*cur = add
		case len(*cur)+1+len(add) <= width:
			*cur += " " + add
		default:
			rows = append(rows, add)
		}
	}
	return rows
}

func portNumber(name string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(name, "eth"))
	return n
}

// showInterfacesStatus: the model knows each port's description, link and access VLAN. What a
// port's transceiver would add (Duplex, Speed, Type) is not in it and stays empty.
func showInterfacesStatus(b *bytes.Buffer, sw *observed.Switch) {
	const row = "%-10s %-31s %-12s %-8s %-6s %-6s %-15s %-5s %s"
	line(b, row, "Port", "Name", "Status", "Vlan", "Duplex", "Speed", "Type", "Flags", "Encapsulation")
	for _, p := range sw.Ports {
		status := p.Status
		if status == "" {
			status = "notconnect"
			if p.Up {
				status = "connected"
			}
		}
		vlan := strconv.Itoa(p.VLAN)
		switch {
		case p.Mode == "trunk":
			vlan = "trunk"
		case p.Mode == "routed":
			vlan = "routed"
		case p.VLAN == 0:
			vlan = "1"
		}
		line(b, row, short(p.Name), p.Description, status, vlan, "", "", "", "", "")
	}
}

// showIPInterfaceBrief: "Address Owner" is a two-line header, as EOS prints it.
func showIPInterfaceBrief(b *bytes.Buffer, sw *observed.Switch) {
	const row = "%-17s %-20s %-12s %-14s %7s    %s"
	line(b, "%78s%s", "", "Address")
	line(b, row, "Interface", "IP Address", "Status", "Protocol", "MTU", "Owner")
	line(b, "%s %s %s %s %s %s", strings.Repeat("-", 17), strings.Repeat("-", 20), strings.Repeat("-", 12),
		strings.Repeat("-", 14), strings.Repeat("-", 10), strings.Repeat("-", 7))
	for _, s := range sw.SVIs {
		name := s.Name
		if name == "" {
			name = "Vlan" + strconv.Itoa(s.VLAN)
		}
		addr := "unassigned"
		if s.Address.IsValid() {
			addr = s.Address.String()
		}
		status, protocol := "up", "up"
		if !s.Up {
			status, protocol = "up", "lowerlayerdown"
		}
		mtu := ""
		if s.MTU > 0 {
			mtu = strconv.Itoa(s.MTU)
		}
		line(b, row, name, addr, status, protocol, mtu, "")
	}
}

// routeCodes are EOS's one-letter route sources.
var routeCodes = map[string]string{"connected": "C", "static": "S", "kernel": "K", "ospf": "O", "bgp": "B"}

// showIPRoute prints the routing table from "Gateway of last resort" on, each route on two
// lines as cEOS 4.34 prints them (the VRF and source-code legend above it are left out, as the
// course quotes it).
func showIPRoute(b *bytes.Buffer, sw *observed.Switch) {
	routes := append([]observed.SwitchRoute(nil), sw.Routes...)
	sort.Slice(routes, func(i, j int) bool { return routes[i].Dst.Addr().Less(routes[j].Dst.Addr()) })
	gateway := "Gateway of last resort is not set"
	for _, r := range routes {
		if r.Dst.Bits() == 0 {
			gateway = "Gateway of last resort:"
		}
	}
	line(b, "%s", gateway)
	line(b, "")
	for _, r := range routes {
		code, ok := routeCodes[r.Type]
		if !ok {
			code = "?"
		}
		line(b, " %-8s %s", code, r.Dst)
		if r.Type == "connected" {
			line(b, "%21s%s", "", "directly connected, "+eosjson.InterfaceName(r.Iface))
		} else {
			line(b, "%21s%s", "", "via "+eosjson.InterfaceName(r.Iface))
		}
	}
}
