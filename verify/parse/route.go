package parse

import (
	"github.com/knetlab/knetlab/verify/observed"
)

// routeTypes are the route types `ip route` prints before the destination.
var routeTypes = map[string]bool{
	"unicast": true, "local": true, "broadcast": true, "multicast": true, "blackhole": true,
	"unreachable": true, "prohibit": true, "throw": true, "nat": true, "anycast": true,
}

// routeFlags are single-word route attributes that carry no value.
var routeFlags = map[string]bool{
	"onlink": true, "linkdown": true, "dead": true, "pervasive": true, "notify": true,
	"offload": true, "trap": true, "rt_offload": true, "rt_trap": true, "rt_offload_failed": true,
	"cloned": true, "cache": true,
}

// Routes parses `ip route` or `ip -j route` (IPv4 only; IPv6 entries are skipped).
func Routes(data []byte) ([]observed.Route, error) {
	if isJSON(data) {
		return routesJSON(data)
	}
	var routes []observed.Route
	lines(data, func(f []string) {
		if r, ok := routeLine(f); ok {
			routes = append(routes, r)
		}
	})
	return routes, nil
}

// routeLine parses the fields of one `ip route` line. Unknown keywords are skipped one word at
// a time, so that an attribute from a newer iproute2 costs at most that attribute.
func routeLine(f []string) (observed.Route, bool) {
	r := observed.Route{Type: "unicast"}
	i := 0
	if routeTypes[f[0]] {
		r.Type = f[0]
		i++
	}
	if i >= len(f) {
		return r, false
	}
	dst, ok := parseDst(f[i])
	if !ok {
		return r, false
	}
	r.Dst = dst
	i++
	for i < len(f) {
		key := f[i]
		val := ""
		if i+1 < len(f) {
			val = f[i+1]
		}
		switch key {
		case "via":
			// "via inet 10.0.0.1" is the cross-family form; IPv6 next hops are not ours.
			if val == "inet" && i+2 < len(f) {
				i++
				val = f[i+1]
			}
			if a, ok := parseIPv4(val); ok {
				r.Gateway = a
			}
			i += 2
		case "dev", "oif":
			r.Dev = val
			i += 2
		case "proto":
			r.Protocol = val
			i += 2
		case "scope":
			r.Scope = val
			i += 2
		case "src":
			if a, ok := parseIPv4(val); ok {
				r.Src = a
			}
			i += 2
		case "metric", "preference", "priority":
			if n, ok := atoi(val); ok {
				r.Metric = n
			}
			i += 2
		case "mtu":
			// "mtu lock 1450" pins the value; the lock does not change what is compared.
			if val == "lock" && i+2 < len(f) {
				i++
				val = f[i+1]
			}
			if n, ok := atoi(val); ok {
				r.MTU = n
			}
			i += 2
		case "table":
			if val != "main" {
				r.Table = val
			}
			i += 2
		case "onlink":
			r.Onlink = true
			i++
		default:
			i++
		}
	}
	return r, true
}

type jsonRoute struct {
	Type     string       `json:"type"`
	Dst      string       `json:"dst"`
	Gateway  string       `json:"gateway"`
	Dev      string       `json:"dev"`
	Protocol numberOrText `json:"protocol"`
	Scope    string       `json:"scope"`
	PrefSrc  string       `json:"prefsrc"`
	Metric   int          `json:"metric"`
	Table    numberOrText `json:"table"`
	Flags    []string     `json:"flags"`
	Metrics  []struct {
		MTU int `json:"mtu"`
	} `json:"metrics"`
}

func routesJSON(data []byte) ([]observed.Route, error) {
	raw, err := decodeJSON[jsonRoute](data)
	if err != nil {
		return nil, err
	}
	routes := make([]observed.Route, 0, len(raw))
	for _, j := range raw {
		dst, ok := parseDst(j.Dst)
		if !ok {
			continue // IPv6 or not a destination at all
		}
		r := observed.Route{
			Type:     j.Type,
			Dst:      dst,
			Dev:      j.Dev,
			Protocol: string(j.Protocol),
			Scope:    j.Scope,
			Metric:   j.Metric,
			Onlink:   contains(j.Flags, "onlink"),
		}
		if r.Type == "" {
			r.Type = "unicast"
		}
		if t := string(j.Table); t != "main" {
			r.Table = t
		}
		if a, ok := parseIPv4(j.Gateway); ok {
			r.Gateway = a
		}
		if a, ok := parseIPv4(j.PrefSrc); ok {
			r.Src = a
		}
		for _, m := range j.Metrics {
			if m.MTU > 0 {
				r.MTU = m.MTU
			}
		}
		routes = append(routes, r)
	}
	return routes, nil
}
