package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/testenv"
)

// traced is the part of trace's JSON the tests read.
type traced struct {
	From, To struct {
		Name string
		IP   netip.Addr
	}
	Kind    string
	Hops    []struct{ At, Step, Entry string }
	End     struct{ Kind, At, Detail string }
	Verdict string
	Diverge *struct {
		Hop                              int
		At, Expected, Found, Reason, BGP string
	} `json:"divergence"`
}

func traceJSON(t *testing.T, args ...string) (int, traced) {
	t.Helper()
	code, out, stderr := run(t, append([]string{"trace", "--output", "json"}, args...)...)
	var r traced
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("trace %s: exit %d, no JSON (%v)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, err, out, stderr)
	}
	return code, r
}

func traceAllJSON(t *testing.T, args ...string) (int, []traced) {
	t.Helper()
	code, out, stderr := run(t, append([]string{"trace", "--all", "--output", "json"}, args...)...)
	var rs []traced
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("trace --all %s: exit %d, no JSON (%v)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, err, out, stderr)
	}
	return code, rs
}

func hopsOf(r traced) string {
	var b strings.Builder
	for i, h := range r.Hops {
		b.WriteString(strings.Join([]string{"", strings.Repeat(" ", 2) + string(rune('a'+i)), h.At, h.Step, h.Entry}, "  "))
		b.WriteByte('\n')
	}
	return b.String() + "end: " + r.End.Kind + " " + r.End.Detail
}

// comparable are a path's hops as both a live lab and its capture show them: an underlay
// neighbour's state (REACHABLE, STALE, or no entry yet) changes from one moment to the next,
// so only its address counts.
func comparable(r traced) []string {
	var out []string
	for _, h := range r.Hops {
		entry := h.Entry
		if h.Step == "arp" {
			entry = strings.Fields(entry)[0]
		}
		out = append(out, h.At+" | "+h.Step+" | "+entry)
	}
	return append(out, "end "+r.End.Kind+" "+r.End.At, "verdict "+r.Verdict)
}

// offlineAgrees captures the lab and checks that every pair's trace over the capture goes hop
// for hop as the live one does.
func offlineAgrees(t *testing.T, file, name string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "capture")
	if code, out, stderr := run(t, "capture", "--lab-file", file, name, "--out", dir); code != exitcode.OK {
		t.Fatalf("capture: exit %d\n%s%s", code, out, stderr)
	}
	liveCode, live := traceAllJSON(t, "--lab-file", file, name)
	offCode, off := traceAllJSON(t, "--lab-file", file, "--from", dir)
	if liveCode != exitcode.OK || offCode != exitcode.OK {
		t.Errorf("trace --all: live exit %d, offline exit %d, want 0 on a healthy lab", liveCode, offCode)
	}
	if len(live) != len(off) || len(live) < 6 {
		t.Fatalf("%d live pairs, %d offline, want the same and at least 6", len(live), len(off))
	}
	for i := range live {
		l, o := comparable(live[i]), comparable(off[i])
		if !slices.Equal(l, o) {
			t.Errorf("%s → %s: live and offline differ\nlive:\n  %s\noffline:\n  %s", live[i].From.Name, live[i].To.Name,
				strings.Join(l, "\n  "), strings.Join(o, "\n  "))
		}
	}
}

