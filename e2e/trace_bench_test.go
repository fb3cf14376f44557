package e2e

import (
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/testenv"
)

// BenchmarkTraceLive is knetlab trace as a person runs it on a deployed netns calico-overlay
// (the command in-process: the lab's record, its datastore, each node's tables and kernel
// route lookups): one pair across the subnets, and --all (12 pairs).
func BenchmarkTraceLive(b *testing.B) {
	benchTrace(b, "calico-overlay", "net-w1", "net-w3")
}

// BenchmarkTraceLiveBGP is the same on a deployed netns calico-bgp: one pair across nodes by a
// learned route, and --all (6 pairs).
func BenchmarkTraceLiveBGP(b *testing.B) {
	benchTrace(b, "calico-bgp", "net-w1", "net-w2")
}

// benchTrace deploys a catalogue lab under a name of its own and times a trace of one pair
// and --all on it.
func benchTrace(b *testing.B, catalogue, from, to string) {
	testenv.RequireLab(b, "ip")
	b.Setenv("KNETLAB_STATE_DIR", b.TempDir())
	file, name := renamedLab(b, catalogue)
	b.Cleanup(func() { run(b, "destroy", "--lab-file", file) })
	if code, _, stderr := run(b, "deploy", "--lab-file", file); code != exitcode.OK {
		b.Fatalf("deploy: exit %d\n%s", code, stderr)
	}
	for _, bc := range []struct {
		name string
		args []string
	}{
		{"pair", []string{"trace", "--lab-file", file, name, from, to}},
		{"all", []string{"trace", "--all", "--lab-file", file, name}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if code, _, stderr := run(b, bc.args...); code != exitcode.OK {
					b.Fatalf("exit %d\n%s", code, stderr)
				}
			}
		})
	}
}
