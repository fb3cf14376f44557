package lab_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/lab/labgen"
)

// A lab has at most lab.MaxNodes nodes (docs/benchmarks.md, "Memory per node and the node
// limit"): issue 12's 2000-node lab passed validation and would have needed ~28 GB.
func TestNodeCountIsLimited(t *testing.T) {
	for _, nodes := range []int{lab.MaxNodes + 1, 2000} {
		_, err := lab.Parse("big.yaml", labgen.YAML("big", nodes, 25))
		if exitcode.Code(err) != exitcode.Usage {
			t.Fatalf("%d nodes: %v (exit %d), want bad input (exit 2)", nodes, err, exitcode.Code(err))
		}
		want := fmt.Sprintf("big.yaml:%d: nodes: %d nodes; a lab has at most %d", lineOf(labgen.YAML("big", nodes, 25), "nodes:"), nodes, lab.MaxNodes)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%d nodes: error\n%v\nwant %q", nodes, err, want)
		}
	}
	if _, err := lab.Parse("max.yaml", labgen.YAML("max", lab.MaxNodes, 25)); err != nil {
		t.Errorf("%d nodes, the limit: %v", lab.MaxNodes, err)
	}
}

func lineOf(text []byte, prefix string) int {
	for i, l := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	return 0
}
