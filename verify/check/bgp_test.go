package check

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/expect/expecttest"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// bgpInputs are the calico-bgp lab's inputs with every node and the route reflector healthy.
func bgpInputs(live bool) *Inputs {
	f := expecttest.CalicoBGP()
	c := expect.Compute(f)
	lab := expecttest.CalicoBGPSpec()
	in := &Inputs{Lab: lab, Facts: f, Expect: c, Nodes: map[string]*observed.Node{}, Live: live,
		Reflectors: map[string]*observed.Reflector{}, ReflectorAbsent: map[string]string{}, ReflectorUnread: map[string]bool{}}
	for _, n := range c.Nodes {
		in.Nodes[n.Name()] = expecttest.HealthyBGP(c, lab.BGP, n.Name())
	}
	for _, r := range lab.BGP.Reflectors {
		in.Reflectors[r.Name] = expecttest.HealthyReflector(c, lab.BGP, r)
		in.ReflectorNames = append(in.ReflectorNames, r.Name)
	}
	return in
}

func findingsText(r *report.Node) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(string(f.Kind) + " " + f.Entry + " [" + f.Field + "] expected " + f.Expected + " found " + f.Found + ": " + f.Reason + "\n")
	}
	return b.String()
}

func TestBGPHealthyPasses(t *testing.T) {
	in := bgpInputs(true)
	for name, run := range map[string]func(context.Context, *Inputs) []*report.Node{"bgp.peers": bgpPeers, "bgp.rib": bgpRIB} {
		nodes := run(context.Background(), in)
		if len(nodes) != 4 { // three nodes and the reflector
			t.Errorf("%s: %d results, want 4", name, len(nodes))
		}
		for _, r := range nodes {
			if len(r.Findings) > 0 || r.Status == report.Skipped {
				t.Errorf("%s %s: %s %q\n%s", name, r.Node, r.Status, r.Reason, findingsText(r))
			}
		}
	}
}

func TestBGPPeersFindings(t *testing.T) {
	rr := "172.18.0.5"
	for _, tt := range []struct {
		name   string
		break_ func(in *Inputs)
		target string // node or reflector the finding is on
		kind   report.FindingKind
		field  string
		want   []string // the finding's text holds these
	}{
		{"node session Idle", func(in *Inputs) {
			in.Nodes["k8s-guide-worker"].BGPSessions[0].State = observed.BGPIdle
		}, "k8s-guide-worker", report.Different, "state", []string{
			"session with gobgp (172.18.0.5)", "found Idle",
			"k8s-guide-worker peers with gobgp (172.18.0.5) because BGPPeer gobgp-peer selects all(); the session is Idle: with no session, the node neither announces its blocks nor learns the others'",
		}},
		{"node session Active with BIRD's reason", func(in *Inputs) {
			s := &in.Nodes["k8s-guide-worker2"].BGPSessions[0]
			s.State, s.Info = observed.BGPActive, "Socket: Connection refused"
		}, "k8s-guide-worker2", report.Different, "state", []string{"Active (Socket: Connection refused)"}},
		{"node session missing", func(in *Inputs) {
			in.Nodes["k8s-guide-control-plane"].BGPSessions = nil
		}, "k8s-guide-control-plane", report.Missing, "", []string{"session with gobgp (172.18.0.5)", "an Established BGP session with " + rr}},
		{"peer answering with another AS (peer-wrong-as)", func(in *Inputs) {
			s := &in.Nodes["k8s-guide-worker"].BGPSessions[0]
			s.PeerAS, s.State = 64497, observed.BGPActive
		}, "k8s-guide-worker", report.Different, "peer AS", []string{"expected 64496 found 64497", "bad peer AS"}},
		{"mesh session while the mesh is off", func(in *Inputs) {
			n := in.Nodes["k8s-guide-worker"]
			n.BGPSessions = append(n.BGPSessions, observed.BGPSession{Name: "Mesh_172_18_0_4", Peer: netip.MustParseAddr("172.18.0.4"), State: observed.BGPEstablished})
		}, "k8s-guide-worker", report.Unexpected, "", []string{"session with 172.18.0.4", "node-to-node mesh (off)"}},
		{"reflector without a node", func(in *Inputs) {
			in.Reflectors["gobgp"].Sessions = in.Reflectors["gobgp"].Sessions[1:]
		}, "gobgp", report.Missing, "", []string{"session with k8s-guide-control-plane (172.18.0.2)", "k8s-guide-control-plane peers with gobgp (172.18.0.5) because BGPPeer gobgp-peer selects all(); with no session, the reflector neither learns"}},
		{"reflector sees a node Idle", func(in *Inputs) {
			in.Reflectors["gobgp"].Sessions[2].State = observed.BGPIdle
		}, "gobgp", report.Different, "state", []string{"k8s-guide-worker2", "the reflector neither learns the node's blocks"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := bgpInputs(true)
			tt.break_(in)
			r := resultOf(t, bgpPeers(context.Background(), in), tt.target)
			var found *report.Finding
			for i := range r.Findings {
				if r.Findings[i].Kind == tt.kind && r.Findings[i].Field == tt.field {
					found = &r.Findings[i]
				}
			}
			if found == nil {
				t.Fatalf("findings:\n%swant a %s [%s]", findingsText(r), tt.kind, tt.field)
			}
			text := findingsText(&report.Node{Findings: []report.Finding{*found}})
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("finding %q lacks %q", text, w)
				}
			}
		})
	}
}

