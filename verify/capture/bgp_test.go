package capture_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// bgpLabSource stands in for a live calico-bgp lab (as the netns provider's source is): its
// nodes' speakers are GoBGP, and it reads the route reflector.
type bgpLabSource struct {
	f     *facts.Facts
	nodes map[string]*observed.Node
	rrs   map[string]*observed.Reflector
}

func newBGPLabSource(t *testing.T) *bgpLabSource {
	t.Helper()
	l, err := lab.Load("calico-bgp")
	if err != nil {
		t.Fatal(err)
	}
	f := expecttest.CalicoBGP()
	c := expect.Compute(f)
	b := l.VerifySpec().BGP
	s := &bgpLabSource{f: f, nodes: map[string]*observed.Node{}, rrs: map[string]*observed.Reflector{}}
	for _, n := range c.Nodes {
		s.nodes[n.Name()] = expecttest.HealthyBGP(c, b, n.Name())
	}
	for _, r := range b.Reflectors {
		s.rrs[r.Name] = expecttest.HealthyReflector(c, b, r)
	}
	return s
}

func (s *bgpLabSource) Describe() string { return "stand-in calico-bgp lab" }
func (s *bgpLabSource) Live() bool       { return true }
func (s *bgpLabSource) Facts(context.Context) (*facts.Facts, error) {
	f := *s.f
	return &f, nil
}
func (s *bgpLabSource) Topology(context.Context) ([]observed.NodeStatus, error) {
	return nil, source.ErrAbsent
}
func (s *bgpLabSource) NodeState(_ context.Context, name string) (*observed.Node, error) {
	n, ok := s.nodes[name]
	if !ok {
		return nil, source.ErrAbsent
	}
	return n, nil
}
func (s *bgpLabSource) Switch(context.Context) (*observed.Switch, error) {
	return nil, source.ErrAbsent
}
func (s *bgpLabSource) ReflectorNames() []string { return []string{"gobgp"} }
func (s *bgpLabSource) Reflector(_ context.Context, name string) (*observed.Reflector, error) {
	r, ok := s.rrs[name]
	if !ok {
		return nil, fmt.Errorf("dial %s's API: connection refused", name)
	}
	return r, nil
}

var bgpChecks = []string{"ipam.pools", "ipam.affinities", "routes.blocks", "routes.pods", "bgp.peers", "bgp.rib"}

// A BGP lab's capture holds each speaker's state in the speaker's own format and is judged as
// the live lab was, failures included.
func TestBGPCaptureRoundTrip(t *testing.T) {
	ctx := context.Background()
	l, err := lab.Load("calico-bgp")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		bird   bool // the nodes are calico-node's BIRD (the clab provider), not knetlab's agent
		break_ func(s *bgpLabSource)
		failed []string // checks that fail
	}{
		{"healthy", false, func(*bgpLabSource) {}, nil},
		{"healthy, BIRD", true, func(*bgpLabSource) {}, nil},
		{"BIRD: a learned route withdrawn on one node", true, func(s *bgpLabSource) {
			n := s.nodes["k8s-guide-worker"]
			n.BGPRoutes = n.BGPRoutes[1:]
		}, []string{"bgp.rib"}},
		{"rr down: sessions Active, routes withdrawn", false, func(s *bgpLabSource) {
			for _, n := range s.nodes {
				n.BGPSessions[0].State, n.BGPSessions[0].Info = observed.BGPActive, "connection refused"
				var own []observed.BGPRoute
				for _, r := range n.BGPRoutes {
					if !r.From.IsValid() {
						own = append(own, r)
					}
				}
				n.BGPRoutes = own
			}
			s.rrs["gobgp"].Sessions, s.rrs["gobgp"].RIB = nil, nil
		}, []string{"bgp.peers", "bgp.rib"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := newBGPLabSource(t)
			// A node's state is saved in its speaker's format (BIRD's or GoBGP's), never the other's.
			files, others := []string{capture.GoBGPNeighborsFile, capture.GoBGPRIBFile}, []string{capture.BirdFile, capture.BirdRoutesFile}
			if tt.bird {
				birdNodes(src)
				files, others = others, files
			}
			tt.break_(src)
			opts := verify.Options{Lab: l.VerifySpec(), Checks: bgpChecks}
			live, err := verify.Run(ctx, src, opts)
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, c := range live.Checks {
				if c.Status == report.Failed {
					failed = append(failed, c.ID)
				}
			}
			if !reflect.DeepEqual(failed, tt.failed) {
				t.Fatalf("live: failed %v, want %v", failed, tt.failed)
			}
			dir := t.TempDir()
			if _, err := capture.FromSource(ctx, src, []string{"k8s-guide-control-plane", "k8s-guide-worker", "k8s-guide-worker2"}, dir); err != nil {
				t.Fatal(err)
			}
			for _, f := range append([]string{"rr/gobgp/gobgp-neighbors.json", "rr/gobgp/gobgp-rib.json"},
				"nodes/k8s-guide-worker/"+files[0], "nodes/k8s-guide-worker/"+files[1]) {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("capture lacks %s: %v", f, err)
				}
			}
			for _, f := range others {
				if _, err := os.Stat(filepath.Join(dir, "nodes/k8s-guide-worker", f)); err == nil {
					t.Errorf("a node's state written in the other speaker's %s", f)
				}
			}
			cap, err := capture.Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			offline, err := verify.Run(ctx, cap, opts)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := verdicts(live), verdicts(offline); !reflect.DeepEqual(a, b) {
				t.Errorf("verdicts differ:\nlive    %v\ncapture %v", a, b)
			}
		})
	}
}

