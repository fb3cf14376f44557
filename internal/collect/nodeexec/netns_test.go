package nodeexec

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
)

// calicoLikeState is what Calico's felix would program on k01-worker of calico-overlay; the
// test programs it by hand inside the lab's namespace (no Calico runs), so that the two
// collectors are compared on a vxlan device, proto 80 and onlink routes, permanent neighbours
// and FDB entries, a cali veth and its sysctls — not only on an empty node.
var calicoLikeState = [][]string{
	{"ip", "link", "add", "vxlan.calico", "type", "vxlan", "id", "4096", "dstport", "4789", "local", "10.10.10.11", "dev", "eth1", "nolearning"},
	{"ip", "link", "set", "vxlan.calico", "address", "66:fb:ad:98:aa:13", "mtu", "1450", "up"},
	{"ip", "addr", "add", "192.168.162.128/32", "dev", "vxlan.calico"},
	{"ip", "route", "add", "blackhole", "192.168.162.128/26", "proto", "80"},
	{"ip", "route", "add", "192.168.33.0/26", "via", "10.10.10.10", "dev", "eth1", "proto", "80", "onlink"},
	{"ip", "route", "add", "192.168.209.64/26", "via", "192.168.209.64", "dev", "vxlan.calico", "onlink"},
	{"ip", "neigh", "add", "192.168.209.64", "dev", "vxlan.calico", "lladdr", "66:3a:0e:0b:1c:9d", "nud", "permanent"},
	{"bridge", "fdb", "add", "66:3a:0e:0b:1c:9d", "dev", "vxlan.calico", "dst", "10.10.20.20", "self", "permanent"},
	{"ip", "link", "add", "cali1b2c3d4e5f6", "type", "veth", "peer", "name", "peer0"},
	{"ip", "link", "set", "cali1b2c3d4e5f6", "address", "ee:ee:ee:ee:ee:ee", "up"},
	{"ip", "link", "set", "peer0", "up"},
	{"ip", "route", "add", "192.168.162.130", "dev", "cali1b2c3d4e5f6", "scope", "link"},
	{"sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/cali1b2c3d4e5f6/proxy_arp && echo 0 > /proc/sys/net/ipv4/neigh/cali1b2c3d4e5f6/proxy_delay"},
}

// TestSameStateAsNetlinkOnANetnsLab runs the collector over the netns provider's exec on a
// live netns lab and requires the node state the netlink collector (the netns provider's own
// Source) reads from the same namespace.
func TestSameStateAsNetlinkOnANetnsLab(t *testing.T) {
	testenv.RequireLab(t, "ip", "bridge")
	l, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	// A name of its own, so that this lab's namespaces never meet another test's or a person's.
	l.Name = fmt.Sprintf("e6n%d", os.Getpid()%100000)
	p := netnslab.New(netnslab.WithStateRoot(t.TempDir()), netnslab.WithoutCNI())
	ctx := context.Background()
	t.Cleanup(func() {
		if err := p.Destroy(ctx, l.Name, provider.DestroyOptions{Lab: l}); err != nil {
			t.Errorf("destroy: %v", err)
		}
		if left := namespacesOf(l.Name); len(left) > 0 {
			t.Errorf("namespaces left behind: %v", left)
		}
	})
	if err := p.Deploy(ctx, l, provider.DeployOptions{}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	for _, argv := range calicoLikeState {
		var stderr strings.Builder
		if err := p.Exec(ctx, l.Name, "k01-worker", argv, provider.Stdio{Err: &stderr}); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, stderr.String())
		}
	}

	src, err := p.Source(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	// k01-worker carries the Calico-like state; k01-worker3 only the lab's underlay.
	for node, calico := range map[string]bool{"k01-worker": true, "k01-worker3": false} {
		t.Run(node, func(t *testing.T) {
			viaNetlink, err := src.NodeState(ctx, node)
			if err != nil {
				t.Fatal(err)
			}
			viaExec, err := New(ViaProvider(p, l.Name)).NodeState(ctx, node)
			if err != nil {
				t.Fatal(err)
			}
			compareNodes(t, viaNetlink, viaExec, calico)
		})
	}
}

func namespacesOf(labName string) []string {
	entries, _ := os.ReadDir("/var/run/netns")
	var out []string
	for _, e := range entries {
		if strings.Contains(e.Name(), labName) {
			out = append(out, e.Name())
		}
	}
	return out
}

