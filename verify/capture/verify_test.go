package capture_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/report"
)

// These tests run the verify engine on captures, end to end from files to findings: the
// acceptance criteria of offline verify (issue 3) that depend on reading captures right.

// copyCapture copies testdata/lesson06 to a temporary directory and applies edits
// (file → func(old content) new content; a nil func removes the file).
func copyCapture(t *testing.T, edits map[string]func(string) string) string {
	t.Helper()
	src := filepath.Join("testdata", "lesson06")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		content := string(data)
		if edit, ok := edits[filepath.ToSlash(rel)]; ok {
			if edit == nil {
				return nil
			}
			content = edit(content)
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, []byte(content), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func run(t *testing.T, dir string, checks ...string) *report.Report {
	t.Helper()
	src, err := capture.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(context.Background(), src, verify.Options{Checks: checks})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func nodeResult(t *testing.T, rep *report.Report, check, node string) *report.Node {
	t.Helper()
	c, ok := rep.Check(check)
	if !ok {
		t.Fatalf("no %s in the report", check)
	}
	n, ok := c.Node(node)
	if !ok {
		t.Fatalf("no %s result for %s", check, node)
	}
	return n
}

func TestCaptureAsCapturedPasses(t *testing.T) {
	rep := run(t, copyCapture(t, nil))
	for _, c := range rep.Checks {
		if c.Status == report.Failed {
			t.Errorf("%s failed on the unmodified lesson 06 capture: %+v", c.ID, c.Nodes)
		}
	}
	for _, id := range []string{checkid.RoutesBlocks, checkid.RoutesPods, checkid.VXLANDevice, checkid.VXLANNeigh, checkid.VXLANFDB, checkid.PodsWiring} {
		if got := nodeResult(t, rep, id, "k01-worker").Status; got != report.Passed {
			t.Errorf("%s on k01-worker: %s, want passed", id, got)
		}
	}
}

func TestWrongGatewayFailsThatRoute(t *testing.T) {
	dir := copyCapture(t, map[string]func(string) string{
		"nodes/k01-worker/ip-route.txt": func(s string) string {
			return strings.Replace(s, "192.168.150.192/26 via 10.10.10.12", "192.168.150.192/26 via 10.10.10.13", 1)
		},
	})
	rep := run(t, dir, checkid.RoutesBlocks)
	n := nodeResult(t, rep, checkid.RoutesBlocks, "k01-worker")
	if n.Status != report.Failed || len(n.Findings) != 1 {
		t.Fatalf("k01-worker: %s with %d findings, want exactly one failed route: %+v", n.Status, len(n.Findings), n.Findings)
	}
	f := n.Findings[0]
	if !strings.Contains(f.Entry, "192.168.150.192/26") || !strings.Contains(f.Expected, "10.10.10.12") || !strings.Contains(f.Found, "10.10.10.13") || f.Reason == "" {
		t.Errorf("finding %+v: want the route, expected 10.10.10.12, found 10.10.10.13 and a reason", f)
	}
	if other := nodeResult(t, rep, checkid.RoutesBlocks, "k01-worker3"); other.Status != report.Passed {
		t.Errorf("k01-worker3 is %s, want passed: only k01-worker's route is wrong", other.Status)
	}
}

func TestMissingFDBEntriesNamed(t *testing.T) {
	dir := copyCapture(t, map[string]func(string) string{
		"nodes/k01-worker/bridge-fdb.txt": func(s string) string {
			var keep []string
			for _, line := range strings.Split(s, "\n") {
				if !strings.Contains(line, "66:d2:0c:f0:ef:e5") && !strings.Contains(line, "66:15:9d:fa:c6:aa") {
					keep = append(keep, line)
				}
			}
			return strings.Join(keep, "\n")
		},
	})
	rep := run(t, dir, checkid.VXLANFDB)
	n := nodeResult(t, rep, checkid.VXLANFDB, "k01-worker")
	var missing []string
	for _, f := range n.Findings {
		if f.Kind == report.Missing {
			missing = append(missing, f.Entry)
		}
	}
	joined := strings.Join(missing, " ")
	if n.Status != report.Failed || len(missing) != 2 || !strings.Contains(joined, "66:d2:0c:f0:ef:e5") || !strings.Contains(joined, "66:15:9d:fa:c6:aa") {
		t.Errorf("k01-worker: %s, missing %v; want failed naming 66:d2:0c:f0:ef:e5 and 66:15:9d:fa:c6:aa", n.Status, missing)
	}
	if w3 := nodeResult(t, rep, checkid.VXLANFDB, "k01-worker3"); w3.Status != report.Skipped || w3.Reason == "" {
		t.Errorf("k01-worker3 has no bridge-fdb.txt: %s (%q), want skipped with the reason", w3.Status, w3.Reason)
	}
}

// TestOtherCalicoVersionsPass adds what other Calico versions print: a /32 to a remote tunnel
// address, and mtu/metric attributes.
func TestOtherCalicoVersionsPass(t *testing.T) {
	dir := copyCapture(t, map[string]func(string) string{
		"nodes/k01-worker3/ip-route.txt": func(s string) string {
			s = strings.ReplaceAll(s, "dev vxlan.calico onlink", "dev vxlan.calico onlink mtu 1450")
			return s + "192.168.93.64 dev vxlan.calico scope link\r\n192.168.19.128 dev vxlan.calico scope link metric 5\r\n"
		},
	})
	rep := run(t, dir, checkid.RoutesBlocks)
	if n := nodeResult(t, rep, checkid.RoutesBlocks, "k01-worker3"); n.Status != report.Passed {
		t.Errorf("k01-worker3: %s %+v, want passed", n.Status, n.Findings)
	}
}

// TestSwitchCaptureWithLab verifies a capture against the lab definition, switch included. The
// EOS fixtures have Ethernet4 (k01-worker3's port) not connected, on purpose.
func TestSwitchCaptureWithLab(t *testing.T) {
	dir := copyCapture(t, nil)
	eosDir := filepath.Join("..", "parse", "eosjson", "testdata", "ceos01")
	for _, f := range capture.SwitchFiles {
		data, err := os.ReadFile(filepath.Join(eosDir, f.File))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "switch", "ceos01"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "switch", "ceos01", f.File), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(context.Background(), src, verify.Options{Lab: l.VerifySpec(), Checks: []string{checkid.TopologyNodes, checkid.SwitchPorts}})
	if err != nil {
		t.Fatal(err)
	}
	if n := nodeResult(t, rep, checkid.TopologyNodes, "ceos01"); n.Status != report.Passed {
		t.Errorf("topology.nodes on ceos01: %s %+v, want passed (its show commands were captured)", n.Status, n.Findings)
	}
	c, _ := rep.Check(checkid.SwitchPorts)
	if c.Status != report.Failed {
		t.Fatalf("switch.ports %s, want failed on the unplugged Ethernet4: %+v", c.Status, c.Nodes)
	}
	var entries []string
	for _, n := range c.Nodes {
		for _, f := range n.Findings {
			entries = append(entries, f.Entry)
		}
	}
	if !strings.Contains(strings.Join(entries, " "), "eth4") {
		t.Errorf("switch.ports findings %v do not name eth4", entries)
	}
}

func TestBrokenPodWiringFails(t *testing.T) {
	dir := copyCapture(t, map[string]func(string) string{
		"nodes/k01-worker/pods/default/web-0/ip-route.txt": func(s string) string {
			return strings.Replace(s, "default via 169.254.1.1 dev eth0", "default via 192.168.93.1 dev eth0", 1)
		},
		"nodes/k01-worker/sysctl.txt": func(s string) string {
			return strings.Replace(s, "net.ipv4.conf.cali0d7763386da.proxy_arp = 1", "net.ipv4.conf.cali0d7763386da.proxy_arp = 0", 1)
		},
	})
	rep := run(t, dir, checkid.PodsWiring)
	n := nodeResult(t, rep, checkid.PodsWiring, "k01-worker")
	var entries []string
	for _, f := range n.Findings {
		entries = append(entries, string(f.Kind)+" "+f.Entry)
	}
	joined := strings.Join(entries, "; ")
	if n.Status != report.Failed || len(n.Findings) != 2 || !strings.Contains(joined, "default/web-0") || !strings.Contains(joined, "cali0d7763386da.proxy_arp") {
		t.Errorf("k01-worker: %s, findings %v; want web-0's default route and its proxy_arp", n.Status, entries)
	}
}

// nat.outgoing is judged from a pasted nat.txt: Calico's iptables rule with its ipsets passes,
// and the same paste with the pool missing from cali40masq-ipam-pools names the masquerade.
func TestNATOutgoingFromCapture(t *testing.T) {
	calico, err := os.ReadFile(filepath.Join("..", "parse", "testdata", "nat", "calico-iptables-ipset-save.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		nat     string
		want    report.Status
		missing string
	}{
		{"calico iptables and ipset save", string(calico), report.Passed, ""},
		{"pool not in the masq ipset", strings.Replace(string(calico), "add cali40masq-ipam-pools 192.168.0.0/16\n", "", 1), report.Failed, "masquerade 192.168.0.0/16"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyCapture(t, nil)
			if err := os.WriteFile(filepath.Join(dir, "nodes", "k01-worker", capture.NATFile), []byte(tt.nat), 0o644); err != nil {
				t.Fatal(err)
			}
			rep := run(t, dir, checkid.NATOutgoing)
			n := nodeResult(t, rep, checkid.NATOutgoing, "k01-worker")
			if n.Status != tt.want {
				t.Fatalf("nat.outgoing on k01-worker: %s %+v, want %s", n.Status, n.Findings, tt.want)
			}
			if tt.missing != "" && (len(n.Findings) != 1 || n.Findings[0].Entry != tt.missing || n.Findings[0].Kind != report.Missing) {
				t.Errorf("findings %+v, want one missing %q", n.Findings, tt.missing)
			}
			if w3 := nodeResult(t, rep, checkid.NATOutgoing, "k01-worker3"); w3.Status != report.Skipped {
				t.Errorf("nat.outgoing on k01-worker3 (no nat.txt): %s, want skipped", w3.Status)
			}
		})
	}
}
