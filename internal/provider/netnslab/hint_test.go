package netnslab

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

var _ provider.Exercises = (*Provider)(nil)

// hint reveals one step a call, kept with the fault in the lab's record; an unnamed fault is
// not named by status until every step is out; ForgetFaults (fix) clears the hints with the
// faults. Only the journal is touched: no namespace.
func TestNextHintStepByStep(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("hint refuses to run without root, like break and fix")
	}
	ctx := context.Background()
	root := t.TempDir()
	store, err := journal.Open(ctx, root, "l")
	if err != nil {
		t.Fatal(err)
	}
	store.Lab.Phase = journal.PhaseDeployed
	store.Lab.Faults = []journal.Fault{{Name: "fdb-missing", Node: "k01-worker", Entry: "66:d2:0c:f0:ef:e5 dev vxlan.calico dst 10.10.20.20", Unnamed: true}}
	if err := store.Save(); err != nil {
		t.Fatal(err)
	}
	store.Close()
	p := New(WithStateRoot(root))
	l := &lab.Lab{Name: "l"}

	if ls := labStatusOf(t, root); !slices.ContainsFunc(ls.Faults, func(f string) bool { return strings.Contains(f, "unnamed fault") }) || strings.Contains(strings.Join(ls.Faults, " "), "fdb-missing") {
		t.Errorf("status names an unnamed fault: %q", ls.Faults)
	}
	for want := 1; want <= provider.HintSteps+2; want++ {
		h, ok, err := p.NextHint(ctx, l)
		if err != nil || !ok {
			t.Fatalf("hint %d: %v, %v", want, ok, err)
		}
		if w := min(want, provider.HintSteps+1); h.Step != w {
			t.Errorf("call %d: step %d, want %d", want, h.Step, w)
		}
		if h.Fault.Check != "vxlan.fdb" || h.Fault.Node != "k01-worker" || !strings.Contains(h.Fault.Table, "bridge fdb show") {
			t.Errorf("hint %d: %+v", want, h.Fault)
		}
	}
	if ls := labStatusOf(t, root); !slices.Contains(ls.Faults, "fdb-missing on k01-worker") {
		t.Errorf("every hint out: status should name the fault: %q", ls.Faults)
	}
	if err := p.ForgetFaults(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := p.NextHint(ctx, l); ok || err != nil {
		t.Errorf("after fix: a hint (%v, %v), want none", ok, err)
	}
}

func labStatusOf(t *testing.T, root string) provider.LabStatus {
	t.Helper()
	rec, err := journal.Read(root, "l")
	if err != nil || rec == nil {
		t.Fatalf("read the record: %v", err)
	}
	return labStatus(rec)
}
