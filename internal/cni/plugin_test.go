package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// pluginStateEnv turns the test binary into the plugin: a runtime execs it with the CNI
// environment and the config on stdin, exactly as it would exec knetlab-cni, and it uses the
// file-backed fake IPAM named by this variable.
const pluginStateEnv = "KNETLAB_CNI_TEST_IPAM"

func TestMain(m *testing.M) {
	if os.Getenv(pluginMainEnv) != "" && os.Getenv("CNI_COMMAND") != "" {
		Main()
		os.Exit(0)
	}
	if state := os.Getenv(pluginStateEnv); state != "" && os.Getenv("CNI_COMMAND") != "" {
		p := &Plugin{NewAllocator: func(*NetConf) (Allocator, error) { return &fileAllocator{path: state}, nil }}
		skel.PluginMainFuncs(p.Funcs(), SupportedVersions, "knetlab-cni (test build)")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestHostVethName(t *testing.T) {
	tests := []struct {
		pod  PodID
		want string
	}{
		{PodID{"default", "multitool"}, "cali6d09fa47963"},       // sha1("default.multitool") = 6d09fa4796 3da4...
		{PodID{"kube-system", "coredns-abc"}, "cali3d5d6ab04b5"}, // sha1 = 3d5d6ab04b 5152...
	}
	for _, tt := range tests {
		if got := HostVethName(tt.pod); got != tt.want || len(got) != 15 {
			t.Errorf("HostVethName(%v) = %q, want %q (15 characters)", tt.pod, got, tt.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name     string
		conf     string
		wantCode uint // 0: valid
	}{
		{"valid", `{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"knetlab-cni","nodeName":"k01-worker"}`, 0},
		{"another plugin's type", `{"cniVersion":"1.0.0","name":"n","type":"calico","nodeName":"k01-worker"}`, types.ErrInvalidNetworkConfig},
		{"no node", `{"cniVersion":"1.0.0","name":"n","type":"knetlab-cni"}`, types.ErrInvalidNetworkConfig},
		{"negative mtu", `{"cniVersion":"1.0.0","name":"n","type":"knetlab-cni","nodeName":"a","mtu":-1}`, types.ErrInvalidNetworkConfig},
		{"not JSON", `{"cniVersion":`, types.ErrDecodingFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.conf))
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("ParseConfig: %v", err)
				}
				return
			}
			var cniErr *types.Error
			if !errors.As(err, &cniErr) || cniErr.Code != tt.wantCode {
				t.Errorf("error = %v, want CNI code %d", err, tt.wantCode)
			}
		})
	}
}

// cniRuntime invokes the plugin the way a container runtime does, from inside a node
// namespace (the node is the plugin's host).
type cniRuntime struct {
	t      testing.TB
	plugin string
	state  string
	nodeNS string
}

func newRuntime(t testing.TB, nodeNS string, blocks map[string]netip.Prefix) *cniRuntime {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "ipam.json")
	if err := writeFakeIPAM(state, fakeIPAM{Blocks: blocks}); err != nil {
		t.Fatal(err)
	}
	t.Setenv(pluginStateEnv, state)
	return &cniRuntime{t: t, plugin: self, state: state, nodeNS: nodeNS}
}

func netConf(node, extra string) []byte {
	return []byte(fmt.Sprintf(`{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"knetlab-cni","nodeName":%q%s}`, node, extra))
}

func (r *cniRuntime) args(command, containerID, podNS, pod string) *invoke.Args {
	a := &invoke.Args{Command: command, ContainerID: containerID, IfName: "eth0", Path: filepath.Dir(r.plugin)}
	if podNS != "" {
		a.NetNS = testbed.Path(podNS)
	}
	if pod != "" {
		a.PluginArgsStr = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + pod + ";K8S_POD_INFRA_CONTAINER_ID=" + containerID
	}
	return a
}

// do runs one plugin command inside the node namespace and returns ADD's result.
func (r *cniRuntime) do(command, containerID, podNS, pod string, conf []byte) (*current.Result, error) {
	var res *current.Result
	err := ns.WithNetNSPath(testbed.Path(r.nodeNS), func(ns.NetNS) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := r.args(command, containerID, podNS, pod)
		if command != "ADD" {
			return invoke.ExecPluginWithoutResult(ctx, r.plugin, conf, args, nil)
		}
		out, err := invoke.ExecPluginWithResult(ctx, r.plugin, conf, args, nil)
		if err != nil {
			return err
		}
		res, err = current.NewResultFromResult(out)
		return err
	})
	return res, err
}

// withPrevResult is conf with ADD's result embedded, as a runtime sends it to CHECK.
func withPrevResult(t testing.TB, conf []byte, res *current.Result) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(conf, &m); err != nil {
		t.Fatal(err)
	}
	m["prevResult"] = res
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cniCode(err error) uint {
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		return cniErr.Code
	}
	return 0
}