func TestTraceCalicoOverlay(t *testing.T) {
	file, name := deployCNILab(t)

	code, r := traceJSON(t, "--lab-file", file, name, "net-w1", "net-w3")
	if code != exitcode.OK || r.Verdict != "ok" || r.Kind != "vxlan" || r.End.At != "default/net-w3" {
		t.Fatalf("net-w1 → net-w3: exit %d verdict %s kind %s\n%s", code, r.Verdict, r.Kind, hopsOf(r))
	}
	var encap, viaSwitch, decap bool
	for _, h := range r.Hops {
		encap = encap || h.Step == "encap" && h.Entry == "10.10.10.11 → 10.10.20.20 udp/4789 vni 4096"
		viaSwitch = viaSwitch || h.At == "ceos01" && h.Step == "switch" && strings.HasSuffix(h.Entry, "Vlan20 → eth4")
		decap = decap || h.At == "k01-worker3" && h.Step == "decap"
	}
	if !encap || !viaSwitch || !decap {
		t.Errorf("net-w1 → net-w3: outer header %v, ceos01 Vlan20 → eth4 %v, decapsulated on k01-worker3 %v\n%s", encap, viaSwitch, decap, hopsOf(r))
	}

	// An address of k01-worker3's block that no pod holds: its owner's kernel blackholes it.
	unused := r.To.IP
	for range 10 {
		unused = unused.Next()
	}
	if code, r := traceJSON(t, "--lab-file", file, name, "net-w1", unused.String()); code != exitcode.CheckFailed || r.End.Kind != "blackhole" ||
		r.End.At != "k01-worker3" || r.Verdict != "dropped" {
		t.Errorf("net-w1 → %s: exit %d verdict %s\n%s", unused, code, r.Verdict, hopsOf(r))
	}

	code, r = traceJSON(t, "--lab-file", file, name, "net-w1", "default/net-w2")
	if code != exitcode.OK || r.Verdict != "ok" || r.Kind != "direct" {
		t.Fatalf("net-w1 → net-w2: exit %d verdict %s kind %s\n%s", code, r.Verdict, r.Kind, hopsOf(r))
	}
	for _, h := range r.Hops {
		if strings.Contains(h.Entry, "vxlan.calico") {
			t.Errorf("net-w1 → net-w2 touches vxlan.calico: %s %s %s", h.At, h.Step, h.Entry)
		}
	}
	if !slices.ContainsFunc(r.Hops, func(h struct{ At, Step, Entry string }) bool {
		return h.At == "k01-worker" && h.Step == "route" && strings.Contains(h.Entry, "via 10.10.10.12 dev eth1")
	}) {
		t.Errorf("net-w1 → net-w2 is not routed via 10.10.10.12 dev eth1\n%s", hopsOf(r))
	}

	// Bad input names the argument and exits 2.
	if code, _, stderr := run(t, "trace", "--lab-file", file, name, "net-w1", "nope"); code != exitcode.Usage || !strings.Contains(stderr, `<to> "nope"`) {
		t.Errorf("an unknown pod: exit %d, %s", code, stderr)
	}

	offlineAgrees(t, file, name)

	// break names what it changed only with --explain (breakLab asks for it).
	m := breakLab(t, file, name, "fdb-missing")
	mac := strings.Fields(m[3])[0]
	code, r = traceJSON(t, "--lab-file", file, name, "net-w1", "net-w3")
	if code != exitcode.CheckFailed || r.Verdict != "diverged" || r.End.Kind != "no-fdb" || r.Diverge == nil ||
		r.Diverge.Expected != mac+" dev vxlan.calico dst 10.10.20.20 self permanent" || !strings.Contains(r.End.Detail, mac) {
		t.Errorf("after fdb-missing: exit %d verdict %s end %+v divergence %+v\n%s", code, r.Verdict, r.End, r.Diverge, hopsOf(r))
	}
	// The pair within the subnet does not need the entry.
	if code, r := traceJSON(t, "--lab-file", file, name, "net-w2", "net-w1"); code != exitcode.OK {
		t.Errorf("after fdb-missing, net-w2 → net-w1: exit %d\n%s", code, hopsOf(r))
	}
}

func TestTracePodNetwork(t *testing.T) {
	testenv.RequireLab(t, "ip")
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	file, name := renamedLab(t, "pod-network")
	destroyAtEnd(t, file, name)
	if code, _, stderr := run(t, "deploy", "--lab-file", file); code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, stderr)
	}
	code, r := traceJSON(t, "--lab-file", file, name, "multitool", "net-w2")
	if code != exitcode.OK || r.Kind != "direct" || !slices.ContainsFunc(r.Hops, func(h struct{ At, Step, Entry string }) bool {
		return h.Step == "route" && strings.Contains(h.Entry, " dev eth0 proto 80 onlink")
	}) {
		t.Errorf("multitool → net-w2: exit %d kind %s\n%s", code, r.Kind, hopsOf(r))
	}
	offlineAgrees(t, file, name)
}

// hasHop reports whether r has a hop at at of step whose entry matches re.
func hasHop(r traced, at, step string, re *regexp.Regexp) bool {
	return slices.ContainsFunc(r.Hops, func(h struct{ At, Step, Entry string }) bool {
		return h.At == at && h.Step == step && re.MatchString(h.Entry)
	})
}

