package kube

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/knetlab/knetlab/internal/calicoview"
)

// Objects reads Calico's CRDs and the Kubernetes nodes and pods as knetlab get prints them:
// pools as projectcalico.org/v3, the CRDs as they are, a Calico Node per Kubernetes node from its
// annotations, an endpoint per pod with a pod IP (not the host-network calico-node).
func TestObjectsFromCalicoCRDs(t *testing.T) {
	one := int64(0)
	block := calicoObject("IPAMBlock", "192-168-209-64-26", map[string]any{
		"cidr": "192.168.209.64/26", "affinity": "host:k01-worker3", "allocations": []any{one, nil},
		"unallocated": []any{int64(1)}, "attributes": []any{map[string]any{"handle_id": "vxlan-tunnel-addr-k01-worker3"}},
		"deleted": false, "strictAffinity": false,
	})
	c := &Collector{
		Dynamic: dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), ListKinds, append(calicoObjects(), block)...),
		Core:    fake.NewSimpleClientset(coreObjects()...),
	}
	o, err := c.Objects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Pools) != 1 || o.Pools[0].APIVersion != calicoview.APIv3 || o.Pools[0].Spec.VXLANMode != "CrossSubnet" || !o.Pools[0].Spec.DisableBGPExport {
		t.Errorf("pools = %+v", o.Pools)
	}
	if len(o.Affinities) != 5 || o.Affinities[3].Spec.State != "pendingDeletion" || o.Affinities[3].Spec.Deleted != "true" {
		t.Errorf("affinities = %+v", o.Affinities)
	}
	if len(o.Blocks) != 1 || o.Blocks[0].Spec.Affinity != "host:k01-worker3" || len(o.Blocks[0].Spec.Allocations) != 2 || o.Blocks[0].Spec.Attributes[0].HandleID != "vxlan-tunnel-addr-k01-worker3" {
		t.Errorf("blocks = %+v", o.Blocks)
	}
	if len(o.Nodes) != 4 || o.Nodes[3].Spec.BGP.IPv4Address != "10.10.20.20/24" || o.Nodes[3].Spec.IPv4VXLANTunnelAddr != "192.168.209.64" {
		t.Errorf("nodes = %+v", o.Nodes)
	}
	var table bytes.Buffer
	if err := calicoview.Print(&table, o, calicoview.Pods, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(table.String(), "calico-node") || strings.Count(table.String(), "\n") != 5 ||
		!strings.Contains(table.String(), "net-w3     k01-worker3         192.168.209.65/32") {
		t.Errorf("pods table:\n%s", table.String())
	}
}
