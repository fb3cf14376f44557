package nodeexec

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/knetlab/knetlab/verify/observed"
)

// replay is an Execer that answers each command with a recorded output file of testdata/<node>/.
type replay struct {
	dir   string
	fail  map[string]bool // command word (e.g. "bridge") → fail it
	calls atomic.Int32
}

func (r *replay) Exec(_ context.Context, node string, argv []string) ([]byte, error) {
	r.calls.Add(1)
	files := map[string]string{
		strings.Join(RouteCmd, " "):  "ip-route.json",
		strings.Join(LinkCmd, " "):   "ip-link.json",
		strings.Join(AddrCmd, " "):   "ip-addr.json",
		strings.Join(NeighCmd, " "):  "ip-neigh.json",
		strings.Join(FDBCmd, " "):    "bridge-fdb.json",
		strings.Join(SysctlCmd, " "): "sysctl.txt",
	}
	cmd := strings.Join(argv, " ")
	if r.fail[argv[0]] {
		return nil, fmt.Errorf("exec: %q: executable file not found in $PATH", argv[0])
	}
	f, ok := files[cmd]
	if !ok {
		return nil, fmt.Errorf("unexpected command %q", cmd)
	}
	return os.ReadFile(filepath.Join(r.dir, node, f))
}

func TestNodeStateFromRecordedOutputs(t *testing.T) {
	c := New(&replay{dir: "testdata"})
	n, err := c.NodeState(context.Background(), "k01-worker")
	if err != nil {
		t.Fatal(err)
	}
	for _, tab := range []observed.Table{observed.TableRoutes, observed.TableLinks, observed.TableAddrs,
		observed.TableNeigh, observed.TableFDB, observed.TableSysctls} {
		if !n.Has(tab) {
			t.Errorf("table %s not marked", tab)
		}
	}
	if n.Has(observed.TablePods) {
		t.Errorf("pods table marked, but nodeexec does not read pod wiring")
	}

	mustPrefix := netip.MustParsePrefix
	routes := map[netip.Prefix]observed.Route{}
	for _, r := range n.Routes {
		routes[r.Dst] = r
	}
	tests := []struct {
		dst                 netip.Prefix
		typ, gw, dev, proto string
		onlink              bool
	}{
		{mustPrefix("192.168.162.128/26"), "blackhole", "", "", "80", false},
		{mustPrefix("192.168.33.0/26"), "unicast", "10.10.10.10", "eth1", "80", true},
		{mustPrefix("192.168.209.64/26"), "unicast", "192.168.209.64", "vxlan.calico", "", true},
		{mustPrefix("192.168.162.130/32"), "unicast", "", "cali1b2c3d4e5f6", "", false},
	}
	for _, tt := range tests {
		r, ok := routes[tt.dst]
		if !ok {
			t.Errorf("route %s missing; got %v", tt.dst, n.Routes)
			continue
		}
		gw := ""
		if r.Gateway.IsValid() {
			gw = r.Gateway.String()
		}
		if r.Type != tt.typ || gw != tt.gw || r.Dev != tt.dev || r.Protocol != tt.proto || r.Onlink != tt.onlink {
			t.Errorf("route %s = %+v, want type %s via %q dev %q proto %q onlink %v", tt.dst, r, tt.typ, tt.gw, tt.dev, tt.proto, tt.onlink)
		}
	}

	vx, ok := n.Link("vxlan.calico")
	if !ok {
		t.Fatalf("vxlan.calico missing from links %v", n.Links)
	}
	if vx.VXLAN == nil || vx.VXLAN.VNI != 4096 || vx.VXLAN.Port != 4789 || vx.VXLAN.Learning ||
		vx.VXLAN.Local != netip.MustParseAddr("10.10.10.11") || vx.VXLAN.Dev != "eth1" {
		t.Errorf("vxlan.calico attributes = %+v", vx.VXLAN)
	}
	if vx.MAC != "66:fb:ad:98:aa:13" || vx.MTU != 1450 {
		t.Errorf("vxlan.calico mac/mtu = %s/%d", vx.MAC, vx.MTU)
	}
	// The address comes from `ip addr`, merged into the `ip -d link` view.
	if len(vx.Addrs) != 1 || vx.Addrs[0] != mustPrefix("192.168.162.128/32") {
		t.Errorf("vxlan.calico addrs = %v, want [192.168.162.128/32]", vx.Addrs)
	}

	if len(n.Neighs) != 2 || !n.Neighs[0].Permanent() || n.Neighs[0].LLAddr != "66:3a:0e:0b:1c:9d" {
		t.Errorf("neighbours = %+v", n.Neighs)
	}
	var vxFDB []observed.FDBEntry
	for _, e := range n.FDB {
		if e.Dev == "vxlan.calico" {
			vxFDB = append(vxFDB, e)
		}
	}
	if len(vxFDB) != 2 || vxFDB[1].Dst != netip.MustParseAddr("10.10.20.20") || !vxFDB[1].Permanent || !vxFDB[1].Self {
		t.Errorf("vxlan.calico FDB = %+v", vxFDB)
	}

	for key, want := range map[string]string{
		"net.ipv4.ip_forward":                        "1",
		"net.ipv4.conf.cali1b2c3d4e5f6.proxy_arp":    "1",
		"net.ipv4.neigh.cali1b2c3d4e5f6.proxy_delay": "0",
	} {
		if got := n.Sysctls[key]; got != want {
			t.Errorf("sysctl %s = %q, want %q", key, got, want)
		}
	}
}

