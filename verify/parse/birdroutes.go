package parse

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
)

// BIRD's `show route`, as calico-node's BIRD answers it: the routes BIRD holds, of which the
// BGP paths (the routes its peers sent it) are kept. Read in the forms people save it in:
//
//   - BIRD 1.6's table (Calico's BIRD v0.3.3+birdv1.6.8): one line per path, the prefix on the
//     first path of each, the alternatives below it indented, `*` on the best one:
//     `10.244.175.0/24 via 172.18.0.4 on eth0 [Node_172_18_0_5 12:01:02 from 172.18.0.5] * (100/0) [i]`;
//     blackholes (`blackhole [static1 …] * (200)`) and `unreachable` paths the same way;
//   - BIRD 2's (`Table master4:`, `unicast [proto …] * (100/0) [i]` with the next hops on the
//     indented `via X on DEV` lines below);
//   - `show route all`, whose indented attribute lines (Type:, BGP.next_hop:, …) are skipped;
//   - the control socket's raw reply, every line led by a reply code (1007-) or a space.
//
// A path is a BGP one when its origin tag ([i], [e], [?], [AS64512i]) ends the line — BIRD
// prints it for BGP paths only —, when it comes from one of Calico's BGP protocols (Mesh_,
// Node_, Global_), or when `show route all` says `Type: BGP`. Its peer is the address after
// "from"; BIRD leaves "from" out when the peer is the next hop itself. Kernel, static, direct
// and device paths (the node's own blackhole, its pods' routes) are not BGP and are left out.

var cmdBirdRoutes = command{text: "birdcl -s /var/run/calico/bird.ctl show route"}

// birdOrigin is the origin tag of a BGP path: the AS path's first AS (eBGP) and i, e or ?.
var birdOrigin = regexp.MustCompile(`^\[(?:AS\d+)?[ie?]\]$`)

// birdPathTypes are the words that open a path of BIRD 1.6 (after the prefix, or alone on an
// alternative's line) or of BIRD 2.
var birdPathTypes = map[string]bool{
	"via": true, "dev": true, "blackhole": true, "unreachable": true, "prohibit": true,
	"multipath": true, "unicast": true, "recursive": true,
}

// birdPath is one path being read, with what decides whether it is a BGP one.
type birdPath struct {
	route observed.BGPRoute
	bgp   bool
	hops  []netip.Addr // BIRD 2 and multipath: the next hops on the lines below
}

