package cni

import (
	"context"
	"fmt"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/ipam"
)

// The lab's IPAM is the plugin's allocator.
var _ Allocator = (*ipam.IPAM)(nil)

// OpenStore connects to the datastore a network config names: etcd at datastoreEndpoints, or
// the Kubernetes API through datastore.kubeconfig. Failures a retry may cure wrap
// ErrDatastoreUnavailable, so that the runtime is told to try again later.
func OpenStore(ctx context.Context, conf *NetConf) (datastore.Store, error) {
	switch conf.Datastore.Backend() {
	case DatastoreKubernetes:
		store, err := kubestore.Open(conf.Datastore.Kubeconfig)
		if err != nil {
			return nil, types.NewError(types.ErrInvalidNetworkConfig, "cannot use the kubernetes datastore", err.Error())
		}
		return store, nil
	case DatastoreEtcd:
		if len(conf.DatastoreEndpoints) == 0 {
			return nil, types.NewError(types.ErrInvalidNetworkConfig, "datastore not configured",
				"set datastoreEndpoints (the lab's etcd client URLs), or datastore.type kubernetes, in the network config")
		}
		store, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: conf.DatastoreEndpoints, TLS: conf.Datastore.EtcdTLS()})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDatastoreUnavailable, err)
		}
		return store, nil
	}
	return nil, types.NewError(types.ErrInvalidNetworkConfig, "unknown datastore type", conf.Datastore.Type)
}

// OpenIPAM is the plugin's allocator over the datastore the network config names; plugin
// entry points pass it as Plugin.NewAllocator.
func OpenIPAM(conf *NetConf) (Allocator, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	store, err := OpenStore(ctx, conf)
	if err != nil {
		return nil, err
	}
	return ipam.New(store), nil
}

// Main runs the plugin over the datastore its network config names (etcd or kubernetes), as
// a runtime expects: CNI_* environment, config on stdin, result or CNI error on stdout. It is
// what the knetlab binary runs when invoked as knetlab-cni.
func Main() {
	plugin := &Plugin{NewAllocator: OpenIPAM}
	skel.PluginMainFuncs(plugin.Funcs(), SupportedVersions, "knetlab-cni: Calico-compatible pod networking for knetlab labs")
}
