// Command knetlab-cni is knetlab's CNI plugin. A container runtime (kubelet's, or
// `knetlab pod add` in the netns lab) runs it with the CNI_* environment and the network
// config on stdin; it allocates from the lab's IPAM in the etcd datastore and wires the pod.
package main

import (
	"context"
	"fmt"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/ipam"
)

// The lab's IPAM is the plugin's allocator.
var _ cni.Allocator = (*ipam.IPAM)(nil)

func main() {
	plugin := &cni.Plugin{NewAllocator: openIPAM}
	skel.PluginMainFuncs(plugin.Funcs(), cni.SupportedVersions, "knetlab-cni: Calico-compatible pod networking for knetlab labs")
}

// openIPAM connects to the datastore the network config names.
func openIPAM(conf *cni.NetConf) (cni.Allocator, error) {
	if len(conf.DatastoreEndpoints) == 0 {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "datastore not configured",
			"set datastoreEndpoints (the lab's etcd client URLs) in the network config")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cni.Timeout)
	defer cancel()
	store, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: conf.DatastoreEndpoints})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", cni.ErrDatastoreUnavailable, err)
	}
	return ipam.New(store), nil
}
