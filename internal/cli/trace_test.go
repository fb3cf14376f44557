package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// The lesson 06 capture: k01-worker with every table and two pods, k01-worker3 with its routes.
const lesson06Capture = "../../verify/capture/testdata/lesson06"

func TestTraceOverACapture(t *testing.T) {
	code, out, stderr := run(t, "trace", "--from", lesson06Capture, "web-0", "k01-worker", "--output", "json")
	var r struct {
		Kind    string
		Verdict string
		Hops    []struct{ At, Step, Entry string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("exit %d, no JSON: %v\n%s%s", code, err, out, stderr)
	}
	if code != exitcode.OK || r.Verdict != "ok" || r.Kind != "local" || len(r.Hops) != 2 {
		t.Errorf("web-0 → its node: exit %d %+v", code, r)
	}

	// Across the subnets the capture has no switch: unknown, exit 1, never a pass.
	code, out, _ = run(t, "trace", "--from", lesson06Capture, "web-0", "web-2")
	if code != exitcode.CheckFailed || !strings.Contains(out, "? unknown: no node holds 10.10.10.1 and the switch was not captured") ||
		!strings.Contains(out, "   6  k01-worker     encap      10.10.10.11 → 10.10.20.20 udp/4789 vni 4096\n") {
		t.Errorf("web-0 → web-2: exit %d\n%s", code, out)
	}
}

func TestTraceBadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"trace", "--from", lesson06Capture, "web-0", "nope"}, `<to> "nope": no pod, node or IPv4 address "nope"`},
		{[]string{"trace", "--from", lesson06Capture, "nope", "web-0"}, `<from> "nope"`},
		{[]string{"trace", "--from", lesson06Capture, "192.168.99.1", "web-0"}, `<from> "192.168.99.1": no pod or node holds it`},
		{[]string{"trace", "--from", lesson06Capture, "web-0"}, "trace takes <lab> <from> <to>, or --from DIR <from> <to>"},
		{[]string{"trace", "--from", lesson06Capture, "web-0", "web-2", "-o", "yaml"}, `unknown --output "yaml"`},
		{[]string{"trace", "--all"}, "trace --all takes a lab"},
		{[]string{"trace", "--from", noCluster(t), "a", "b"}, "has no cluster.yaml"},
	} {
		code, out, stderr := run(t, tc.args...)
		if code != exitcode.Usage || !strings.Contains(stderr, tc.want) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 saying %q", tc.args, code, out, stderr, tc.want)
		}
	}
}

// noCluster is a capture with a node's routes and no cluster.yaml.
func noCluster(t *testing.T) string {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "nodes", "n1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nodes", "n1", "ip-route.txt"), []byte("default via 10.0.0.1 dev eth0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
