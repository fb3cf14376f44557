package parse

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/knetlab/knetlab/verify/observed"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var (
	ip  = netip.MustParseAddr
	pfx = netip.MustParsePrefix
)

// k01WorkerRoutes is k01-worker's main table in lesson 06 (testdata/capture-k01-worker.sh):
// k01-control-plane and k01-worker2 share its subnet (direct via eth1), k01-worker3 does not
// (via vxlan.calico).
var k01WorkerRoutes = []observed.Route{
	{Type: "unicast", Dst: pfx("0.0.0.0/0"), Gateway: ip("172.18.0.1"), Dev: "eth0"},
	{Type: "unicast", Dst: pfx("10.10.10.0/24"), Dev: "eth1", Protocol: "kernel", Scope: "link", Src: ip("10.10.10.11")},
	{Type: "unicast", Dst: pfx("10.10.20.0/24"), Gateway: ip("10.10.10.1"), Dev: "eth1"},
	{Type: "unicast", Dst: pfx("172.18.0.0/16"), Dev: "eth0", Protocol: "kernel", Scope: "link", Src: ip("172.18.0.3")},
	{Type: "unicast", Dst: pfx("192.168.19.128/26"), Gateway: ip("10.10.10.10"), Dev: "eth1", Protocol: "80", Onlink: true},
	{Type: "blackhole", Dst: pfx("192.168.93.64/26"), Protocol: "80"},
	{Type: "unicast", Dst: pfx("192.168.93.65/32"), Dev: "cali33a6ed01365", Scope: "link"},
	{Type: "unicast", Dst: pfx("192.168.93.66/32"), Dev: "cali0d7763386da", Scope: "link"},
	{Type: "unicast", Dst: pfx("192.168.150.192/26"), Gateway: ip("10.10.10.12"), Dev: "eth1", Protocol: "80", Onlink: true},
	{Type: "unicast", Dst: pfx("192.168.209.64/26"), Gateway: ip("192.168.209.64"), Dev: "vxlan.calico", Onlink: true},
}

func TestRoutesFixtures(t *testing.T) {
	testRouteFixtures(t, k01WorkerRoutes, "k01-worker/ip-route.txt", "k01-worker/ip-route.json")
}

// testRouteFixtures checks that every file parses to want.
func testRouteFixtures(t *testing.T, want []observed.Route, files ...string) {
	t.Helper()
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			got, err := Routes(fixture(t, file))
			if err != nil {
				t.Fatal(err)
			}
			diffSlices(t, got, want)
		})
	}
}

// routeCase is an input of Routes and the routes it must give.
type routeCase struct {
	name string
	in   string
	want []observed.Route
}

func testRouteCases(t *testing.T, tests []routeCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Routes([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			diffSlices(t, got, tt.want)
		})
	}
}

