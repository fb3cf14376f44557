// Package agenttest is the convergence scenario the agent's tests run over each datastore
// backend: a calico-overlay-shaped lab whose nodes register, claim blocks and route each
// other's blocks. It does not import the agent, so the agent's own in-package tests can use it;
// callers start the agents themselves.
package agenttest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/ipam"
)

// Underlays is the calico-overlay lab's shape: two workers share 10.10.10.0/24 and the third
// sits across the switch on 10.10.20.0/24, so CrossSubnet uses both eth1 and vxlan.calico.
var Underlays = map[string]netip.Prefix{
	"k01-worker":  netip.MustParsePrefix("10.10.10.11/24"),
	"k01-worker2": netip.MustParsePrefix("10.10.10.12/24"),
	"k01-worker3": netip.MustParsePrefix("10.10.20.20/24"),
}

// Names lists the nodes of Underlays in a stable order.
func Names() []string {
	var names []string
	for n := range Underlays {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// WaitForBlocks waits until every named node has claimed a block and returns each node's first.
func WaitForBlocks(t testing.TB, store datastore.Store, names []string) map[string]netip.Prefix {
	t.Helper()
	im := ipam.New(store)
	block := map[string]netip.Prefix{}
	testbed.WaitFor(t, 20*time.Second, "every node registered with a block", func() bool {
		for _, n := range names {
			bs, err := im.NodeBlocks(context.Background(), n)
			if err != nil || len(bs) == 0 {
				return false
			}
			block[n] = bs[0]
		}
		return true
	})
	return block
}

// ExpectedBlockRoutes is what CrossSubnet makes self route, as sorted "dst dev" pairs: its own
// block is a blackhole, a block of a node on the same underlay subnet goes via eth1, one
// across subnets via vxlan.calico.
func ExpectedBlockRoutes(self string, block map[string]netip.Prefix) []string {
	var out []string
	for n, b := range block {
		dev := "eth1"
		switch {
		case n == self:
			dev = "blackhole"
		case Underlays[n].Masked() != Underlays[self].Masked():
			dev = dataplane.VXLANDeviceName
		}
		out = append(out, fmt.Sprintf("%s %s", b, dev))
	}
	slices.Sort(out)
	return out
}

// BlockRoutes lists a node's block routes as sorted "dst dev" pairs: the agent's proto-80
// routes and its routes through vxlan.calico (which, as Felix's, carry no protocol), host
// routes to tunnel addresses left out.
func BlockRoutes(t testing.TB, h *netlink.Handle) []string {
	var out []string
	for _, r := range testbed.RoutesOf(t, h, dataplane.ProtoFelix) {
		if !strings.Contains(r, "/32 ") {
			out = append(out, r)
		}
	}
	for _, r := range testbed.RoutesOf(t, h, dataplane.ProtoNone) {
		if strings.HasSuffix(r, " "+dataplane.VXLANDeviceName) && !strings.Contains(r, "/32 ") {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// WaitForBlockRoutes waits until self routes exactly ExpectedBlockRoutes and returns how long
// that took, for the log.
func WaitForBlockRoutes(t testing.TB, h *netlink.Handle, self string, block map[string]netip.Prefix) time.Duration {
	t.Helper()
	want := ExpectedBlockRoutes(self, block)
	return testbed.WaitFor(t, 20*time.Second, self+" routes every block", func() bool {
		return slices.Equal(BlockRoutes(t, h), want)
	})
}
