package check

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// podsWiring: each local pod's eth0 (its /32, the 169.254.1.1 routes, the MTU) and the host
// end of its veth (the ee:ee:... MAC, no IPv4, proxy ARP without delay, forwarding).
func podsWiring(_ context.Context, in *Inputs) []*report.Node {
	return perNode(in, []observed.Table{observed.TablePods}, judgePodsWiring)
}

func judgePodsWiring(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
	u := findUnderlay(e, s, r)
	wantMTU := 0
	if e.Device != nil {
		wantMTU = e.Device.MTU(u.MTU)
	}
	if !s.Has(observed.TableLinks) {
		r.Notes = append(r.Notes, "no link table: host-side veth MAC not compared")
	}
	if !s.Has(observed.TableSysctls) {
		r.Notes = append(r.Notes, "no sysctls: proxy_arp, proxy_delay and forwarding not compared")
	}
	byName := map[string]*observed.PodWiring{}
	for i := range s.Pods {
		byName[s.Pods[i].Namespace+"/"+s.Pods[i].Name] = &s.Pods[i]
	}
	gw := netip.MustParseAddr(expect.PodGateway)
	for _, p := range e.PodRoutes {
		id := p.Pod.Namespace + "/" + p.Pod.Name
		add := func(kind report.FindingKind, entry, field, want, got, why string) {
			r.Findings = append(r.Findings, report.Finding{Kind: kind, Entry: entry, Field: field, Expected: want, Found: got, Reason: why})
		}
		w, ok := byName[id]
		if !ok {
			add(report.Missing, "pod "+id, "", "the pod's network namespace", "",
				fmt.Sprintf("the facts place pod %s with IP %s on %s", id, p.Pod.IP, e.Name()))
			continue
		}
		podWhy := fmt.Sprintf("Calico gives pod %s its IP as a /32 and routes everything via the link-local %s", id, expect.PodGateway)
		if w.HostIface != "" && w.HostIface != p.Dev {
			add(report.Different, "pod "+id, "host interface", p.Dev, w.HostIface,
				fmt.Sprintf("Calico names the host end cali + the first 11 hex digits of SHA-1(%q)", p.Pod.Namespace+"."+p.Pod.Name))
		}
		if !hasPrefix(w.Eth0.Addrs, p.Dst) {
			add(report.Different, "pod "+id+" eth0", "address", p.Dst.String(), orNone(prefixesText(w.Eth0.Addrs)), podWhy)
		}
		if wantMTU != 0 && w.Eth0.MTU != 0 && w.Eth0.MTU != wantMTU {
			add(report.Different, "pod "+id+" eth0", "mtu", strconv.Itoa(wantMTU), strconv.Itoa(w.Eth0.MTU),
				"a pod's MTU is the vxlan.calico MTU so that encapsulated packets fit the underlay")
		}
		if !hasPodRoute(w.Routes, netip.PrefixFrom(gw, 32), netip.Addr{}) {
			add(report.Missing, "pod "+id+" route", "", expect.PodGateway+" dev eth0 scope link", "", podWhy)
		}
		if !hasPodRoute(w.Routes, netip.MustParsePrefix("0.0.0.0/0"), gw) {
			add(report.Missing, "pod "+id+" route", "", "default via "+expect.PodGateway+" dev eth0", "", podWhy)
		}

		host := p.Dev
		if s.Has(observed.TableLinks) {
			l, ok := s.Link(host)
			if !ok {
				add(report.Missing, host, "", "veth "+host+" (host end of pod "+id+")", "", podWhy)
			} else {
				if !strings.EqualFold(l.MAC, expect.PodHostMAC) {
					add(report.Different, host, "mac", expect.PodHostMAC, orNone(l.MAC),
						"every host-side cali interface has MAC ee:ee:ee:ee:ee:ee, so pods never have to re-learn their gateway")
				}
				if s.Has(observed.TableAddrs) {
					var v4 []netip.Prefix
					for _, a := range l.Addrs {
						if a.Addr().Is4() {
							v4 = append(v4, a)
						}
					}
					if len(v4) > 0 {
						add(report.Unexpected, host, "address", "no IPv4 address", prefixesText(v4),
							"the host end answers for 169.254.1.1 by proxy ARP; it holds no IPv4 address")
					}
				}
			}
		}
		if s.Has(observed.TableSysctls) {
			for _, sc := range []struct{ key, want, why string }{
				{"net.ipv4.conf." + host + ".proxy_arp", "1", "the host end answers the pod's ARP for 169.254.1.1"},
				{"net.ipv4.neigh." + host + ".proxy_delay", "0", "proxy ARP answers at once, not after a random delay"},
				{"net.ipv4.conf." + host + ".forwarding", "1", "the host forwards the pod's traffic"},
			} {
				got, ok := s.Sysctls[sc.key]
				if !ok {
					add(report.Missing, sc.key, "", sc.want, "", sc.why)
				} else if strings.TrimSpace(got) != sc.want {
					add(report.Different, sc.key, "value", sc.want, got, sc.why)
				}
			}
		}
	}
}

func hasPrefix(list []netip.Prefix, p netip.Prefix) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

func prefixesText(list []netip.Prefix) string {
	parts := make([]string, len(list))
	for i, p := range list {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

func hasPodRoute(routes []observed.Route, dst netip.Prefix, gw netip.Addr) bool {
	for _, r := range routes {
		if r.Dst == dst && r.Gateway == gw && (r.Dev == "" || r.Dev == "eth0") {
			return true
		}
	}
	return false
}
