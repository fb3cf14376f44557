package clab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
)

// The real `ip -j addr` and `ip -j route` of k01-worker (iproute2 6.1, see
// verify/parse/testdata/README.md): eth1 10.10.10.11/24 and 10.10.20.0/24 via 10.10.10.1.
const realNodeOutput = "../../../verify/parse/testdata/k01-worker"

// ipAddrJSON is `ip -j addr show` of a kind node behind the switch, in iproute2's JSON shape:
// lo, docker's eth0, and eth1 with addr (none when "").
func ipAddrJSON(eth1 string) string {
	type addrInfo struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		Prefixlen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
		Label     string `json:"label,omitempty"`
		Valid     uint32 `json:"valid_life_time"`
		Preferred uint32 `json:"preferred_life_time"`
	}
	type link struct {
		Ifindex   int        `json:"ifindex"`
		Ifname    string     `json:"ifname"`
		Flags     []string   `json:"flags"`
		MTU       int        `json:"mtu"`
		Qdisc     string     `json:"qdisc"`
		Operstate string     `json:"operstate"`
		Group     string     `json:"group"`
		LinkType  string     `json:"link_type"`
		Address   string     `json:"address"`
		Broadcast string     `json:"broadcast"`
		AddrInfo  []addrInfo `json:"addr_info"`
	}
	v4 := func(a, label string) addrInfo {
		p := netip.MustParsePrefix(a)
		return addrInfo{"inet", p.Addr().String(), p.Bits(), "global", label, 4294967295, 4294967295}
	}
	eth1Addrs := []addrInfo{{"inet6", "fe80::7017:7dff:fef3:a1c2", 64, "link", "", 4294967295, 4294967295}}
	if eth1 != "" {
		eth1Addrs = append([]addrInfo{v4(eth1, "eth1")}, eth1Addrs...)
	}
	links := []link{
		{1, "lo", []string{"LOOPBACK", "UP", "LOWER_UP"}, 65536, "noqueue", "UNKNOWN", "default", "loopback", "00:00:00:00:00:00", "00:00:00:00:00:00",
			[]addrInfo{{"inet", "127.0.0.1", 8, "host", "lo", 4294967295, 4294967295}}},
		{2, "eth0", []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"}, 1500, "noqueue", "UP", "default", "ether", "02:42:ac:12:00:03", "ff:ff:ff:ff:ff:ff",
			[]addrInfo{v4("172.18.0.3/16", "eth0")}},
		{9, "eth1", []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"}, 9500, "noqueue", "UP", "default", "ether", "aa:c1:ab:3e:27:01", "ff:ff:ff:ff:ff:ff",
			eth1Addrs},
	}
	data, _ := json.Marshal(links)
	return string(data) + "\n"
}

// ipRouteJSON is `ip -j route show` in iproute2's JSON shape: docker's default route and
// subnet, eth1's connected subnet and the given static routes (dst, gateway).
func ipRouteJSON(eth1Subnet, eth1Src string, static ...[2]string) string {
	routes := []map[string]any{
		{"dst": "default", "gateway": "172.18.0.1", "dev": "eth0", "flags": []string{}},
	}
	if eth1Subnet != "" {
		routes = append(routes, map[string]any{"dst": eth1Subnet, "dev": "eth1", "protocol": "kernel", "scope": "link", "prefsrc": eth1Src, "flags": []string{}})
	}
	for _, s := range static {
		routes = append(routes, map[string]any{"dst": s[0], "gateway": s[1], "dev": "eth1", "flags": []string{}})
	}
	routes = append(routes, map[string]any{"dst": "172.18.0.0/16", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "172.18.0.3", "flags": []string{}})
	data, _ := json.Marshal(routes)
	return string(data) + "\n"
}

// fakeNodes answers `ip -j addr show` and `ip -j route show` per node, and like bash for any
// other command.
type fakeNodes struct {
	addr, route map[string]string
	calls       []string
}

func (f *fakeNodes) Exec(_ context.Context, node string, argv []string) ([]byte, error) {
	cmd := strings.Join(argv, " ")
	f.calls = append(f.calls, node+": "+cmd)
	var table map[string]string
	switch cmd {
	case "ip -j addr show":
		table = f.addr
	case "ip -j route show":
		table = f.route
	default:
		return nil, fmt.Errorf("%s in %s exited 127: bash: %s: command not found", argv[0], node, argv[0])
	}
	out, ok := table[node]
	if !ok {
		return nil, fmt.Errorf("docker exec in %s: Error response from daemon: No such container: %s", node, node)
	}
	return []byte(out), nil
}

