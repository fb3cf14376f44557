package kubestore_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
	"github.com/knetlab/knetlab/internal/ipam"
)

// The agents of a calico-overlay-shaped lab (three node namespaces behind a switch namespace,
// two subnets) register, claim blocks and program their routes with the kubernetes datastore
// as the only shared state, as on a kind cluster with --cni knetlab. Each agent has its own
// client; the API server is the in-memory one on loopback. Every address lives in the test's
// own namespaces.
func TestAgentsConvergeOverKubernetes(t *testing.T) {
	testbed.RequireRoot(t)
	ctx := context.Background()
	api := kubestoretest.Start(t)
	store := api.Store(t)
	if err := datastore.IPPools(store).Create(ctx, pool("default-ipv4-ippool", "192.168.0.0/16", 26)); err != nil {
		t.Fatal(err)
	}
	u := testbed.NewUnderlay(t)
	nodes := map[string]string{"k01-worker": "10.10.10.11/24", "k01-worker2": "10.10.10.12/24", "k01-worker3": "10.10.20.20/24"}
	var names []string
	for name, addr := range nodes {
		names = append(names, name)
		u.AddNode(t, name, netip.MustParsePrefix(addr))
	}
	slices.Sort(names)
	for _, name := range names {
		a := agent.New(api.Store(t), agent.Config{NodeName: name, NetNSPath: testbed.Path(u.Nodes[name].NS),
			AutodetectCIDRs: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")}})
		testbed.Background(t, "agent "+name, a.Run)
	}

	im := ipam.New(store)
	block := map[string]netip.Prefix{}
	testbed.WaitFor(t, 20*time.Second, "every node registered with a block", func() bool {
		for _, n := range names {
			bs, err := im.NodeBlocks(ctx, n)
			if err != nil || len(bs) == 0 {
				return false
			}
			block[n] = bs[0]
		}
		return true
	})
	for _, self := range names {
		// CrossSubnet: a block of the same subnet goes via eth1, across subnets via vxlan.calico.
		var want []string
		for _, n := range names {
			dev := "eth1"
			switch {
			case n == self:
				dev = "blackhole"
			case (self == "k01-worker3") != (n == "k01-worker3"):
				dev = dataplane.VXLANDeviceName
			}
			want = append(want, fmt.Sprintf("%s %s", block[n], dev))
		}
		slices.Sort(want)
		h := testbed.Handle(t, u.Nodes[self].NS)
		var got []string
		testbed.WaitFor(t, 20*time.Second, self+" routes every block", func() bool {
			got = testbed.RoutesOf(t, h, dataplane.RouteProtocol)
			return slices.Equal(got, want)
		})
	}
}
