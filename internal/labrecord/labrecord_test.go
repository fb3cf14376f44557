package labrecord

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// A name that is no lab's (a path, say) reaches no file outside the records: a destroy of
// "../.." must not remove the state root's parent.
func TestANameThatIsNoLabsTouchesNothing(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "state")
	t.Setenv("KNETLAB_STATE_DIR", root)
	keep := filepath.Join(parent, "keep")
	if err := os.WriteFile(keep, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "provider.json"), []byte(`{"provider":"netns"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../..", "..", "a/b", "-x", "X"} {
		if r, err := Load(name); r != nil || err != nil {
			t.Errorf("Load(%q) = %+v, %v; want no record", name, r, err)
		}
		if err := Remove(name); err != nil {
			t.Errorf("Remove(%q): %v", name, err)
		}
		if err := Save(name, "netns", "", nil); exitcode.Code(err) != exitcode.Usage {
			t.Errorf("Save(%q): %v, want a usage error", name, err)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file beside the state root is gone: %v", err)
	}
}

// A record round-trips, with its copy of the lab file, and Remove forgets it.
func TestRecordRoundTrip(t *testing.T) {
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	if err := Save("my-lab", "clab", "lab.yaml", []byte("name: my-lab\n")); err != nil {
		t.Fatal(err)
	}
	r, err := Load("my-lab")
	if err != nil || r == nil || r.Provider != "clab" || !filepath.IsAbs(r.LabFile) {
		t.Fatalf("Load = %+v, %v", r, err)
	}
	if data, err := os.ReadFile(r.Definition()); err != nil || string(data) != "name: my-lab\n" {
		t.Errorf("definition = %q, %v", data, err)
	}
	if err := Remove("my-lab"); err != nil {
		t.Fatal(err)
	}
	if r, err := Load("my-lab"); r != nil || err != nil {
		t.Errorf("after Remove: %+v, %v", r, err)
	}
}