func TestAddCheckDel(t *testing.T) {
	testenv.RequireLab(t, "ip", "sysctl")
	node := testbed.NewNS(t, "kdpn")
	// vxlan.calico as the agent leaves it; the pod must take its MTU.
	testbed.Run(t, node, "ip", "link", "add", "vxlan.calico", "mtu", "1450", "type", "vxlan", "id", "4096", "dstport", "4789", "nolearning")
	podNS := testbed.NewNS(t, "kdpp")
	rt := newRuntime(t, node, map[string]netip.Prefix{"k01-worker": netip.MustParsePrefix("192.168.10.0/26")})
	logFile := filepath.Join(t.TempDir(), "cni.log")
	conf := netConf("k01-worker", fmt.Sprintf(`,"logFile":%q`, logFile))

	res, err := rt.do("ADD", "ctr1", podNS, "multitool", conf)
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	if len(res.IPs) != 1 || res.IPs[0].Address.String() != "192.168.10.1/32" || res.IPs[0].Interface == nil || *res.IPs[0].Interface != 1 {
		t.Errorf("result IPs = %v, want [192.168.10.1/32 on interface 1]", res.IPs)
	}
	if len(res.Interfaces) != 2 || res.Interfaces[0].Name != "cali6d09fa47963" || res.Interfaces[1].Name != "eth0" || res.Interfaces[1].Sandbox != testbed.Path(podNS) {
		t.Errorf("result interfaces = %v", res.Interfaces)
	}

	if log, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(log), `"msg":"pod wired"`) || !strings.Contains(string(log), `"ip":"192.168.10.1"`) {
		t.Errorf("log file after ADD: %v\n%s", err, log)
	}

	// Pod side, as docs/dataplane.md ("Pod wiring") writes it.
	podRoutes := testbed.Run(t, podNS, "ip", "-4", "route", "show")
	for _, want := range []string{"default via 169.254.1.1 dev eth0", "169.254.1.1 dev eth0 scope link"} {
		if !strings.Contains(podRoutes, want) {
			t.Errorf("pod routes lack %q:\n%s", want, podRoutes)
		}
	}
	if out := testbed.Run(t, podNS, "ip", "-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet 192.168.10.1/32") {
		t.Errorf("pod eth0 address: %s", out)
	}
	if out := testbed.Run(t, podNS, "ip", "-o", "link", "show", "eth0"); !strings.Contains(out, "mtu 1450") {
		t.Errorf("pod eth0 MTU is not vxlan.calico's 1450: %s", out)
	}

	// Host side.
	h := testbed.Handle(t, node)
	cali, err := h.LinkByName("cali6d09fa47963")
	if err != nil {
		t.Fatalf("host end: %v", err)
	}
	if cali.Attrs().HardwareAddr.String() != "ee:ee:ee:ee:ee:ee" {
		t.Errorf("host end MAC %s", cali.Attrs().HardwareAddr)
	}
	if addrs, _ := h.AddrList(cali, netlink.FAMILY_V4); len(addrs) != 0 {
		t.Errorf("host end has IPv4 addresses %v", addrs)
	}
	for _, s := range []string{"net.ipv4.conf.cali6d09fa47963.proxy_arp=1", "net.ipv4.neigh.cali6d09fa47963.proxy_delay=0", "net.ipv4.conf.cali6d09fa47963.forwarding=1"} {
		name, want, _ := strings.Cut(s, "=")
		if got := strings.TrimSpace(testbed.Run(t, node, "sysctl", "-n", name)); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	// `ip route` hides proto boot, so the protocol is read with netlink.
	if out := testbed.Run(t, node, "ip", "route", "show", "192.168.10.1"); !strings.Contains(out, "192.168.10.1 dev cali6d09fa47963 scope link") {
		t.Errorf("host route: %q", out)
	}
	if routes, _ := h.RouteList(cali, netlink.FAMILY_V4); len(routes) != 1 || routes[0].Protocol != unix.RTPROT_BOOT {
		t.Errorf("host routes via %s = %v, want one with proto boot (the agent deletes only proto 80)", cali.Attrs().Name, routes)
	}

	// CHECK passes on what ADD built and fails once the wiring is broken.
	checkConf := withPrevResult(t, conf, res)
	if _, err := rt.do("CHECK", "ctr1", podNS, "multitool", checkConf); err != nil {
		t.Errorf("CHECK after ADD: %v", err)
	}
	testbed.Run(t, podNS, "ip", "route", "del", "default")
	_, err = rt.do("CHECK", "ctr1", podNS, "multitool", checkConf)
	if err == nil || !strings.Contains(err.Error(), "default route via 169.254.1.1") {
		t.Errorf("CHECK with the default route gone = %v, want it named", err)
	}

	// DEL removes everything and releases; twice, and for an unknown container, succeeds.
	for i := range 2 {
		if _, err := rt.do("DEL", "ctr1", podNS, "multitool", conf); err != nil {
			t.Fatalf("DEL #%d: %v", i+1, err)
		}
	}
	if _, err := h.LinkByName("cali6d09fa47963"); err == nil {
		t.Error("host end survived DEL")
	}
	if out := testbed.Run(t, node, "ip", "route", "show", "192.168.10.1"); out != "" {
		t.Errorf("host route survived DEL: %q", out)
	}
	if st, _ := readFakeIPAM(rt.state); len(st.Handles) != 0 {
		t.Errorf("handles after DEL: %v", st.Handles)
	}
	if _, err := rt.do("DEL", "never-added", "", "", conf); err != nil {
		t.Errorf("DEL of an unknown container without netns or pod name: %v", err)
	}
}