// goodUnderlay is calico-overlay's four nodes as containerlab's exec commands leave them;
// k01-worker is the verbatim capture.
func goodUnderlay(t *testing.T) *fakeNodes {
	t.Helper()
	read := func(f string) string {
		data, err := os.ReadFile(filepath.Join(realNodeOutput, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	return &fakeNodes{
		addr: map[string]string{
			"k01-control-plane": ipAddrJSON("10.10.10.10/24"),
			"k01-worker":        read("ip-addr.json"),
			"k01-worker2":       ipAddrJSON("10.10.10.12/24"),
			"k01-worker3":       ipAddrJSON("10.10.20.20/24"),
		},
		route: map[string]string{
			"k01-control-plane": ipRouteJSON("10.10.10.0/24", "10.10.10.10", [2]string{"10.10.20.0/24", "10.10.10.1"}),
			"k01-worker":        read("ip-route.json"),
			"k01-worker2":       ipRouteJSON("10.10.10.0/24", "10.10.10.12", [2]string{"10.10.20.0/24", "10.10.10.1"}),
			"k01-worker3":       ipRouteJSON("10.10.20.0/24", "10.10.20.20", [2]string{"10.10.10.0/24", "10.10.20.1"}),
		},
	}
}

func TestCheckUnderlay(t *testing.T) {
	l := mustLab(t, "calico-overlay")
	tests := []struct {
		name   string
		break_ func(f *fakeNodes)
		want   []string // substrings of the error; none means the underlay is right
		clean  []string // nodes the error must not name
	}{
		{name: "as the exec commands set it", break_: func(*fakeNodes) {}},
		{name: "k01-worker3's exec commands failed",
			break_: func(f *fakeNodes) {
				f.addr["k01-worker3"] = ipAddrJSON("")
				f.route["k01-worker3"] = ipRouteJSON("", "")
			},
			want: []string{"node k01-worker3: eth1 expected 10.10.20.20/24, found no IPv4 address on eth1",
				"node k01-worker3: route expected 10.10.10.0/24 via 10.10.20.1 dev eth1, found no route to 10.10.10.0/24"},
			clean: []string{"k01-worker:", "k01-worker2", "k01-control-plane"}},
		{name: "wrong address and gateway",
			break_: func(f *fakeNodes) {
				f.addr["k01-worker2"] = ipAddrJSON("10.10.10.13/24")
				f.route["k01-control-plane"] = ipRouteJSON("10.10.10.0/24", "10.10.10.10", [2]string{"10.10.20.0/24", "10.10.10.254"})
			},
			want: []string{"node k01-worker2: eth1 expected 10.10.10.12/24, found 10.10.10.13/24",
				"node k01-control-plane: route expected 10.10.20.0/24 via 10.10.10.1 dev eth1, found 10.10.20.0/24 via 10.10.10.254 dev eth1"}},
		{name: "node container gone",
			break_: func(f *fakeNodes) { delete(f.addr, "k01-worker") },
			want:   []string{"node k01-worker: ip -j addr show: docker exec in k01-worker: Error response from daemon: No such container"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := goodUnderlay(t)
			tt.break_(f)
			err := checkUnderlay(context.Background(), f, l)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(f.calls) != 8 {
					t.Errorf("commands %q, want one ip -j addr and one ip -j route per node", f.calls)
				}
				return
			}
			wantEnvironmentError(t, err, tt.want...)
			for _, c := range tt.clean {
				if strings.Contains(err.Error(), "node "+c) {
					t.Errorf("error names %s, whose underlay is right:\n%v", c, err)
				}
			}
		})
	}
}

// TestDeployFailsAtTheUnderlayCheck: containerlab exits 0 although an exec command failed; the
// deploy stops at the step after it, naming node, expected and found — not 10 minutes later.
func TestDeployFailsAtTheUnderlayCheck(t *testing.T) {
	home := t.TempDir()
	l := mustLab(t, "calico-overlay")
	topology := filepath.Join(home, l.Name, "topologies", l.Name+".clab.yaml")
	d := &fakeDocker{images: map[string]bool{"ceos:4.34.0F": true}}
	k := &fakeKind{}
	h := fakeHost(t, d, k, []string{"docker", "containerlab"}, goodProcSys(), map[string]string{
		"containerlab version": clabVersionOutput,
		"containerlab deploy -t " + topology: "INFO Creating kind cluster k01\n" +
			"ERRO Failed to execute command \"ip route add 10.10.10.0/24 via 10.10.20.1\" on the node \"k01-worker3\". rc=2,\n" +
			"stdout:\n, stderr:\nError: Nexthop has invalid gateway.\n",
	})
	nodes := goodUnderlay(t)
	nodes.route["k01-worker3"] = ipRouteJSON("10.10.20.0/24", "10.10.20.20")
	h.nodeExec = nodes
	p := &Provider{home: home, source: testSource, h: h}
	var log recorder
	err := p.Deploy(context.Background(), l, provider.DeployOptions{Progress: &log})
	if exitcode.Code(err) != exitcode.Environment {
		t.Fatalf("exit %d (%v), want %d\n%s", exitcode.Code(err), err, exitcode.Environment, log.String())
	}
	for _, w := range []string{"step 4/9 (check the nodes' underlay", "node k01-worker3: route expected 10.10.10.0/24 via 10.10.20.1 dev eth1, found no route to 10.10.10.0/24"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	var env *exitcode.EnvironmentError
	if !errors.As(err, &env) || !strings.Contains(env.Fix, "containerlab only logs a failed exec command") {
		t.Errorf("fix does not explain containerlab's exit 0: %v", err)
	}
}

// TestDryRunShowsTheUnderlayCheck: the plan lists one read per node and what it must find;
// a lab without a switch has no exec commands and no such step.
func TestDryRunShowsTheUnderlayCheck(t *testing.T) {
	for _, tt := range []struct {
		lab  string
		want []string
	}{
		{"calico-overlay", []string{
			"check the nodes' underlay",
			"docker exec k01-worker3: ip -j addr show; ip -j route show — eth1 has 10.10.20.20/24, route 10.10.10.0/24 via 10.10.20.1 dev eth1",
			"docker exec k01-control-plane: ip -j addr show; ip -j route show — eth1 has 10.10.10.10/24, route 10.10.20.0/24 via 10.10.10.1 dev eth1",
		}},
		{"pod-network", nil},
	} {
		p := &Provider{home: testHome, source: testSource, h: unusableHost(t)}
		pl, err := p.PlanDeploy(context.Background(), mustLab(t, tt.lab), provider.DeployOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := string(printed(t, pl))
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s plan lacks %q", tt.lab, w)
			}
		}
		if tt.want == nil && strings.Contains(out, "underlay") {
			t.Errorf("%s has no switch, its plan checks an underlay:\n%s", tt.lab, out)
		}
	}
}
