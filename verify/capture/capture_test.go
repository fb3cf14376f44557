package capture

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/source"
)

var netipEqual = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func open(t *testing.T, dir string) *Capture {
	t.Helper()
	src, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Capture)
}

// TestOpenLesson06 reads a capture as a person would paste it: k01-worker complete (neighbours
// as JSON, FDB grep-filtered), k01-worker3 with only a grep-filtered route table in CRLF.
func TestOpenLesson06(t *testing.T) {
	ctx := context.Background()
	c := open(t, filepath.Join("testdata", "lesson06"))

	f, err := c.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Nodes) != 4 || len(f.Affinities) != 6 || len(f.Pods) != 4 {
		t.Errorf("facts: %d nodes, %d affinities, %d pods; want 4, 6, 4", len(f.Nodes), len(f.Affinities), len(f.Pods))
	}

	tests := []struct {
		node                       string
		tables                     []observed.Table
		routes, neighs, fdb, links int
	}{
		{"k01-worker", []observed.Table{observed.TableRoutes, observed.TableNeigh, observed.TableFDB, observed.TableLinks, observed.TableAddrs, observed.TableSysctls, observed.TablePods}, 10, 5, 3, 8},
		{"k01-worker3", []observed.Table{observed.TableRoutes}, 5, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			n, err := c.NodeState(ctx, tt.node)
			if err != nil {
				t.Fatal(err)
			}
			marked := map[observed.Table]bool{}
			for table := range n.Tables {
				marked[table] = true
			}
			want := map[observed.Table]bool{}
			for _, table := range tt.tables {
				want[table] = true
			}
			if d := cmp.Diff(want, marked); d != "" {
				t.Errorf("marked tables (-want +got):\n%s", d)
			}
			if len(n.Routes) != tt.routes || len(n.Neighs) != tt.neighs || len(n.FDB) != tt.fdb || len(n.Links) != tt.links {
				t.Errorf("%d routes, %d neighbours, %d fdb, %d links; want %d, %d, %d, %d",
					len(n.Routes), len(n.Neighs), len(n.FDB), len(n.Links), tt.routes, tt.neighs, tt.fdb, tt.links)
			}
		})
	}

	worker, _ := c.NodeState(ctx, "k01-worker")
	vx, ok := worker.Link("vxlan.calico")
	if !ok || vx.VXLAN == nil || vx.VXLAN.VNI != 4096 || len(vx.Addrs) != 1 || vx.Addrs[0] != netip.MustParsePrefix("192.168.93.64/32") {
		t.Errorf("vxlan.calico = %+v: want VNI 4096 and the tunnel address merged from ip-addr.txt", vx)
	}
	if got := worker.Sysctls["net.ipv4.conf.cali33a6ed01365.proxy_arp"]; got != "1" {
		t.Errorf("proxy_arp = %q, want 1", got)
	}
	if got := worker.Sysctls["net.ipv4.ip_local_port_range"]; got != "32768\t60999" {
		t.Errorf("ip_local_port_range = %q", got)
	}

	wantPods := []observed.PodWiring{
		{Namespace: "default", Name: "multitool-6f8b7d9c5-k2x4p", HostIface: "cali33a6ed01365",
			Eth0: observed.Link{Name: "eth0", Index: 3, Parent: "if7", MTU: 1450, MAC: "9a:3c:5e:71:0b:22", Up: true, OperState: "UP",
				Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.93.65/32")}},
			Routes: []observed.Route{
				{Type: "unicast", Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("169.254.1.1"), Dev: "eth0"},
				{Type: "unicast", Dst: netip.MustParsePrefix("169.254.1.1/32"), Dev: "eth0", Scope: "link"},
			}},
	}
	if d := cmp.Diff(wantPods, worker.Pods[:1], netipEqual); d != "" || len(worker.Pods) != 2 {
		t.Errorf("%d pods; first (-want +got):\n%s", len(worker.Pods), d)
	}

	if _, err := c.NodeState(ctx, "k01-worker2"); !errors.Is(err, source.ErrAbsent) || !strings.Contains(err.Error(), "nodes/k01-worker2") {
		t.Errorf("NodeState(k01-worker2) error = %v, want ErrAbsent naming the directory", err)
	}
	if _, err := c.Switch(ctx); !errors.Is(err, source.ErrAbsent) {
		t.Errorf("Switch error = %v, want ErrAbsent", err)
	}
}

