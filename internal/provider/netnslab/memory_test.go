package netnslab

import (
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/lab/labgen"
)

// A lab this host cannot hold is refused at deploy with the estimate, what the host has and what
// to do: exit 3, since it depends on this host, not on the lab file.
func TestMemoryPreflight(t *testing.T) {
	l, err := labgen.Generate("big", 100, 4)
	if err != nil {
		t.Fatal(err)
	}
	need := estimateMemory(l)
	if need < 100*nodeMemory {
		t.Fatalf("estimate %d for 100 nodes is below 100 × the per-node cost", need)
	}
	fits := func() (uint64, error) { return need * 2, nil }
	if err := checkMemory(l, fits); err != nil {
		t.Errorf("with twice the estimate available: %v", err)
	}
	tight := func() (uint64, error) { return need, nil } // no headroom left
	err = checkMemory(l, tight)
	if exitcode.Code(err) != exitcode.Environment {
		t.Fatalf("with just the estimate available: %v (exit %d), want exit 3", err, exitcode.Code(err))
	}
	for _, want := range []string{"lab big needs about", "100 nodes", "available", "fix: free memory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// The estimate grows with the nodes, and is in the dry-run plan.
func TestMemoryEstimateLine(t *testing.T) {
	l, err := labgen.Generate("big", 100, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := memoryEstimateLine(l); !strings.HasPrefix(got, "estimated memory: 1.4 GiB (100 nodes × 14 MiB per node") {
		t.Errorf("estimate = %q", got)
	}
}

// A BGP lab's agents run a BIRD each, and its reflector is a process of its own: both count.
func TestMemoryEstimateBGP(t *testing.T) {
	l, err := lab.Load("calico-bgp")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := estimateMemory(l), uint64(labMemory+3*(nodeMemory+bgpSpeakerMemory)+reflectorMemory); got != want {
		t.Errorf("calico-bgp estimate %d, want %d", got, want)
	}
	if got := memoryEstimateLine(l); !strings.Contains(got, "3 nodes × 15 MiB per node, agent with its BIRD") || !strings.Contains(got, "1 route reflector × 22 MiB") {
		t.Errorf("estimate = %q", got)
	}
}