func TestBGPRIBFindings(t *testing.T) {
	pfx := netip.MustParsePrefix
	ip := netip.MustParseAddr
	for _, tt := range []struct {
		name   string
		break_ func(in *Inputs)
		target string
		kinds  []report.FindingKind
		want   []string
	}{
		{"block missing from the reflector (block-not-exported)", func(in *Inputs) {
			in.Reflectors["gobgp"].RIB = in.Reflectors["gobgp"].RIB[1:] // 10.244.175.0/24
		}, "gobgp", []report.FindingKind{report.Missing}, []string{"10.244.175.0/24 next hop 172.18.0.3",
			"k8s-guide-worker owns 10.244.175.0/24", "reflects it to every other node"}},
		{"wrong next hop", func(in *Inputs) {
			in.Reflectors["gobgp"].RIB[0].NextHop = ip("172.18.0.4")
		}, "gobgp", []report.FindingKind{report.Different}, []string{"[next hop] expected 172.18.0.3 found 172.18.0.4"}},
		{"a second path for a block", func(in *Inputs) {
			rr := in.Reflectors["gobgp"]
			rr.RIB = append(rr.RIB, observed.BGPRoute{Prefix: pfx("10.244.175.0/24"), NextHop: ip("172.18.0.4")})
		}, "gobgp", []report.FindingKind{report.Unexpected}, []string{"10.244.175.0/24 next hop 172.18.0.4", "k8s-guide-worker's block"}},
		{"a path no block owner announces; one outside the pools ignored", func(in *Inputs) {
			rr := in.Reflectors["gobgp"]
			rr.RIB = append(rr.RIB, observed.BGPRoute{Prefix: pfx("10.244.200.0/24"), NextHop: ip("172.18.0.4")},
				observed.BGPRoute{Prefix: pfx("192.0.2.0/24"), NextHop: ip("172.18.0.9")})
		}, "gobgp", []report.FindingKind{report.Unexpected}, []string{"no node owns a confirmed block 10.244.200.0/24"}},
		{"node did not learn a block", func(in *Inputs) {
			n := in.Nodes["k8s-guide-worker2"]
			var keep []observed.BGPRoute
			for _, r := range n.BGPRoutes {
				if r.Prefix != pfx("10.244.236.0/24") {
					keep = append(keep, r)
				}
			}
			n.BGPRoutes = keep
		}, "k8s-guide-worker2", []report.FindingKind{report.Missing}, []string{"10.244.236.0/24", "without this path k8s-guide-worker2 has no route to k8s-guide-control-plane's pods"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := bgpInputs(false)
			tt.break_(in)
			r := resultOf(t, bgpRIB(context.Background(), in), tt.target)
			text := findingsText(r)
			if len(r.Findings) != len(tt.kinds) {
				t.Fatalf("findings:\n%swant %v", text, tt.kinds)
			}
			for i, k := range tt.kinds {
				if r.Findings[i].Kind != k {
					t.Errorf("finding %d is %s, want %s", i, r.Findings[i].Kind, k)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("findings %q lack %q", text, w)
				}
			}
		})
	}
}