// The calico-bgp lab: across nodes every pod's packet leaves its node by the block's learned
// route, proto bird, straight to the owner on the management network; each BGP fault shows on
// the pairs it breaks at the hop where the learned route is missing, and fix brings it back.
func TestTraceCalicoBGP(t *testing.T) {
	file, name := deployBGPLab(t)
	birdTo := func(owner string) *regexp.Regexp {
		return regexp.MustCompile(`^10\.244\.\d+\.0/24 via ` + regexp.QuoteMeta(owner) + ` dev eth0 proto bird$`)
	}

	code, r := traceJSON(t, "--lab-file", file, name, "net-w1", "net-w2")
	if code != exitcode.OK || r.Verdict != "ok" || r.Kind != "bgp" || r.End.At != "default/net-w2" ||
		!hasHop(r, "k8s-guide-worker", "route", birdTo("172.18.0.4")) ||
		!hasHop(r, "k8s-guide-worker", "arp", regexp.MustCompile(`^172\.18\.0\.4 dev eth0 `)) {
		t.Errorf("net-w1 → net-w2: exit %d verdict %s kind %s\n%s", code, r.Verdict, r.Kind, hopsOf(r))
	}
	for _, h := range r.Hops {
		if h.Step == "switch" || h.Step == "encap" {
			t.Errorf("net-w1 → net-w2 crosses a %s: %s", h.Step, h.Entry)
		}
	}
	// Node → pod across nodes is BGP too; a pod and its own node are local.
	for _, tc := range []struct{ from, to, kind string }{
		{"k8s-guide-worker2", "net-w1", "bgp"},
		{"net-w1", "k8s-guide-worker", "local"},
		{"k8s-guide-worker", "net-w1", "local"},
		{"net-cp", "k8s-guide-worker2", "direct"},
	} {
		if code, r := traceJSON(t, "--lab-file", file, name, tc.from, tc.to); code != exitcode.OK || r.Verdict != "ok" || r.Kind != tc.kind {
			t.Errorf("%s → %s: exit %d verdict %s kind %s, want ok %s\n%s", tc.from, tc.to, code, r.Verdict, r.Kind, tc.kind, hopsOf(r))
		}
	}
	if !hasHop(traceOf(t, file, name, "k8s-guide-worker2", "net-w1"), "k8s-guide-worker2", "route", birdTo("172.18.0.3")) {
		t.Errorf("k8s-guide-worker2 → net-w1 does not take the learned route via 172.18.0.3")
	}

	code, all := traceAllJSON(t, "--lab-file", file, name)
	if code != exitcode.OK || len(all) != 6 {
		t.Errorf("--all: exit %d, %d pairs, want 0 and the 6 pairs of net-cp, net-w1, net-w2", code, len(all))
	}
	for _, r := range all {
		if r.Kind != "bgp" || r.Verdict != "ok" || len(r.Hops) != 6 {
			t.Errorf("--all %s → %s: %s %d hops %s, want bgp 6 hops ok", r.From.Name, r.To.Name, r.Kind, len(r.Hops), r.Verdict)
		}
	}

	offlineAgrees(t, file, name)

	// A pair the fault breaks: it diverges at the sender's route lookup (hop 3, the pod's node),
	// where the learned route to the destination's block is missing, with the node's BGP state.
	type broken struct{ from, to, at, owner, bgp string }
	tests := []struct {
		fault  string
		broken []broken
		intact [][2]string
	}{
		// Without the reflector no node learns anything: the default route sends the packet to
		// the management network's gateway, which has no route to the pods and drops it.
		{"rr-down", []broken{
			{"net-w1", "net-w2", "k8s-guide-worker", "172.18.0.4", "its session with gobgp (172.18.0.5) is "},
			{"net-w2", "net-cp", "k8s-guide-worker2", "172.18.0.2", "its session with gobgp (172.18.0.5) is "},
		}, nil},
		// The first worker's session never comes up: it learns nothing, and nobody learns its block.
		{"peer-wrong-as", []broken{
			{"net-w1", "net-w2", "k8s-guide-worker", "172.18.0.4", "it expects AS 64497 of the peer, where the lab's BGPPeer gobgp-peer says AS 64496"},
			{"net-cp", "net-w1", "k8s-guide-control-plane", "172.18.0.3", "are Established, and no peer announces it"},
		}, [][2]string{{"net-cp", "net-w2"}, {"net-w2", "net-cp"}}},
		// The second worker's block is announced to nobody: every pair toward it fails at its sender.
		{"block-not-exported", []broken{
			{"net-w1", "net-w2", "k8s-guide-worker", "172.18.0.4", "are Established, and no peer announces it"},
			{"net-cp", "net-w2", "k8s-guide-control-plane", "172.18.0.4", "are Established, and no peer announces it"},
		}, [][2]string{{"net-w2", "net-w1"}, {"net-w1", "net-cp"}}},
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			breakLab(t, file, name, tc.fault)
			for _, b := range tc.broken {
				var code int
				var r traced
				var err error
				// A withdrawal takes a moment to reach every node: the trace is taken again
				// until it shows the fault, for a while.
				for deadline := time.Now().Add(faultSettles); ; time.Sleep(250 * time.Millisecond) {
					code, r = traceJSON(t, "--lab-file", file, name, b.from, b.to)
					if err = brokenAt(code, r, b.at, b.owner, b.bgp); err == nil || time.Now().After(deadline) {
						break
					}
				}
				if err != nil {
					t.Errorf("after %s, %s → %s: %v\n%s", tc.fault, b.from, b.to, err, hopsOf(r))
				}
			}
			for _, p := range tc.intact {
				if code, r := traceJSON(t, "--lab-file", file, name, p[0], p[1]); code != exitcode.OK || r.Kind != "bgp" {
					t.Errorf("after %s, %s → %s: exit %d kind %s, want 0 bgp\n%s", tc.fault, p[0], p[1], code, r.Kind, hopsOf(r))
				}
			}
			if code, out, stderr := run(t, "fix", "--lab-file", file, name); code != exitcode.OK {
				t.Fatalf("fix after %s: exit %d\n%s%s", tc.fault, code, out, stderr)
			}
			var code int
			var all []traced
			for deadline := time.Now().Add(faultSettles); ; time.Sleep(250 * time.Millisecond) {
				if code, all = traceAllJSON(t, "--lab-file", file, name); code == exitcode.OK || time.Now().After(deadline) {
					break
				}
			}
			if code != exitcode.OK {
				for _, r := range all {
					t.Logf("%s → %s: %s %s", r.From.Name, r.To.Name, r.Verdict, r.End.Detail)
				}
				t.Errorf("trace --all after fix of %s: exit %d, want 0", tc.fault, code)
			}
		})
	}
}

