package ipam_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/ipam"
)

// A lab's datastore from start to a pod address: serve etcd, create the pool, let a node take
// its tunnel address (its first allocation) and give a pod an address.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "knetlab-ipam-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	srv, err := datastore.Serve(ctx, datastore.ServeConfig{
		DataDir:   filepath.Join(dir, "etcd"),
		ClientURL: "http://127.0.0.1:0", // in a lab: the control-plane's management address, port 2379
		PeerURL:   "http://127.0.0.1:0",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	store, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{srv.ClientURL()}})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	err = datastore.IPPools(store).Create(ctx, &datastore.IPPool{
		Metadata: datastore.ObjectMeta{Name: "default-ipv4-ippool"},
		Spec: datastore.IPPoolSpec{CIDR: netip.MustParsePrefix("192.168.0.0/16"), BlockSize: 26,
			VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever, NATOutgoing: true, NodeSelector: "all()"},
	})
	if err != nil {
		log.Fatal(err)
	}

	m := ipam.New(store)
	tunnel, err := m.AllocateTunnelAddress(ctx, "k01-worker")
	if err != nil {
		log.Fatal(err)
	}
	block, err := m.ClaimBlock(ctx, "k01-worker")
	if err != nil {
		log.Fatal(err)
	}
	pod, err := m.Allocate(ctx, "k01-worker", "k8s-pod-network.0123abcd",
		map[string]string{datastore.AttrNamespace: "default", datastore.AttrPod: "multitool", datastore.AttrNode: "k01-worker"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("block", block, "tunnel", tunnel, "pod", pod)
	// Output: block 192.168.23.128/26 tunnel 192.168.23.128 pod 192.168.23.129
}
