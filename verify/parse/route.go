package parse

import (
	"encoding/json"
	"fmt"

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
	"cloned": true, "cache": true, "unresolved": true,
}

// routeKeywords are the route attributes `ip route` prints with a value (iproute2 6.x,
// ip/iproute.c print_route), plus "nexthop", which starts a next hop of a multipath route.
var routeKeywords = map[string]bool{
	"via": true, "dev": true, "oif": true, "proto": true, "scope": true, "src": true, "metric": true,
	"preference": true, "priority": true, "mtu": true, "table": true, "nhid": true, "nexthop": true,
	"weight": true, "pref": true, "expires": true, "error": true, "realm": true, "realms": true,
	"tos": true, "dsfield": true, "from": true, "advmss": true, "rtt": true, "rttvar": true,
	"reordering": true, "window": true, "cwnd": true, "initcwnd": true, "initrwnd": true,
	"ssthresh": true, "hoplimit": true, "features": true, "quickack": true, "congctl": true,
	"fastopen_no_cookie": true, "rto_min": true, "encap": true, "uid": true, "ttl-propagate": true,
	"iif": true, "vrf": true, "newdst": true, "as": true, "to": true, "lock": true,
}

// Routes parses `ip route` or `ip -j route` (IPv4 only; IPv6 entries are skipped), in any of
// the forms iproute2 prints a multipath route in: next hops on the lines below the route,
// after backslash separators on its line (`ip -o`), or in the JSON "nexthops" array. A file
// that is not `ip route` output is refused (see gate.go).
func Routes(data []byte) ([]observed.Route, error) {
	if isJSON(data) {
		return routesJSON(data)
	}
	var routes []observed.Route
	// cur is the route that following "nexthop" lines belong to: the last route kept, or -1
	// after a route that is not kept (IPv6), whose next hops are not kept either.
	cur := -1
	// bare is a route line with nothing but its destination, which only a multipath route's
	// first line is: refused unless "nexthop" lines follow.
	var bare error
	err := textLines(data, cmdRoute, func(no int, off int64, line string, f []string) error {
		if f == nil || pasteNoise(f) {
			return nil
		}
		if f[0] == "nexthop" || f[0] == "cache" {
			// The next hops of the route above (multi-line form), or `ip route get`'s "cache".
			if f[0] == "nexthop" {
				bare = nil
				if cur >= 0 {
					if why := routeAttrs(&routes[cur], f); why != "" {
						return foreign(cmdRoute, no, off, line, why)
					}
				}
			}
			return nil
		}
		if bare != nil {
			return bare
		}
		r, keep, why := routeLine(f)
		if why != "" {
			return foreign(cmdRoute, no, off, line, why)
		}
		cur = -1
		if keep {
			if routeEmpty(&r) {
				bare = foreign(cmdRoute, no, off, line, "a destination without a device, next hop or protocol (if it is a multipath route, keep its nexthop lines below it)")
			}
			routes = append(routes, r)
			cur = len(routes) - 1
		}
		return nil
	})
	if err == nil {
		err = bare
	}
	if err != nil {
		return nil, err
	}
	return routes, nil
}

// routeEmpty reports whether r is a unicast route with nothing `ip route` would print but its
// destination.
func routeEmpty(r *observed.Route) bool {
	return r.Type == "unicast" && !r.Gateway.IsValid() && r.Dev == "" && len(r.Nexthops) == 0 && r.Protocol == "" &&
		r.Scope == "" && !r.Src.IsValid() && r.Table == "" && !r.Onlink && r.Metric == 0 && r.MTU == 0
}

// routeLine parses the fields of one `ip route` line (the one-line form of a multipath route
// included). keep is false for a route of `ip route` that is not ours (IPv6); why is set when
// the line is no `ip route` output at all. Unknown lower-case keywords are skipped, so that an
// attribute of a newer iproute2 costs at most that attribute.
func routeLine(f []string) (r observed.Route, keep bool, why string) {
	r = observed.Route{Type: "unicast"}
	i := 0
	if routeTypes[f[0]] {
		r.Type = f[0]
		i++
	}
	if i >= len(f) {
		return r, false, "a route type without a destination"
	}
	dst, ok := parseDst(f[i])
	if !ok {
		if isIPv6Dst(f[i]) {
			return r, false, ""
		}
		return r, false, fmt.Sprintf("%q is not a route destination", f[i])
	}
	r.Dst = dst
	i++
	if i < len(f) && !routeKeywords[f[i]] && !routeFlags[f[i]] {
		return r, false, fmt.Sprintf("%q after the destination is no `ip route` attribute", f[i])
	}
	if why := routeAttrs(&r, f[i:]); why != "" {
		return r, false, why
	}
	if f[i-1] == "default" && r.Gateway == ipv6Marker {
		return r, false, "" // `ip -6 route`'s default route: "default via fe80::1"
	}
	if r.Gateway == ipv6Marker {
		r.Gateway = observed.Route{}.Gateway
	}
	return r, true, ""
}

