package facts

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/knetlab/knetlab/internal/exitcode"
)

var netipEqual = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

var (
	ip  = netip.MustParseAddr
	pfx = netip.MustParsePrefix
)

// lesson06 is what both cluster fixtures say about the calico-overlay lab. The pending and the
// deleted affinity are decoded as they are: deciding that they own nothing is the engine's job.
var lesson06 = Facts{
	Pools: []Pool{{Name: "default-ipv4-ippool", CIDR: pfx("192.168.0.0/16"), BlockSize: 26, VXLANMode: "CrossSubnet", IPIPMode: "Never", NATOutgoing: true}},
	Nodes: []Node{
		{Name: "k01-control-plane", Address: pfx("10.10.10.10/24"), VXLANTunnelAddr: ip("192.168.19.128")},
		{Name: "k01-worker", Address: pfx("10.10.10.11/24"), VXLANTunnelAddr: ip("192.168.93.64")},
		{Name: "k01-worker2", Address: pfx("10.10.10.12/24"), VXLANTunnelAddr: ip("192.168.150.193"), VXLANTunnelMAC: "66:c7:4d:6e:6b:f3"},
		{Name: "k01-worker3", Address: pfx("10.10.20.20/24"), VXLANTunnelAddr: ip("192.168.209.64")},
	},
	Affinities: []BlockAffinity{
		{Node: "k01-control-plane", CIDR: pfx("192.168.19.128/26"), State: "confirmed"},
		{Node: "k01-worker", CIDR: pfx("192.168.93.64/26"), State: "confirmed"},
		{Node: "k01-worker2", CIDR: pfx("192.168.150.192/26"), State: "confirmed"},
		{Node: "k01-worker3", CIDR: pfx("192.168.209.64/26"), State: "confirmed"},
		{Node: "k01-worker3", CIDR: pfx("192.168.209.128/26"), State: "pending"},
		{Node: "k01-worker", CIDR: pfx("192.168.50.0/26"), State: "pendingDeletion", Deleted: true},
	},
}