func TestRoutesText(t *testing.T) {
	testRouteCases(t, []routeCase{
		{"grep-filtered with CRLF and trailing spaces",
			"192.168.19.128/26 via 10.10.10.10 dev eth1 proto 80 onlink   \r\nblackhole 192.168.93.64/26 proto 80 \r\n",
			[]observed.Route{
				{Type: "unicast", Dst: pfx("192.168.19.128/26"), Gateway: ip("10.10.10.10"), Dev: "eth1", Protocol: "80", Onlink: true},
				{Type: "blackhole", Dst: pfx("192.168.93.64/26"), Protocol: "80"},
			}},
		{"newer Calico with mtu and metric",
			"192.168.209.64/26 via 192.168.209.64 dev vxlan.calico onlink mtu 1450\n192.168.10.0/26 via 10.10.10.12 dev eth1 proto 80 metric 20 onlink mtu lock 1450\n",
			[]observed.Route{
				{Type: "unicast", Dst: pfx("192.168.209.64/26"), Gateway: ip("192.168.209.64"), Dev: "vxlan.calico", Onlink: true, MTU: 1450},
				{Type: "unicast", Dst: pfx("192.168.10.0/26"), Gateway: ip("10.10.10.12"), Dev: "eth1", Protocol: "80", Metric: 20, Onlink: true, MTU: 1450},
			}},
		{"plain BGP and IPIP",
			"192.168.50.0/26 via 10.10.10.12 dev eth1 proto bird \n192.168.60.0/26 via 10.10.20.20 dev tunl0 proto bird onlink\nblackhole 192.168.70.0/26 proto bird\n",
			[]observed.Route{
				{Type: "unicast", Dst: pfx("192.168.50.0/26"), Gateway: ip("10.10.10.12"), Dev: "eth1", Protocol: "bird"},
				{Type: "unicast", Dst: pfx("192.168.60.0/26"), Gateway: ip("10.10.20.20"), Dev: "tunl0", Protocol: "bird", Onlink: true},
				{Type: "blackhole", Dst: pfx("192.168.70.0/26"), Protocol: "bird"},
			}},
		{"table all with local, broadcast and IPv6 lines",
			"local 10.10.10.11 dev eth1 table local proto kernel scope host src 10.10.10.11 \n" +
				"fe80::/64 dev eth1 proto kernel metric 256 pref medium\n" +
				"unreachable 192.168.60.0/26 \n" +
				"multicast ff00::/8 dev eth1 table local proto kernel metric 256 pref medium\n",
			[]observed.Route{
				{Type: "local", Dst: pfx("10.10.10.11/32"), Dev: "eth1", Table: "local", Protocol: "kernel", Scope: "host", Src: ip("10.10.10.11")},
				{Type: "unreachable", Dst: pfx("192.168.60.0/26")},
			}},
		// Lines that are no `ip route` output ("via dev proto", "192.168.93.999/32 dev eth1")
		// were skipped here before the format gate; they are refused now (TestGateRefuses).
		{"prompt, unknown keywords and blank lines are skipped",
			"root@k01-worker:/# ip route | grep 192.168\n" +
				"192.168.93.65 dev cali33a6ed01365 scope link linkdown rt_future 7 \n" +
				"\n   \n" +
				"192.168.1.0/26 via fe80::1 dev eth1 metric -5 mtu x\n",
			[]observed.Route{
				{Type: "unicast", Dst: pfx("192.168.93.65/32"), Dev: "cali33a6ed01365", Scope: "link"},
				{Type: "unicast", Dst: pfx("192.168.1.0/26"), Dev: "eth1"},
			}},
		{"unmasked destination is normalised", "192.168.93.70/26 dev eth1\n",
			[]observed.Route{{Type: "unicast", Dst: pfx("192.168.93.64/26"), Dev: "eth1"}}},
		{"empty", "", nil},
	})
}

func TestRoutesJSON(t *testing.T) {
	testRouteCases(t, []routeCase{
		{"numeric protocol and table", `[{"dst":"192.168.19.128/26","gateway":"10.10.10.10","dev":"eth1","protocol":80,"table":254,"flags":["onlink"]}]`,
			[]observed.Route{{Type: "unicast", Dst: pfx("192.168.19.128/26"), Gateway: ip("10.10.10.10"), Dev: "eth1", Protocol: "80", Table: "254", Onlink: true}}},
		{"mtu metrics and IPv6 skipped", `[{"dst":"192.168.10.0/26","gateway":"10.10.10.12","dev":"eth1","protocol":"80","metric":20,"flags":["onlink"],"metrics":[{"mtu":1450}]},{"dst":"fe80::/64","dev":"eth1"}]`,
			[]observed.Route{{Type: "unicast", Dst: pfx("192.168.10.0/26"), Gateway: ip("10.10.10.12"), Dev: "eth1", Protocol: "80", Metric: 20, Onlink: true, MTU: 1450}}},
		{"single object", `{"type":"blackhole","dst":"192.168.93.64/26","protocol":"80","flags":[]}`,
			[]observed.Route{{Type: "blackhole", Dst: pfx("192.168.93.64/26"), Protocol: "80"}}},
		{"empty array", "[]\n", []observed.Route{}},
	})
}

