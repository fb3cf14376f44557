package render_test

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/render"
)

// update rewrites the checked-in rendered files: `go test ./internal/render -update`
// (what `make generate` runs).
var update = flag.Bool("update", false, "rewrite topologies/ and configs/ from the lab catalogue")

// repoRoot is where topologies/ and configs/ live, seen from this package's directory.
const repoRoot = "../.."

// renderedDirs are the directories that hold only rendered files.
var renderedDirs = []string{"topologies", "configs"}

// TestGolden is the golden test: every checked-in file under topologies/
// and configs/ is exactly what Render produces for a catalogue lab, and nothing else is there.
func TestGolden(t *testing.T) {
	labs, err := lab.All()
	if err != nil {
		t.Fatalf("load catalogue: %v", err)
	}
	want := map[string][]byte{}
	for _, l := range labs {
		files, err := render.Render(l)
		if err != nil {
			t.Fatalf("render %s: %v", l.Name, err)
		}
		for _, f := range files {
			want[f.Path] = f.Data
		}
	}

	if *update {
		removeStale(t, want)
		for p, data := range want {
			full := filepath.Join(repoRoot, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, p := range sortedKeys(want) {
		got, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%s is not checked in (%v); run: go test ./internal/render -update", p, err)
			continue
		}
		if !bytes.Equal(got, want[p]) {
			t.Errorf("%s differs from what knetlab render produces; run: go test ./internal/render -update\n%s",
				p, firstDifference(got, want[p]))
		}
	}
	for _, p := range checkedIn(t) {
		if _, ok := want[p]; !ok {
			t.Errorf("%s is not rendered from any catalogue lab; remove it or run: go test ./internal/render -update", p)
		}
	}
}

func removeStale(t *testing.T, want map[string][]byte) {
	t.Helper()
	for _, p := range checkedIn(t) {
		if _, ok := want[p]; !ok {
			if err := os.Remove(filepath.Join(repoRoot, filepath.FromSlash(p))); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkedIn lists the files under the rendered directories, as repo-relative slash paths.
func checkedIn(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dir := range renderedDirs {
		root := filepath.Join(repoRoot, dir)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && p == root {
					return nil
				}
				return err
			}
			if d.IsDir() || d.Name() == ".gitkeep" {
				return nil
			}
			rel, err := filepath.Rel(repoRoot, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			t.Fatalf("list %s: %v", dir, err)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// firstDifference shows the first line that differs, which is what a reviewer needs to see.
func firstDifference(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return "line " + strconv.Itoa(i+1) + ":\n  checked in: " + string(gl) + "\n  rendered:   " + string(wl)
		}
	}
	return "(same lines, different bytes)"
}

// TestRenderIsDeterministic renders every lab twice: a map iterated into the output would
// make the checked-in files flap.
func TestRenderIsDeterministic(t *testing.T) {
	labs, err := lab.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range labs {
		a, err := render.Render(l)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			b, err := render.Render(l)
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != len(b) {
				t.Fatalf("%s: %d files, then %d", l.Name, len(a), len(b))
			}
			for j := range a {
				if a[j].Path != b[j].Path || !bytes.Equal(a[j].Data, b[j].Data) {
					t.Fatalf("%s: %s rendered differently on a second run", l.Name, a[j].Path)
				}
			}
		}
	}
}
