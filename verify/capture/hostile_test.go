package capture

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/safeio/safeiotest"
)

// TestOpenInChild opens the capture a parent test names, in a child process, and reports the
// exit code and message on stdout: "code=N" then the error.
func TestOpenInChild(t *testing.T) {
	dir, ok := safeiotest.Child()
	if !ok {
		t.Skip("run in a child process by TestOpenRefusesHostileFiles")
	}
	_, err := Open(context.Background(), dir)
	fmt.Printf("code=%d\n%v\n", exitcode.Code(err), err)
	safeiotest.Exit(0)
}

// openInChild opens dir in a child process under a memory cap and the hang guard, and returns
// the exit code Open's error maps to, the message, and how the child ended.
func openInChild(t *testing.T, dir string) (code int, msg string, r safeiotest.Result) {
	t.Helper()
	r = safeiotest.Run(t, "TestOpenInChild", dir)
	head, msg, ok := strings.Cut(r.Stdout, "\n")
	code, err := strconv.Atoi(strings.TrimPrefix(head, "code="))
	if !ok || err != nil {
		t.Fatalf("the child died before Open returned (exit %d, signal %v): %s", r.Code, r.Signal, safeiotest.FirstLines(r.Stderr, 5))
	}
	return code, strings.TrimSpace(msg), r
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// sparse makes a file of size bytes that costs no disk: its size is what a refusal must read.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesHostileFiles: a capture is a directory someone else made. A FIFO, a device, a
// link out of the directory or a file larger than any table is refused with exit 2 naming the
// file and the reason, at once and without reading it; each case runs in a child process so that
// code which hangs or reads without end fails the test instead of hanging it or exhausting memory.
func TestOpenRefusesHostileFiles(t *testing.T) {
	const route = "default via 10.10.10.1 dev eth1\n"
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"a FIFO as a node's route table", func(t *testing.T, dir string) {
			mkfifo(t, filepath.Join(dir, "nodes/k01-worker/ip-route.txt"))
		}, []string{"nodes/k01-worker/ip-route.txt", "named pipe"}},
		{"a FIFO as a pod's route table", func(t *testing.T, dir string) {
			mkfifo(t, filepath.Join(dir, "nodes/k01-worker/pods/default/web-0/ip-route.txt"))
		}, []string{"pods/default/web-0/ip-route.txt", "named pipe"}},
		{"cluster.yaml a symlink to /dev/zero", func(t *testing.T, dir string) {
			symlink(t, "/dev/zero", filepath.Join(dir, "cluster.yaml"))
		}, []string{"cluster.yaml", "/dev/zero"}},
		{"a switch file a symlink to /dev/zero", func(t *testing.T, dir string) {
			symlink(t, "/dev/zero", filepath.Join(dir, "switch/ceos01/show-interfaces-status.json"))
		}, []string{"show-interfaces-status.json", "/dev/zero"}},
		{"a symlink to a file outside the capture", func(t *testing.T, dir string) {
			outside := filepath.Join(t.TempDir(), "routes.txt")
			writeFile(t, filepath.Dir(outside), "routes.txt", route)
			symlink(t, outside, filepath.Join(dir, "nodes/k01-worker/ip-route.txt"))
		}, []string{"nodes/k01-worker/ip-route.txt", "outside the capture directory"}},
		{"a relative symlink climbing out of the capture", func(t *testing.T, dir string) {
			outside := t.TempDir()
			writeFile(t, outside, "routes.txt", route)
			rel, err := filepath.Rel(filepath.Join(dir, "nodes/k01-worker"), filepath.Join(outside, "routes.txt"))
			if err != nil {
				t.Fatal(err)
			}
			symlink(t, rel, filepath.Join(dir, "nodes/k01-worker/ip-route.txt"))
		}, []string{"nodes/k01-worker/ip-route.txt", "outside the capture directory"}},
		{"nodes/ a symlink to a directory outside the capture", func(t *testing.T, dir string) {
			outside := t.TempDir()
			writeFile(t, outside, "k01-worker/ip-route.txt", route)
			if err := os.RemoveAll(filepath.Join(dir, "nodes")); err != nil {
				t.Fatal(err)
			}
			symlink(t, outside, filepath.Join(dir, "nodes"))
		}, []string{"nodes", "outside the capture directory"}},
		{"a socket as a node file", func(t *testing.T, dir string) {
			// A socket's address is short (108 bytes): bind it in a short directory, then
			// move it into the capture.
			short, err := os.MkdirTemp("", "sock")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(short) })
			l, err := net.Listen("unix", filepath.Join(short, "s"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			if err := os.Rename(filepath.Join(short, "s"), filepath.Join(dir, "nodes/k01-worker/ip-addr.txt")); err != nil {
				t.Fatal(err)
			}
		}, []string{"nodes/k01-worker/ip-addr.txt", "is a socket"}},
		{"a 100 MB route table", func(t *testing.T, dir string) {
			sparse(t, filepath.Join(dir, "nodes/k01-worker/ip-route.txt"), 100<<20)
		}, []string{"nodes/k01-worker/ip-route.txt", "is 100 MiB", "64 MiB"}},
	}
	if _, err := os.Stat("/etc/shadow"); err == nil {
		tests = append(tests, struct {
			name  string
			setup func(t *testing.T, dir string)
			want  []string
		}{"cluster.yaml a symlink to /etc/shadow", func(t *testing.T, dir string) {
			symlink(t, "/etc/shadow", filepath.Join(dir, "cluster.yaml"))
		}, []string{"cluster.yaml", "/etc/shadow", "outside the capture directory"}})
	}
	// A refusal reads nothing of the file: the child's memory stays where it is on a normal capture.
	_, _, baseline := openInChild(t, filepath.Join("testdata", "lesson06"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "nodes/k01-worker/ip-neigh.txt", "")
			tt.setup(t, dir)
			code, msg, r := openInChild(t, dir)
			if code != exitcode.Usage {
				t.Errorf("exit %d, want 2 (usage): %s", code, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message does not contain %q:\n%s", w, msg)
				}
			}
			safeiotest.CheckRefusalMemory(t, r, baseline.PeakRSS)
		})
	}
}