func TestMalformedJSONNamesLine(t *testing.T) {
	tests := []struct {
		name     string
		parse    func([]byte) error
		in       string
		wantLine int
	}{
		{"routes truncated", func(b []byte) error { _, err := Routes(b); return err }, "[\n{\"dst\":\"192.168.19.128/26\",\n\"dev\":", 3},
		{"neigh bad token", func(b []byte) error { _, err := Neighs(b); return err }, "\n\n[{\"dst\": 10.10.10.1 x}]", 3},
		{"fdb wrong type", func(b []byte) error { _, err := FDB(b); return err }, "[\n{\"mac\":\"66:d2:0c:f0:ef:e5\",\n\"flags\":\"self\"}]", 3},
		{"links wrong type", func(b []byte) error { _, err := Links(b); return err }, "[{\"ifname\":\"eth1\",\"mtu\":\"1500\"}]", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse([]byte(tt.in))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *parse.Error", err)
			}
			if pe.Line != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", pe.Line, tt.wantLine, err)
			}
			if !strings.Contains(err.Error(), "malformed JSON") {
				t.Errorf("error %q does not say the JSON is malformed", err)
			}
		})
	}
}

var k01WorkerNeighs = []observed.Neigh{
	{Dst: ip("192.168.19.128"), Dev: "vxlan.calico", LLAddr: "66:15:9d:fa:c6:aa", State: []string{"PERMANENT"}},
	{Dst: ip("172.18.0.1"), Dev: "eth0", LLAddr: "02:42:9a:1f:3c:00", State: []string{"STALE"}},
	{Dst: ip("10.10.10.1"), Dev: "eth1", LLAddr: "00:1c:73:aa:bb:01", State: []string{"REACHABLE"}},
	{Dst: ip("192.168.209.64"), Dev: "vxlan.calico", LLAddr: "66:d2:0c:f0:ef:e5", State: []string{"PERMANENT"}},
	{Dst: ip("192.168.150.193"), Dev: "vxlan.calico", LLAddr: "66:c7:4d:6e:6b:f3", State: []string{"PERMANENT"}},
}

func TestNeighsFixtures(t *testing.T) {
	for _, file := range []string{"k01-worker/ip-neigh.txt", "k01-worker/ip-neigh.json"} {
		t.Run(file, func(t *testing.T) {
			got, err := Neighs(fixture(t, file))
			if err != nil {
				t.Fatal(err)
			}
			diffSlices(t, got, k01WorkerNeighs)
		})
	}
}