func TestDecodeFixtures(t *testing.T) {
	// Only the v1 Nodes of the crd-v1 fixture record their Ready condition.
	withPods := lesson06
	withPods.Nodes = append([]Node(nil), lesson06.Nodes...)
	for i := range withPods.Nodes {
		withPods.Nodes[i].Ready = "True"
	}
	withPods.Pods = []Pod{
		{Namespace: "default", Name: "multitool-6f8b7d9c5-k2x4p", Node: "k01-worker", IP: ip("192.168.93.65")},
		{Namespace: "default", Name: "web-0", Node: "k01-worker", IP: ip("192.168.93.66")},
		{Namespace: "kube-system", Name: "coredns-668d6bf9bc-7tq2l", Node: "k01-control-plane", IP: ip("192.168.19.129")},
		{Namespace: "default", Name: "web-2", Node: "k01-worker3", IP: ip("192.168.209.65")},
	}
	tests := []struct {
		file string
		want Facts
	}{
		{"cluster-crd-v1.yaml", withPods},
		{"cluster-v3.yaml", lesson06},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(tt.file, data)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(&tt.want, got, netipEqual); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestDecodeDefaultsAndMerge(t *testing.T) {
	in := `apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata: {name: minimal}
spec: {cidr: 10.244.0.0/16}
---
apiVersion: crd.projectcalico.org/v1
kind: Node
metadata: {name: n1}
spec: {vxlanTunnelMACAddr: "66-15-9D-FA-C6-AA"}
---
apiVersion: v1
kind: Node
metadata:
  name: n1
  annotations: {projectcalico.org/IPv4Address: 172.18.0.2/16, projectcalico.org/IPv4VXLANTunnelAddr: 10.244.1.0}
---
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ignored}
spec: {replicas: "x"}
`
	got, err := Decode("mixed.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &Facts{
		Pools: []Pool{{Name: "minimal", CIDR: pfx("10.244.0.0/16"), BlockSize: 26, VXLANMode: "Never", IPIPMode: "Never"}},
		Nodes: []Node{{Name: "n1", Address: pfx("172.18.0.2/16"), VXLANTunnelAddr: ip("10.244.1.0"), VXLANTunnelMAC: "66:15:9d:fa:c6:aa"}},
	}
	if d := cmp.Diff(want, got, netipEqual); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestDecodeErrorsNameFileLineAndField(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the error must start with this
		also string // and contain this
	}{
		{"syntax", "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: [}\n", "cluster.yaml:4:", "not valid YAML (at or after this line)"},
		{"bad cidr", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p\nspec:\n  blockSize: 26\n  cidr: 192.168.0.0/33\n", "cluster.yaml:7:", `IPPool p: spec.cidr: "192.168.0.0/33" is not`},
		{"missing cidr points at spec", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p\nspec:\n  blockSize: 26\n", "cluster.yaml:5:", "spec.cidr: missing"},
		{"bad mode", "apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec:\n  cidr: 192.168.0.0/16\n  vxlanMode: Sometimes\n", "cluster.yaml:6:", `"Sometimes" is not a mode`},
		{"block size outside the pool", "apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec:\n  cidr: 192.168.0.0/16\n  blockSize: 8\n", "cluster.yaml:6:", "spec.blockSize: 8 is outside 16..32"},
		{"block size not a number", "apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata: {name: p}\nspec:\n  cidr: 192.168.0.0/16\n  blockSize: big\n", "cluster.yaml:6:", "not a whole number"},
		{"deleted not a boolean", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: crd.projectcalico.org/v1\n  kind: BlockAffinity\n  metadata: {name: a}\n  spec:\n    cidr: 192.168.93.64/26\n    node: k01-worker\n    deleted: \"maybe\"\n", "cluster.yaml:10:", "spec.deleted"},
		{"affinity without node", "apiVersion: crd.projectcalico.org/v1\nkind: BlockAffinity\nmetadata: {name: a}\nspec:\n  cidr: 192.168.93.64/26\n", "cluster.yaml:4:", "spec.node: missing"},
		{"underlay without prefix", "apiVersion: v1\nkind: Node\nmetadata:\n  name: k01-worker\n  annotations:\n    projectcalico.org/IPv4Address: 10.10.10.11\n", "cluster.yaml:6:", `metadata.annotations["projectcalico.org/IPv4Address"]: "10.10.10.11" has no prefix length`},
		{"bad tunnel MAC", "apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n}\nspec:\n  vxlanTunnelMACAddr: 66:fb\n", "cluster.yaml:5:", "not a MAC address"},
		{"bad pod IP", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec: {nodeName: n}\nstatus:\n  podIP: 192.168.1\n", "cluster.yaml:6:", "Pod ns/p: status.podIP"},
		{"field of the wrong type", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeName: [a, b]\n", "cluster.yaml:5:", "want a string"},
		{"a document that is not an object", "apiVersion: v1\nkind: Node\nmetadata: {name: n}\n---\n- just\n- a list\n", "cluster.yaml:5:", "expected a Kubernetes object"},
		{"duplicate key", "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nmetadata: {name: m}\n", "cluster.yaml:4:", `mapping key "metadata" already defined at line 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode("cluster.yaml", []byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if code := exitcode.Code(err); code != exitcode.Usage {
				t.Errorf("exit code %d, want %d (usage)", code, exitcode.Usage)
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.also) {
				t.Errorf("error %q\nwant it to start with %q and contain %q", err, tt.want, tt.also)
			}
		})
	}
}

// TestDecodeObjectFromClientGo feeds the shapes an unstructured object has after JSON decoding:
// numbers as int64 or float64, booleans as booleans.
func TestDecodeObjectFromClientGo(t *testing.T) {
	var f Facts
	objects := []map[string]any{
		{"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": map[string]any{"name": "p"},
			"spec": map[string]any{"cidr": "192.168.0.0/16", "blockSize": int64(26), "vxlanMode": "Always", "natOutgoing": true}},
		{"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": map[string]any{"name": "q"},
			"spec": map[string]any{"cidr": "10.0.0.0/8", "blockSize": float64(24), "disabled": true}},
		{"apiVersion": "projectcalico.org/v3", "kind": "BlockAffinity", "metadata": map[string]any{"name": "a"},
			"spec": map[string]any{"cidr": "192.168.93.64/26", "node": "k01-worker", "state": "confirmed", "deleted": false}},
		{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "kubernetes"}},
	}
	for _, o := range objects {
		if err := DecodeObject(o, &f); err != nil {
			t.Fatal(err)
		}
	}
	want := Facts{
		Pools: []Pool{
			{Name: "p", CIDR: pfx("192.168.0.0/16"), BlockSize: 26, VXLANMode: "Always", IPIPMode: "Never", NATOutgoing: true},
			{Name: "q", CIDR: pfx("10.0.0.0/8"), BlockSize: 24, VXLANMode: "Never", IPIPMode: "Never", Disabled: true},
		},
		Affinities: []BlockAffinity{{Node: "k01-worker", CIDR: pfx("192.168.93.64/26"), State: "confirmed"}},
	}
	if d := cmp.Diff(want, f, netipEqual); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}

	err := DecodeObject(map[string]any{"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": map[string]any{"name": "p"},
		"spec": map[string]any{"cidr": "192.168.0.0/16", "blockSize": 26.5}}, &f)
	var fe *FieldError
	if !errors.As(err, &fe) || strings.Join(fe.Path, ".") != "spec.blockSize" {
		t.Errorf("err = %v, want a FieldError on spec.blockSize", err)
	}
}

// TestDecodeJSON reads `kubectl get -o json` output: JSON is YAML, so cluster.yaml may hold it.
func TestDecodeJSON(t *testing.T) {
	in := `{
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "crd.projectcalico.org/v1",
            "kind": "BlockAffinity",
            "metadata": {"name": "k01-worker-192-168-93-64-26"},
            "spec": {"cidr": "192.168.93.64/26", "deleted": "false", "node": "k01-worker", "state": "confirmed"}
        },
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "k01-worker", "annotations": {"projectcalico.org/IPv4Address": "10.10.10.11/24"}}
        }
    ]
}`
	got, err := Decode("cluster.json", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &Facts{
		Nodes:      []Node{{Name: "k01-worker", Address: pfx("10.10.10.11/24")}},
		Affinities: []BlockAffinity{{Node: "k01-worker", CIDR: pfx("192.168.93.64/26"), State: "confirmed"}},
	}
	if d := cmp.Diff(want, got, netipEqual); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	bad := strings.Replace(in, `"10.10.10.11/24"`, `"10.10.10.11/99"`, 1)
	if _, err := Decode("cluster.json", []byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "cluster.json:14:") {
		t.Errorf("err = %v, want it at cluster.json:14", err)
	}
}
