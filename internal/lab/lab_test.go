package lab

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/labs"
	"github.com/knetlab/knetlab/verify/spec"
)

func TestCatalogueLabsAreValid(t *testing.T) {
	names := Names()
	if strings.Join(names, ",") != "calico-bgp,calico-overlay,pod-network" {
		t.Fatalf("catalogue = %v, want calico-bgp, calico-overlay and pod-network", names)
	}
	for _, n := range names {
		if _, err := Load(n); err != nil {
			t.Errorf("Load(%s): %v", n, err)
		}
	}
}

// The lesson 06 facts (docs/labs/calico-overlay.md, "Addressing"), read back from the model.
func TestCalicoOverlayFacts(t *testing.T) {
	l, err := Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	if l.Switch == nil || l.Switch.Name != "ceos01" || l.Switch.Kind != "arista_ceos" || l.Switch.Image != "ceos:4.34.0F" {
		t.Fatalf("switch = %+v", l.Switch)
	}
	if l.Cluster.Name != "k01" || l.Cluster.NodeImage != "kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f" ||
		l.Cluster.PodSubnet.String() != "192.168.0.0/16" || l.Cluster.ServiceSubnet.String() != "10.96.0.0/16" {
		t.Fatalf("cluster = %+v", l.Cluster)
	}
	want := []struct {
		name, addr, port string
		vlan             int
	}{
		{"k01-control-plane", "10.10.10.10/24", "eth1", 10},
		{"k01-worker", "10.10.10.11/24", "eth2", 10},
		{"k01-worker2", "10.10.10.12/24", "eth3", 10},
		{"k01-worker3", "10.10.20.20/24", "eth4", 20},
	}
	if len(l.Nodes) != len(want) {
		t.Fatalf("%d nodes, want %d", len(l.Nodes), len(want))
	}
	for i, w := range want {
		n := l.Nodes[i]
		if n.Name != w.name || n.Address.String() != w.addr || n.SwitchPort != w.port || n.VLAN != w.vlan || n.Interface != "eth1" {
			t.Errorf("node %d = %+v, want %+v", i, n, w)
		}
	}
	vlans := map[int]string{}
	for _, v := range l.Switch.VLANs {
		vlans[v.ID] = v.Name + " " + v.Subnet.String() + " " + v.GatewayPrefix().String() + " " + v.SVI()
	}
	if vlans[10] != "Calico-Network 10.10.10.0/24 10.10.10.1/24 Vlan10" || vlans[20] != "Calico-Network-2 10.10.20.0/24 10.10.20.1/24 Vlan20" {
		t.Errorf("vlans = %v", vlans)
	}
	p := l.CNI.Pools[0]
	if p.Name != "default-ipv4-ippool" || p.CIDR.String() != "192.168.0.0/16" || p.BlockSize != 26 ||
		p.Encapsulation() != "VXLANCrossSubnet" || !p.NATOutgoing || p.NodeSelector != "all()" || !p.DisableBGPExport {
		t.Errorf("pool = %+v", p)
	}
	if ad := l.CNI.Calico.NodeAddressAutodetectionV4; ad == nil || len(ad.CIDRs) != 1 || ad.CIDRs[0].String() != "10.10.0.0/16" {
		t.Errorf("autodetection = %+v", ad)
	}
	w3, _ := l.Node("k01-worker3")
	routes := l.RoutesFor(w3)
	if len(routes) != 1 || routes[0].Dst.String() != "10.10.10.0/24" || routes[0].Via.String() != "10.10.20.1" || routes[0].Dev != "eth1" {
		t.Errorf("RoutesFor(worker3) = %+v", routes)
	}
}

func catalogueText(t *testing.T, name string) string {
	t.Helper()
	data, err := labs.FS.ReadFile(name + "/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// edit applies literal replacements and fails the test if one does not match, so a lab
// file edit can never silently turn a negative test into a no-op.
func edit(t *testing.T, text string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("edit: %q not in the lab file", pairs[i])
		}
		text = strings.Replace(text, pairs[i], pairs[i+1], 1)
	}
	return text
}

func lineOf(t *testing.T, text, needle string) int {
	t.Helper()
	i := strings.Index(text, needle)
	if i < 0 {
		t.Fatalf("%q not in text", needle)
	}
	return strings.Count(text[:i], "\n") + 1
}

