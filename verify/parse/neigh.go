package parse

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/knetlab/knetlab/verify/observed"
)

// neighStates are the NUD states `ip neigh` prints in capitals at the end of a line.
var neighStates = map[string]bool{
	"PERMANENT": true, "NOARP": true, "REACHABLE": true, "STALE": true, "NONE": true,
	"INCOMPLETE": true, "DELAY": true, "PROBE": true, "FAILED": true,
}

// Neighs parses `ip neigh` or `ip -j neigh` (IPv4 only). A file that is not `ip neigh` output
// is refused (see gate.go), and so is `ip neigh show dev X`, which leaves out the device.
func Neighs(data []byte) ([]observed.Neigh, error) {
	if isJSON(data) {
		return neighsJSON(data)
	}
	return entries(data, cmdNeigh, neighLine)
}

// neighLine parses one `ip neigh` line; keep is false for an IPv6 entry, why is set for a line
// that is not `ip neigh` output.
func neighLine(f []string) (n observed.Neigh, keep bool, why string) {
	dst, err := netip.ParseAddr(f[0])
	if err != nil {
		return n, false, fmt.Sprintf("%q is not a neighbour address", f[0])
	}
	if len(f) < 2 {
		return n, false, "an address alone"
	}
	switch {
	case f[1] == "dev":
	case f[1] == "lladdr" || neighStates[f[1]] || f[1] == "router" || f[1] == "proxy":
		return n, false, "the line names no device (`ip neigh show dev X` leaves it out, and the table needs it)"
	default:
		return n, false, fmt.Sprintf("%q after the address is no `ip neigh` attribute", f[1])
	}
	if !dst.Is4() {
		return n, false, ""
	}
	n = observed.Neigh{Dst: dst}
	for i := 1; i < len(f); i++ {
		val := ""
		if i+1 < len(f) {
			val = f[i+1]
		}
		switch {
		case f[i] == "dev":
			n.Dev = val
			i++
		case f[i] == "lladdr":
			if mac, ok := parseMAC(val); ok {
				n.LLAddr = mac
			}
			i++
		case f[i] == "proto" || f[i] == "vni" || f[i] == "port" || f[i] == "nhid":
			i++ // a keyword with a value we do not compare
		case neighStates[f[i]]:
			n.State = append(n.State, f[i])
		}
	}
	if n.Dev == "" {
		return n, false, "the line names no device"
	}
	return n, true, ""
}

type jsonNeigh struct {
	Dst    string   `json:"dst"`
	Dev    string   `json:"dev"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`

	// Keys of other commands' entries, for the gate.
	Gateway json.RawMessage `json:"gateway"`
	Flags   json.RawMessage `json:"flags"`
	IfName  json.RawMessage `json:"ifname"`
	MAC     json.RawMessage `json:"mac"`
}

func neighsJSON(data []byte) ([]observed.Neigh, error) {
	raw, err := decodeJSON[jsonNeigh](data)
	if err != nil {
		return nil, err
	}
	neighs := make([]observed.Neigh, 0, len(raw))
	for i, j := range raw {
		route := j.State == nil && j.LLAddr == "" && (j.Gateway != nil || j.Flags != nil)
		if j.Dst == "" || j.IfName != nil || j.MAC != nil || route {
			return nil, foreignJSON(cmdNeigh, data, i, "is not a neighbour")
		}
		dst, ok := parseIPv4(j.Dst)
		if !ok {
			continue
		}
		n := observed.Neigh{Dst: dst, Dev: j.Dev, State: j.State}
		if mac, ok := parseMAC(j.LLAddr); ok {
			n.LLAddr = mac
		}
		neighs = append(neighs, n)
	}
	return neighs, nil
}