// TestOpenFollowsLinksInsideTheCapture: a capture may share a file between nodes with a
// relative link that stays inside it; an absolute link is refused with the fix, even when it
// points inside, because where it points depends on where the capture is unpacked.
func TestOpenFollowsLinksInsideTheCapture(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "shared/ip-neigh.txt", "10.10.10.1 dev eth1 lladdr 00:1c:73:00:00:01 REACHABLE\n")
	symlink(t, "../../shared/ip-neigh.txt", filepath.Join(dir, "nodes/k01-worker/ip-neigh.txt"))
	symlink(t, "../shared", filepath.Join(dir, "nodes/k01-worker2"))
	writeFile(t, dir, "nodes/k01-worker3/ip-neigh.txt", "")
	c := open(t, dir)
	n, err := c.NodeState(context.Background(), "k01-worker")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Neighs) != 1 {
		t.Errorf("neighbours through a link inside the capture: %+v", n.Neighs)
	}

	abs := t.TempDir()
	writeFile(t, abs, "shared/ip-neigh.txt", "")
	symlink(t, filepath.Join(abs, "shared/ip-neigh.txt"), filepath.Join(abs, "nodes/k01-worker/ip-neigh.txt"))
	_, err = Open(context.Background(), abs)
	if exitcode.Code(err) != exitcode.Usage || err == nil || !strings.Contains(err.Error(), "ln -sr") {
		t.Errorf("an absolute link inside the capture: error %v, want exit 2 with the fix (ln -sr)", err)
	}
}

// BenchmarkOpenLesson06 reads a normal capture (4 nodes' tables, pods, cluster.yaml) end to end:
// every file through internal/safeio, then parsed. Run alone to read its peak-RSS metric:
// go test -run '^$' -bench '^BenchmarkOpenLesson06$' -benchmem -count=3 ./verify/capture
func BenchmarkOpenLesson06(b *testing.B) {
	dir := filepath.Join("testdata", "lesson06")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(safeiotest.PeakRSS())/(1<<20), "peak-RSS-MiB")
}
