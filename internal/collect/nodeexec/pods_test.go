package nodeexec

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
)

// sandboxNode answers the sandbox commands of k01-worker from the recorded files.
func sandboxNode(t *testing.T) Execer {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "k01-worker", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return ExecFunc(func(_ context.Context, node string, argv []string) ([]byte, error) {
		switch cmd := strings.Join(argv, " "); cmd {
		case strings.Join(NetnsListCmd, " "):
			return read("ip-netns-list.json"), nil
		case "ip -n cni-e6rec-5b1f0d2c -j -d addr show":
			return read("pod-ip-addr.json"), nil
		case "ip -n cni-e6rec-5b1f0d2c -j route show":
			return read("pod-ip-route.json"), nil
		case "ip -n cni-e6rec-hostnet -j -d addr show":
			return []byte(`[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback","address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]}]`), nil
		default:
			return nil, fmt.Errorf("unexpected command %q on %s", cmd, node)
		}
	})
}

func TestPodWiringsFromSandboxes(t *testing.T) {
	c := New(sandboxNode(t))
	boxes, err := c.Sandboxes(context.Background(), "k01-worker")
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != 1 || boxes[0].Netns != "cni-e6rec-5b1f0d2c" {
		t.Fatalf("sandboxes = %+v, want only the pod's (the host-network one has no eth0)", boxes)
	}
	node := &observed.Node{Name: "k01-worker", Routes: []observed.Route{
		{Type: "unicast", Dst: netip.MustParsePrefix("192.168.162.130/32"), Dev: "cali1b2c3d4e5f6", Scope: "link"},
		{Type: "unicast", Dst: netip.MustParsePrefix("192.168.33.0/26"), Gateway: netip.MustParseAddr("10.10.10.10"), Dev: "eth1"},
	}}
	pods := []facts.Pod{
		{Namespace: "default", Name: "net-w1", Node: "k01-worker", IP: netip.MustParseAddr("192.168.162.130")},
		{Namespace: "default", Name: "net-w2", Node: "k01-worker2", IP: netip.MustParseAddr("192.168.46.65")},
		{Namespace: "default", Name: "gone", Node: "k01-worker", IP: netip.MustParseAddr("192.168.162.131")},
	}
	w := PodWirings(node, pods, boxes)
	if len(w) != 1 {
		t.Fatalf("wirings = %+v, want net-w1 only (net-w2 is elsewhere, gone has no sandbox)", w)
	}
	got := w[0]
	if got.Namespace != "default" || got.Name != "net-w1" || got.HostIface != "cali1b2c3d4e5f6" {
		t.Errorf("wiring = %+v", got)
	}
	if got.Eth0.MTU != 1450 || len(got.Eth0.Addrs) != 1 || got.Eth0.Addrs[0] != netip.MustParsePrefix("192.168.162.130/32") {
		t.Errorf("eth0 = %+v", got.Eth0)
	}
	var routes []string
	for _, r := range got.Routes {
		routes = append(routes, fmt.Sprintf("%s via %v dev %s scope %s", r.Dst, r.Gateway, r.Dev, r.Scope))
	}
	want := "0.0.0.0/0 via 169.254.1.1 dev eth0 scope |169.254.1.1/32 via invalid IP dev eth0 scope link"
	if strings.Join(routes, "|") != want {
		t.Errorf("pod routes = %q, want %q", strings.Join(routes, "|"), want)
	}
}

// TestPingCmd: the probe's ping, run in a pod: the address is the only thing that goes into
// the script, and a lossy ping still hands over its summary.
func TestPingCmd(t *testing.T) {
	got := strings.Join(PingCmd(netip.MustParseAddr("192.168.33.1"), 3), " ")
	if want := "sh -c ping -n -q -c 3 -i 0.2 -W 1 192.168.33.1 2>&1; true"; got != want {
		t.Errorf("PingCmd = %q, want %q", got, want)
	}
}
