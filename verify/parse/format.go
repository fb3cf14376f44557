package parse

import (
	"fmt"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
)

// The Format functions print state the way iproute2 prints it, attribute order included, so
// that a capture written by knetlab reads like one a person took by hand and parses back to the
// same state. Counters and attributes verify never compares are printed with iproute2's
// defaults.

// FormatRoute prints r as one `ip route` line.
func FormatRoute(r observed.Route) string {
	var b strings.Builder
	if r.Type != "" && r.Type != "unicast" {
		b.WriteString(r.Type)
		b.WriteByte(' ')
	}
	switch {
	case r.Dst.Bits() == 0:
		b.WriteString("default")
	case r.Dst.Bits() == 32:
		b.WriteString(r.Dst.Addr().String())
	default:
		b.WriteString(r.Dst.String())
	}
	if r.Gateway.IsValid() {
		fmt.Fprintf(&b, " via %s", r.Gateway)
	}
	if r.Dev != "" {
		fmt.Fprintf(&b, " dev %s", r.Dev)
	}
	if r.Table != "" {
		fmt.Fprintf(&b, " table %s", r.Table)
	}
	if r.Protocol != "" {
		fmt.Fprintf(&b, " proto %s", r.Protocol)
	}
	if r.Scope != "" {
		fmt.Fprintf(&b, " scope %s", r.Scope)
	}
	if r.Src.IsValid() {
		fmt.Fprintf(&b, " src %s", r.Src)
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	if r.Onlink {
		b.WriteString(" onlink")
	}
	if r.MTU != 0 {
		fmt.Fprintf(&b, " mtu %d", r.MTU)
	}
	for _, h := range r.Nexthops {
		b.WriteByte(' ')
		b.WriteString(FormatNexthop(h))
	}
	return b.String()
}

// FormatNexthop prints one next hop of a multipath route as `ip route` does.
func FormatNexthop(h observed.Nexthop) string {
	var b strings.Builder
	b.WriteString("nexthop")
	if h.Gateway.IsValid() {
		fmt.Fprintf(&b, " via %s", h.Gateway)
	}
	if h.Dev != "" {
		fmt.Fprintf(&b, " dev %s", h.Dev)
	}
	if h.Weight > 0 {
		fmt.Fprintf(&b, " weight %d", h.Weight)
	}
	if h.Onlink {
		b.WriteString(" onlink")
	}
	return b.String()
}

// FormatRoutes prints routes as `ip route` does: a multipath route's next hops each on a line
// of their own below it, indented by a tab.
func FormatRoutes(routes []observed.Route) []byte {
	return printLines(routes, func(r observed.Route) string {
		hops := r.Nexthops
		r.Nexthops = nil
		line := FormatRoute(r)
		for _, h := range hops {
			line += "\n\t" + FormatNexthop(h)
		}
		return line
	})
}

// FormatNeigh prints n as one `ip neigh` line.
func FormatNeigh(n observed.Neigh) string {
	var b strings.Builder
	b.WriteString(n.Dst.String())
	if n.Dev != "" {
		fmt.Fprintf(&b, " dev %s", n.Dev)
	}
	if n.LLAddr != "" {
		fmt.Fprintf(&b, " lladdr %s", n.LLAddr)
	}
	for _, s := range n.State {
		b.WriteByte(' ')
		b.WriteString(s)
	}
	return b.String()
}

// FormatNeighs prints neighbours as `ip neigh` does.
func FormatNeighs(neighs []observed.Neigh) []byte { return printLines(neighs, FormatNeigh) }

// FormatFDBEntry prints e as one `bridge fdb show` line.
func FormatFDBEntry(e observed.FDBEntry) string {
	var b strings.Builder
	b.WriteString(e.MAC)
	if e.Dev != "" {
		fmt.Fprintf(&b, " dev %s", e.Dev)
	}
	if e.Dst.IsValid() {
		fmt.Fprintf(&b, " dst %s", e.Dst)
	}
	if e.Self {
		b.WriteString(" self")
	}
	if e.Master != "" {
		fmt.Fprintf(&b, " master %s", e.Master)
	}
	if e.Permanent {
		b.WriteString(" permanent")
	}
	return b.String()
}

// FormatFDB prints entries as `bridge fdb show` does.
func FormatFDB(entries []observed.FDBEntry) []byte { return printLines(entries, FormatFDBEntry) }

// printLines prints one line per item, as the iproute2 commands do.
func printLines[T any](items []T, line func(T) string) []byte {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(line(it))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// FormatLinks prints links as `ip -d link show` does (addresses are not part of that output).
func FormatLinks(links []observed.Link) []byte {
	return formatLinks(links, false)
}

// FormatAddrs prints links with their IPv4 addresses as `ip addr` does.
func FormatAddrs(links []observed.Link) []byte {
	return formatLinks(links, true)
}

func formatLinks(links []observed.Link, addrs bool) []byte {
	var b strings.Builder
	for i, l := range links {
		index := l.Index
		if index == 0 {
			index = i + 1
		}
		name := l.Name
		if l.Parent != "" {
			name += "@" + l.Parent
		}
		flags := []string{"BROADCAST", "MULTICAST"}
		if l.Up {
			flags = append(flags, "UP")
			if l.OperState == "UP" || l.OperState == "UNKNOWN" {
				flags = append(flags, "LOWER_UP")
			}
		}
		fmt.Fprintf(&b, "%d: %s: <%s> mtu %d qdisc noqueue", index, name, strings.Join(flags, ","), l.MTU)
		if l.Master != "" {
			fmt.Fprintf(&b, " master %s", l.Master)
		}
		oper := l.OperState
		if oper == "" {
			oper = "UNKNOWN"
		}
		fmt.Fprintf(&b, " state %s", oper)
		if !addrs {
			b.WriteString(" mode DEFAULT")
		}
		b.WriteString(" group default qlen 1000\n")
		mac := l.MAC
		if mac == "" {
			mac = "00:00:00:00:00:00"
		}
		fmt.Fprintf(&b, "    link/ether %s brd ff:ff:ff:ff:ff:ff", mac)
		if !addrs {
			b.WriteString(" promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535")
		}
		b.WriteByte('\n')
		if l.Alias != "" {
			fmt.Fprintf(&b, "    alias %s\n", l.Alias)
		}
		if !addrs {
			const tail = "addrgenmode eui64 numtxqueues 1 numrxqueues 1 gso_max_size 65536 gso_max_segs 65535"
			switch {
			case l.VXLAN != nil:
				v := l.VXLAN
				fmt.Fprintf(&b, "    vxlan id %d", v.VNI)
				if v.Local.IsValid() {
					fmt.Fprintf(&b, " local %s", v.Local)
				}
				if v.Dev != "" {
					fmt.Fprintf(&b, " dev %s", v.Dev)
				}
				fmt.Fprintf(&b, " srcport 0 0 dstport %d", v.Port)
				if !v.Learning {
					b.WriteString(" nolearning")
				}
				fmt.Fprintf(&b, " ttl auto ageing 300 udpcsum noudp6zerocsumtx noudp6zerocsumrx %s\n", tail)
			case l.Kind != "":
				fmt.Fprintf(&b, "    %s %s\n", l.Kind, tail)
			}
			continue
		}
		for _, a := range l.Addrs {
			fmt.Fprintf(&b, "    inet %s scope global %s\n       valid_lft forever preferred_lft forever\n", a, l.Name)
		}
	}
	return []byte(b.String())
}