func TestNeighsText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []observed.Neigh
	}{
		{"upper-case MAC, CRLF, router flag",
			"192.168.209.64 dev vxlan.calico lladdr 66:D2:0C:F0:EF:E5 PERMANENT \r\n10.10.10.1 dev eth1 lladdr 00:1c:73:aa:bb:01 router STALE\r\n",
			[]observed.Neigh{
				{Dst: ip("192.168.209.64"), Dev: "vxlan.calico", LLAddr: "66:d2:0c:f0:ef:e5", State: []string{"PERMANENT"}},
				{Dst: ip("10.10.10.1"), Dev: "eth1", LLAddr: "00:1c:73:aa:bb:01", State: []string{"STALE"}},
			}},
		// A line without its device ("10.10.10.5 lladdr 00:1c:73:aa:bb:05") was skipped here
		// before the format gate; it is refused now (TestGateRefuses).
		{"incomplete, IPv6 and prompt lines",
			"$ ip neigh\n10.10.10.99 dev eth1 INCOMPLETE\nfe80::1 dev eth1 lladdr 00:1c:73:aa:bb:01 router REACHABLE\n",
			[]observed.Neigh{{Dst: ip("10.10.10.99"), Dev: "eth1", State: []string{"INCOMPLETE"}}}},
		{"bad MAC leaves lladdr empty", "192.168.19.128 dev vxlan.calico lladdr 66:15:9d PERMANENT\n",
			[]observed.Neigh{{Dst: ip("192.168.19.128"), Dev: "vxlan.calico", State: []string{"PERMANENT"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Neighs([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			diffSlices(t, got, tt.want)
		})
	}
}

func TestFDBFixtures(t *testing.T) {
	for _, file := range []string{"k01-worker/bridge-fdb.txt", "k01-worker/bridge-fdb.json"} {
		t.Run(file, func(t *testing.T) {
			got, err := FDB(fixture(t, file))
			if err != nil {
				t.Fatal(err)
			}
			var vxlan []observed.FDBEntry
			for _, e := range got {
				if e.Dev == "vxlan.calico" {
					vxlan = append(vxlan, e)
				}
			}
			if len(got) != 19 {
				t.Errorf("got %d entries, want all 19 of the capture", len(got))
			}
			diffSlices(t, vxlan, []observed.FDBEntry{
				{MAC: "66:d2:0c:f0:ef:e5", Dev: "vxlan.calico", Dst: ip("10.10.20.20"), Self: true, Permanent: true},
				{MAC: "66:c7:4d:6e:6b:f3", Dev: "vxlan.calico", Dst: ip("10.10.10.12"), Self: true, Permanent: true},
				{MAC: "66:15:9d:fa:c6:aa", Dev: "vxlan.calico", Dst: ip("10.10.10.10"), Self: true, Permanent: true},
			})
		})
	}
}

func TestFDBText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []observed.FDBEntry
	}{
		{"bridge master and vlan", "aa:c1:ab:12:34:56 dev eth1 vlan 10 master br0 permanent\r\n",
			[]observed.FDBEntry{{MAC: "aa:c1:ab:12:34:56", Dev: "eth1", Master: "br0", Permanent: true}}},
		{"dynamic entry, IPv6 VTEP skipped",
			"66:d2:0c:f0:ef:e5 dev vxlan.calico dst 10.10.20.20 self \n00:00:00:00:00:00 dev vxlan6 dst 2001:db8::1 self permanent\n",
			[]observed.FDBEntry{{MAC: "66:d2:0c:f0:ef:e5", Dev: "vxlan.calico", Dst: ip("10.10.20.20"), Self: true}}},
		// "no device or not a MAC" ("66:d2:0c:f0:ef:e5 dst 10.10.20.20 self permanent", "port
		// eth1") were skipped here before the format gate; they are refused now (TestGateRefuses).
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FDB([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			diffSlices(t, got, tt.want)
		})
	}
}

// k01WorkerVXLAN is vxlan.calico on k01-worker as `ip -d link` shows it.
var k01WorkerVXLAN = observed.Link{
	Name: "vxlan.calico", Index: 6, Kind: "vxlan", MTU: 1450, MAC: "66:fb:ad:98:aa:13", Up: true, OperState: "UNKNOWN",
	VXLAN: &observed.VXLAN{VNI: 4096, Port: 4789, Local: ip("10.10.10.11"), Dev: "eth1", Learning: false},
}

func TestLinksFixtures(t *testing.T) {
	for _, file := range []string{"k01-worker/ip-d-link.txt", "k01-worker/ip-d-link.json"} {
		t.Run(file, func(t *testing.T) {
			got, err := Links(fixture(t, file))
			if err != nil {
				t.Fatal(err)
			}
			names := make([]string, len(got))
			for i, l := range got {
				names[i] = l.Name
			}
			wantNames := []string{"lo", "mgmt", "eth0", "ceos-et2", "eth1", "vxlan.calico", "cali33a6ed01365", "cali0d7763386da"}
			if !reflect.DeepEqual(names, wantNames) {
				t.Fatalf("links %v, want %v", names, wantNames)
			}
			diff(t, got[5], k01WorkerVXLAN)
			diff(t, got[4], observed.Link{Name: "eth1", Index: 5, Kind: "veth", MTU: 1500, MAC: "72:17:7d:f3:a5:06", Up: true, OperState: "UP", Parent: "ceos-et2"})
			diff(t, got[6], observed.Link{Name: "cali33a6ed01365", Index: 7, Kind: "veth", MTU: 1500, MAC: "ee:ee:ee:ee:ee:ee", Up: true, OperState: "DOWN", Parent: "if2"})
		})
	}
}

func TestLinksText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []observed.Link
	}{
		{"ip link show type vxlan has no attributes", string(fixture(t, "k01-worker/ip-link-vxlan.txt")),
			[]observed.Link{{Name: "vxlan.calico", Index: 6, MTU: 1450, MAC: "66:fb:ad:98:aa:13", Up: true, OperState: "UNKNOWN"}}},
		{"pasted without indentation, learning, alias, master",
			"12: vxlan.calico: <BROADCAST,MULTICAST> mtu 1410 qdisc noqueue master br0 state DOWN mode DEFAULT group default \r\n" +
				"link/ether 66:FB:AD:98:AA:13 brd ff:ff:ff:ff:ff:ff promiscuity 0 \n" +
				"alias Calico  VXLAN tunnel \n" +
				"vxlan id 4097 local 10.10.10.11 dev eth1 srcport 0 0 dstport 8472 ttl inherit ageing 300\n",
			[]observed.Link{{Name: "vxlan.calico", Index: 12, Kind: "vxlan", MTU: 1410, MAC: "66:fb:ad:98:aa:13", OperState: "DOWN", Master: "br0", Alias: "Calico  VXLAN tunnel",
				VXLAN: &observed.VXLAN{VNI: 4097, Port: 8472, Local: ip("10.10.10.11"), Dev: "eth1", Learning: true}}}},
		{"ip -o link one-line form",
			`6: vxlan.calico: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\    link/ether 66:fb:ad:98:aa:13 brd ff:ff:ff:ff:ff:ff promiscuity 0 \    vxlan id 4096 local 10.10.10.11 dev eth1 srcport 0 0 dstport 4789 nolearning ttl auto ageing 300 udpcsum` + "\n",
			[]observed.Link{k01WorkerVXLAN}},
		{"grep kept only detail lines: nothing to attach them to",
			"    vxlan id 4096 local 10.10.10.11 dev eth1 dstport 4789 nolearning\n    link/ether 66:fb:ad:98:aa:13 brd ff:ff:ff:ff:ff:ff\n", nil},
		{"statistics from ip -s link",
			"3: eth1@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\n" +
				"    link/ether 72:17:7d:f3:a5:06 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n" +
				"    RX:  bytes packets errors dropped  missed   mcast           \n" +
				"         8342      77      0       0       0       0 \n" +
				"    TX:  bytes packets errors dropped carrier collsns           \n" +
				"         5126      41      0       0       0       0 \n",
			[]observed.Link{{Name: "eth1", Index: 3, MTU: 1500, MAC: "72:17:7d:f3:a5:06", Up: true, OperState: "UP", Parent: "if7",
				Stats: &observed.LinkStats{RxPackets: 77, TxPackets: 41}}}},
		{"ip -br link", "vxlan.calico     UNKNOWN        66:fb:ad:98:aa:13 <BROADCAST,MULTICAST,UP,LOWER_UP> \nvxlan0@NONE DOWN 66:fb:ad:98:aa:14 <BROADCAST,MULTICAST> \n",
			[]observed.Link{
				{Name: "vxlan.calico", OperState: "UNKNOWN", MAC: "66:fb:ad:98:aa:13", Up: true},
				{Name: "vxlan0", OperState: "DOWN", MAC: "66:fb:ad:98:aa:14"},
			}},
		// "not headers" ("0: lo: <UP>", "x: eth0: <UP>", "12:") were skipped here before the
		// format gate; they are refused now (TestGateRefuses).
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Links([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			diffSlices(t, got, tt.want)
		})
	}
}

