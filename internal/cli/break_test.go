package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/ui"
)

func TestBreakUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{[]string{"break", "calico-overlay", "--list"}, exitcode.OK, "fdb-missing", ""},
		{[]string{"break", "calico-overlay"}, exitcode.Usage, "", "knetlab break calico-overlay --list"},
		{[]string{"break", "calico-overlay", "no-such-fault"}, exitcode.Usage, "", `unknown fault "no-such-fault"`},
		{[]string{"fix"}, exitcode.Usage, "", "accepts 1 arg"},
		{[]string{"break", "calico-overlay", "fdb-missing", "--random"}, exitcode.Usage, "", "chooses the fault itself"},
		{[]string{"break", "calico-overlay", "--random", "--explain"}, exitcode.Usage, "", "does not name its fault"},
		{[]string{"break", "calico-overlay", "--random", "--list"}, exitcode.Usage, "", "--list takes only the lab"},
		{[]string{"hint"}, exitcode.Usage, "", "accepts 1 arg"},
	} {
		code, out, stderr := run(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(stderr, tc.err) {
			t.Errorf("knetlab %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d, stdout with %q, stderr with %q",
				strings.Join(tc.args, " "), code, out, stderr, tc.code, tc.out, tc.err)
		}
	}
	// --list prints one fault per line, its name first.
	_, out, _ := run(t, "break", "calico-overlay", "--list")
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		names = append(names, strings.Fields(line)[0])
	}
	overlay, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ft := range netnslab.New().Faults(overlay) {
		want = append(want, ft.Name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("break --list names %v, want %v", names, want)
	}
	// pod-network has one subnet: worker3-via-eth1, which needs two, is not offered (issue 16).
	_, out, _ = run(t, "break", "pod-network", "--list")
	if strings.Contains(out, "worker3-via-eth1") || !strings.Contains(out, "fdb-missing") {
		t.Errorf("break pod-network --list:\n%s\nwant the faults without worker3-via-eth1", out)
	}
	// calico-bgp has no VXLAN and a route reflector: its BGP faults, none of vxlan.calico's.
	_, out, _ = run(t, "break", "calico-bgp", "--list")
	if strings.Contains(out, "fdb-missing") || strings.Contains(out, "vxlan-mtu") || !strings.Contains(out, "rr-down") ||
		!strings.Contains(out, "peer-wrong-as") || !strings.Contains(out, "block-not-exported") {
		t.Errorf("break calico-bgp --list:\n%s\nwant the BGP faults and no VXLAN fault", out)
	}
}

// hint reveals one step a call: the check, then the node, then the table and entry, then that
// fix undoes it; never more than the steps asked for.
func TestHintLines(t *testing.T) {
	ft := provider.AppliedFault{Name: "fdb-missing", Node: "k01-worker", Check: "vxlan.fdb",
		Entry: "66:d2:0c:f0:ef:e5 dev vxlan.calico dst 10.10.20.20", Table: "the FDB of vxlan.calico (bridge fdb show dev vxlan.calico)"}
	for step, want := range map[int][]string{
		1: {"fails check vxlan.fdb"},
		2: {"fails check vxlan.fdb", "look at node k01-worker"},
		3: {"fails check vxlan.fdb", "look at node k01-worker", "bridge fdb show dev vxlan.calico); the entry: 66:d2:0c:f0:ef:e5"},
		4: {"fails check vxlan.fdb", "look at node k01-worker", "bridge fdb show", "it was fdb-missing on k01-worker", "knetlab fix calico-overlay"},
	} {
		lines := hintLines("calico-overlay", provider.Hint{Fault: ft, Step: step})
		out := strings.Join(lines, "\n")
		if len(lines) != len(want) && !(step == 4 && len(lines) == 4) {
			t.Errorf("step %d: %d lines, want %d:\n%s", step, len(lines), len(want), out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("step %d lacks %q:\n%s", step, w, out)
			}
		}
		if step < 3 && strings.Contains(out, "66:d2") || step < 2 && strings.Contains(out, "k01-worker") || step < 4 && strings.Contains(out, "fdb-missing") {
			t.Errorf("step %d reveals more than its steps:\n%s", step, out)
		}
	}
}

// break --list fits the terminal: each description wraps under its own start, never past the
// width, and every fault's name starts a line.
func TestBreakListFitsTheTerminal(t *testing.T) {
	var out, errb bytes.Buffer
	s := &ui.Streams{In: strings.NewReader(""), Out: &out, Err: &errb, Width: 80}
	if code := Main([]string{"break", "calico-overlay", "--list"}, s, testProviders()); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	names := 0
	for _, l := range lines {
		if len([]rune(l)) > 80 {
			t.Errorf("line of %d columns: %q", len([]rune(l)), l)
		}
		if !strings.HasPrefix(l, " ") {
			names++
		}
	}
	if names != 5 || len(lines) <= names {
		t.Errorf("%d fault lines in %d lines, want 5 faults with wrapped descriptions:\n%s", names, len(lines), out.String())
	}
}
