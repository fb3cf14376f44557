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
		{"IPAM block with an empty host", "apiVersion: crd.projectcalico.org/v1\nkind: IPAMBlock\nmetadata: {name: b}\nspec:\n  cidr: 192.168.93.64/26\n  affinity: 'host:'\n", "cluster.yaml:6:", "IPAMBlock b: spec.affinity"},
		{"IPAM block with host bits", "apiVersion: crd.projectcalico.org/v1\nkind: IPAMBlock\nmetadata: {name: b}\nspec:\n  cidr: 192.168.93.65/26\n", "cluster.yaml:5:", "host bits are set"},
		{"allocation without its attributes", "apiVersion: crd.projectcalico.org/v1\nkind: IPAMBlock\nmetadata: {name: b}\nspec:\n  cidr: 192.168.93.64/30\n  allocations: [null, 0, 1]\n  attributes:\n  - handle_id: h\n", "cluster.yaml:6:", "entry 2 (192.168.93.66) is 1"},
		{"more allocations than addresses", "apiVersion: crd.projectcalico.org/v1\nkind: IPAMBlock\nmetadata: {name: b}\nspec:\n  cidr: 192.168.93.64/31\n  allocations: [null, null, null]\n", "cluster.yaml:6:", "3 entries for the 2 addresses"},
		{"unallocated ordinal outside the block", "apiVersion: crd.projectcalico.org/v1\nkind: IPAMBlock\nmetadata: {name: b}\nspec:\n  cidr: 192.168.93.64/31\n  allocations: [null, null]\n  unallocated: [0, 2]\n", "cluster.yaml:7:", "2 is not an ordinal of the 2 addresses"},
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