func TestNodeStateLeavesFailedTablesUnmarked(t *testing.T) {
	tests := []struct {
		name     string
		fail     map[string]bool
		wantNil  bool
		unmarked []observed.Table
		marked   []observed.Table
	}{
		{"no bridge binary", map[string]bool{"bridge": true}, false,
			[]observed.Table{observed.TableFDB}, []observed.Table{observed.TableRoutes, observed.TableNeigh}},
		{"no ip binary", map[string]bool{"ip": true}, false,
			[]observed.Table{observed.TableRoutes, observed.TableLinks, observed.TableAddrs, observed.TableNeigh},
			[]observed.Table{observed.TableFDB, observed.TableSysctls}},
		{"node unreachable", map[string]bool{"ip": true, "bridge": true, "sh": true}, true, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := New(&replay{dir: "testdata", fail: tt.fail}).NodeState(context.Background(), "k01-worker")
			if err == nil {
				t.Fatal("no error although commands failed")
			}
			if tt.wantNil {
				if n != nil {
					t.Fatalf("node = %+v, want nil for an unreachable node", n)
				}
				return
			}
			for _, tab := range tt.unmarked {
				if n.Has(tab) {
					t.Errorf("table %s marked although its command failed", tab)
				}
				if !strings.Contains(err.Error(), string(tab)) {
					t.Errorf("error %q does not name table %s", err, tab)
				}
			}
			for _, tab := range tt.marked {
				if !n.Has(tab) {
					t.Errorf("table %s not marked", tab)
				}
			}
		})
	}
}

func TestNodeStatesReadsEveryNodeAndNamesTheFailures(t *testing.T) {
	r := &replay{dir: "testdata"}
	states, err := New(r).NodeStates(context.Background(), []string{"k01-worker", "k01-gone"})
	if err == nil || !strings.Contains(err.Error(), "k01-gone") {
		t.Fatalf("error = %v, want one naming k01-gone", err)
	}
	if _, ok := states["k01-worker"]; !ok {
		t.Errorf("k01-worker missing although it answered")
	}
	if _, ok := states["k01-gone"]; ok {
		t.Errorf("k01-gone present although nothing could be read")
	}
	if got := r.calls.Load(); got != 12 {
		t.Errorf("%d execs, want 6 per node", got)
	}
}

func TestExecFuncPassesErrorsThrough(t *testing.T) {
	boom := errors.New("boom")
	_, err := ExecFunc(func(context.Context, string, []string) ([]byte, error) { return nil, boom }).
		Exec(context.Background(), "n", []string{"true"})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}