func traceOf(t *testing.T, file, name, from, to string) traced {
	t.Helper()
	_, r := traceJSON(t, "--lab-file", file, name, from, to)
	return r
}

// brokenAt is nil when a trace exits 1 diverging at hop 3 on node at, where the learned route
// to owner's block was expected, with the node's BGP state saying bgp, and the packet sent by
// the node's default route to the management network's gateway, which drops it.
func brokenAt(code int, r traced, at, owner, bgp string) error {
	d := r.Diverge
	switch {
	case code != exitcode.CheckFailed || r.Verdict != "diverged" || d == nil:
		return fmt.Errorf("exit %d verdict %s, want 1 diverged", code, r.Verdict)
	case d.Hop != 3 || d.At != at || !regexp.MustCompile(`^10\.244\.\d+\.0/24 via `+regexp.QuoteMeta(owner)+` dev eth0 proto bird$`).MatchString(d.Expected):
		return fmt.Errorf("divergence %+v, want hop 3 on %s expecting the learned route via %s", *d, at, owner)
	case !strings.Contains(d.Reason, "announces it to the route reflector gobgp (172.18.0.5)") || !strings.Contains(d.BGP, "holds no path for") || !strings.Contains(d.BGP, bgp):
		return fmt.Errorf("reason %q, bgp %q, want the reflector named and %q", d.Reason, d.BGP, bgp)
	case !strings.HasPrefix(d.Found, "default via 172.18.0.1 dev eth0") || r.End.Kind != "no-route" || r.End.At != "network":
		return fmt.Errorf("found %q, end %+v, want the default route to 172.18.0.1 and no route on the network's gateway", d.Found, r.End)
	}
	return nil
}
