// Package eosjson reads and prints the `| json` forms of four Arista EOS show commands
// (`show interfaces status`, `show ip interface brief`, `show ip route`, `show vlan`) as the
// normalised switch model, decoded with encoding/json. EOS port names are translated to
// containerlab's (Ethernet3 → eth3), so the checks compare them with the lab's switchPort values
// directly. The cEOS collector (internal/collect/eos) sends the commands; capture files hold the
// same outputs.
package eosjson

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
)

// The commands whose output the Parse functions read and the Format functions print.
const (
	InterfacesStatusCmd = "show interfaces status | json"
	IPInterfaceBriefCmd = "show ip interface brief | json"
	IPRouteCmd          = "show ip route | json"
	VLANCmd             = "show vlan | json"
)

// Commands are the show commands a switch is read with, in the order the collector sends them.
var Commands = []string{InterfacesStatusCmd, IPInterfaceBriefCmd, IPRouteCmd, VLANCmd}

// shapes binds each command to the part of the switch its output shows.
var shapes = map[string]struct {
	parse  func(sw *observed.Switch, out []byte) error
	format func(sw *observed.Switch) []byte
}{
	InterfacesStatusCmd: {
		func(sw *observed.Switch, b []byte) (err error) { sw.Ports, err = ParseInterfacesStatus(b); return },
		func(sw *observed.Switch) []byte { return FormatInterfacesStatus(sw.Ports) },
	},
	IPInterfaceBriefCmd: {
		func(sw *observed.Switch, b []byte) (err error) { sw.SVIs, err = ParseIPInterfaceBrief(b); return },
		func(sw *observed.Switch) []byte { return FormatIPInterfaceBrief(sw.SVIs) },
	},
	IPRouteCmd: {
		func(sw *observed.Switch, b []byte) (err error) { sw.Routes, err = ParseIPRoute(b); return },
		func(sw *observed.Switch) []byte { return FormatIPRoute(sw.Routes) },
	},
	VLANCmd: {
		func(sw *observed.Switch, b []byte) (err error) { sw.VLANs, err = ParseVLANs(b); return },
		func(sw *observed.Switch) []byte { return FormatVLANs(sw.VLANs) },
	},
}

// Parse reads out, the output of cmd (one of Commands), into the part of sw that cmd shows.
func Parse(sw *observed.Switch, cmd string, out []byte) error {
	s, ok := shapes[cmd]
	if !ok {
		return fmt.Errorf("%q is not a command this package reads (want one of %q)", cmd, Commands)
	}
	return s.parse(sw, out)
}

// Format prints the part of sw that cmd (one of Commands) shows, as cmd prints it; nil for any
// other command.
func Format(sw *observed.Switch, cmd string) []byte {
	s, ok := shapes[cmd]
	if !ok {
		return nil
	}
	return s.format(sw)
}

// PortName translates an EOS front-panel interface name to containerlab's: Ethernet3 → eth3,
// the opposite of InterfaceName. Other interfaces (Management0, Vlan10, Cpu, Port-Channel1) are not front-panel ports.
func PortName(eos string) (string, bool) {
	n, ok := strings.CutPrefix(eos, "Ethernet")
	if !ok {
		return "", false
	}
	if _, err := strconv.Atoi(n); err != nil {
		return "", false // Ethernet1/1 on modular boxes has no containerlab counterpart
	}
	return "eth" + n, true
}

// vlanOfSVI is the VLAN ID of an SVI name: Vlan10 → 10.
func vlanOfSVI(name string) (int, bool) {
	n, ok := strings.CutPrefix(name, "Vlan")
	if !ok {
		return 0, false
	}
	id, err := strconv.Atoi(n)
	return id, err == nil
}

func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode EOS JSON: %w (was the command sent with `| json`?)", err)
	}
	return nil
}

// ParseInterfacesStatus reads `show interfaces status | json` into the front-panel ports.
func ParseInterfacesStatus(data []byte) ([]observed.SwitchPort, error) {
	var doc struct {
		InterfaceStatuses map[string]struct {
			Description     string `json:"description"`
			LinkStatus      string `json:"linkStatus"`
			VLANInformation struct {
				InterfaceMode string `json:"interfaceMode"`
				VLANID        int    `json:"vlanId"`
			} `json:"vlanInformation"`
		} `json:"interfaceStatuses"`
	}
	if err := decode(data, &doc); err != nil {
		return nil, err
	}
	if doc.InterfaceStatuses == nil {
		return nil, fmt.Errorf("no interfaceStatuses in the output")
	}
	var ports []observed.SwitchPort
	for eosName, st := range doc.InterfaceStatuses {
		name, ok := PortName(eosName)
		if !ok {
			continue
		}
		p := observed.SwitchPort{
			Name:        name,
			Up:          st.LinkStatus == "connected",
			Status:      st.LinkStatus,
			Description: st.Description,
		}
		switch st.VLANInformation.InterfaceMode {
		case "bridged": // EOS calls an access port "bridged" and shows its access VLAN
			p.Mode, p.VLAN = "access", st.VLANInformation.VLANID
		case "trunk":
			p.Mode = "trunk"
		case "routed":
			p.Mode = "routed"
		default:
			p.Mode = st.VLANInformation.InterfaceMode
		}
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return portLess(ports[i].Name, ports[j].Name) })
	return ports, nil
}

