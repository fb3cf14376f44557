package datastore_test

import (
	"testing"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
)

var pool = storetest.Pool

// The Store contract over etcd: its own connections to one embedded etcd per subtest.
// Backend-specific behaviour (durability across a restart, the server) is in server_test.go.
func TestEtcdStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(t *testing.T) datastore.Store {
		endpoint := storetest.Start(t)
		return func(t *testing.T) datastore.Store { return storetest.Dial(t, endpoint) }
	}, storetest.Contract{Writers: 16, Increments: 25, RevisionsIncrease: true})
}
