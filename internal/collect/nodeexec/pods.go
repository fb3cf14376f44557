package nodeexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/source"
)

// NetnsListCmd lists a node's named network namespaces: the CNI plugin's sandboxes on a kind
// node (containerd names them cni-<uuid>), which is where pods' eth0 lives.
var NetnsListCmd = []string{"ip", "-j", "netns", "list"}

// netnsName is what a namespace name must look like before it goes into a command line.
var netnsName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Sandbox is one pod network namespace on a node, read from inside it.
type Sandbox struct {
	Netns  string
	Eth0   observed.Link
	Routes []observed.Route
}

// Sandboxes reads eth0 and the routes of every named network namespace of the node that has
// an eth0 with an IPv4 address; the reads run in parallel.
func (c *Collector) Sandboxes(ctx context.Context, node string) ([]Sandbox, error) {
	out, err := c.Exec.Exec(ctx, node, NetnsListCmd)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: %w", node, strings.Join(NetnsListCmd, " "), err)
	}
	list, err := parse.NetnsNames(out)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: %w", node, strings.Join(NetnsListCmd, " "), err)
	}
	boxes := make([]*Sandbox, len(list))
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for i, ns := range list {
		if !netnsName.MatchString(ns) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			boxes[i], errs[i] = c.sandbox(ctx, node, ns)
		}()
	}
	wg.Wait()
	var out2 []Sandbox
	for i, b := range boxes {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if b != nil {
			out2 = append(out2, *b)
		}
	}
	return out2, nil
}

func (c *Collector) sandbox(ctx context.Context, node, ns string) (*Sandbox, error) {
	addrCmd := []string{"ip", "-n", ns, "-j", "-d", "addr", "show"}
	routeCmd := []string{"ip", "-n", ns, "-j", "route", "show"}
	addrs, err := c.Exec.Exec(ctx, node, addrCmd)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: %w", node, strings.Join(addrCmd, " "), err)
	}
	links, err := parse.Addrs(addrs)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: %w", node, strings.Join(addrCmd, " "), err)
	}
	var eth0 *observed.Link
	for i := range links {
		if links[i].Name == "eth0" && len(links[i].Addrs) > 0 {
			eth0 = &links[i]
		}
	}
	if eth0 == nil {
		return nil, nil // not a pod sandbox (or a host-network one)
	}
	routes, err := c.Exec.Exec(ctx, node, routeCmd)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: %w", node, strings.Join(routeCmd, " "), err)
	}
	rs, err := parse.Routes(routes)
	if err != nil {
		return nil, fmt.Errorf("node %s: %s: %w", node, strings.Join(routeCmd, " "), err)
	}
	return &Sandbox{Netns: ns, Eth0: *eth0, Routes: rs}, nil
}

// PodWirings names the sandboxes after the node's pods (matched by eth0's address) and finds
// each pod's host end from the node's /32 route to it. Pods whose sandbox was not found get no
// wiring entry, which pods.wiring reports as missing.
func PodWirings(n *observed.Node, pods []facts.Pod, boxes []Sandbox) []observed.PodWiring {
	byIP := map[netip.Addr]Sandbox{}
	for _, b := range boxes {
		for _, a := range b.Eth0.Addrs {
			byIP[a.Addr()] = b
		}
	}
	hostEnd := map[netip.Addr]string{}
	for _, r := range n.Routes {
		if r.Dst.Bits() == 32 && r.Type == "unicast" && !r.Gateway.IsValid() {
			hostEnd[r.Dst.Addr()] = r.Dev
		}
	}
	var out []observed.PodWiring
	for _, p := range pods {
		if p.Node != n.Name {
			continue
		}
		b, ok := byIP[p.IP]
		if !ok {
			continue
		}
		out = append(out, observed.PodWiring{Namespace: p.Namespace, Name: p.Name, HostIface: hostEnd[p.IP], Eth0: b.Eth0, Routes: b.Routes})
	}
	return out
}

// PingCmd is the ping a probe runs inside a pod, through the pods/exec subresource: kind's node
// image has no ping (no iputils: kubernetes-sigs/kind#3710), the labs' test pods run
// praqma/network-multitool, which has. count echo requests 0.2 s apart, each awaited a second;
// it always exits 0 (`; true`) so that a lossy ping still hands over its summary, and a
// missing summary line is the error (parse.PingReceived).
func PingCmd(dst netip.Addr, count int) []string {
	return []string{"sh", "-c", fmt.Sprintf("ping -n -q -c %d -i 0.2 -W 1 %s 2>&1; true", count, dst)}
}