// A reflector a live lab could not be read from fails; one a capture lacks is skipped; a node
// whose sessions were not collected is skipped (the engine fails it on a live lab when the read
// failed).
func TestBGPAbsentReflector(t *testing.T) {
	for _, live := range []bool{true, false} {
		in := bgpInputs(live)
		delete(in.Reflectors, "gobgp")
		in.ReflectorAbsent["gobgp"] = "cannot read route reflector gobgp: dial 127.0.0.1:50051: connection refused"
		in.ReflectorUnread["gobgp"] = live
		for name, run := range map[string]func(context.Context, *Inputs) []*report.Node{"bgp.peers": bgpPeers, "bgp.rib": bgpRIB} {
			r := resultOf(t, run(context.Background(), in), "gobgp")
			switch {
			case live && (len(r.Findings) != 1 || r.Findings[0].Kind != report.Missing || !strings.Contains(r.Findings[0].Found, "connection refused")):
				t.Errorf("%s live: %s %+v, want a missing route reflector finding", name, r.Status, r.Findings)
			case !live && (r.Status != report.Skipped || !strings.Contains(r.Reason, "connection refused")):
				t.Errorf("%s capture: %s %q, want skipped with the reason", name, r.Status, r.Reason)
			}
		}
	}
	in := bgpInputs(false)
	in.Nodes["k8s-guide-worker"].Tables[observed.TableBGPSessions] = false
	if r := resultOf(t, bgpPeers(context.Background(), in), "k8s-guide-worker"); r.Status != report.Skipped || !strings.Contains(r.Reason, "bgp-sessions") {
		t.Errorf("node without sessions: %s %q", r.Status, r.Reason)
	}
}

// BGP pools' block routes: BIRD programs them, so proto 80 (felix) or onlink on one is a
// finding; a metric is not.
func TestRoutesBlocksBGPShapes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(r *observed.Route)
		local  bool
		field  string // "" for no finding
	}{
		{"as BIRD programs it", func(r *observed.Route) {}, false, ""},
		{"with a metric", func(r *observed.Route) { r.Metric = 32 }, false, ""},
		{"proto 80", func(r *observed.Route) { r.Protocol = "80" }, false, "protocol"},
		{"onlink", func(r *observed.Route) { r.Onlink = true }, false, "onlink"},
		{"via vxlan.calico", func(r *observed.Route) { r.Dev = "vxlan.calico" }, false, "dev"},
		{"local blackhole proto 80", func(r *observed.Route) { r.Protocol = "80" }, true, "protocol"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := bgpInputs(false)
			n := in.Nodes["k8s-guide-worker"]
			dst := netip.MustParsePrefix("10.244.236.0/24") // control-plane's
			if tt.local {
				dst = netip.MustParsePrefix("10.244.175.0/24")
			}
			for i := range n.Routes {
				if n.Routes[i].Dst == dst {
					tt.change(&n.Routes[i])
				}
			}
			r := resultOf(t, routesBlocks(context.Background(), in), "k8s-guide-worker")
			switch {
			case tt.field == "" && len(r.Findings) > 0:
				t.Errorf("findings:\n%swant none", findingsText(r))
			case tt.field != "" && (len(r.Findings) != 1 || r.Findings[0].Field != tt.field || r.Findings[0].Entry != dst.String()):
				t.Errorf("findings:\n%swant one on %s's %s", findingsText(r), dst, tt.field)
			}
			if tt.field == "protocol" && !strings.Contains(r.Findings[0].Expected, "bird") {
				t.Errorf("protocol finding expects %q, want bird", r.Findings[0].Expected)
			}
		})
	}
}

