package capture_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/capture"
)

// TestWriteExtra: a bundle's extra files (versions.txt, deploy.log) go beside the capture, one
// level only, and never over a file of the layout.
func TestWriteExtra(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{"versions.txt": []byte("containerlab: 0.68.0\n"), "deploy.log": []byte("[1/9] check the host\n")}
	if err := capture.WriteExtra(dir, files); err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, bad := range []string{"", ".", "..", "../escape.txt", "a/b.txt", `a\b.txt`, "cluster.yaml", "nodes", "switch"} {
		err := capture.WriteExtra(dir, map[string][]byte{bad: []byte("x")})
		if err == nil || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("WriteExtra(%q): err = %v, want a refusal naming it", bad, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.txt")); err == nil {
		t.Error("a file was written outside the capture")
	}

	// A capture with extra files beside it reads as without them.
	cap := t.TempDir()
	if err := os.CopyFS(cap, os.DirFS("testdata/lesson06")); err != nil {
		t.Fatal(err)
	}
	if err := capture.WriteExtra(cap, files); err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open(context.Background(), cap)
	if err != nil {
		t.Fatalf("open a capture with extra files: %v", err)
	}
	if _, err := src.NodeState(context.Background(), "k01-worker"); err != nil {
		t.Errorf("node state of a capture with extra files: %v", err)
	}
}