// A live lab whose reflector cannot be read fails the bgp checks; a capture without rr/ skips
// the reflector with the reason, and judges the nodes.
func TestBGPReflectorAbsent(t *testing.T) {
	ctx := context.Background()
	l, _ := lab.Load("calico-bgp")
	opts := verify.Options{Lab: l.VerifySpec(), Checks: []string{"bgp.peers", "bgp.rib"}}
	src := newBGPLabSource(t)
	delete(src.rrs, "gobgp")
	rep, err := verify.Run(ctx, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if c.Status != report.Failed || !strings.Contains(fmt.Sprint(c.Nodes[len(c.Nodes)-1].Findings), "connection refused") {
			t.Errorf("live %s: %s, want failed naming the unreadable reflector", c.ID, c.Status)
		}
	}
	dir := t.TempDir()
	if _, err := capture.FromSource(ctx, newBGPLabSource(t), []string{"k8s-guide-control-plane", "k8s-guide-worker", "k8s-guide-worker2"}, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, capture.RRDir)); err != nil {
		t.Fatal(err)
	}
	cap, err := capture.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = verify.Run(ctx, cap, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		rr := c.Nodes[len(c.Nodes)-1]
		if c.Status != report.Passed || !c.Partial() || rr.Node != "gobgp" || rr.Status != report.Skipped || !strings.Contains(rr.Reason, "rr/gobgp") {
			t.Errorf("capture %s: %s, reflector %s %q; want passed in part, the reflector skipped naming rr/gobgp", c.ID, c.Status, rr.Status, rr.Reason)
		}
	}
}

// A node has one BGP speaker; a file that is not its command's output is refused naming it.
func TestBGPCaptureRefusals(t *testing.T) {
	for _, tt := range []struct {
		name, file, data, mention string
	}{
		{"two speakers", "", "", "one BGP speaker"},
		{"RIB in the neighbours file", "nodes/n1/gobgp-neighbors.json", `{"10.0.0.0/24":[{"nlri":{"prefix":"10.0.0.0/24"}}]}`, "gobgp-neighbors.json:1"},
		{"ip route as BIRD's protocols", "nodes/n1/bird-protocols.txt", "default via 10.0.0.1 dev eth0\n", "bird-protocols.txt:1"},
		{"neighbours as the reflector's RIB", "rr/gobgp/gobgp-rib.json", `[{"conf":{"neighbor_address":"10.0.0.1"}}]`, "rr/gobgp/gobgp-rib.json:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(rel, data string) {
				p := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write("nodes/n1/ip-route.txt", "default via 10.0.0.1 dev eth0\n")
			if tt.file == "" {
				write("nodes/n1/bird-protocols.txt", "name     proto    table    state  since       info\n")
				write("nodes/n1/gobgp-neighbors.json", "[]")
			} else {
				write(tt.file, tt.data)
			}
			_, err := capture.Open(context.Background(), dir)
			if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("Open: %v (code %d), want a usage error mentioning %q", err, exitcode.Code(err), tt.mention)
			}
		})
	}
}

// birdNodes makes the stand-in's nodes calico-node's: BIRD holds the sessions and, of the
// routes, only those it learned (its own block is static1's blackhole, not a BGP path).
func birdNodes(s *bgpLabSource) {
	for _, n := range s.nodes {
		n.BGPSpeaker = observed.SpeakerBIRD
		for i := range n.BGPSessions {
			n.BGPSessions[i].Name = "Node_" + strings.ReplaceAll(n.BGPSessions[i].Peer.String(), ".", "_")
			n.BGPSessions[i].PeerAS = 0 // birdcl show protocols does not print it
		}
		var learned []observed.BGPRoute
		for _, r := range n.BGPRoutes {
			if r.From.IsValid() {
				learned = append(learned, r)
			}
		}
		n.BGPRoutes = learned
	}
}

// BIRD's routes and GoBGP's RIB under one node are two speakers: refused.
func TestBIRDRoutesWithGoBGPRefused(t *testing.T) {
	dir := t.TempDir()
	for rel, data := range map[string]string{
		"nodes/n1/ip-route.txt":    "default via 10.0.0.1 dev eth0\n",
		"nodes/n1/bird-routes.txt": "BIRD v0.3.3+birdv1.6.8 ready.\n",
		"nodes/n1/gobgp-rib.json":  "{}",
	} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := capture.Open(context.Background(), dir)
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "one BGP speaker") || !strings.Contains(err.Error(), "gobgp-rib.json") {
		t.Errorf("Open: %v (code %d), want a usage error naming gobgp-rib.json and one BGP speaker", err, exitcode.Code(err))
	}
}