// Burst sends a probe's echo requests (PingCmd in the source pod) and returns what ping printed.
type Burst func(ctx context.Context) ([]byte, error)

// PingThrough counts, in the forward path of the source pod's node, the echo requests that
// burst sends from src to dst and those of them routed out through dev, with an nftables table
// of its own: one exec on the node adds the table, the burst runs (in the pod), a second exec
// lists the counters and removes the table. The ping binary picks its own ICMP identifier, so
// the rules match the two addresses only: another burst between the same pods at the same time
// (a concurrent verify) is counted too, and takes the same route. The table is removed also when
// the burst fails or the caller gave up waiting. A node without nft cannot count: that is
// source.ErrAbsent, and nothing is sent.
func (c *Collector) PingThrough(ctx context.Context, node string, src, dst netip.Addr, dev string, burst Burst) (eg source.Egress, err error) {
	if !netnsName.MatchString(dev) || !src.Is4() || !dst.Is4() {
		return source.Egress{}, fmt.Errorf("probe %s → %s through %q: want IPv4 addresses and a device name", src, dst, dev)
	}
	table := fmt.Sprintf("knetlab-probe-%d-%d", os.Getpid(), probeSeq.Add(1))
	match := fmt.Sprintf("ip saddr %s ip daddr %s icmp type echo-request", src, dst)
	open := fmt.Sprintf(`command -v nft >/dev/null || { echo %[1]s; exit 0; }
nft -f - <<EOF
table ip %[2]s {
	chain forward {
		type filter hook forward priority mangle; policy accept;
		%[3]s counter comment "forwarded"
		%[3]s oifname "%[4]s" counter comment "through"
	}
}
EOF
`, noNFT, table, match, dev)
	out, err := c.Exec.Exec(ctx, node, []string{"sh", "-c", open})
	if err != nil {
		return source.Egress{}, fmt.Errorf("node %s: add the nftables table counting %s → %s: %w", node, src, dst, err)
	}
	if bytes.HasPrefix(out, []byte(noNFT)) {
		return source.Egress{}, fmt.Errorf("node %s has no nft to count echo requests with: %w", node, source.ErrAbsent)
	}
	removed := false
	defer func() {
		if removed {
			return
		}
		// Also when ctx is done: the table must not outlive the probe.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeCleanupTimeout)
		defer cancel()
		del := []string{"nft", "delete", "table", "ip", table}
		if _, derr := c.Exec.Exec(dctx, node, del); derr != nil {
			err = errors.Join(err, fmt.Errorf("node %s: %s: %w", node, strings.Join(del, " "), derr))
		}
	}()
	pinged, err := burst(ctx)
	if err != nil {
		return source.Egress{}, fmt.Errorf("ping %s from %s: %w", dst, src, err)
	}
	answered, err := parse.PingReceived(pinged)
	if err != nil {
		return source.Egress{}, fmt.Errorf("ping %s from %s: %w", dst, src, err)
	}
	counters := fmt.Sprintf("trap 'nft delete table ip %[1]s' EXIT\nnft list table ip %[1]s\n", table)
	out, err = c.Exec.Exec(ctx, node, []string{"sh", "-c", counters})
	removed = err == nil // the script's trap removed the table
	if err != nil {
		return source.Egress{Answered: answered}, fmt.Errorf("node %s: list the probe's counters: %w", node, err)
	}
	counts, err := parse.NFTCounters(out)
	if err != nil {
		return source.Egress{Answered: answered}, fmt.Errorf("node %s: %w", node, err)
	}
	return source.Egress{Answered: answered, Forwarded: counts["forwarded"], Through: counts["through"]}, nil
}

// What PingThrough's first script prints when the node has no nft.
const noNFT = "knetlab-probe: no nft"

// probeCleanupTimeout bounds the removal of a probe table after the probe failed or was given up.
const probeCleanupTimeout = 30 * time.Second

// probeSeq numbers the probe tables of this process, so that concurrent probes never share one.
var probeSeq atomic.Uint64
