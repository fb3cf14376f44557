package parse

import (
	"errors"
	"strings"
	"testing"
)

// The format gate: a node file either is the iproute2 command it claims to be, or it is refused
// with the line and the command to run instead. Never misread: `route -n` once came out as a
// table of /32s.

type parser struct {
	name  string
	parse func([]byte) error
}

var (
	routesParser = parser{"Routes", func(b []byte) error { _, err := Routes(b); return err }}
	neighsParser = parser{"Neighs", func(b []byte) error { _, err := Neighs(b); return err }}
	fdbParser    = parser{"FDB", func(b []byte) error { _, err := FDB(b); return err }}
	linksParser  = parser{"Links", func(b []byte) error { _, err := Links(b); return err }}
	addrsParser  = parser{"Addrs", func(b []byte) error { _, err := Addrs(b); return err }}
)

func TestGateRefuses(t *testing.T) {
	garbage := "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00\x01\x00\x00\x00\x10\x6b\x00\x00"
	tests := []struct {
		name   string
		p      parser
		in     string
		line   int
		wantIn []string // all must be in the error
	}{
		{"route -n as routes", routesParser, string(fixture(t, "gate/route-n.txt")), 1, []string{"route -n", "`ip route`", "`ip -j route`"}},
		{"netstat -rn as routes", routesParser, string(fixture(t, "gate/netstat-rn.txt")), 1, []string{"netstat -rn", "`ip route`"}},
		{"route -n grep-filtered to its entries", routesParser, "10.148.158.64   10.18.132.12    255.255.255.192 UG    0      0        0 eth0\n", 1, []string{"route -n", "`ip route`"}},
		{"binary garbage as routes", routesParser, garbage, 1, []string{"binary", "`ip route`"}},
		{"garbage after good lines", routesParser, "blackhole 10.148.158.0/26 proto bird\n" + garbage + "\n", 2, []string{"binary"}},
		{"ip neigh saved as ip-route.txt", routesParser, string(fixture(t, "gate/ip-neigh.txt")), 1, []string{"ip neigh", "`ip route`"}},
		{"ip -j neigh saved as ip-route.txt", routesParser, `[{"dst":"10.18.132.12","dev":"eth0","lladdr":"02:42:0a:12:84:0c","state":["PERMANENT"]}]`, 1, []string{"ip -j neigh", "`ip -j route`"}},
		{"a bare address is no route", routesParser, "10.148.158.64\n", 1, []string{"`ip route`"}},
		{"a bare address before another route", routesParser, "10.148.158.64\n10.148.158.128/26 via 10.18.132.14 dev eth0\n", 1, []string{"nexthop lines"}},
		{"a multipath route whose next hops grep cut off", routesParser, "blackhole 10.148.158.0/26 proto bird\n10.0.0.0/8 \n", 2, []string{"nexthop lines"}},
		{"keywords without a destination", routesParser, "192.168.19.128/26 via 10.10.10.10 dev eth1\nvia dev proto\n", 2, []string{"via", "`ip route`"}},
		{"a destination that is no address", routesParser, "192.168.93.999/32 dev eth1\n", 1, []string{"192.168.93.999/32"}},
		{"arp -n as neighbours", neighsParser, string(fixture(t, "gate/arp-n.txt")), 1, []string{"arp -n", "`ip neigh`"}},
		{"arp -n entries only", neighsParser, "10.18.132.12             ether   02:42:0a:12:84:0c   CM                    eth0\n", 1, []string{"arp -n", "`ip neigh`"}},
		{"arp -a as neighbours", neighsParser, "? (10.18.132.12) at 02:42:0a:12:84:0c [ether] PERM on eth0\n", 1, []string{"arp -a", "`ip neigh`"}},
		{"ip -br neigh has no state", neighsParser, string(fixture(t, "gate/ip-br-neigh.txt")), 1, []string{"ip -br neigh", "`ip neigh`"}},
		{"ip neigh show dev X leaves the device out", neighsParser, "10.10.10.5 lladdr 00:1c:73:aa:bb:05 PERMANENT\n", 1, []string{"device", "`ip neigh`"}},
		{"binary garbage as neighbours", neighsParser, garbage, 1, []string{"binary", "`ip neigh`"}},
		{"brctl showmacs as FDB", fdbParser, string(fixture(t, "gate/brctl-showmacs.txt")), 1, []string{"brctl showmacs", "`bridge fdb show`"}},
		{"brctl showmacs entries only", fdbParser, "  1\t3e:1a:4f:00:00:02\tyes\t\t   0.00\n", 1, []string{"brctl showmacs", "`bridge fdb show`"}},
		{"bridge fdb show dev X leaves the device out", fdbParser, "66:d2:0c:f0:ef:e5 dst 10.10.20.20 self permanent\n", 1, []string{"device", "`bridge fdb show`"}},
		{"not a MAC", fdbParser, "66:d2:0c:f0:ef:e5 dev vxlan.calico dst 10.10.20.20 self permanent\nport eth1\n", 2, []string{"port", "`bridge fdb show`"}},
		{"route -n as FDB", fdbParser, string(fixture(t, "gate/route-n.txt")), 1, []string{"route -n", "`bridge fdb show`"}},
		{"route -n as links", linksParser, string(fixture(t, "gate/route-n.txt")), 1, []string{"route -n", "`ip -d link show`"}},
		{"binary garbage as links", linksParser, garbage, 1, []string{"binary", "`ip -d link show`"}},
		{"ip route as links", linksParser, string(fixture(t, "gate/ip-route-multipath.txt")), 1, []string{"ip route", "`ip -d link show`"}},
		{"ip -j route as links", linksParser, string(fixture(t, "gate/ip-j-route-multipath.json")), 1, []string{"ip -j route", "`ip -j -d link show`"}},
		{"not headers", linksParser, "0: lo: <UP>\nx: eth0: <UP>\n12:\n", 1, []string{"`ip -d link show`"}},
		{"ip link as addresses has none", addrsParser, string(fixture(t, "gate/ip-link.txt")), 1, []string{"ip link", "`ip addr`"}},
		{"ip -br link as addresses has none", addrsParser, string(fixture(t, "gate/ip-br-link.txt")), 1, []string{"ip -br link", "`ip addr`"}},
		{"ip -j link as addresses has none", addrsParser, `[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP"],"mtu":65536,"operstate":"UNKNOWN"}]`, 1, []string{"ip -j link", "`ip -j addr`"}},
		{"arp -n as addresses", addrsParser, string(fixture(t, "gate/arp-n.txt")), 1, []string{"arp -n", "`ip addr`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.parse([]byte(tt.in))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("%s accepted it (err = %v); want a *parse.Error", tt.p.name, err)
			}
			if pe.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", pe.Line, tt.line, err)
			}
			for _, w := range tt.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// What iproute2 prints is read, whatever else is in it: other tables, IPv6, flags of newer
// versions, statistics, brief forms, grep-filtered pastes with prompts and trailing spaces.
func TestGateAccepts(t *testing.T) {
	tests := []struct {
		name string
		p    parser
		in   string
	}{
		{"ip route show table all", routesParser, string(fixture(t, "gate/ip-route-table-all.txt"))},
		{"ip -o route", routesParser, string(fixture(t, "gate/ip-o-route-multipath.txt"))},
		{"ip route of the k01-worker fixture (linkdown)", routesParser, string(fixture(t, "k01-worker/ip-route.txt"))},
		{"IPv6 with pref and expires", routesParser, "default via fe80::1 dev eth0 proto ra metric 1024 expires 1797sec hoplimit 64 pref medium\n2001:db8:2::/64 via 2001:db8:1::1 dev eth0 metric 1024 expires 600sec pref high\n"},
		{"rt_offload and rt_trap flags", routesParser, "192.0.2.0/24 via 198.51.100.2 dev swp1 proto static metric 20 rt_offload \n198.51.100.0/24 dev swp1 proto kernel scope link src 198.51.100.1 rt_trap\n"},
		{"metric before and after proto", routesParser, "10.148.158.128/26 via 10.18.132.14 dev eth0 metric 20 proto bird \n10.148.158.128/26 via 10.18.132.14 dev eth0 proto bird metric 20 \n"},
		{"prompt and grep separator", routesParser, "root@k01-worker3:/# ip route | grep 192.168\n192.168.19.128/26 via 192.168.19.128 dev vxlan.calico onlink \n--\n"},
		{"kubectl exec's notes", routesParser, "Defaulted container \"calico-node\" out of: calico-node, install-cni (init)\nUnable to use a TTY - input is not a terminal or the right kind of file\nblackhole 10.148.158.0/26 proto bird\n"},
		{"ip route get", routesParser, "192.168.19.130 via 10.10.10.10 dev eth1 src 10.10.10.11 uid 0 \n    cache \n"},
		{"ip neigh", neighsParser, string(fixture(t, "k01-worker/ip-neigh.txt"))},
		{"ip neigh with IPv6, router, proxy lines and a prompt", neighsParser, "$ ip neigh\n10.10.10.99 dev eth1 INCOMPLETE\nfe80::1 dev eth1 lladdr 00:1c:73:aa:bb:01 router REACHABLE\n10.10.10.1 dev eth1 lladdr 00:1c:73:aa:bb:01 extern_learn NOARP proto zebra \n"},
		{"bridge fdb show", fdbParser, string(fixture(t, "gate/bridge-fdb.txt"))},
		{"bridge fdb show with vlan and master", fdbParser, "aa:c1:ab:12:34:56 dev eth1 vlan 10 master br0 permanent\r\n"},
		{"ip -s -d link", linksParser, string(fixture(t, "gate/ip-s-d-link.txt"))},
		{"ip -d link of k01-worker", linksParser, string(fixture(t, "k01-worker/ip-d-link.txt"))},
		{"ip -br link as links", linksParser, string(fixture(t, "gate/ip-br-link.txt"))},
		{"ip addr as links", linksParser, string(fixture(t, "gate/ip-addr.txt"))},
		{"ip addr", addrsParser, string(fixture(t, "gate/ip-addr.txt"))},
		{"ip -br addr", addrsParser, string(fixture(t, "gate/ip-br-addr.txt"))},
		{"ip addr grep -A2 of one device", addrsParser, "6: vxlan.calico: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN group default qlen 1000\n    link/ether 66:fb:ad:98:aa:13 brd ff:ff:ff:ff:ff:ff\n    inet 192.168.93.64/32 scope global vxlan.calico\n--\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.parse([]byte(tt.in)); err != nil {
				t.Errorf("%s refused it: %v", tt.p.name, err)
			}
		})
	}
}

// Of `ip route show table all`, only the IPv4 routes are kept, the local and broadcast ones
// marked with their table so that the checks (which read the main table) pass them by.
func TestTableAllKeepsTablesApart(t *testing.T) {
	routes, err := Routes(fixture(t, "gate/ip-route-table-all.txt"))
	if err != nil {
		t.Fatal(err)
	}
	main, local := 0, 0
	for _, r := range routes {
		if !r.Dst.Addr().Is4() {
			t.Errorf("an IPv6 route was kept: %+v", r)
		}
		switch r.Table {
		case "":
			main++
		case "local":
			local++
		default:
			t.Errorf("route in table %q: %+v", r.Table, r)
		}
	}
	if main != len(gateRoutes) || local != 7 {
		t.Errorf("%d main and %d local routes, want %d and 7", main, local, len(gateRoutes))
	}
}