func TestValidationReportsEveryProblemWithLine(t *testing.T) {
	base := catalogueText(t, "calico-overlay")
	type want struct {
		field, msg, lineOf string // lineOf: text whose line the problem must carry
	}
	tests := []struct {
		name  string
		edits []string
		want  []want
	}{
		{
			name:  "issue 2: worker3 outside its VLAN and worker2 given worker's address",
			edits: []string{"10.10.20.20/24", "10.10.30.20/24", "address: 10.10.10.12/24", "address: 10.10.10.11/24"},
			want: []want{
				{"nodes[2].address", "already k01-worker's", ""},
				{"nodes[3].address", "outside VLAN 20's subnet 10.10.20.0/24", "10.10.30.20/24"},
			},
		},
		{
			name:  "gateway outside subnet",
			edits: []string{"gateway: 10.10.20.1", "gateway: 10.10.21.1"},
			want:  []want{{"switch.vlans[1].gateway", "outside the VLAN's subnet", "gateway: 10.10.21.1"}},
		},
		{
			name:  "block size out of range",
			edits: []string{"blockSize: 26", "blockSize: 33"},
			want:  []want{{"cni.pools[0].blockSize", "outside Calico's IPv4 range", "blockSize: 33"}},
		},
		{
			name:  "pool overlapping the service subnet and a node subnet",
			edits: []string{"cidr: 192.168.0.0/16", "cidr: 10.0.0.0/8", "podSubnet: 192.168.0.0/16", "podSubnet: 10.0.0.0/8"},
			want: []want{
				{"cluster.serviceSubnet", "overlaps the pod subnet 10.0.0.0/8", "serviceSubnet:"},
				{"cni.pools[0].cidr", "overlaps the service subnet", "cidr: 10.0.0.0/8"},
				{"cni.pools[0].cidr", "overlaps 10.10.10.0/24 (VLAN 10, k01-control-plane, k01-worker, k01-worker2)", "cidr: 10.0.0.0/8"},
				{"cni.pools[0].cidr", "overlaps 10.10.20.0/24 (VLAN 20, k01-worker3)", "cidr: 10.0.0.0/8"},
			},
		},
		{
			name:  "node name kind would not produce",
			edits: []string{"name: k01-worker3", "name: k01-worker4"},
			want: []want{
				{"nodes[3].name", `kind names this worker node "k01-worker3"`, "name: k01-worker4"},
				{"pods[3].node", `"k01-worker3" is not one of the lab's nodes`, "node: k01-worker3"},
			},
		},
		{
			name:  "duplicate switch port",
			edits: []string{"switchPort: eth4", "switchPort: eth3"},
			want:  []want{{"nodes[3].switchPort", "already cabled to k01-worker2", ""}},
		},
		{
			name:  "unsafe lab name",
			edits: []string{"name: calico-overlay", "name: calico;rm -rf /"},
			want:  []want{{"name", "must be lower-case letters", "name: calico;rm"}},
		},
		{
			name:  "interface name too long",
			edits: []string{"interface: eth1\n    address: 10.10.10.11/24", "interface: a-very-long-interface\n    address: 10.10.10.11/24"},
			want:  []want{{"nodes[1].interface", "1-15 characters", "a-very-long-interface"}},
		},
		{
			name:  "unknown field",
			edits: []string{"    vlan: 20\n", "    vlan: 20\n    vlans: 20\n"},
			want:  []want{{"nodes[3].vlans", "field vlans not found", "vlans: 20"}},
		},
		{
			name:  "bad address",
			edits: []string{"10.10.20.20/24", "10.10.20.300/24"},
			want:  []want{{"nodes[3].address", "not an address with prefix length", "10.10.20.300/24"}},
		},
		{
			name:  "unknown check",
			edits: []string{"  - nat.outgoing", "  - nat.incoming"},
			want:  []want{{"checks[14]", `unknown check "nat.incoming"`, "nat.incoming"}},
		},
		{
			name:  "unpinned node image",
			edits: []string{"kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f", "kindest/node:latest"},
			want:  []want{{"cluster.nodeImage", "not latest", "kindest/node:latest"}},
		},
		{
			name:  "test pod on an unknown node",
			edits: []string{"node: k01-worker3\n", "node: k01-worker9\n"},
			want:  []want{{"pods[3].node", `"k01-worker9" is not one of the lab's nodes`, "node: k01-worker9"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ws []wantProblem
			for _, w := range tt.want {
				ws = append(ws, wantProblem(w))
			}
			checkProblems(t, edit(t, base, tt.edits...), ws)
		})
	}
}

// wantProblem is one expected validation problem: its field, a part of its message, and text
// whose line it must carry ("": any line but none).
type wantProblem struct{ field, msg, lineOf string }

// checkProblems parses text and insists on exactly the problems want, in order, each with its
// line, in a usage error that names the file.
func checkProblems(t *testing.T, text string, want []wantProblem) {
	t.Helper()
	_, err := Parse("lab.yaml", []byte(text))
	if exitcode.Code(err) != exitcode.Usage {
		t.Fatalf("Parse: err = %v (code %d), want a usage error", err, exitcode.Code(err))
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err %T is not a *ValidationError", err)
	}
	if len(ve.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(want), err)
	}
	for i, w := range want {
		p := ve.Problems[i]
		if p.Field != w.field || !strings.Contains(p.Msg, w.msg) {
			t.Errorf("problem %d = %s: %s, want %s: …%s…", i, p.Field, p.Msg, w.field, w.msg)
		}
		if w.lineOf != "" {
			if want := lineOf(t, text, w.lineOf); p.Line != want {
				t.Errorf("problem %d (%s) line = %d, want %d", i, p.Field, p.Line, want)
			}
		}
		if p.Line == 0 {
			t.Errorf("problem %d has no line", i)
		}
	}
	if !strings.Contains(err.Error(), "lab.yaml:") {
		t.Errorf("error does not name the file: %v", err)
	}
}