// In a cluster whose pools have no tunnel, a node gets a block only when a pod on it takes an
// address: a node that hosts no pod and owns no block is noted, not failed. With a pod, or where a
// tunnel address would have given it a block, owning none is still a finding.
func TestAffinitiesPodlessNodeWithoutTunnel(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      func() *Inputs
		keepPod bool
		finding bool
	}{
		{"BGP, no pod on it", func() *Inputs { return bgpInputs(false) }, false, false},
		{"BGP, a pod on it", func() *Inputs { return bgpInputs(false) }, true, true},
		{"VXLAN, no pod on it", func() *Inputs { return lesson06Inputs(false) }, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in()
			node := in.Expect.Nodes[1].Name()
			var affs = in.Facts.Affinities[:0]
			for _, a := range in.Facts.Affinities {
				if a.Node != node {
					affs = append(affs, a)
				}
			}
			in.Facts.Affinities = affs
			if !tt.keepPod {
				pods := in.Facts.Pods[:0]
				for _, p := range in.Facts.Pods {
					if p.Node != node {
						pods = append(pods, p)
					}
				}
				in.Facts.Pods = pods
			}
			in.Expect = expect.Compute(in.Facts)
			r := resultOf(t, ipamAffinities(context.Background(), in), node)
			if got := len(r.Findings) > 0; got != tt.finding {
				t.Errorf("%s: findings %+v notes %q; want a finding: %v", node, r.Findings, r.Notes, tt.finding)
			}
			if !tt.finding && !strings.Contains(strings.Join(r.Notes, "\n"), "hosts no pod") {
				t.Errorf("notes %q, want one saying the node hosts no pod", r.Notes)
			}
		})
	}
}

// The route reflector is a member of the lab: topology.nodes wants it running, and a source
// that does not list it (live) is told so; a stopped reflector is named as such.
func TestTopologyNodesJudgesReflector(t *testing.T) {
	running := func(in *Inputs) {
		for _, n := range in.Lab.Nodes {
			in.Topology = append(in.Topology, observed.NodeStatus{Name: n, Kind: "node", Running: true, Ready: true})
		}
		in.Topology = append(in.Topology, observed.NodeStatus{Name: "gobgp", Kind: "reflector", Running: true, Ready: true, Detail: "container running"})
	}
	for _, tt := range []struct {
		name   string
		live   bool
		break_ func(in *Inputs)
		status report.Status // the reflector's
		want   string        // its finding or reason holds this
	}{
		{"running", true, func(*Inputs) {}, "", ""},
		{"stopped", true, func(in *Inputs) {
			in.Topology[len(in.Topology)-1].Running = false
			in.Topology[len(in.Topology)-1].Detail = "container exited (Exited (0) 3 seconds ago)"
		}, "", "failed gobgp [state] expected running found container exited (Exited (0) 3 seconds ago): gobgp is the lab's route reflector (172.18.0.5)"},
		{"not listed by a live source", true, func(in *Inputs) { in.Topology = in.Topology[:len(in.Topology)-1] },
			"", "missing gobgp [] expected running found absent: gobgp is the lab's route reflector"},
		{"not captured", false, func(in *Inputs) { in.Topology = in.Topology[:len(in.Topology)-1] },
			report.Skipped, "its rr/gobgp/ files were not captured"},
		{"a reflector is not judged Ready", true, func(in *Inputs) { in.Topology[len(in.Topology)-1].Ready = false }, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := bgpInputs(tt.live)
			running(in)
			tt.break_(in)
			nodes := topologyNodes(context.Background(), in)
			if len(nodes) != 4 || nodes[3].Node != "gobgp" {
				t.Fatalf("results %v, want the three nodes and gobgp", nodes)
			}
			for _, r := range nodes[:3] {
				if len(r.Findings) > 0 || r.Status != "" {
					t.Errorf("node %s: %s %s", r.Node, r.Status, findingsText(r))
				}
			}
			rr := nodes[3]
			got := findingsText(rr) + rr.Reason
			if rr.Status != tt.status || tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("gobgp: status %q, %q; want status %q with %q", rr.Status, got, tt.status, tt.want)
			}
		})
	}
	// A lab without BGP wants no reflector.
	in := bgpInputs(true)
	running(in)
	in.Lab.BGP = nil
	if nodes := topologyNodes(context.Background(), in); len(nodes) != 3 {
		t.Errorf("a lab without BGP: %d results, want the three nodes", len(nodes))
	}
}
