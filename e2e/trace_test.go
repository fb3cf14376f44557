package e2e

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
		Hop                         int
		At, Expected, Found, Reason string
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
