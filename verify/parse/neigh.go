package parse

import (
	"github.com/knetlab/knetlab/verify/observed"
)

// neighStates are the NUD states `ip neigh` prints in capitals at the end of a line.
var neighStates = map[string]bool{
	"PERMANENT": true, "NOARP": true, "REACHABLE": true, "STALE": true, "NONE": true,
	"INCOMPLETE": true, "DELAY": true, "PROBE": true, "FAILED": true,
}

// Neighs parses `ip neigh` or `ip -j neigh` (IPv4 only).
func Neighs(data []byte) ([]observed.Neigh, error) {
	if isJSON(data) {
		return neighsJSON(data)
	}
	var neighs []observed.Neigh
	lines(data, func(f []string) {
		if n, ok := neighLine(f); ok {
			neighs = append(neighs, n)
		}
	})
	return neighs, nil
}

func neighLine(f []string) (observed.Neigh, bool) {
	dst, ok := parseIPv4(f[0])
	if !ok {
		return observed.Neigh{}, false
	}
	n := observed.Neigh{Dst: dst}
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
	// A line without a device is not a neighbour entry: a pasted prompt or a wrapped line.
	if n.Dev == "" {
		return observed.Neigh{}, false
	}
	return n, true
}

type jsonNeigh struct {
	Dst    string   `json:"dst"`
	Dev    string   `json:"dev"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`
}

func neighsJSON(data []byte) ([]observed.Neigh, error) {
	raw, err := decodeJSON[jsonNeigh](data)
	if err != nil {
		return nil, err
	}
	neighs := make([]observed.Neigh, 0, len(raw))
	for _, j := range raw {
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
