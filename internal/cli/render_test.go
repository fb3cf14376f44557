package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/render"
)

// TestRenderWritesEveryFile: `render <lab> --out DIR` writes exactly what render.Render
// produces, under the repository layout, and names each file it wrote.
func TestRenderWritesEveryFile(t *testing.T) {
	for _, name := range []string{"calico-bgp", "calico-overlay", "pod-network"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			code, out, stderr := run(t, "render", name, "--out", dir)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			l, err := lab.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			files, err := render.Render(l)
			if err != nil {
				t.Fatal(err)
			}
			var written []string
			err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					written = append(written, p)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(written) != len(files) {
				t.Errorf("wrote %d files, want %d: %v", len(written), len(files), written)
			}
			for _, f := range files {
				p := filepath.Join(dir, filepath.FromSlash(f.Path))
				got, err := os.ReadFile(p)
				if err != nil {
					t.Errorf("%s not written: %v", f.Path, err)
					continue
				}
				if !bytes.Equal(got, f.Data) {
					t.Errorf("%s differs from render.Render", f.Path)
				}
				if !strings.Contains(out, p+"\n") {
					t.Errorf("output does not name %s:\n%s", p, out)
				}
			}
		})
	}
}