// What verify reads of lesson 06: every node, each node's switch port, the SVIs with their
// gateway prefixes, the pool.
func TestCalicoOverlayVerifySpec(t *testing.T) {
	l, err := Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	want := &spec.Lab{
		Name:  "calico-overlay",
		Nodes: []string{"k01-control-plane", "k01-worker", "k01-worker2", "k01-worker3"},
		Switch: &spec.Switch{
			Name: "ceos01",
			Ports: []spec.Port{
				{Name: "eth1", Node: "k01-control-plane", VLAN: 10}, {Name: "eth2", Node: "k01-worker", VLAN: 10},
				{Name: "eth3", Node: "k01-worker2", VLAN: 10}, {Name: "eth4", Node: "k01-worker3", VLAN: 20},
			},
			VLANs: []spec.VLAN{
				{ID: 10, Name: "Calico-Network", Subnet: netip.MustParsePrefix("10.10.10.0/24"), SVI: "Vlan10", Gateway: netip.MustParsePrefix("10.10.10.1/24")},
				{ID: 20, Name: "Calico-Network-2", Subnet: netip.MustParsePrefix("10.10.20.0/24"), SVI: "Vlan20", Gateway: netip.MustParsePrefix("10.10.20.1/24")},
			},
		},
		Pools: []spec.Pool{{Name: "default-ipv4-ippool", CIDR: netip.MustParsePrefix("192.168.0.0/16"), BlockSize: 26,
			VXLANMode: "CrossSubnet", IPIPMode: "Never", NATOutgoing: true}},
	}
	if got := l.VerifySpec(); !reflect.DeepEqual(got, want) {
		t.Errorf("VerifySpec\n got %+v\nwant %+v", got, want)
	}
}

// A lab without a switch has no switch in its spec: the switch checks skip.
func TestPodNetworkVerifySpecHasNoSwitch(t *testing.T) {
	l, err := Load("pod-network")
	if err != nil {
		t.Fatal(err)
	}
	if s := l.VerifySpec(); s.Switch != nil || len(s.Nodes) != len(l.Nodes) || len(s.Pools) != len(l.CNI.Pools) {
		t.Errorf("VerifySpec = %+v, want every node and pool and no switch", s)
	}
}

// verify --from without a lab runs with no spec.
func TestNoLabHasNoVerifySpec(t *testing.T) {
	var l *Lab
	if s := l.VerifySpec(); s != nil {
		t.Errorf("VerifySpec of no lab = %+v, want nil", s)
	}
}

func TestPodNetworkHasNoSwitchChecks(t *testing.T) {
	text := edit(t, catalogueText(t, "pod-network"), "  - topology.nodes\n", "  - topology.nodes\n  - switch.ports\n")
	_, err := Parse("lab.yaml", []byte(text))
	if err == nil || !strings.Contains(err.Error(), "needs a switch") {
		t.Fatalf("err = %v, want a switch-check problem", err)
	}
}

func TestResolve(t *testing.T) {
	if _, err := Resolve("no-such-lab", ""); exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "calico-overlay") {
		t.Errorf("unknown lab: err = %v, want a usage error listing the labs", err)
	}
	dir := t.TempDir()
	file := dir + "/lab.yaml"
	if err := os.WriteFile(file, []byte(catalogueText(t, "pod-network")), 0o644); err != nil {
		t.Fatal(err)
	}
	if l, err := Resolve("", file); err != nil || l.Name != "pod-network" || l.Source != file {
		t.Errorf("Resolve(file) = %v, %v", l, err)
	}
	if _, err := Resolve("calico-overlay", file); exitcode.Code(err) != exitcode.Usage {
		t.Errorf("name mismatch: err = %v, want usage error", err)
	}
	if _, err := Resolve("", dir+"/missing.yaml"); exitcode.Code(err) != exitcode.Usage {
		t.Errorf("missing file: err = %v, want usage error", err)
	}
}

func TestKindNodeName(t *testing.T) {
	for _, tt := range []struct {
		role Role
		i    int
		want string
	}{{ControlPlane, 0, "k01-control-plane"}, {ControlPlane, 1, "k01-control-plane2"}, {Worker, 0, "k01-worker"}, {Worker, 2, "k01-worker3"}} {
		if got := kindNodeName("k01", tt.role, tt.i); got != tt.want {
			t.Errorf("kindNodeName(%s, %d) = %s, want %s", tt.role, tt.i, got, tt.want)
		}
	}
}

func TestLastAddr(t *testing.T) {
	if got := lastAddr(netip.MustParsePrefix("10.10.20.0/24")); got.String() != "10.10.20.255" {
		t.Errorf("lastAddr = %s", got)
	}
}
