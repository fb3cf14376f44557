package clab

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/collect/nodeexec/dockertest"
	"github.com/knetlab/knetlab/internal/labrecord"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/labs"
)

// recordLabFile writes calico-overlay renamed to name as a lab file and records it the way
// deploy --lab-file does (labrecord), with a state root of the test's own.
func recordLabFile(t *testing.T, name string) string {
	t.Helper()
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	data, err := fs.ReadFile(labs.FS, "calico-overlay/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "\nname: calico-overlay\n", "\nname: "+name+"\n", 1))
	file := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := labrecord.Save(name, Name, file, data); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil { // the record's copy is all that is left
		t.Fatal(err)
	}
	return file
}

// TestExecByNameOfALabFileLab: a lab deployed with --lab-file is not in the catalogue; exec by
// its name finds its definition in the lab record and reaches its switch's container.
func TestExecByNameOfALabFileLab(t *testing.T) {
	recordLabFile(t, "my-overlay")
	sw := dockertest.Container{ID: "c-my-overlay-ceos01", Name: "clab-my-overlay-ceos01", Image: "ceos:4.34.0F",
		State: "running", Status: "Up 3 minutes", Labels: map[string]string{"containerlab": "my-overlay"},
		Exec: func(argv []string, _ []byte) dockertest.Result { return dockertest.Result{Stdout: "Arista cEOSLab\n"} }}
	eng := dockertest.New(t, sw)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "my-overlay"), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := `{"lab": "my-overlay", "cluster": "k01", "switch": "ceos01", "nodes": ["k01-control-plane"], "cni": "calico"}`
	if err := os.WriteFile(filepath.Join(home, "my-overlay", recordFile), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Provider{home: home, source: testSource, h: wireHost(t, eng, &fakeKind{})}
	var out strings.Builder
	if err := p.Exec(context.Background(), "my-overlay", "ceos01", []string{"Cli", "-c", "show version"}, provider.Stdio{Out: &out}); err != nil {
		t.Fatalf("exec by name in a --lab-file lab: %v", err)
	}
	if out.String() != "Arista cEOSLab\n" {
		t.Errorf("stdout = %q", out.String())
	}
}