// BirdRoutes reads the BGP paths of BIRD's `show route` (or `show route all`) in any of the
// forms above. A line none of them prints refuses the file (exit 2 at the caller), naming it.
func BirdRoutes(data []byte) ([]observed.BGPRoute, error) {
	var paths []*birdPath
	var prefix netip.Prefix // the prefix the next alternative belongs to
	var cur *birdPath
	raw := false // the control socket's reply: a line without a code continues the last one after a space
	err := textLines(data, cmdBirdRoutes, func(no int, off int64, line string, f []string) error {
		line = strings.TrimPrefix(strings.TrimRight(line, "\r"), "\ufeff")
		if code, rest, ok := birdReplyCode(line); ok {
			raw = true
			if code == "0000" || code == "0001" || code == "8001" {
				return nil // end, greeting, "Network not in table"
			}
			line, f = rest, strings.Fields(rest)
		} else if raw && strings.HasPrefix(line, " ") {
			line = line[1:]
		}
		indented := line != "" && (line[0] == ' ' || line[0] == '\t')
		switch {
		case birdChatter(f):
			return nil
		case f[0] == "Table" && len(f) == 2 && strings.HasSuffix(f[1], ":"):
			return nil // BIRD 2's table heading
		case strings.Join(f, " ") == "Network not in table":
			return nil
		}
		if p, err := netip.ParsePrefix(f[0]); err == nil && !indented {
			prefix = p.Masked()
			cur = birdRouteLine(prefix, f[1:])
			if cur == nil {
				return foreign(cmdBirdRoutes, no, off, line, "a route line is the prefix, the path and [protocol …]")
			}
			paths = append(paths, cur)
			return nil
		}
		if !indented {
			return foreign(cmdBirdRoutes, no, off, line, "")
		}
		if !prefix.IsValid() {
			return foreign(cmdBirdRoutes, no, off, line, "an indented line before any route")
		}
		switch {
		case birdPathTypes[f[0]] && strings.Contains(line, "["):
			cur = birdRouteLine(prefix, f) // an alternative path of the same prefix
			if cur == nil {
				return foreign(cmdBirdRoutes, no, off, line, "an alternative path is the path and [protocol …]")
			}
			paths = append(paths, cur)
		case f[0] == "via" && len(f) >= 2 && cur != nil:
			if a, err := netip.ParseAddr(f[1]); err == nil {
				cur.hops = append(cur.hops, a) // BIRD 2's or a multipath's next hop
			}
		case strings.HasSuffix(f[0], ":") && cur != nil:
			if f[0] == "Type:" && len(f) > 1 && f[1] == "BGP" {
				cur.bgp = true // show route all
			}
		case f[0] == "dev" && cur != nil:
			// BIRD 2's device next hop: no address
		default:
			return foreign(cmdBirdRoutes, no, off, line, "")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []observed.BGPRoute
	for _, p := range paths {
		if !p.bgp {
			continue
		}
		if len(p.hops) == 0 {
			out = append(out, birdLearned(p.route))
			continue
		}
		for _, h := range p.hops { // one path per next hop of a multipath one
			rt := p.route
			rt.NextHop = h
			out = append(out, birdLearned(rt))
		}
	}
	return out, nil
}

// birdLearned sets a BGP path's peer: BIRD shows "from" only when it is not the next hop.
func birdLearned(rt observed.BGPRoute) observed.BGPRoute {
	if !rt.From.IsValid() {
		rt.From = rt.NextHop
	}
	return rt
}

// birdRouteLine reads a path after its prefix: via GW [on DEV] | dev DEV | blackhole |
// unreachable | unicast, then [protocol since… [from PEER]], then * when best, then the
// protocol's own info. nil when there is no bracket.
func birdRouteLine(prefix netip.Prefix, f []string) *birdPath {
	open := -1
	for i, t := range f {
		if strings.HasPrefix(t, "[") {
			open = i
			break
		}
	}
	if open < 1 || !birdPathTypes[f[0]] {
		return nil
	}
	p := &birdPath{route: observed.BGPRoute{Prefix: prefix}}
	if f[0] == "via" && open >= 2 {
		if a, err := netip.ParseAddr(f[1]); err == nil {
			p.route.NextHop = a
		}
	}
	close := -1
	for i := open; i < len(f); i++ {
		if strings.HasSuffix(f[i], "]") {
			close = i
			break
		}
	}
	if close < 0 {
		return nil
	}
	bracket := strings.Fields(strings.Trim(strings.Join(f[open:close+1], " "), "[]"))
	if len(bracket) > 0 && calicoPeerName.MatchString(bracket[0]) {
		p.bgp = true
	}
	for i := 0; i+1 < len(bracket); i++ {
		if bracket[i] == "from" {
			if a, err := netip.ParseAddr(bracket[i+1]); err == nil {
				p.route.From = a
			}
		}
	}
	rest := f[close+1:]
	if len(rest) > 0 && rest[0] == "*" {
		p.route.Best, rest = true, rest[1:]
	}
	if len(rest) > 0 && birdOrigin.MatchString(rest[len(rest)-1]) {
		p.bgp = true
	}
	return p
}

// FormatBirdRoutes prints BGP paths as BIRD 1.6's `show route` table. What verify does not keep
// (the device, the protocol's name, since) is written as BIRD would show a path from a peer
// named after it, with "-" for the time; "from" is always written.
func FormatBirdRoutes(routes []observed.BGPRoute) []byte {
	var b strings.Builder
	var last netip.Prefix
	for _, rt := range routes {
		lead := padRight(rt.Prefix.String(), 18)
		if rt.Prefix == last {
			lead = strings.Repeat(" ", 18)
		}
		last = rt.Prefix
		path := "unreachable"
		if rt.NextHop.IsValid() {
			path = "via " + rt.NextHop.String()
		}
		proto, from := "bgp", ""
		if rt.From.IsValid() {
			proto = "bgp_" + strings.NewReplacer(".", "_", ":", "_").Replace(rt.From.String())
			from = " from " + rt.From.String()
		}
		best := ""
		if rt.Best {
			best = " *"
		}
		b.WriteString(lead + " " + path + " [" + proto + " -" + from + "]" + best + " (100/0) [i]\n")
	}
	return []byte(b.String())
}