// ipv6Marker stands for an IPv6 gateway while a line is read, so that an IPv6 default route
// ("default via fe80::1 ...") is told from an IPv4 one.
var ipv6Marker = mustAddr("::1")

func isIPv6Dst(s string) bool {
	a, err := parsePrefixOrAddr(s)
	return err == nil && a.Is6()
}

// routeAttrs applies the attributes f to r. Every "nexthop" starts a next hop of r (on the
// route's line in the one-line form, or starting a line of the multi-line form); via, dev,
// weight and onlink after it belong to that next hop, every other attribute to the route.
func routeAttrs(r *observed.Route, f []string) (why string) {
	var hop *observed.Nexthop
	for i := 0; i < len(f); {
		key := f[i]
		val := ""
		if i+1 < len(f) {
			val = f[i+1]
		}
		switch key {
		case "nexthop":
			r.Nexthops = append(r.Nexthops, observed.Nexthop{Weight: 1})
			hop = &r.Nexthops[len(r.Nexthops)-1]
			i++
			continue
		case "via":
			// "via inet 10.0.0.1" is the cross-family form; IPv6 next hops are not ours.
			cross := false
			if (val == "inet" || val == "inet6") && i+2 < len(f) {
				i++
				val = f[i+1]
				cross = true
			}
			a, ok := parseIPv4(val)
			switch {
			case hop != nil && ok:
				hop.Gateway = a
			case ok:
				r.Gateway = a
			case hop == nil && !cross && isAddr(val):
				r.Gateway = ipv6Marker
			}
			i += 2
			continue
		case "dev", "oif":
			if hop != nil {
				hop.Dev = val
			} else {
				r.Dev = val
			}
			i += 2
			continue
		case "weight":
			if n, ok := atoi(val); ok && n > 0 && hop != nil {
				hop.Weight = n
			}
			i += 2
			continue
		case "onlink":
			if hop != nil {
				hop.Onlink = true
			} else {
				r.Onlink = true
			}
			i++
			continue
		}
		switch key {
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
		default:
			switch {
			case routeKeywords[key]:
				i += 2 // a keyword with a value verify does not compare
			case routeFlags[key] || key == `\`:
				i++
			case key == "lladdr" || isUpper(key) || isMAC(key):
				return fmt.Sprintf("%q is no `ip route` attribute", key)
			default:
				i++ // an attribute of a newer iproute2, or its value
			}
		}
	}
	return ""
}

type jsonNexthop struct {
	Gateway string   `json:"gateway"`
	Dev     string   `json:"dev"`
	Weight  int      `json:"weight"`
	Flags   []string `json:"flags"`
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
	Nexthops []jsonNexthop `json:"nexthops"`

	// Keys of other commands' entries, for the gate.
	LLAddr  json.RawMessage `json:"lladdr"`
	State   json.RawMessage `json:"state"`
	IfName  json.RawMessage `json:"ifname"`
	MAC     json.RawMessage `json:"mac"`
	IfIndex json.RawMessage `json:"ifindex"`
}

func routesJSON(data []byte) ([]observed.Route, error) {
	raw, err := decodeJSON[jsonRoute](data)
	if err != nil {
		return nil, err
	}
	routes := make([]observed.Route, 0, len(raw))
	for i, j := range raw {
		if j.Dst == "" || j.LLAddr != nil || j.State != nil || j.IfName != nil || j.MAC != nil || j.IfIndex != nil {
			return nil, foreignJSON(cmdRoute, data, i, "is not a route")
		}
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
		} else if j.Dst == "default" && isAddr(j.Gateway) {
			continue // `ip -6 -j route`'s default route
		}
		if a, ok := parseIPv4(j.PrefSrc); ok {
			r.Src = a
		}
		for _, m := range j.Metrics {
			if m.MTU > 0 {
				r.MTU = m.MTU
			}
		}
		for _, nh := range j.Nexthops {
			hop := observed.Nexthop{Dev: nh.Dev, Weight: nh.Weight, Onlink: contains(nh.Flags, "onlink")}
			if hop.Weight <= 0 {
				hop.Weight = 1
			}
			if a, ok := parseIPv4(nh.Gateway); ok {
				hop.Gateway = a
			}
			r.Nexthops = append(r.Nexthops, hop)
		}
		routes = append(routes, r)
	}
	return routes, nil
}