// A runtime may tear the sandbox down before it calls DEL; DEL must still succeed and
// release the address.
func TestDelAfterSandboxIsGone(t *testing.T) {
	testenv.RequireLab(t, "ip", "sysctl")
	node := testbed.NewNS(t, "kdpn")
	podNS := testbed.NewNS(t, "kdpp")
	rt := newRuntime(t, node, map[string]netip.Prefix{"k01-worker": netip.MustParsePrefix("192.168.10.0/26")})
	conf := netConf("k01-worker", "")
	if _, err := rt.do("ADD", "ctr1", podNS, "gone", conf); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	testbed.Run(t, node, "ip", "netns", "del", podNS) // iproute2 only unmounts; the kernel frees it
	if _, err := rt.do("DEL", "ctr1", podNS, "gone", conf); err != nil {
		t.Fatalf("DEL after the sandbox is gone: %v", err)
	}
	if st, _ := readFakeIPAM(rt.state); len(st.Handles) != 0 {
		t.Errorf("address not released: %v", st.Handles)
	}
	host := HostVethName(PodID{"default", "gone"})
	h := testbed.Handle(t, node)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := h.LinkByName(host); err != nil {
			break // the veth went with the namespace, or DEL removed it
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after DEL", host)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAddErrorsCarryCNICodes(t *testing.T) {
	testenv.RequireLab(t, "ip", "sysctl")
	node := testbed.NewNS(t, "kdpn")
	podNS := testbed.NewNS(t, "kdpp")
	rt := newRuntime(t, node, map[string]netip.Prefix{"k01-worker": netip.MustParsePrefix("192.168.10.0/26")})
	tests := []struct {
		name     string
		pod      string
		conf     []byte
		podNS    string
		prepare  func()
		wantCode uint
	}{
		{"no pod name in CNI_ARGS", "", netConf("k01-worker", ""), podNS, nil, types.ErrInvalidEnvironmentVariables},
		{"pod namespace does not exist", "p1", netConf("k01-worker", ""), "kdpp-nonexistent", nil, types.ErrInvalidEnvironmentVariables},
		{"invalid config", "p1", []byte(`{"cniVersion":"1.0.0","name":"n","type":"knetlab-cni"}`), podNS, nil, types.ErrInvalidNetworkConfig},
		{"node owns no block", "p1", netConf("k01-nobody", ""), podNS, nil, types.ErrInternal},
		{"datastore unavailable", "p1", netConf("k01-worker", ""), podNS, func() {
			st, _ := readFakeIPAM(rt.state)
			st.Unavailable = true
			if err := writeFakeIPAM(rt.state, st); err != nil {
				t.Fatal(err)
			}
		}, types.ErrTryAgainLater},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prepare != nil {
				tt.prepare()
			}
			_, err := rt.do("ADD", "ctr-"+strings.ReplaceAll(tt.name, " ", "-"), tt.podNS, tt.pod, tt.conf)
			if got := cniCode(err); got != tt.wantCode {
				t.Errorf("ADD error = %v (code %d), want code %d", err, got, tt.wantCode)
			}
		})
	}
	// A failed ADD leaves no interface behind.
	if out := testbed.Run(t, node, "ip", "-o", "link"); strings.Contains(out, "cali") {
		t.Errorf("failed ADDs left devices:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pluginStateEnv, "unused")
	info, err := invoke.GetVersionInfo(context.Background(), self, nil)
	if err != nil {
		t.Fatalf("VERSION: %v", err)
	}
	if got := info.SupportedVersions(); !slices.Contains(got, "1.0.0") {
		t.Errorf("supported versions %v lack 1.0.0", got)
	}
}

// BenchmarkAdd measures CNI ADD through the plugin binary, as a runtime pays for it (exec,
// config parse, fake IPAM, veth and routes); DEL between iterations is not timed.
func BenchmarkAdd(b *testing.B) {
	testenv.RequireLab(b, "ip")
	node := testbed.NewNS(b, "kdpn")
	podNS := testbed.NewNS(b, "kdpp")
	rt := newRuntime(b, node, map[string]netip.Prefix{"k01-worker": netip.MustParsePrefix("192.168.10.0/26")})
	conf := netConf("k01-worker", `,"mtu":1450`)
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("bench%d", i)
		start := time.Now()
		if _, err := rt.do("ADD", id, podNS, "bench", conf); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		if _, err := rt.do("DEL", id, podNS, "bench", conf); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median")
}
