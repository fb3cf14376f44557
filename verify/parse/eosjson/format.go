package eosjson

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
)

// The Format functions print a normalised switch back in the `| json` shapes the Parse functions
// read, so that a switch read some other way (the netns provider's, with netlink) is saved in a
// capture exactly like a cEOS one and verify --from reads both the same way. They render the
// model, not a device: fields the model does not hold (counters, bandwidth, MTU) are left out,
// and the Parse functions read back every field the switch checks use.

// InterfaceName translates a containerlab port name to its EOS interface name: eth3 → Ethernet3,
// the opposite of PortName. Other names (Vlan10) are EOS names already.
func InterfaceName(name string) string {
	if n, ok := strings.CutPrefix(name, "eth"); ok {
		if _, err := strconv.Atoi(n); err == nil {
			return "Ethernet" + n
		}
	}
	return name
}

func encode(v any) []byte {
	// Every value here is plain maps, slices, strings and numbers, which always marshal.
	b, _ := json.MarshalIndent(v, "", "    ")
	return append(b, '\n')
}

// FormatInterfacesStatus prints ports as `show interfaces status | json`.
func FormatInterfacesStatus(ports []observed.SwitchPort) []byte {
	statuses := map[string]any{}
	for _, p := range ports {
		// EOS says "connected" for a port whose link is up, whatever else called it.
		status := p.Status
		switch {
		case p.Up:
			status = "connected"
		case status == "" || status == "connected":
			status = "notconnect"
		}
		mode := p.Mode
		vlan := map[string]any{}
		switch mode {
		case "access", "":
			mode = "bridged" // EOS's name for an access port, shown with its access VLAN
			vlan["vlanId"] = p.VLAN
		}
		vlan["interfaceMode"] = mode
		vlan["interfaceForwardingModel"] = map[bool]string{true: "routed", false: "bridged"}[mode == "routed"]
		lineProtocol := "down"
		if p.Up {
			lineProtocol = "up"
		}
		statuses[InterfaceName(p.Name)] = map[string]any{
			"description":        p.Description,
			"linkStatus":         status,
			"lineProtocolStatus": lineProtocol,
			"vlanInformation":    vlan,
		}
	}
	return encode(map[string]any{"interfaceStatuses": statuses})
}

// FormatIPInterfaceBrief prints SVIs as `show ip interface brief | json`; an SVI without an
// address shows as 0.0.0.0/0, as EOS prints it.
func FormatIPInterfaceBrief(svis []observed.SVI) []byte {
	interfaces := map[string]any{}
	for _, s := range svis {
		addr, bits := "0.0.0.0", 0
		if s.Address.IsValid() {
			addr, bits = s.Address.Addr().String(), s.Address.Bits()
		}
		lineProtocol, status := "lowerLayerDown", "notconnect"
		if s.Up {
			lineProtocol, status = "up", "connected"
		}
		name := s.Name
		if name == "" {
			name = "Vlan" + strconv.Itoa(s.VLAN)
		}
		iface := map[string]any{
			"name":               name,
			"lineProtocolStatus": lineProtocol,
			"interfaceStatus":    status,
			"interfaceAddress":   map[string]any{"ipAddr": map[string]any{"address": addr, "maskLen": bits}},
		}
		if s.MTU > 0 {
			iface["mtu"] = s.MTU
		}
		interfaces[name] = iface
	}
	return encode(map[string]any{"interfaces": interfaces})
}

// FormatIPRoute prints routes as `show ip route | json` of the default VRF.
func FormatIPRoute(routes []observed.SwitchRoute) []byte {
	table := map[string]any{}
	for _, r := range routes {
		route := map[string]any{
			"routeType":         r.Type,
			"directlyConnected": r.Type == "connected",
			"vias":              []any{},
		}
		if r.Iface != "" {
			route["vias"] = []any{map[string]any{"interface": InterfaceName(r.Iface)}}
		}
		table[r.Dst.String()] = route
	}
	return encode(map[string]any{"vrfs": map[string]any{"default": map[string]any{"routes": table}}})
}

// FormatVLANs prints VLANs with their member ports as `show vlan | json`.
func FormatVLANs(vlans []observed.SwitchVLAN) []byte {
	out := map[string]any{}
	for _, v := range vlans {
		members := map[string]any{}
		for _, p := range v.Ports {
			members[InterfaceName(p)] = map[string]any{"privatePromoted": false, "blocked": nil}
		}
		out[strconv.Itoa(v.ID)] = map[string]any{"name": v.Name, "status": "active", "dynamic": false, "interfaces": members}
	}
	return encode(map[string]any{"vlans": out})
}
