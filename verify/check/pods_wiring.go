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
	mtu := podMTU(in, e, s, r)
	if !s.Has(observed.TableLinks) {
		r.Notes = append(r.Notes, "no link table: host-side veth MAC not compared")
	}
	if !s.Has(observed.TableSysctls) {
		r.Notes = append(r.Notes, "no sysctls: proxy_arp, proxy_delay and forwarding not compared")
	}
	want := e.PodRoutes
	if !in.Live {
		// A capture holds the pods someone chose to collect: one without a directory was not
		// captured, which says nothing about its namespace.
		captured := make(map[string]bool, len(s.Pods))
		for _, w := range s.Pods {
			captured[podID(w.Namespace, w.Name)] = true
		}
		want = make([]expect.PodRoute, 0, len(e.PodRoutes))
		for _, p := range e.PodRoutes {
			if id := podID(p.Pod.Namespace, p.Pod.Name); !captured[id] {
				r.Notes = append(r.Notes, fmt.Sprintf("pod %s not judged: its network namespace was not captured", id))
				continue
			}
			want = append(want, p)
		}
	}
	keyedDiff[string, expect.PodRoute, *observed.PodWiring]{
		key:      func(p expect.PodRoute) string { return podID(p.Pod.Namespace, p.Pod.Name) },
		foundKey: func(w *observed.PodWiring) string { return podID(w.Namespace, w.Name) },
		entry:    func(p expect.PodRoute) string { return "pod " + podID(p.Pod.Namespace, p.Pod.Name) },
		missing:  func(expect.PodRoute) string { return "the pod's network namespace" },
		why: func(p expect.PodRoute) string {
			return fmt.Sprintf("the facts place pod %s with IP %s on %s", podID(p.Pod.Namespace, p.Pod.Name), p.Pod.IP, e.Name())
		},
		compare: func(p expect.PodRoute, w *observed.PodWiring, pod fields) {
			judgePodWiring(in, s, p, w, pod, mtu, r)
		},
	}.run(r, want, pointers(s.Pods)) // pods the facts do not place here are routes.pods' to judge
}

// expectedMTU is the MTU a pod's eth0 must have, and why; 0 when it cannot be judged.
type expectedMTU struct {
	MTU int
	Why string
}

// podMTU is the MTU of the device the pods' traffic leaves by, as captured: the tunnel device
// (vxlan.calico, tunl0) or, without encapsulation, the underlay. Never assumed: when that
// device is not in the node state, the note says the MTU cannot be judged.
func podMTU(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node) expectedMTU {
	dev := in.Expect.TunnelDevice()
	var link *observed.Link
	if dev != "" {
		link, _ = s.Link(dev)
	} else if u := findUnderlay(e, s); u.Dev != "" {
		dev = u.Dev
		link, _ = s.Link(u.Dev)
	}
	if link != nil && link.MTU != 0 {
		return expectedMTU{link.MTU, fmt.Sprintf("a pod's MTU is that of %s (%d on %s), so that its packets fit the path out of the node", dev, link.MTU, e.Name())}
	}
	if len(e.PodRoutes) > 0 {
		missing := underlayNotCaptured(e)
		switch {
		case dev != "" && (s.Has(observed.TableLinks) || s.Has(observed.TableAddrs)):
			missing = dev + " not found in the captured links (vxlan.device judges it)"
		case dev != "":
			missing = dev + " not captured"
		}
		r.Notes = append(r.Notes, "cannot judge the pods' eth0 MTU: "+missing)
	}
	return expectedMTU{}
}

// judgePodWiring compares one pod found on the node with what its route in the facts says.
// What the source did not collect of the pod is not judged (on a live lab, it is missing).
func judgePodWiring(in *Inputs, s *observed.Node, p expect.PodRoute, w *observed.PodWiring, pod fields, mtu expectedMTU, r *report.Node) {
	id := podID(p.Pod.Namespace, p.Pod.Name)
	gw := netip.MustParseAddr(expect.PodGateway)
	podWhy := fmt.Sprintf("Calico gives pod %s its IP as a /32 and routes everything via the link-local %s", id, expect.PodGateway)
	if w.HostIface != "" && w.HostIface != p.Dev {
		pod.differBecause("host interface", p.Dev, w.HostIface,
			fmt.Sprintf("Calico names the host end cali + the first 11 hex digits of SHA-1(%q)", p.Pod.Namespace+"."+p.Pod.Name))
	}
	absent := func(t observed.Table, what string) bool {
		if in.Live || !w.Absent[t] {
			return false
		}
		r.Notes = append(r.Notes, fmt.Sprintf("pod %s: its %s not captured, not judged", id, what))
		return true
	}
	eth0 := entryFields(r, "pod "+id+" eth0", podWhy)
	if !absent(observed.TableAddrs, "addresses (eth0 address and MTU)") {
		if !hasPrefix(w.Eth0.Addrs, p.Dst) {
			eth0.differ("address", p.Dst.String(), orNone(prefixesText(w.Eth0.Addrs)))
		}
		if mtu.MTU != 0 && w.Eth0.MTU != 0 && w.Eth0.MTU != mtu.MTU {
			eth0.differBecause("mtu", strconv.Itoa(mtu.MTU), strconv.Itoa(w.Eth0.MTU), mtu.Why)
		}
	}
	if !absent(observed.TableRoutes, "routes") {
		routes := entryFields(r, "pod "+id+" route", podWhy)
		if !hasPodRoute(w.Routes, netip.PrefixFrom(gw, 32), netip.Addr{}) {
			routes.missing(expect.PodGateway + " dev eth0 scope link")
		}
		if !hasPodRoute(w.Routes, netip.MustParsePrefix("0.0.0.0/0"), gw) {
			routes.missing("default via " + expect.PodGateway + " dev eth0")
		}
	}

	host := p.Dev
	if s.Has(observed.TableLinks) {
		hostEnd := entryFields(r, host, podWhy)
		l, ok := s.Link(host)
		if why := s.FilteredWhy(observed.TableLinks); !ok && why != "" {
			r.Notes = append(r.Notes, "pod "+id+": host end "+host+" not judged: "+why)
		} else if !ok {
			hostEnd.missing("veth " + host + " (host end of pod " + id + ")")
		} else {
			if !strings.EqualFold(l.MAC, expect.PodHostMAC) {
				hostEnd.differBecause("mac", expect.PodHostMAC, orNone(l.MAC),
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
					r.Findings = append(r.Findings, report.Finding{Kind: report.Unexpected, Entry: host, Field: "address",
						Expected: "no IPv4 address", Found: prefixesText(v4),
						Reason: "the host end answers for 169.254.1.1 by proxy ARP; it holds no IPv4 address"})
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
			sysctl := entryFields(r, sc.key, sc.why)
			got, ok := s.Sysctls[sc.key]
			if !ok {
				sysctl.missing(sc.want)
			} else if strings.TrimSpace(got) != sc.want {
				sysctl.differ("value", sc.want, got)
			}
		}
	}
}

// podID names a pod as its namespace/name.
func podID(namespace, name string) string { return namespace + "/" + name }

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
