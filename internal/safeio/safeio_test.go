package safeio

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
)

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t testing.TB, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

func TestReadFile(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	outside := t.TempDir()
	write(t, filepath.Join(root, "a.txt"), "alpha\n")
	write(t, filepath.Join(root, "sub/b.txt"), "beta\n")
	link(t, "../a.txt", filepath.Join(root, "sub/to-a.txt"))
	write(t, filepath.Join(outside, "c.txt"), "gamma\n")
	link(t, filepath.Join(outside, "c.txt"), filepath.Join(root, "abs-out.txt"))
	link(t, filepath.Join(root, "a.txt"), filepath.Join(root, "abs-in.txt"))
	link(t, "/dev/zero", filepath.Join(root, "zero"))
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "big.txt"), strings.Repeat("x", 100))

	tests := []struct {
		name, root, path string
		limit            int64
		want             string   // content, when it is read
		wantErr          []string // in the message, when it is refused
	}{
		{"a file in the root", root, "a.txt", 100, "alpha\n", nil},
		{"a relative link inside the root", root, "sub/to-a.txt", 100, "alpha\n", nil},
		{"exactly the limit", root, "big.txt", 100, strings.Repeat("x", 100), nil},
		{"one byte over the limit", root, "big.txt", 99, "", []string{"big.txt is 100 bytes, more than the 99 bytes"}},
		{"a FIFO", root, "fifo", 100, "", []string{"fifo is a named pipe (FIFO), not a regular file", "command > file"}},
		{"a link to /dev/zero", root, "zero", 100, "", []string{"zero is a symlink to /dev/zero, outside the capture directory"}},
		{"an absolute link out of the root", root, "abs-out.txt", 100, "", []string{"abs-out.txt is a symlink to " + filepath.Join(outside, "c.txt") + ", outside"}},
		{"an absolute link inside the root", root, "abs-in.txt", 100, "", []string{"abs-in.txt is an absolute symlink", "ln -sr"}},
		{"a path climbing out of the root", root, "../x", 100, "", []string{"is outside the capture directory"}},
		{"a directory", root, "sub", 100, "", []string{"sub is a directory, not a regular file"}},
		{"a named file may link anywhere", "", "abs-out.txt", 100, "gamma\n", nil},
		{"a named link to /dev/zero", "", "zero", 100, "", []string{"zero is a symlink to /dev/zero, a character device, not a regular file"}},
		{"a named FIFO", "", "fifo", 100, "", []string{"fifo is a named pipe (FIFO)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(root, tt.path)
			data, err := ReadFile(ctx, tt.root, path, tt.limit)
			if tt.wantErr == nil {
				if err != nil || string(data) != tt.want {
					t.Fatalf("ReadFile = %q, %v; want %q", data, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadFile read %q; want it refused", data)
			}
			if exitcode.Code(err) != exitcode.Usage {
				t.Errorf("exit %d, want 2: %v", exitcode.Code(err), err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}

	_, err := ReadFile(ctx, root, filepath.Join(root, "nope.txt"), 100)
	if !errors.Is(err, fs.ErrNotExist) || exitcode.Code(err) != exitcode.Usage {
		t.Errorf("absent file: %v, want a usage error wrapping fs.ErrNotExist", err)
	}
}

func TestReadDir(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	write(t, filepath.Join(root, "nodes/b/x.txt"), "")
	write(t, filepath.Join(root, "shared/x.txt"), "")
	link(t, "../shared", filepath.Join(root, "nodes/a"))
	link(t, "../missing", filepath.Join(root, "nodes/dangling"))
	entries, err := ReadDir(ctx, root, filepath.Join(root, "nodes"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name()+map[bool]string{true: "/", false: ""}[e.IsDir()])
	}
	if strings.Join(got, " ") != "a/ b/ dangling" {
		t.Errorf("entries %v, want a/ (a link inside the root, read as the directory it leads to) b/ dangling", got)
	}

	link(t, t.TempDir(), filepath.Join(root, "nodes/out"))
	if _, err := ReadDir(ctx, root, filepath.Join(root, "nodes")); err == nil || !strings.Contains(err.Error(), "nodes/out is a symlink to") {
		t.Errorf("a link out of the root among the entries: %v, want it refused by name", err)
	}
	if _, err := ReadDir(ctx, root, filepath.Join(root, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent directory: %v, want fs.ErrNotExist", err)
	}
}

// endless is a file that lies about its size: it never ends.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

// A file whose size lies (a /proc file says 0, a file still being written grows) is read no
// further than the limit allows.
func TestReadIsBoundedWhateverTheSizeSays(t *testing.T) {
	src := &endless{}
	_, err := read(context.Background(), "f", src, 0, 4<<20)
	if err == nil || !strings.Contains(err.Error(), "holds more than the 4 MiB") {
		t.Fatalf("err = %v, want the file refused at the limit", err)
	}
	if src.n > 4<<20+ChunkSize {
		t.Errorf("read %d bytes of an endless file with a 4 MiB limit", src.n)
	}
}

// cancelling reads the endless file and cancels the context after the first chunk.
type cancelling struct {
	endless
	cancel context.CancelFunc
}

func (c *cancelling) Read(p []byte) (int, error) {
	c.cancel()
	return c.endless.Read(p)
}

func TestReadStopsWhenTheContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := &cancelling{cancel: cancel}
	_, err := read(ctx, "f", src, MaxFileSize, MaxFileSize)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if src.n > ChunkSize {
		t.Errorf("read %d bytes after the context was cancelled; want at most one chunk", src.n)
	}
}