func TestTopology(t *testing.T) {
	type status struct {
		Name           string
		Running, Ready bool
	}
	node := func(name, ready string) string {
		s := "---\napiVersion: v1\nkind: Node\nmetadata: {name: " + name + "}\n"
		if ready != "" {
			s += "status:\n  conditions:\n  - {type: MemoryPressure, status: \"False\"}\n  - {type: Ready, status: \"" + ready + "\"}\n"
		}
		return s
	}
	tests := []struct {
		name   string
		files  map[string]string
		want   []status
		absent bool
	}{
		{"conditions decide", map[string]string{
			"cluster.yaml":                   node("k01-control-plane", "True") + node("k01-worker", "False") + node("k01-worker2", "") + node("k01-worker3", "Unknown"),
			"nodes/k01-worker2/ip-route.txt": "",
			"nodes/k01-worker9/ip-route.txt": "",
		}, []status{
			{"k01-control-plane", true, true},
			{"k01-worker", true, false},
			{"k01-worker2", true, true}, // no condition of its own, but it answered when captured
			{"k01-worker3", true, false},
			{"k01-worker9", true, true}, // captured, though cluster.yaml does not name it
		}, false},
		{"a node with neither condition nor tables is not claimed Ready", map[string]string{
			"cluster.yaml": node("k01-control-plane", "True") + node("k01-worker", ""),
		}, []status{{"k01-control-plane", true, true}, {"k01-worker", true, false}}, false},
		{"no condition recorded: absent, so topology.nodes skips", map[string]string{
			"cluster.yaml":                  node("k01-worker", ""),
			"nodes/k01-worker/ip-route.txt": "",
		}, nil, true},
		{"no cluster.yaml: absent", map[string]string{"nodes/k01-worker/ip-route.txt": ""}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				writeFile(t, dir, name, content)
			}
			got, err := open(t, dir).Topology(context.Background())
			if tt.absent {
				if !errors.Is(err, source.ErrAbsent) {
					t.Fatalf("err = %v, want ErrAbsent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var brief []status
			for _, st := range got {
				if st.Kind != "node" || !strings.HasPrefix(st.Detail, "from capture") {
					t.Errorf("%s: kind %q detail %q, want a node from capture", st.Name, st.Kind, st.Detail)
				}
				brief = append(brief, status{st.Name, st.Running, st.Ready})
			}
			if d := cmp.Diff(tt.want, brief); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestOpenWithoutCluster(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "nodes/k01-worker/ip-neigh.txt", "")
	c := open(t, dir)
	if _, err := c.Facts(context.Background()); !errors.Is(err, source.ErrAbsent) || !strings.Contains(err.Error(), "cluster.yaml") {
		t.Errorf("Facts error = %v, want ErrAbsent naming cluster.yaml", err)
	}
	n, err := c.NodeState(context.Background(), "k01-worker")
	if err != nil {
		t.Fatal(err)
	}
	if !n.Has(observed.TableNeigh) || n.Has(observed.TableRoutes) || len(n.Neighs) != 0 {
		t.Errorf("an empty ip-neigh.txt must mark an empty neighbour table and nothing else: %+v", n)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		dir   string // overrides the temp dir when set
		want  []string
	}{
		{"no such directory", nil, "testdata/nope", []string{"testdata/nope does not exist"}},
		{"empty directory", map[string]string{}, "", []string{"neither cluster.yaml nor a nodes/ directory"}},
		{"malformed cluster.yaml", map[string]string{"cluster.yaml": "apiVersion: v1\nkind: Node\nmetadata:\n  name: k01-worker\n  annotations:\n    projectcalico.org/IPv4Address: 10.10.10.311/24\n"},
			"", []string{"cluster.yaml:6:", "projectcalico.org/IPv4Address"}},
		{"malformed JSON route table", map[string]string{"nodes/k01-worker/ip-route.txt": "[\n{\"dst\":\"192.168.19.128/26\",\n\"gateway\": 10.10.10.10}\n]\n"},
			"", []string{"nodes/k01-worker/ip-route.txt:3:", "malformed JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = t.TempDir()
				for name, content := range tt.files {
					writeFile(t, dir, name, content)
				}
			}
			_, err := Open(context.Background(), dir)
			if err == nil {
				t.Fatal("no error")
			}
			if exitcode.Code(err) != exitcode.Usage {
				t.Errorf("exit code %d, want usage (2): %v", exitcode.Code(err), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestWriteOpenRoundTrip proves Write and Open agree: what Write saves, Open reads back as the
// same facts and the same tables.
func TestWriteOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	clusterYAML, err := os.ReadFile(filepath.Join("..", "facts", "testdata", "cluster-crd-v1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := facts.Decode("cluster-crd-v1.yaml", clusterYAML)
	if err != nil {
		t.Fatal(err)
	}
	worker := fixtureNode(t, "k01-worker")
	worker.Sysctls = map[string]string{"net.ipv4.conf.cali33a6ed01365.proxy_arp": "1", "net.ipv4.ip_forward": "1"}
	worker.Mark(observed.TableSysctls)
	worker.NATOutgoing = []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}
	worker.Mark(observed.TableNAT)
	partial := &observed.Node{Name: "k01-worker3", Routes: []observed.Route{
		{Type: "blackhole", Dst: netip.MustParsePrefix("192.168.209.64/26"), Protocol: "80"},
	}}
	partial.Mark(observed.TableRoutes)
	partial.Mark(observed.TableFDB) // collected, and empty
	partial.Mark(observed.TablePods)
	partial.Mark(observed.TableNAT) // read, and nothing masqueraded: the agent has no table
	partial.Pods = []observed.PodWiring{{Namespace: "default", Name: "web-2", HostIface: "",
		Eth0:   observed.Link{Name: "eth0", Index: 1, MTU: 1450, MAC: "d6:41:0f:8e:27:5d", Up: true, OperState: "UP", Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.209.65/32")}},
		Routes: []observed.Route{{Type: "unicast", Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("169.254.1.1"), Dev: "eth0"}}}}

	dir := t.TempDir()
	if err := Write(dir, f, []*observed.Node{worker, partial}); err != nil {
		t.Fatal(err)
	}
	c := open(t, dir)
	gotFacts, err := c.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(f, gotFacts, netipEqual); d != "" {
		t.Errorf("facts (-written +read):\n%s", d)
	}
	for _, want := range []*observed.Node{worker, partial} {
		got, err := c.NodeState(ctx, want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got, netipEqual, cmp.Comparer(func(a, b []observed.FDBEntry) bool {
			return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b, netipEqual)
		})); d != "" {
			t.Errorf("%s (-written +read):\n%s", want.Name, d)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nodes", "k01-worker3", NeighFile)); !os.IsNotExist(err) {
		t.Errorf("a table the node does not have was written (stat: %v)", err)
	}
	routes, _ := os.ReadFile(filepath.Join(dir, "nodes", "k01-worker", RouteFile))
	if !strings.Contains(string(routes), "192.168.19.128/26 via 10.10.10.10 dev eth1 proto 80 onlink\n") {
		t.Errorf("ip-route.txt does not read like `ip route`:\n%s", routes)
	}
	nat, _ := os.ReadFile(filepath.Join(dir, "nodes", "k01-worker", NATFile))
	if !strings.Contains(string(nat), "ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools masquerade") ||
		!strings.Contains(string(nat), "elements = { 192.168.0.0/16 }") {
		t.Errorf("nat.txt does not read like `nft list table ip knetlab`:\n%s", nat)
	}
}

// A switch written by WriteSwitch opens as the same switch, whichever way it was read: the
// cEOS fixtures parsed, and a netns switch as kernel reads it (statuses in EOS words).
func TestWriteSwitchOpenRoundTrip(t *testing.T) {
	eosDir := filepath.Join("..", "parse", "eosjson", "testdata", "ceos01")
	fromEOS := filepath.Join(t.TempDir(), "eos")
	for _, f := range SwitchFiles {
		data, err := os.ReadFile(filepath.Join(eosDir, f.File))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, fromEOS, filepath.Join("switch", "ceos01", f.File), string(data))
	}
	writeFile(t, fromEOS, "nodes/k01-worker/ip-route.txt", "")
	ceos, err := open(t, fromEOS).Switch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	netnsSwitch := &observed.Switch{Name: "ceos01",
		Ports: []observed.SwitchPort{
			{Name: "eth1", Up: true, Status: "connected", Mode: "access", VLAN: 10, Description: "Connection to k01-control-plane"},
			{Name: "eth4", Status: "notconnect", Mode: "access", VLAN: 20, Description: "Connection to k01-worker3"},
		},
		SVIs: []observed.SVI{
			{Name: "Vlan10", VLAN: 10, Up: true, Address: netip.MustParsePrefix("10.10.10.1/24")},
			{Name: "Vlan20", VLAN: 20, Up: true, Address: netip.MustParsePrefix("10.10.20.1/24")},
		},
		Routes: []observed.SwitchRoute{
			{Dst: netip.MustParsePrefix("10.10.10.0/24"), Type: "connected", Iface: "Vlan10"},
			{Dst: netip.MustParsePrefix("10.10.20.0/24"), Type: "connected", Iface: "Vlan20"},
		},
		VLANs: []observed.SwitchVLAN{{ID: 10, Name: "Calico-Network", Ports: []string{"eth1"}}, {ID: 20, Name: "Calico-Network-2", Ports: []string{"eth4"}}},
	}
	for _, want := range []*observed.Switch{ceos, netnsSwitch} {
		dir := t.TempDir()
		if err := WriteSwitch(dir, want); err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "nodes/k01-worker/ip-route.txt", "")
		got, err := open(t, dir).Switch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got, netipEqual); d != "" {
			t.Errorf("switch (-written +read):\n%s", d)
		}
	}
	if err := WriteSwitch(t.TempDir(), &observed.Switch{Name: "../x"}); err == nil {
		t.Error("WriteSwitch accepted switch name ../x")
	}
}

// nat.txt is read from whatever a person pasted; its presence marks the NAT table.
func TestOpenNAT(t *testing.T) {
	natDir := filepath.Join("..", "parse", "testdata", "nat")
	for _, tt := range []struct {
		file string
		want []netip.Prefix
	}{
		{"calico-iptables-ipset-save.txt", []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16"), netip.MustParsePrefix("192.168.0.0/16")}},
		{"knetlab-nft.txt", []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(natDir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeFile(t, dir, "nodes/k01-worker/"+NATFile, string(data))
			writeFile(t, dir, "nodes/k01-worker3/ip-route.txt", "")
			c := open(t, dir)
			n, err := c.NodeState(context.Background(), "k01-worker")
			if err != nil {
				t.Fatal(err)
			}
			if !n.Has(observed.TableNAT) || !cmp.Equal(n.NATOutgoing, tt.want, netipEqual) {
				t.Errorf("k01-worker NAT marked %v, masquerading %v; want marked, %v", n.Has(observed.TableNAT), n.NATOutgoing, tt.want)
			}
			other, err := c.NodeState(context.Background(), "k01-worker3")
			if err != nil {
				t.Fatal(err)
			}
			if other.Has(observed.TableNAT) {
				t.Error("k01-worker3 has no nat.txt but its NAT table is marked collected")
			}
		})
	}
}

func TestWriteRefusesEscapingNodeNames(t *testing.T) {
	for _, name := range []string{"", "..", "../etc", `a\b`} {
		if err := Write(t.TempDir(), nil, []*observed.Node{{Name: name}}); err == nil {
			t.Errorf("Write accepted node name %q", name)
		}
	}
}

// fixtureNode builds a node from the real k01-worker captures of package parse.
func fixtureNode(t *testing.T, name string) *observed.Node {
	t.Helper()
	read := func(file string) []byte {
		data, err := os.ReadFile(filepath.Join("..", "parse", "testdata", name, file))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	n := &observed.Node{Name: name}
	var err error
	if n.Routes, err = parse.Routes(read("ip-route.json")); err != nil {
		t.Fatal(err)
	}
	if n.Neighs, err = parse.Neighs(read("ip-neigh.txt")); err != nil {
		t.Fatal(err)
	}
	if n.FDB, err = parse.FDB(read("bridge-fdb.json")); err != nil {
		t.Fatal(err)
	}
	links, err := parse.Links(read("ip-d-link.json"))
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := parse.Addrs(read("ip-addr.txt"))
	if err != nil {
		t.Fatal(err)
	}
	n.Links = parse.MergeAddrs(links, addrs)
	for _, table := range []observed.Table{observed.TableRoutes, observed.TableNeigh, observed.TableFDB, observed.TableLinks, observed.TableAddrs} {
		n.Mark(table)
	}
	return n
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSwitch(t *testing.T) {
	eosDir := filepath.Join("..", "parse", "eosjson", "testdata", "ceos01")
	withSwitch := func(t *testing.T, names []string, skip string) string {
		dir := t.TempDir()
		writeFile(t, dir, "nodes/k01-worker/ip-route.txt", "")
		for _, name := range names {
			for _, f := range SwitchFiles {
				if f.File == skip {
					continue
				}
				data, err := os.ReadFile(filepath.Join(eosDir, f.File))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, dir, filepath.Join("switch", name, f.File), string(data))
			}
		}
		return dir
	}

	sw, err := open(t, withSwitch(t, []string{"ceos01"}, "")).Switch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sw.Name != "ceos01" || len(sw.Ports) == 0 || len(sw.SVIs) == 0 || len(sw.Routes) == 0 || len(sw.VLANs) == 0 {
		t.Errorf("switch %+v: want ceos01 with ports, SVIs, routes and VLANs", sw)
	}

	for _, tt := range []struct {
		name  string
		names []string
		skip  string
		want  string
	}{
		{"a file missing", []string{"ceos01"}, "show-ip-route.json", "show ip route | json"},
		{"two switches", []string{"ceos01", "ceos02"}, "", "holds 2 switches"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), withSwitch(t, tt.names, tt.skip))
			if exitcode.Code(err) != exitcode.Usage || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Errorf("err = %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
}
