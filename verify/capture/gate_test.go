package capture_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/report"
)

// gateFixture is a real output recorded by verify/parse/testdata/capture-gate.sh.
func gateFixture(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "parse", "testdata", "gate", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// A node file that is not the iproute2 command it claims to be is refused with exit 2, naming
// the file, the line and the command to run, before any check runs: never misread (issue 10:
// `route -n` came out as /32 routes and binary garbage was taken, both with exit 1).
func TestCaptureRefusesForeignFormats(t *testing.T) {
	replace := func(content string) func(string) string { return func(string) string { return content } }
	garbage := "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00\x01\x00\x00\x00\x10\x6b\x00\x00\n"
	tests := []struct {
		name string
		file string
		with string
		want []string
	}{
		{"route -n", "nodes/k01-worker/ip-route.txt", gateFixture(t, "route-n.txt"), []string{"nodes/k01-worker/ip-route.txt:1:", "route -n", "`ip route`"}},
		{"netstat -rn", "nodes/k01-worker3/ip-route.txt", gateFixture(t, "netstat-rn.txt"), []string{"nodes/k01-worker3/ip-route.txt:1:", "netstat -rn", "`ip route`"}},
		{"binary garbage", "nodes/k01-worker/ip-route.txt", garbage, []string{"nodes/k01-worker/ip-route.txt:1:", "binary", "`ip route`"}},
		{"arp -n", "nodes/k01-worker/ip-neigh.txt", gateFixture(t, "arp-n.txt"), []string{"nodes/k01-worker/ip-neigh.txt:1:", "arp -n", "`ip neigh`"}},
		{"brctl showmacs", "nodes/k01-worker/bridge-fdb.txt", gateFixture(t, "brctl-showmacs.txt"), []string{"nodes/k01-worker/bridge-fdb.txt:1:", "brctl showmacs", "`bridge fdb show`"}},
		{"ip route as ip-link.txt", "nodes/k01-worker/ip-link.txt", gateFixture(t, "ip-route-multipath.txt"), []string{"nodes/k01-worker/ip-link.txt:1:", "`ip -d link show`"}},
		{"ip link as ip-addr.txt", "nodes/k01-worker/ip-addr.txt", gateFixture(t, "ip-link.txt"), []string{"nodes/k01-worker/ip-addr.txt:1:", "`ip addr`"}},
		{"route -n in a pod", "nodes/k01-worker/pods/default/web-0/ip-route.txt", gateFixture(t, "route-n.txt"), []string{"pods/default/web-0/ip-route.txt:1:", "route -n", "`ip route`"}},
		{"ip -br link in a pod's ip-addr.txt", "nodes/k01-worker/pods/default/web-0/ip-addr.txt", gateFixture(t, "ip-br-link.txt"), []string{"pods/default/web-0/ip-addr.txt:1:", "ip -br link", "`ip addr`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyCapture(t, map[string]func(string) string{tt.file: replace(tt.with)})
			_, err := capture.Open(context.Background(), dir)
			if err == nil {
				t.Fatal("the capture was accepted")
			}
			if code := exitcode.Code(err); code != exitcode.Usage {
				t.Errorf("exit code %d, want %d: %v", code, exitcode.Usage, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// The one-line form of a multipath route, as `ip -o route` prints it, fails routes.blocks
// naming the wrong next hop (it once collapsed to its last next hop and passed).
func TestCaptureMultipathFails(t *testing.T) {
	forms := map[string]string{
		"one-line":       "192.168.150.192/26 proto 80 \\\tnexthop via 10.10.10.12 dev eth1 weight 1 onlink \\\tnexthop via 10.10.10.10 dev eth1 weight 1 onlink \n",
		"multi-line":     "192.168.150.192/26 proto 80 \n\tnexthop via 10.10.10.12 dev eth1 weight 1 onlink \n\tnexthop via 10.10.10.10 dev eth1 weight 1 onlink \n",
		"wrong one last": "192.168.150.192/26 proto 80 \\\tnexthop via 10.10.10.10 dev eth1 weight 1 onlink \\\tnexthop via 10.10.10.12 dev eth1 weight 1 onlink \n",
	}
	for name, line := range forms {
		t.Run(name, func(t *testing.T) {
			dir := copyCapture(t, map[string]func(string) string{"nodes/k01-worker/ip-route.txt": func(s string) string {
				return strings.Replace(s, "192.168.150.192/26 via 10.10.10.12 dev eth1 proto 80 onlink \n", line, 1)
			}})
			n := nodeResult(t, run(t, dir, checkid.RoutesBlocks), checkid.RoutesBlocks, "k01-worker")
			if n.Status != report.Failed || len(n.Findings) != 1 {
				t.Fatalf("status %s with %d findings, want failed with one: %+v", n.Status, len(n.Findings), n.Findings)
			}
			f := n.Findings[0]
			if f.Entry != "192.168.150.192/26" || !strings.Contains(f.Found, "via 10.10.10.10 dev eth1") || !strings.Contains(f.Reason, "ECMP") {
				t.Errorf("finding %+v does not name the wrong next hop via 10.10.10.10", f)
			}
		})
	}
}
