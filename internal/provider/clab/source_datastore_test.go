package clab

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/ipam"
)

// datastoreLab is an API server serving the knetlab datastore (and no Calico CRDs), seeded as
// a --cni knetlab lab's agents leave it: a pool, a node, a pod's allocation and its block's
// affinity; and the work directory of lab l recording cni.
func datastoreLab(t *testing.T, cni string) (*kubeClients, string, netip.Addr) {
	t.Helper()
	ctx := context.Background()
	api := kubestoretest.Start(t)
	store := api.Store(t)
	pool := &datastore.IPPool{Metadata: datastore.ObjectMeta{Name: "default-ipv4-ippool"}, Spec: datastore.IPPoolSpec{
		CIDR: netip.MustParsePrefix("192.168.0.0/16"), BlockSize: 26, VXLANMode: calico.EncapCrossSubnet,
		IPIPMode: calico.EncapNever, NATOutgoing: true, NodeSelector: "all()"}}
	if err := datastore.IPPools(store).Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	node := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "pod-network-worker"}}
	node.Spec.BGP.IPv4Address = netip.MustParsePrefix("172.18.0.3/16")
	if err := datastore.Nodes(store).Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	addr, err := ipam.New(store).Allocate(ctx, "pod-network-worker", "k8s-pod-network.c1",
		map[string]string{"namespace": "default", "pod": "multitool", "node": "pod-network-worker"})
	if err != nil {
		t.Fatal(err)
	}
	core, err := kubernetes.NewForConfig(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	workDir := t.TempDir()
	rec, err := json.Marshal(labRecord{Lab: "pod-network", Cluster: "pod-network", CNI: cni})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(workDir, recordFile), rec, 0o644); err != nil {
		t.Fatal(err)
	}
	return &kubeClients{core: core, dyn: api.Dynamic(t), cfg: api.Config()}, workDir, addr
}

// A lab deployed with --cni knetlab has no Calico: its facts are the knetlab datastore's
// datastore.knetlab.dev resources, which its agents wrote.
func TestKnetlabCNILabFactsComeFromItsDatastore(t *testing.T) {
	k, workDir, addr := datastoreLab(t, CNIKnetlab)
	src := newSource(mustLab(t, "pod-network"), nil, nil, k, workDir)
	f, err := src.Facts(context.Background())
	if err != nil {
		t.Fatalf("facts of a --cni knetlab lab: %v", err)
	}
	if len(f.Pools) != 1 || f.Pools[0].Name != "default-ipv4-ippool" || f.Pools[0].BlockSize != 26 {
		t.Errorf("pools = %+v, want the datastore's default-ipv4-ippool", f.Pools)
	}
	if len(f.Nodes) != 1 || f.Nodes[0].Name != "pod-network-worker" {
		t.Errorf("nodes = %+v, want the datastore's pod-network-worker", f.Nodes)
	}
	if len(f.Affinities) != 1 || f.Affinities[0].Node != "pod-network-worker" || !f.Affinities[0].CIDR.Contains(addr) {
		t.Errorf("affinities = %+v, want pod-network-worker's block holding %s", f.Affinities, addr)
	}
	if len(f.Pods) != 1 || f.Pods[0].Name != "multitool" || f.Pods[0].Node != "pod-network-worker" || f.Pods[0].IP != addr {
		t.Errorf("pods = %+v, want default/multitool on pod-network-worker at %s", f.Pods, addr)
	}
}

// A lab deployed with upstream Calico is read through Calico's CRDs, never the knetlab
// datastore: on this server, which serves no Calico CRD, its facts are an error.
func TestCalicoLabFactsComeFromCalicosCRDs(t *testing.T) {
	k, workDir, _ := datastoreLab(t, CNICalico)
	if f, err := newSource(mustLab(t, "pod-network"), nil, nil, k, workDir).Facts(context.Background()); err == nil {
		t.Errorf("a calico lab read facts %+v from the knetlab datastore", f)
	}
}

// A work directory without the record of the CNI leaves the facts unknown, said so.
func TestUnrecordedCNILeavesFactsUnknown(t *testing.T) {
	k, workDir, _ := datastoreLab(t, CNIKnetlab)
	if err := os.Remove(filepath.Join(workDir, recordFile)); err != nil {
		t.Fatal(err)
	}
	_, err := newSource(mustLab(t, "pod-network"), nil, nil, k, workDir).Facts(context.Background())
	if err == nil || !strings.Contains(err.Error(), recordFile) {
		t.Errorf("facts without a record: err = %v, want one naming %s", err, recordFile)
	}
}

// knetlab get on a --cni knetlab lab reads the knetlab datastore through the API server; on a
// calico lab (Calico's CRDs absent here) and on a lab whose CNI is unrecorded it is an
// environment error (exit 3) saying why.
func TestIPAMObjectsComeFromWhereTheCNIKeepsThem(t *testing.T) {
	k, workDir, addr := datastoreLab(t, CNIKnetlab)
	o, err := newSource(mustLab(t, "pod-network"), nil, nil, k, workDir).objects(context.Background())
	if err != nil {
		t.Fatalf("objects of a --cni knetlab lab: %v", err)
	}
	if len(o.Pools) != 1 || len(o.Nodes) != 1 || len(o.Affinities) != 1 || len(o.Blocks) != 1 ||
		len(o.Endpoints) != 1 || o.Endpoints[0].Spec.IPNetworks[0] != addr.String()+"/32" || o.Endpoints[0].Spec.InterfaceName != "cali6d09fa47963" {
		t.Errorf("objects = %+v", o)
	}

	k, workDir, _ = datastoreLab(t, CNICalico)
	if _, err := newSource(mustLab(t, "pod-network"), nil, nil, k, workDir).objects(context.Background()); exitcode.Code(err) != 3 || !strings.Contains(err.Error(), "ippools") {
		t.Errorf("objects of a calico lab without Calico's CRDs: %v (exit %d), want exit 3 naming the missing CRD", err, exitcode.Code(err))
	}
	if err := os.Remove(filepath.Join(workDir, recordFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := newSource(mustLab(t, "pod-network"), nil, nil, k, workDir).objects(context.Background()); exitcode.Code(err) != 3 || !strings.Contains(err.Error(), recordFile) {
		t.Errorf("objects without a CNI record: %v, want exit 3 naming %s", err, recordFile)
	}
}
