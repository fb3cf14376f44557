package kubestore_test

import (
	"testing"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
	"github.com/knetlab/knetlab/internal/ipam/ipamtest"
)

// internal/ipam's concurrency scenario and audit (ipamtest) over the kubernetes backend, each
// node with its own client as each node's CNI plugin has.
func TestIPAMNeverDoublesAnAddressOverKubernetes(t *testing.T) {
	api := kubestoretest.Start(t)
	ipamtest.ConcurrentAllocate(t, func(t *testing.T) datastore.Store { return api.Store(t) },
		ipamtest.Scale{Nodes: 4, PerNode: 40, Goroutines: 4})
	t.Logf("%d API requests", len(api.Requests()))
}
