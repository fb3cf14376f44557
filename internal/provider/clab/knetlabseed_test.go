package clab

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
)

// The seed objects must be what the agent reads back: the lab's pools through the kubernetes
// datastore, and the autodetection CIDRs the DaemonSet passes on.
func TestKnetlabLabObjects(t *testing.T) {
	tests := []struct {
		lab, autodetect string
	}{
		{"calico-overlay", "10.10.0.0/16"}, // the lab's nodeAddressAutodetectionV4
		{"pod-network", "172.18.0.0/16"},   // none: the nodes' subnet
	}
	for _, tt := range tests {
		t.Run(tt.lab, func(t *testing.T) {
			l := mustLab(t, tt.lab)
			objs, err := knetlabLabObjects(l)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 1+len(l.CNI.Pools) {
				t.Fatalf("%d objects, want the ConfigMap and %d pools", len(objs), len(l.CNI.Pools))
			}
			if got := objs[0].Object["data"].(map[string]any)["autodetect"]; got != tt.autodetect {
				t.Errorf("autodetect = %v, want %s", got, tt.autodetect)
			}

			// Store each IPPool object's content with the kubernetes datastore, as the API
			// server would hold it, and read it back as the agent does.
			api := kubestoretest.Start(t)
			store, client := api.Store(t), api.Dynamic(t)
			ctx := context.Background()
			for _, o := range objs[1:] {
				if o.GetAPIVersion() != "datastore.knetlab.dev/v1" || o.GetKind() != "IPPool" {
					t.Fatalf("seed object %s %s", o.GetAPIVersion(), o.GetKind())
				}
				if _, err := client.Resource(kubestore.GVR(datastore.KindIPPool)).Create(ctx, o, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			pools, _, err := datastore.IPPools(store).List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range l.CNI.Pools {
				got := pools[i]
				if got.Metadata.Name != p.Name || got.Spec.CIDR != p.CIDR || got.Spec.BlockSize != p.BlockSize ||
					got.Spec.VXLANMode != p.VXLANMode || got.Spec.IPIPMode != p.IPIPMode || got.Spec.NATOutgoing != p.NATOutgoing ||
					got.Spec.NodeSelector != p.NodeSelector {
					t.Errorf("pool read back = %+v, lab says %+v", got, p)
				}
			}
		})
	}
}