// compareNodes compares the tables both collectors read, field by field through the canonical
// text forms of verify/parse, so that a difference reads like `ip` output.
//
// Two representation differences are normalised here, not hidden: iproute2 omits "proto boot"
// (the kernel's default protocol) where netlink reports it, and prints the loopback's all-zero
// MAC where the netlink collector leaves it empty. Neither is a route or link the checks judge
// differently, but both are reported upstream so that the collectors converge.
func compareNodes(t *testing.T, netlink, exec *observed.Node, wantCalico bool) {
	t.Helper()
	for _, tab := range []observed.Table{observed.TableRoutes, observed.TableLinks, observed.TableAddrs, observed.TableNeigh, observed.TableFDB} {
		if netlink.Has(tab) != exec.Has(tab) {
			t.Errorf("table %s: netlink read it %v, exec %v", tab, netlink.Has(tab), exec.Has(tab))
		}
	}
	diff(t, "routes", lines(parse.FormatRoutes(bootAsDefault(netlink.Routes))), lines(parse.FormatRoutes(bootAsDefault(exec.Routes))), true)
	diff(t, "neighbours", lines(parse.FormatNeighs(permanent(netlink.Neighs))), lines(parse.FormatNeighs(permanent(exec.Neighs))), wantCalico)
	diff(t, "vxlan FDB", lines(parse.FormatFDB(vxlanFDB(netlink.FDB))), lines(parse.FormatFDB(vxlanFDB(exec.FDB))), wantCalico)
	diff(t, "links", linkLines(netlink.Links), linkLines(exec.Links), true)
	for k, v := range netlink.Sysctls {
		if exec.Sysctls[k] != v {
			t.Errorf("sysctl %s: netlink %q, exec %q", k, v, exec.Sysctls[k])
		}
	}
}

// bootAsDefault drops the "boot" protocol, which `ip` does not print.
func bootAsDefault(routes []observed.Route) []observed.Route {
	out := append([]observed.Route(nil), routes...)
	for i := range out {
		if out[i].Protocol == "boot" {
			out[i].Protocol = ""
		}
	}
	return out
}

// permanent keeps the entries Calico programs; dynamic ARP entries come and go between reads.
func permanent(ns []observed.Neigh) []observed.Neigh {
	var out []observed.Neigh
	for _, n := range ns {
		if n.Permanent() {
			out = append(out, n)
		}
	}
	return out
}

// vxlanFDB keeps the vxlan device's entries; the multicast entries of every other device are
// kernel bookkeeping that the checks never look at.
func vxlanFDB(fdb []observed.FDBEntry) []observed.FDBEntry {
	var out []observed.FDBEntry
	for _, e := range fdb {
		if e.Dev == "vxlan.calico" {
			out = append(out, e)
		}
	}
	return out
}

// linkLines is the fields of each link the checks judge.
func linkLines(links []observed.Link) []string {
	var out []string
	for _, l := range links {
		mac := l.MAC
		if mac == "00:00:00:00:00:00" { // the loopback's, which `ip` prints and netlink leaves empty
			mac = ""
		}
		s := fmt.Sprintf("%s kind=%s mtu=%d mac=%s up=%v addrs=%v", l.Name, l.Kind, l.MTU, mac, l.Up, l.Addrs)
		if l.VXLAN != nil {
			s += fmt.Sprintf(" vxlan{vni=%d port=%d local=%s dev=%s learning=%v}", l.VXLAN.VNI, l.VXLAN.Port, l.VXLAN.Local, l.VXLAN.Dev, l.VXLAN.Learning)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func diff(t *testing.T, what string, netlink, exec []string, wantSome bool) {
	t.Helper()
	in := map[string]int{}
	for _, l := range netlink {
		in[l]++
	}
	for _, l := range exec {
		in[l]--
	}
	var only []string
	for l, n := range in {
		switch {
		case n > 0:
			only = append(only, "netlink only: "+l)
		case n < 0:
			only = append(only, "exec only:    "+l)
		}
	}
	sort.Strings(only)
	if len(only) > 0 {
		t.Errorf("%s differ:\n  %s", what, strings.Join(only, "\n  "))
	}
	if wantSome && len(netlink) == 0 {
		t.Errorf("%s: nothing read at all; the comparison proves nothing", what)
	}
}
