package netnslab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// break and fix (Heal, ForgetFaults) as non-root stop with the needs-root message before they
// touch the lab's lock, as deploy does (issue 12: they said "permission denied" on the lock file).
func TestFaultsAsNonRootStopBeforeTheLock(t *testing.T) {
	root := t.TempDir()
	l, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	// A deployed lab's record, as deploy leaves it; then its lock file is gone, so that any
	// attempt to lock shows as a new file.
	store, err := journal.Open(context.Background(), root, l.Name)
	if err != nil {
		t.Fatal(err)
	}
	store.Lab.Phase = "ready"
	if err := store.Save(); err != nil {
		t.Fatal(err)
	}
	store.Close()
	lock := filepath.Join(root, "."+l.Name+".lock")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}

	orig := geteuid
	geteuid = func() int { return 1000 }
	t.Cleanup(func() { geteuid = orig })
	p := New(WithStateRoot(root))
	ctx := context.Background()
	_, breakErr := p.Break(ctx, l, "fdb-missing")
	_, healErr := p.Heal(ctx, l)
	for what, err := range map[string]error{"break": breakErr, "fix (heal)": healErr, "fix (forget faults)": p.ForgetFaults(ctx, l)} {
		if exitcode.Code(err) != exitcode.Environment || err == nil || !strings.Contains(err.Error(), "needs root") {
			t.Errorf("%s as non-root: %v (exit %d), want exit 3 saying it needs root", what, err, exitcode.Code(err))
		}
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("a non-root break or fix touched the lab's lock %s (stat: %v)", lock, err)
	}
}
