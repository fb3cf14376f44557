package check

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

// cutProber answers every ping except those from or to the pods named (a pod that cannot
// reach its gateway loses both its requests and its replies), and those of the pairs named.
type cutProber struct {
	pods  map[string]bool
	pairs map[string]bool // "src→dst" pod names
	ipOf  map[netip.Addr]string
}

func (p *cutProber) Ping(_ context.Context, from facts.Pod, dst netip.Addr, count int) (int, error) {
	if p.pods[from.Name] || p.pods[p.ipOf[dst]] || p.pairs[from.Name+"→"+p.ipOf[dst]] {
		return 0, nil
	}
	return count, nil
}

func (p *cutProber) PingThrough(ctx context.Context, from facts.Pod, dst netip.Addr, count int, _ string) (source.Egress, error) {
	n, err := p.Ping(ctx, from, dst, count)
	return source.Egress{Answered: n, Forwarded: uint64(count), Through: uint64(count)}, err
}

// findingText is everything a finding says.
func findingText(f report.Finding) string { return fmt.Sprintf("%+v", f) }

// layerOf is what the finding says of the layer that failed: the text after "Layer:" in the
// finding's fields ("" when it says nothing of it).
func layerOf(f string) string {
	_, after, ok := strings.Cut(f, "Layer:")
	if !ok {
		return ""
	}
	return after
}

// The issue: after proxy-arp-off, connectivity.pods blamed routing ("CrossSubnet ... goes
// direct via the underlay interface") while the routes were right and the pod's ARP for
// 169.254.1.1 went unanswered. The finding must name the layer that failed, from the observed
// tables of both nodes: here the host end of net-w1's veth has proxy_arp 0.
func TestConnectivityNamesTheLayer(t *testing.T) {
	proxyARPOff := func(in *Inputs) {
		w := in.Nodes["k01-worker"]
		w.Sysctls["net.ipv4.conf."+w.Pods[0].HostIface+".proxy_arp"] = "0"
	}
	tests := []struct {
		name   string
		breakf func(in *Inputs)
		cut    func(p *cutProber)
		pair   string   // the finding judged: "<source node>: <entry prefix>"
		want   []string // in its text
		not    []string
	}{
		{name: "proxy ARP off on the host end of net-w1",
			breakf: proxyARPOff,
			cut:    func(p *cutProber) { p.pods["net-w1"] = true },
			pair:   "k01-control-plane: default/net-cp → default/net-w1",
			want:   []string{"ARP", "proxy_arp 0", "169.254.1.1", "net-w1"},
			not:    []string{"route:", "encapsulation"}},
		{name: "the same from net-w1's side",
			breakf: proxyARPOff,
			cut:    func(p *cutProber) { p.pods["net-w1"] = true },
			pair:   "k01-worker: default/net-w1 → default/net-w3",
			want:   []string{"ARP", "proxy_arp 0", "169.254.1.1"}},
		{name: "FDB entry missing: encapsulation",
			breakf: func(in *Inputs) {
				w := in.Nodes["k01-worker"]
				w.FDB = slices.DeleteFunc(w.FDB, func(e observed.FDBEntry) bool { return e.Dst == netip.MustParseAddr("10.10.20.20") })
			},
			cut:  func(p *cutProber) { p.pairs["net-w1→net-w3"], p.pairs["net-w3→net-w1"] = true, true },
			pair: "k01-worker: default/net-w1 → default/net-w3",
			want: []string{"encapsulation", "FDB", "10.10.20.20"},
			not:  []string{"ARP"}},
		{name: "block routed through eth1: route",
			breakf: func(in *Inputs) {
				w := in.Nodes["k01-worker"]
				for i := range w.Routes {
					if w.Routes[i].Dst == netip.MustParsePrefix("192.168.209.64/26") {
						w.Routes[i].Dev, w.Routes[i].Gateway = "eth1", netip.MustParseAddr("10.10.20.20")
					}
				}
			},
			cut:  func(p *cutProber) { p.pairs["net-w1→net-w3"] = true },
			pair: "k01-worker: default/net-w1 → default/net-w3",
			want: []string{"route", "192.168.209.64/26", "eth1", "vxlan.calico"}},
		{name: "route missing: route",
			breakf: func(in *Inputs) {
				w := in.Nodes["k01-worker"]
				w.Routes = slices.DeleteFunc(w.Routes, func(r observed.Route) bool { return r.Dst == netip.MustParsePrefix("192.168.209.64/26") })
			},
			cut:  func(p *cutProber) { p.pairs["net-w1→net-w3"] = true },
			pair: "k01-worker: default/net-w1 → default/net-w3",
			want: []string{"route", "no route", "192.168.209.65"}},
		{name: "every table right: the layer cannot be told",
			breakf: func(*Inputs) {},
			cut:    func(p *cutProber) { p.pairs["net-w1→net-w3"] = true },
			pair:   "k01-worker: default/net-w1 → default/net-w3",
			want:   []string{"cannot be told", "vxlan.calico's neighbours and FDB"},
			not:    []string{"ARP:", "route:", "encapsulation:"}},
		{name: "no tables read: said so",
			breakf: func(in *Inputs) { in.Nodes = nil },
			cut:    func(p *cutProber) { p.pairs["net-w1→net-w3"] = true },
			pair:   "k01-worker: default/net-w1 → default/net-w3",
			want:   []string{"cannot tell", "not read"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := lesson06Inputs(true)
			p := &cutProber{pods: map[string]bool{}, pairs: map[string]bool{}, ipOf: map[netip.Addr]string{}}
			for _, pod := range in.Facts.Pods {
				p.ipOf[pod.IP] = pod.Name
			}
			tc.cut(p)
			tc.breakf(in)
			in.Prober = p
			for _, run := range []func(context.Context, *Inputs) []*report.Node{connectivityPods, connectivityEncap} {
				var got string
				var all []string
				for _, n := range run(context.Background(), in) {
					for _, f := range n.Findings {
						all = append(all, n.Node+": "+findingText(f))
						if strings.HasPrefix(n.Node+": "+f.Entry, tc.pair) {
							got = findingText(f)
						}
					}
				}
				if got == "" {
					t.Fatalf("no finding for %s:\n%s", tc.pair, strings.Join(all, "\n"))
				}
				layer := layerOf(got)
				t.Logf("%s: layer:%s", tc.pair, layer)
				for _, w := range tc.want {
					if !strings.Contains(layer, w) {
						t.Errorf("the finding's layer lacks %q:\n%s", w, got)
					}
				}
				for _, w := range tc.not {
					if strings.Contains(layer, w) {
						t.Errorf("the finding's layer says %q:\n%s", w, got)
					}
				}
			}
		})
	}
}