// decodeTestdata decodes a file of testdata/ that must decode.
func decodeTestdata(t *testing.T, name string) *Facts {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// IPAM blocks as kubectl prints them: the host affinity, the allocations with what holds each
// address, a block affine to no host, and a deleted one.
func TestDecodeIPAMBlocks(t *testing.T) {
	got := decodeTestdata(t, "ipamblocks-crd-v1.yaml")
	want := []IPAMBlock{
		{CIDR: pfx("192.168.93.64/26"), Node: "k01-worker", AllocationsKnown: true, Allocations: []Allocation{
			{IP: ip("192.168.93.64"), Handle: "vxlan-tunnel-addr-k01-worker", Node: "k01-worker", Type: "vxlanTunnelAddress"},
			{IP: ip("192.168.93.65"), Handle: "k8s-pod-network.9d6e1c0b1f5a4d0c8e2b7a3f6c1d9e0a4b8c2f7e1d3a5b9c0e6f2a4d8b1c3e5f", Namespace: "default", Pod: "multitool-6f8b7d9c5-k2x4p", Node: "k01-worker"},
			{IP: ip("192.168.93.66"), Handle: "k8s-pod-network.3c2a7f9e0b1d4c6a8e5f2b9d7c0a1e3f6b8d4c2a9e7f1b0d5c3a6e8f2b4d1c9a", Namespace: "default", Pod: "web-0", Node: "k01-worker"},
		}},
		{CIDR: pfx("192.168.12.0/26"), AllocationsKnown: true, Allocations: []Allocation{
			{IP: ip("192.168.12.5"), Handle: "k8s-pod-network.7e1f3b5d9c0a2e4f6b8d1c3a5e7f9b0d2c4a6e8f1b3d5c7a9e0f2b4d6c8a1e3f", Namespace: "kube-system", Pod: "coredns-668d6bf9bc-x8m2p", Node: "k01-worker2"},
		}},
		{CIDR: pfx("192.168.50.0/26"), Node: "k01-worker", Deleted: true, AllocationsKnown: true},
	}
	if d := cmp.Diff(want, got.Blocks, netipEqual); d != "" {
		t.Errorf("blocks (-want +got)\n%s", d)
	}
	owners, conflicts := got.Ownership()
	if len(owners) != 1 || owners[0].CIDR != pfx("192.168.93.64/26") || owners[0].Node != "k01-worker" || len(conflicts) != 0 {
		t.Errorf("ownership %+v, conflicts %+v; want 192.168.93.64/26 owned by k01-worker only", owners, conflicts)
	}
}

// A block whose unallocated list holds an address in use contradicts itself: its allocations
// do not make the facts complete.
func TestDecodeIPAMBlockContradiction(t *testing.T) {
	data := []byte("apiVersion: crd.projectcalico.org/v1\nkind: IPAMBlock\nmetadata: {name: b}\nspec:\n  cidr: 192.168.93.64/30\n" +
		"  affinity: host:k01-worker\n  allocations: [0, null, null, null]\n  attributes:\n  - handle_id: vxlan-tunnel-addr-k01-worker\n" +
		"  unallocated: [0, 1, 2, 3]\n")
	f, err := Decode("cluster.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if b := f.Blocks[0]; b.AllocationsKnown || !strings.Contains(b.Contradiction, "192.168.93.64 listed free") {
		t.Errorf("block %+v: want its allocations not taken as complete, and the contradiction named", b)
	}
}

// calicoctl's v3 lists (IPPoolList, NodeList, BlockAffinityList) are read as kubectl's.
func TestDecodeCalicoctlV3(t *testing.T) {
	got := decodeTestdata(t, "calicoctl-v3.yaml")
	want := &Facts{
		Pools: []Pool{{Name: "default-ipv4-ippool", CIDR: pfx("10.42.0.0/16"), BlockSize: 26, VXLANMode: "Never", IPIPMode: "Always", NATOutgoing: true}},
		Nodes: []Node{{Name: "node-1", Address: pfx("172.16.0.11/24")}, {Name: "node-2", Address: pfx("172.16.0.12/24")}},
		Affinities: []BlockAffinity{
			{Node: "node-1", CIDR: pfx("10.42.84.128/26"), State: "confirmed"},
			{Node: "node-2", CIDR: pfx("10.42.201.0/26"), State: "confirmed"},
		},
	}
	if d := cmp.Diff(want, got, netipEqual); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

// Ownership from both sources: agreement, disagreement, two owners, a block affine to no host.
func TestOwnership(t *testing.T) {
	aff := func(node, cidr string) BlockAffinity {
		return BlockAffinity{Node: node, CIDR: pfx(cidr), State: "confirmed"}
	}
	blk := func(node, cidr string) IPAMBlock { return IPAMBlock{Node: node, CIDR: pfx(cidr)} }
	f := &Facts{
		Affinities: []BlockAffinity{aff("a", "10.0.0.0/26"), aff("b", "10.0.0.64/26"), aff("c", "10.0.0.128/26"), aff("c", "10.0.1.0/26"), aff("d", "10.0.1.0/26"),
			aff("e", "10.0.1.64/26"), {Node: "f", CIDR: pfx("10.0.1.128/26"), State: "pending"}},
		Blocks: []IPAMBlock{blk("a", "10.0.0.0/26"), blk("x", "10.0.0.64/26"), blk("", "10.0.1.64/26"), blk("f", "10.0.1.128/26"), blk("g", "10.0.2.0/26"),
			{Node: "h", CIDR: pfx("10.0.2.64/26"), Deleted: true}},
	}
	owners, conflicts := f.Ownership()
	var got []string
	for _, o := range owners {
		got = append(got, o.CIDR.String()+" "+o.Node+" "+strings.Join(o.Sources, "+"))
	}
	for _, c := range conflicts {
		kind := " conflict "
		if c.InProgress {
			kind = " in progress "
		}
		got = append(got, c.CIDR.String()+kind+strings.Join(c.Nodes, ","))
	}
	want := []string{
		"10.0.0.0/26 a BlockAffinity+IPAMBlock",
		"10.0.0.128/26 c BlockAffinity",
		"10.0.2.0/26 g IPAMBlock",
		"10.0.0.64/26 conflict b,x",
		"10.0.1.0/26 conflict c,d",
		"10.0.1.64/26 conflict e",
		"10.0.1.128/26 in progress f", // the IPAMBlock says f, its affinity is still pending
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ownership (-want +got)\n%s", d)
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