func TestAddrsFixtures(t *testing.T) {
	for _, file := range []string{"k01-worker/ip-addr.txt", "k01-worker/ip-addr.json"} {
		t.Run(file, func(t *testing.T) {
			got, err := Addrs(fixture(t, file))
			if err != nil {
				t.Fatal(err)
			}
			addrs := map[string][]netip.Prefix{}
			for _, l := range got {
				addrs[l.Name] = l.Addrs
			}
			want := map[string][]netip.Prefix{
				"lo": {pfx("127.0.0.1/8")}, "mgmt": nil, "eth0": {pfx("172.18.0.3/16")}, "ceos-et2": nil,
				"eth1": {pfx("10.10.10.11/24")}, "vxlan.calico": {pfx("192.168.93.64/32")},
				"cali33a6ed01365": nil, "cali0d7763386da": nil,
			}
			if !reflect.DeepEqual(addrs, want) {
				t.Errorf("addresses\n got %v\nwant %v", addrs, want)
			}
		})
	}
}

func TestAddrsText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []observed.Link
	}{
		{"ip -o addr repeats the link per address",
			"2: eth0    inet 172.18.0.3/16 brd 172.18.255.255 scope global eth0\\       valid_lft forever preferred_lft forever\n" +
				"2: eth0    inet6 fc00:f853:ccd:e793::3/64 scope global nodad \\       valid_lft forever preferred_lft forever\n" +
				"3: eth1    inet 10.10.10.11/24 scope global eth1\\       valid_lft forever preferred_lft forever\n" +
				"3: eth1    inet 10.10.10.111/24 scope global secondary eth1\\       valid_lft forever preferred_lft forever\n",
			[]observed.Link{
				{Name: "eth0", Index: 2, Addrs: []netip.Prefix{pfx("172.18.0.3/16")}},
				{Name: "eth1", Index: 3, Addrs: []netip.Prefix{pfx("10.10.10.11/24"), pfx("10.10.10.111/24")}},
			}},
		{"ip -br addr",
			"lo               UNKNOWN        127.0.0.1/8 ::1/128 \n" +
				"eth1@ceos-et2    UP             10.10.10.11/24 fe80::7017:7dff:fef3:a506/64 \r\n" +
				"vxlan.calico     UNKNOWN        192.168.93.64/32 fe80::64fb:adff:fe98:aa13/64 \n" +
				"cali33a6ed01365@if2 DOWN           \n",
			[]observed.Link{
				{Name: "lo", OperState: "UNKNOWN", Addrs: []netip.Prefix{pfx("127.0.0.1/8")}},
				{Name: "eth1", Parent: "ceos-et2", OperState: "UP", Addrs: []netip.Prefix{pfx("10.10.10.11/24")}},
				{Name: "vxlan.calico", OperState: "UNKNOWN", Addrs: []netip.Prefix{pfx("192.168.93.64/32")}},
				{Name: "cali33a6ed01365", Parent: "if2", OperState: "DOWN"},
			}},
		{"grep -A2 of one device",
			"6: vxlan.calico: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN group default qlen 1000\n" +
				"    link/ether 66:fb:ad:98:aa:13 brd ff:ff:ff:ff:ff:ff\n    inet 192.168.93.64/32 scope global vxlan.calico\n--\n",
			[]observed.Link{{Name: "vxlan.calico", Index: 6, MTU: 1450, MAC: "66:fb:ad:98:aa:13", Up: true, OperState: "UNKNOWN", Addrs: []netip.Prefix{pfx("192.168.93.64/32")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Addrs([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			diffSlices(t, got, tt.want)
		})
	}
}

func TestMergeAddrs(t *testing.T) {
	links := []observed.Link{
		{Name: "eth1", Kind: "veth", MTU: 1500},
		{Name: "vxlan.calico", Kind: "vxlan", VXLAN: &observed.VXLAN{VNI: 4096}},
	}
	addrLinks := []observed.Link{
		{Name: "vxlan.calico", MTU: 1450, MAC: "66:fb:ad:98:aa:13", Addrs: []netip.Prefix{pfx("192.168.93.64/32")}},
		{Name: "eth0", Addrs: []netip.Prefix{pfx("172.18.0.3/16")}},
	}
	got := MergeAddrs(links, addrLinks)
	want := []observed.Link{
		{Name: "eth1", Kind: "veth", MTU: 1500},
		{Name: "vxlan.calico", Kind: "vxlan", MTU: 1450, MAC: "66:fb:ad:98:aa:13", VXLAN: &observed.VXLAN{VNI: 4096}, Addrs: []netip.Prefix{pfx("192.168.93.64/32")}},
		{Name: "eth0", Addrs: []netip.Prefix{pfx("172.18.0.3/16")}},
	}
	diffSlices(t, got, want)
	if links[1].Addrs != nil {
		t.Error("MergeAddrs changed its input")
	}
}

// TestFormatRoundTrip proves the Format functions print what the parsers read back.
func TestFormatRoundTrip(t *testing.T) {
	routes, _ := Routes(fixture(t, "k01-worker/ip-route.txt"))
	routes = append(routes, observed.Route{Type: "unicast", Dst: pfx("192.168.10.0/26"), Gateway: ip("10.10.10.12"), Dev: "eth1", Protocol: "80", Metric: 20, Onlink: true, MTU: 1450},
		observed.Route{Type: "local", Dst: pfx("10.10.10.11/32"), Dev: "eth1", Table: "local", Protocol: "kernel", Scope: "host", Src: ip("10.10.10.11")})
	gotRoutes, _ := Routes(FormatRoutes(routes))
	diffSlices(t, gotRoutes, routes)

	neighs, _ := Neighs(fixture(t, "k01-worker/ip-neigh.txt"))
	gotNeighs, _ := Neighs(FormatNeighs(neighs))
	diffSlices(t, gotNeighs, neighs)

	fdb, _ := FDB(fixture(t, "k01-worker/bridge-fdb.txt"))
	fdb = append(fdb, observed.FDBEntry{MAC: "aa:c1:ab:12:34:56", Dev: "eth1", Master: "br0", Permanent: true})
	gotFDB, _ := FDB(FormatFDB(fdb))
	diffSlices(t, gotFDB, fdb)

	links, _ := Links(fixture(t, "k01-worker/ip-d-link.txt"))
	links[5].Alias = "Calico VXLAN"
	links[4].Master = "br0"
	gotLinks, _ := Links(FormatLinks(links))
	diffSlices(t, gotLinks, links)

	addrs, _ := Addrs(fixture(t, "k01-worker/ip-addr.txt"))
	gotAddrs, _ := Addrs(FormatAddrs(addrs))
	diffSlices(t, gotAddrs, addrs)
}

func TestFormatRouteLooksLikeIPRoute(t *testing.T) {
	tests := []struct {
		r    observed.Route
		want string
	}{
		{observed.Route{Type: "unicast", Dst: pfx("192.168.19.128/26"), Gateway: ip("10.10.10.10"), Dev: "eth1", Protocol: "80", Onlink: true},
			"192.168.19.128/26 via 10.10.10.10 dev eth1 proto 80 onlink"},
		{observed.Route{Type: "blackhole", Dst: pfx("192.168.93.64/26"), Protocol: "80"}, "blackhole 192.168.93.64/26 proto 80"},
		{observed.Route{Dst: pfx("192.168.93.65/32"), Dev: "cali33a6ed01365", Scope: "link"}, "192.168.93.65 dev cali33a6ed01365 scope link"},
		{observed.Route{Dst: pfx("0.0.0.0/0"), Gateway: ip("169.254.1.1"), Dev: "eth0"}, "default via 169.254.1.1 dev eth0"},
	}
	for _, tt := range tests {
		if got := FormatRoute(tt.r); got != tt.want {
			t.Errorf("FormatRoute = %q, want %q", got, tt.want)
		}
	}
}

// netipEqual lets go-cmp compare netip values, which have unexported fields.
var netipEqual = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func diff[T any](t *testing.T, got, want T) {
	t.Helper()
	if d := cmp.Diff(want, got, netipEqual); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func diffSlices[T any](t *testing.T, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d", len(got), len(want))
	}
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			t.Errorf("[%d] missing %+v", i, want[i])
		case i >= len(want):
			t.Errorf("[%d] unexpected %+v", i, got[i])
		default:
			diff(t, got[i], want[i])
		}
	}
}
