package clab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
)

// The commands that read a node's underlay: all links with their addresses, the main table.
var (
	underlayAddrCmd  = []string{"ip", "-j", "addr", "show"}
	underlayRouteCmd = []string{"ip", "-j", "route", "show"}
)

// underlayFix is what to do when containerlab's exec commands did not set the underlay.
const underlayFix = "containerlab only logs a failed exec command and exits 0: look for the error of " +
	"`ip addr add` / `ip route add` in its output above, fix it (the lab file's addresses and VLANs), " +
	"then deploy again with --reconfigure"

// nodes is how commands reach the node containers: docker exec unless a test replaced it.
func (h *host) nodes() (nodeexec.Execer, error) {
	if h.nodeExec != nil {
		return h.nodeExec, nil
	}
	d, err := h.docker()
	if err != nil {
		return nil, err
	}
	return nodeexec.DockerExecer{Client: d}, nil
}

// underlayActions are the underlay check as --dry-run lists it.
func underlayActions(l *lab.Lab) []string {
	var a []string
	for _, n := range switchNodes(l) {
		want := []string{fmt.Sprintf("%s has %s", n.Interface, n.Address)}
		for _, r := range l.RoutesFor(n) {
			want = append(want, fmt.Sprintf("route %s via %s dev %s", r.Dst, r.Via, r.Dev))
		}
		a = append(a, fmt.Sprintf("docker exec %s: %s; %s — %s", n.Name,
			strings.Join(underlayAddrCmd, " "), strings.Join(underlayRouteCmd, " "), strings.Join(want, ", ")))
	}
	return a
}

// checkUnderlay reads every switch-facing node's addresses and routes and compares them with
// what the topology's exec commands add. Every node is read and every difference reported at
// once, naming the node, what was expected and what was found.
func checkUnderlay(ctx context.Context, e nodeexec.Execer, l *lab.Lab) error {
	var probs []string
	for _, n := range switchNodes(l) {
		probs = append(probs, nodeUnderlayProblems(ctx, e, l, n)...)
	}
	if len(probs) == 0 {
		return nil
	}
	return exitcode.NewEnvironment(
		fmt.Errorf("the underlay is not what the topology's exec commands set:\n  - %s", strings.Join(probs, "\n  - ")),
		underlayFix)
}

func nodeUnderlayProblems(ctx context.Context, e nodeexec.Execer, l *lab.Lab, n lab.Node) []string {
	out, err := e.Exec(ctx, n.Name, underlayAddrCmd)
	if err != nil {
		return []string{fmt.Sprintf("node %s: %s: %v", n.Name, strings.Join(underlayAddrCmd, " "), err)}
	}
	links, err := parse.Addrs(out)
	if err != nil {
		return []string{fmt.Sprintf("node %s: %s: %v", n.Name, strings.Join(underlayAddrCmd, " "), err)}
	}
	var probs []string
	if found, ok := hasAddr(links, n.Interface, n.Address); !ok {
		probs = append(probs, fmt.Sprintf("node %s: %s expected %s, found %s", n.Name, n.Interface, n.Address, found))
	}
	want := l.RoutesFor(n)
	if len(want) == 0 {
		return probs
	}
	out, err = e.Exec(ctx, n.Name, underlayRouteCmd)
	if err != nil {
		return append(probs, fmt.Sprintf("node %s: %s: %v", n.Name, strings.Join(underlayRouteCmd, " "), err))
	}
	routes, err := parse.Routes(out)
	if err != nil {
		return append(probs, fmt.Sprintf("node %s: %s: %v", n.Name, strings.Join(underlayRouteCmd, " "), err))
	}
	for _, r := range want {
		if found, ok := hasRoute(routes, r); !ok {
			probs = append(probs, fmt.Sprintf("node %s: route expected %s via %s dev %s, found %s", n.Name, r.Dst, r.Via, r.Dev, found))
		}
	}
	return probs
}

// hasAddr reports whether the interface has the address; found says what it has instead.
func hasAddr(links []observed.Link, iface string, want netip.Prefix) (found string, ok bool) {
	for _, l := range links {
		if l.Name != iface {
			continue
		}
		var have []string
		for _, a := range l.Addrs {
			if a == want {
				return "", true
			}
			have = append(have, a.String())
		}
		if len(have) == 0 {
			return "no IPv4 address on " + iface, false
		}
		return strings.Join(have, ", "), false
	}
	return "no interface " + iface, false
}

// hasRoute reports whether the main table routes r.Dst via r.Via on r.Dev; found says what
// routes that destination instead.
func hasRoute(routes []observed.Route, r lab.StaticRoute) (found string, ok bool) {
	var have []string
	for _, rt := range routes {
		if rt.Dst != r.Dst || rt.Table != "" {
			continue
		}
		if rt.Gateway == r.Via && rt.Dev == r.Dev {
			return "", true
		}
		have = append(have, parse.FormatRoute(rt))
	}
	if len(have) == 0 {
		return "no route to " + r.Dst.String(), false
	}
	return strings.Join(have, "; "), false
}