// portLess orders eth2 before eth10.
func portLess(a, b string) bool {
	na, _ := strconv.Atoi(strings.TrimPrefix(a, "eth"))
	nb, _ := strconv.Atoi(strings.TrimPrefix(b, "eth"))
	if na != nb {
		return na < nb
	}
	return a < b
}

// ParseIPInterfaceBrief reads `show ip interface brief | json` into the SVIs (VlanN interfaces).
// An SVI without an address has an invalid Address, which switch.svis reports.
func ParseIPInterfaceBrief(data []byte) ([]observed.SVI, error) {
	var doc struct {
		Interfaces map[string]struct {
			LineProtocolStatus string `json:"lineProtocolStatus"`
			MTU                int    `json:"mtu"`
			InterfaceAddress   struct {
				IPAddr struct {
					Address string `json:"address"`
					MaskLen int    `json:"maskLen"`
				} `json:"ipAddr"`
			} `json:"interfaceAddress"`
		} `json:"interfaces"`
	}
	if err := decode(data, &doc); err != nil {
		return nil, err
	}
	if doc.Interfaces == nil {
		return nil, fmt.Errorf("no interfaces in the output")
	}
	var svis []observed.SVI
	for name, st := range doc.Interfaces {
		id, ok := vlanOfSVI(name)
		if !ok {
			continue
		}
		svi := observed.SVI{Name: name, VLAN: id, Up: st.LineProtocolStatus == "up", MTU: st.MTU}
		// EOS shows an unaddressed interface as 0.0.0.0/0.
		if a, err := netip.ParseAddr(st.InterfaceAddress.IPAddr.Address); err == nil && !a.IsUnspecified() {
			p, err := a.Prefix(st.InterfaceAddress.IPAddr.MaskLen)
			if err != nil {
				return nil, fmt.Errorf("%s: mask length %d: %w", name, st.InterfaceAddress.IPAddr.MaskLen, err)
			}
			svi.Address = netip.PrefixFrom(a, p.Bits())
		}
		svis = append(svis, svi)
	}
	sort.Slice(svis, func(i, j int) bool { return svis[i].VLAN < svis[j].VLAN })
	return svis, nil
}

// ParseIPRoute reads `show ip route | json` (the default VRF) into the switch routes.
func ParseIPRoute(data []byte) ([]observed.SwitchRoute, error) {
	var doc struct {
		VRFs map[string]struct {
			Routes map[string]struct {
				RouteType string `json:"routeType"`
				Vias      []struct {
					Interface string `json:"interface"`
				} `json:"vias"`
			} `json:"routes"`
		} `json:"vrfs"`
	}
	if err := decode(data, &doc); err != nil {
		return nil, err
	}
	vrf, ok := doc.VRFs["default"]
	if !ok {
		return nil, fmt.Errorf("no default VRF in the output")
	}
	var routes []observed.SwitchRoute
	for dst, r := range vrf.Routes {
		p, err := netip.ParsePrefix(dst)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", dst, err)
		}
		sr := observed.SwitchRoute{Dst: p, Type: r.RouteType}
		if len(r.Vias) > 0 {
			sr.Iface = r.Vias[0].Interface
			if port, ok := PortName(sr.Iface); ok {
				sr.Iface = port
			}
		}
		routes = append(routes, sr)
	}
	sort.Slice(routes, func(i, j int) bool {
		if c := routes[i].Dst.Addr().Compare(routes[j].Dst.Addr()); c != 0 {
			return c < 0
		}
		return routes[i].Dst.Bits() < routes[j].Dst.Bits()
	})
	return routes, nil
}

// ParseVLANs reads `show vlan | json` into the VLANs with their front-panel member ports.
func ParseVLANs(data []byte) ([]observed.SwitchVLAN, error) {
	var doc struct {
		VLANs map[string]struct {
			Name       string                     `json:"name"`
			Interfaces map[string]json.RawMessage `json:"interfaces"`
		} `json:"vlans"`
	}
	if err := decode(data, &doc); err != nil {
		return nil, err
	}
	if doc.VLANs == nil {
		return nil, fmt.Errorf("no vlans in the output")
	}
	var vlans []observed.SwitchVLAN
	for idText, v := range doc.VLANs {
		id, err := strconv.Atoi(idText)
		if err != nil {
			return nil, fmt.Errorf("VLAN ID %q: %w", idText, err)
		}
		sv := observed.SwitchVLAN{ID: id, Name: v.Name}
		for ifName := range v.Interfaces {
			if port, ok := PortName(ifName); ok { // Cpu and Vxlan1 members are not ports
				sv.Ports = append(sv.Ports, port)
			}
		}
		sort.Slice(sv.Ports, func(i, j int) bool { return portLess(sv.Ports[i], sv.Ports[j]) })
		vlans = append(vlans, sv)
	}
	sort.Slice(vlans, func(i, j int) bool { return vlans[i].ID < vlans[j].ID })
	return vlans, nil
}
