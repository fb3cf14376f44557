package parse

import (
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/observed"
)

// gateRoutes is the main table of testdata/capture-gate.sh: a Calico block spread by ECMP over
// two next hops (issue 10), beside ordinary routes.
var gateRoutes = []observed.Route{
	{Type: "unicast", Dst: pfx("0.0.0.0/0"), Gateway: ip("10.18.132.1"), Dev: "eth0"},
	{Type: "unicast", Dst: pfx("10.18.132.0/24"), Dev: "eth0", Protocol: "kernel", Scope: "link", Src: ip("10.18.132.11")},
	{Type: "unicast", Dst: pfx("10.18.133.0/24"), Dev: "eth1", Protocol: "kernel", Scope: "link", Src: ip("10.18.133.11")},
	{Type: "blackhole", Dst: pfx("10.148.158.0/26"), Protocol: "bird"},
	{Type: "unicast", Dst: pfx("10.148.158.64/26"), Protocol: "bird", Nexthops: []observed.Nexthop{
		{Gateway: ip("10.18.132.12"), Dev: "eth0", Weight: 1},
		{Gateway: ip("10.18.132.13"), Dev: "eth0", Weight: 1},
	}},
	{Type: "unicast", Dst: pfx("10.148.158.128/26"), Gateway: ip("10.18.132.14"), Dev: "eth0", Protocol: "bird", Metric: 20},
}

// Every form iproute2 prints a multipath route in gives the same next hops: the multi-line
// text of `ip route`, the one-line `ip -o route` (backslash-tab separators) and `ip -j route`.
func TestMultipathRouteForms(t *testing.T) {
	testRouteFixtures(t, gateRoutes, "gate/ip-route-multipath.txt", "gate/ip-o-route-multipath.txt", "gate/ip-j-route-multipath.json")
}

func TestMultipathRouteText(t *testing.T) {
	mp := observed.Route{Type: "unicast", Dst: pfx("10.148.158.64/26"), Protocol: "bird", Nexthops: []observed.Nexthop{
		{Gateway: ip("10.18.132.12"), Dev: "eth0", Weight: 1},
		{Gateway: ip("10.18.132.13"), Dev: "eth0", Weight: 1},
	}}
	testRouteCases(t, []routeCase{
		{"the one-line form of issue 10",
			"10.148.158.64/26 proto bird \\\tnexthop via 10.18.132.12 dev eth0 weight 1 \\\tnexthop via 10.18.132.13 dev eth0 weight 1\n",
			[]observed.Route{mp}},
		{"multi-line, pasted without the tab, CRLF",
			"10.148.158.64/26 proto bird \r\nnexthop via 10.18.132.12 dev eth0 weight 1 \r\nnexthop via 10.18.132.13 dev eth0 weight 1\r\n",
			[]observed.Route{mp}},
		{"as a report prints it, on one line without separators",
			"10.148.158.64/26 proto bird nexthop via 10.18.132.12 dev eth0 weight 1 nexthop via 10.18.132.13 dev eth0 weight 1\n",
			[]observed.Route{mp}},
		{"onlink, weights and a dead next hop",
			"192.168.104.0/26 proto 80 metric 20 \n\tnexthop via 10.10.10.12 dev eth1 weight 3 onlink \n\tnexthop via 10.10.10.10 dev eth1 weight 1 dead onlink linkdown\n",
			[]observed.Route{{Type: "unicast", Dst: pfx("192.168.104.0/26"), Protocol: "80", Metric: 20, Nexthops: []observed.Nexthop{
				{Gateway: ip("10.10.10.12"), Dev: "eth1", Weight: 3, Onlink: true},
				{Gateway: ip("10.10.10.10"), Dev: "eth1", Weight: 1, Onlink: true},
			}}}},
		{"an IPv6 multipath route and its next hops are skipped, not added to the route before",
			"blackhole 10.148.158.0/26 proto bird \n2001:db8::/64 proto static metric 1024 pref medium\n\tnexthop via fe80::1 dev eth0 weight 1 \n\tnexthop via fe80::2 dev eth0 weight 1 \n",
			[]observed.Route{{Type: "blackhole", Dst: pfx("10.148.158.0/26"), Protocol: "bird"}}},
		{"a multipath route without protocol: its first line is the destination alone",
			"10.0.0.0/8 \n\tnexthop via 10.18.132.12 dev eth0 weight 1 \n\tnexthop via 10.18.132.13 dev eth0 weight 1 \n",
			[]observed.Route{{Type: "unicast", Dst: pfx("10.0.0.0/8"), Nexthops: mp.Nexthops}}},
		{"next hop lines whose route grep dropped are skipped",
			"\tnexthop via 10.18.132.12 dev eth0 weight 1 \n\tnexthop via 10.18.132.13 dev eth0 weight 1 \n", nil},
	})
}

func TestMultipathRouteJSON(t *testing.T) {
	in := `[{"dst":"192.168.104.0/26","protocol":"80","flags":[],"nexthops":[{"gateway":"10.10.10.12","dev":"eth1","weight":1,"flags":["onlink"]},{"gateway":"10.10.10.10","dev":"eth1","weight":2,"flags":["onlink","linkdown"]},{"gateway":"fe80::1","dev":"eth1","weight":1,"flags":[]}]}]`
	got, err := Routes([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	diffSlices(t, got, []observed.Route{{Type: "unicast", Dst: pfx("192.168.104.0/26"), Protocol: "80", Nexthops: []observed.Nexthop{
		{Gateway: ip("10.10.10.12"), Dev: "eth1", Weight: 1, Onlink: true},
		{Gateway: ip("10.10.10.10"), Dev: "eth1", Weight: 2, Onlink: true},
		{Dev: "eth1", Weight: 1}, // an IPv6 next hop of an IPv4 route: the device is still known
	}}})
}

// A multipath route prints as iproute2 prints it and reads back the same.
func TestFormatMultipathRoute(t *testing.T) {
	routes, err := Routes(fixture(t, "gate/ip-route-multipath.txt"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(FormatRoutes(routes))
	if want := "10.148.158.64/26 proto bird\n\tnexthop via 10.18.132.12 dev eth0 weight 1\n\tnexthop via 10.18.132.13 dev eth0 weight 1\n"; !strings.Contains(text, want) {
		t.Errorf("FormatRoutes printed\n%s\nwant it to contain the multi-line form\n%s", text, want)
	}
	again, err := Routes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	diffSlices(t, again, routes)
	if got, want := FormatRoute(routes[4]), "10.148.158.64/26 proto bird nexthop via 10.18.132.12 dev eth0 weight 1 nexthop via 10.18.132.13 dev eth0 weight 1"; got != want {
		t.Errorf("FormatRoute = %q, want %q", got, want)
	}
}
