package safeio

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/knetlab/knetlab/internal/safeio/safeiotest"
)

// Run each alone to read its peak-RSS metric (the process's high-water mark, which every
// benchmark of a run shares):
//
//	for b in Refuse100MB RefuseDevZeroInCapture RefuseDevZeroNamed RefuseFIFO ReadFile1MiB OSReadFile1MiB; do
//		go test -run '^$' -bench "^Benchmark$b\$" -benchmem -count=3 ./internal/safeio
//	done

func benchRefuse(b *testing.B, root, path string) {
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		if _, err := ReadFile(ctx, root, path, MaxFileSize); err == nil {
			b.Fatal("read; want refused")
		}
	}
	b.ReportMetric(float64(safeiotest.PeakRSS())/(1<<20), "peak-RSS-MiB")
}

// A 100 MB file in a capture: refused from its size, nothing read.
func BenchmarkRefuse100MB(b *testing.B) {
	root := b.TempDir()
	path := filepath.Join(root, "ip-route.txt")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(100 << 20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	benchRefuse(b, root, path)
}

// cluster.yaml linked to /dev/zero in a capture: refused as a link out of the capture.
func BenchmarkRefuseDevZeroInCapture(b *testing.B) {
	root := b.TempDir()
	link(b, "/dev/zero", filepath.Join(root, "cluster.yaml"))
	benchRefuse(b, root, filepath.Join(root, "cluster.yaml"))
}

// --lab-file linked to /dev/zero: refused as a character device.
func BenchmarkRefuseDevZeroNamed(b *testing.B) {
	path := filepath.Join(b.TempDir(), "lab.yaml")
	link(b, "/dev/zero", path)
	benchRefuse(b, "", path)
}

func BenchmarkRefuseFIFO(b *testing.B) {
	root := b.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "ip-route.txt"), 0o644); err != nil {
		b.Fatal(err)
	}
	benchRefuse(b, root, filepath.Join(root, "ip-route.txt"))
}

func oneMiB(b *testing.B) (root, path string) {
	root = b.TempDir()
	path = filepath.Join(root, "nodes", "k01-worker", "ip-route.txt")
	write(b, path, strings.Repeat("192.168.19.128/26 via 10.10.10.10 dev eth1 proto 80 onlink\n", 1<<20/59))
	return root, path
}

// A normal node file of 1 MiB (~17,000 routes) read through safeio, against os.ReadFile below.
func BenchmarkReadFile1MiB(b *testing.B) {
	root, path := oneMiB(b)
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		if _, err := ReadFile(ctx, root, path, MaxFileSize); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(safeiotest.PeakRSS())/(1<<20), "peak-RSS-MiB")
}

func BenchmarkOSReadFile1MiB(b *testing.B) {
	_, path := oneMiB(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(safeiotest.PeakRSS())/(1<<20), "peak-RSS-MiB")
}
