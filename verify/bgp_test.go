package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// A lab that does not route with BGP skips the bgp checks as a whole, saying so.
func TestBGPChecksNotApplicableToAVXLANLab(t *testing.T) {
	l, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	r, err := verify.Run(context.Background(), healthyLesson06(), verify.Options{Lab: l.VerifySpec(), Checks: []string{checkid.BGPPeers, checkid.BGPRIB}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Checks {
		if c.Status != report.Skipped || c.Reason != "lab calico-overlay does not route its pools with BGP" || len(c.Nodes) != 0 {
			t.Errorf("%s: %s %q (%d nodes), want skipped as a whole", c.ID, c.Status, c.Reason, len(c.Nodes))
		}
	}
}

// bgpLiveSource is a live calico-bgp lab whose one node's BGP speaker cannot be read.
type bgpLiveSource struct{ *fakeSource }

func (bgpLiveSource) Live() bool { return true }

// On a live lab a node whose BGP state could not be read fails the bgp checks (the engine's
// rule for unread tables); the reflector is not read at all here (no source.Reflectors), which
// skips it on any source.
func TestBGPLiveNodeUnreadFails(t *testing.T) {
	f := expecttest.CalicoBGP()
	c := expect.Compute(f)
	spec := expecttest.CalicoBGPSpec()
	src := &fakeSource{facts: f, nodes: map[string]*observed.Node{}}
	for _, n := range c.Nodes {
		src.nodes[n.Name()] = expecttest.HealthyBGP(c, spec.BGP, n.Name())
	}
	w := src.nodes["k8s-guide-worker"]
	w.Tables[observed.TableBGPSessions], w.Tables[observed.TableBGPRoutes] = false, false
	live := &partialLive{bgpLiveSource{src}, "k8s-guide-worker", errors.New("dial the speaker's API 127.0.0.1:50051: connection refused")}
	r, err := verify.Run(context.Background(), live, verify.Options{Lab: spec, Checks: []string{checkid.BGPPeers, checkid.BGPRIB}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range r.Checks {
		n, _ := ch.Node("k8s-guide-worker")
		rr, _ := ch.Node("gobgp")
		if ch.Status != report.Failed || n == nil || n.Status != report.Failed || !strings.Contains(n.Findings[0].Found, "connection refused") {
			t.Errorf("%s: %s, k8s-guide-worker %+v; want failed naming the unread speaker", ch.ID, ch.Status, n)
		}
		if rr == nil || rr.Status != report.Skipped || !strings.Contains(rr.Reason, "cannot read BGP route reflectors") {
			t.Errorf("%s: reflector %+v, want skipped: the source has no reflector reader", ch.ID, rr)
		}
	}
}

// partialLive returns one node's tables with an error, as a live source does for what it
// could not read.
type partialLive struct {
	bgpLiveSource
	node string
	err  error
}

func (p *partialLive) NodeState(ctx context.Context, name string) (*observed.Node, error) {
	n, err := p.bgpLiveSource.NodeState(ctx, name)
	if name == p.node {
		return n, p.err
	}
	return n, err
}
