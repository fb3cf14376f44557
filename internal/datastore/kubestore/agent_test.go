package kubestore_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/agent/agenttest"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
	"github.com/knetlab/knetlab/internal/testenv"
)

// The agents of a calico-overlay-shaped lab (three node namespaces behind a switch namespace,
// two subnets) register, claim blocks and program their routes with the kubernetes datastore
// as the only shared state, as on a kind cluster with --cni knetlab. Each agent has its own
// client; the API server is the in-memory one on loopback. Every address lives in the test's
// own namespaces.
func TestAgentsConvergeOverKubernetes(t *testing.T) {
	testenv.RequireLab(t, "ip", "sysctl")
	ctx := context.Background()
	api := kubestoretest.Start(t)
	store := api.Store(t)
	if err := datastore.IPPools(store).Create(ctx, pool("default-ipv4-ippool", "192.168.0.0/16", 26)); err != nil {
		t.Fatal(err)
	}
	u := testbed.NewUnderlay(t)
	names := agenttest.Names()
	for _, name := range names {
		u.AddNode(t, name, agenttest.Underlays[name])
	}
	for _, name := range names {
		a := agent.New(api.Store(t), agent.Config{NodeName: name, NetNSPath: testbed.Path(u.Nodes[name].NS),
			AutodetectCIDRs: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")}})
		testbed.Background(t, "agent "+name, a.Run)
	}

	block := agenttest.WaitForBlocks(t, store, names)
	for _, self := range names {
		agenttest.WaitForBlockRoutes(t, testbed.Handle(t, u.Nodes[self].NS), self, block)
	}
}
