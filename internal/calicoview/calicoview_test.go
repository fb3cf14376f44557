package calicoview

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// calicoctl's table layout, checked against a published calicoctl output: the same rows in
// the same columns give the same bytes, trailing padding included.
func TestCalicoctlLayoutMatchesPublishedOutput(t *testing.T) {
	data, err := os.ReadFile("testdata/calicoctl-ippool-wide-v3.11.txt")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if !strings.HasPrefix(line, "#") {
			want = append(want, line)
		}
	}
	tb := table{calicoctl: true, headers: []string{"NAME", "CIDR", "NAT", "IPIPMODE", "VXLANMODE", "DISABLED", "SELECTOR"}}
	tb.rows = [][]string{
		{"default-ipv4-ippool", "172.29.0.0/16", "true", "Never", "Always", "false", "all()"},
		{"kube-system-ipv4-ippool", "172.28.0.0/16", "true", "Never", "Always", "false", "all()"},
	}
	var got bytes.Buffer
	if err := tb.write(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != strings.Join(want, "\n")+"\n" {
		t.Errorf("calicoctl layout:\n%q\nwant\n%q", got.String(), strings.Join(want, "\n")+"\n")
	}
}

// overlay is the calico-overlay lab's IPAM data: one pool, four nodes, their blocks, a pod.
func overlay() *Objects {
	one := 0
	o := &Objects{
		Pools: []IPPool{{APIVersion: APIv3, Kind: "IPPool", Metadata: Meta{Name: "default-ipv4-ippool"},
			Spec: IPPoolSpec{CIDR: "192.168.0.0/16", BlockSize: 26, IPIPMode: "Never", VXLANMode: "CrossSubnet", NATOutgoing: true, NodeSelector: "all()"}}},
	}
	for _, n := range []struct{ name, addr, block string }{
		{"k01-control-plane", "10.10.10.10/24", "192.168.50.128"},
		{"k01-worker", "10.10.10.11/24", "192.168.23.128"},
		{"k01-worker2", "10.10.10.12/24", "192.168.225.0"},
		{"k01-worker3", "10.10.20.20/24", "192.168.77.192"},
	} {
		o.Nodes = append(o.Nodes, Node{APIVersion: APIv3, Kind: "Node", Metadata: Meta{Name: n.name},
			Spec: NodeSpec{BGP: &NodeBGPSpec{IPv4Address: n.addr}, IPv4VXLANTunnelAddr: n.block}})
		name := n.name + "-" + strings.NewReplacer(".", "-").Replace(n.block) + "-26"
		o.Affinities = append(o.Affinities, BlockAffinity{APIVersion: APICRDv1, Kind: "BlockAffinity", Metadata: Meta{Name: name},
			Spec: BlockAffinitySpec{CIDR: n.block + "/26", Deleted: "false", Node: n.name, State: "confirmed"}})
		allocs := make([]*int, 64)
		allocs[0] = &one
		o.Blocks = append(o.Blocks, IPAMBlock{APIVersion: APICRDv1, Kind: "IPAMBlock", Metadata: Meta{Name: strings.TrimPrefix(name, n.name+"-")},
			Spec: IPAMBlockSpec{Affinity: "host:" + n.name, Allocations: allocs, CIDR: n.block + "/26", Unallocated: []int{1, 2, 3},
				Attributes: []AllocationAttribute{{HandleID: "vxlan-tunnel-addr-" + n.name, Secondary: map[string]string{"node": n.name, "type": "vxlanTunnelAddress"}}}}})
	}
	o.Endpoints = []WorkloadEndpoint{{APIVersion: APIv3, Kind: "WorkloadEndpoint", Metadata: Meta{Name: "k01--worker-k8s-net--w1-eth0", Namespace: "default"},
		Spec: WorkloadEndpointSpec{Endpoint: "eth0", InterfaceName: "cali9b3c98e46e6", IPNetworks: []string{"192.168.23.129/32"}, Node: "k01-worker", Orchestrator: "k8s", Pod: "net-w1"}}}
	return o
}

// Every resource in every format, against goldens (go test -update rewrites them).
func TestLayouts(t *testing.T) {
	for _, r := range Resources {
		for _, format := range Formats {
			name := string(r)
			if format != "" {
				name += "." + format
			}
			t.Run(name, func(t *testing.T) {
				var got bytes.Buffer
				if err := Print(&got, overlay(), r, format); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", name+".golden")
				if *update {
					if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (go test -update writes it)", err)
				}
				if got.String() != string(want) {
					t.Errorf("%s:\n%s\nwant\n%s", name, got.String(), want)
				}
			})
		}
	}
}

func TestAgeAsKubectlPrintsIt(t *testing.T) {
	now = func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { now = time.Now })
	for _, tt := range []struct{ created, want string }{
		{"", "<unknown>"},
		{"2026-12-01T11:55:00Z", "5m"},
		{"2026-11-28T12:00:00Z", "3d"},
	} {
		if got := age(Meta{CreationTimestamp: tt.created}); got != tt.want {
			t.Errorf("age(%q) = %q, want %q", tt.created, got, tt.want)
		}
	}
}

func TestUnknownResourceAndFormat(t *testing.T) {
	if _, ok := ParseResource("ipaddresses"); ok {
		t.Error("ipaddresses accepted")
	}
	if r, ok := ParseResource("wep"); !ok || r != Pods {
		t.Errorf("wep = %q, %v; want pods", r, ok)
	}
	if err := Print(&bytes.Buffer{}, overlay(), IPPools, "table"); err == nil {
		t.Error("-o table accepted")
	}
}
