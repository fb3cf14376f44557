package capture_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/report"
)

// These tests hold verify to the facts a capture states (issue 10, classes 1, 2, 3 and 6): no
// assumed MTU, what was not captured is not judged, a route no known pod explains is stale only
// when the allocations are known, and IPAMBlock objects state ownership.

// dropLink removes one interface (its header line and the indented lines under it) from
// `ip addr` or `ip -d link` output.
func dropLink(name string) func(string) string {
	return func(s string) string {
		var keep []string
		skipping := false
		head := regexp.MustCompile(`^\d+: ([^:@ ]+)[@:]`)
		for _, line := range strings.Split(s, "\n") {
			if m := head.FindStringSubmatch(line); m != nil {
				skipping = m[1] == name
			}
			if !skipping {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "\n")
	}
}

// setMTU changes the MTU of one interface in `ip addr` or `ip -d link` output.
func setMTU(name string, mtu int) func(string) string {
	re := regexp.MustCompile(`(?m)^(\d+: ` + regexp.QuoteMeta(name) + `[@:][^\n]*? mtu )\d+`)
	return func(s string) string { return re.ReplaceAllString(s, fmt.Sprintf("${1}%d", mtu)) }
}

func chain(edits ...func(string) string) func(string) string {
	return func(s string) string {
		for _, e := range edits {
			s = e(s)
		}
		return s
	}
}

func notesOf(n *report.Node) string { return strings.Join(n.Notes, "\n") }

// wantPassedNoting asserts that the check passed the node with notes that hold each part:
// what was not judged is said, never failed.
func wantPassedNoting(t *testing.T, rep *report.Report, check, node string, parts ...string) {
	t.Helper()
	n := nodeResult(t, rep, check, node)
	if n.Status != report.Passed {
		t.Errorf("%s on %s: %s %+v, want passed", check, node, n.Status, n.Findings)
	}
	for _, p := range parts {
		if !strings.Contains(notesOf(n), p) {
			t.Errorf("%s on %s: notes %q, want one with %q", check, node, n.Notes, p)
		}
	}
}

const (
	workerAddr  = "nodes/k01-worker/ip-addr.txt"
	workerLink  = "nodes/k01-worker/ip-link.txt"
	workerRoute = "nodes/k01-worker/ip-route.txt"
	multitool   = "nodes/k01-worker/pods/default/multitool-6f8b7d9c5-k2x4p/"
	web0        = "nodes/k01-worker/pods/default/web-0/"
)

// Class 1: with the underlay interface not captured, a vxlan.calico MTU that is right for a
// jumbo or loopback-sized underlay is not judged against an assumed 1500, and the pods' eth0 is
// judged against the captured vxlan.calico.
func TestMTUNotJudgedAgainstAnAssumedUnderlay(t *testing.T) {
	for _, mtu := range []int{65485, 8951} {
		t.Run(fmt.Sprint(mtu), func(t *testing.T) {
			edit := chain(dropLink("eth1"), setMTU("vxlan.calico", mtu))
			dir := copyCapture(t, map[string]func(string) string{
				workerAddr:                edit,
				workerLink:                edit,
				multitool + "ip-addr.txt": setMTU("eth0", mtu),
				web0 + "ip-addr.txt":      setMTU("eth0", mtu),
			})
			rep := run(t, dir, checkid.VXLANDevice, checkid.PodsWiring, checkid.RoutesBlocks)
			dev := nodeResult(t, rep, checkid.VXLANDevice, "k01-worker")
			if dev.Status != report.Passed {
				t.Errorf("vxlan.device: %s %+v, want passed: MTU %d is right on some underlay and eth1 was not captured", dev.Status, dev.Findings, mtu)
			}
			if !strings.Contains(notesOf(dev), "cannot judge") || !strings.Contains(notesOf(dev), "not captured") {
				t.Errorf("vxlan.device notes %q: want the MTU noted as not judgeable (the underlay was not captured)", dev.Notes)
			}
			if pods := nodeResult(t, rep, checkid.PodsWiring, "k01-worker"); pods.Status != report.Passed {
				t.Errorf("pods.wiring: %s %+v, want passed: the pods' eth0 MTU equals the captured vxlan.calico", pods.Status, pods.Findings)
			}
			routes := nodeResult(t, rep, checkid.RoutesBlocks, "k01-worker")
			if strings.Contains(notesOf(routes), "MTU") || strings.Contains(notesOf(routes), "1500") {
				t.Errorf("routes.blocks notes %q speak of an MTU, which plays no part in routes", routes.Notes)
			}
		})
	}
}

func TestMTUJudgedAgainstTheCapturedUnderlay(t *testing.T) {
	for _, tt := range []struct {
		name        string
		underlay    int
		vxlan       int
		pod         int
		wantDevice  report.Status
		wantPods    report.Status
		wantFinding string
	}{
		{"jumbo underlay, right vxlan", 9001, 8951, 8951, report.Passed, report.Passed, ""},
		{"jumbo underlay, vxlan left at 1450", 9001, 1450, 1450, report.Failed, report.Passed, "8951"},
		{"pod eth0 not the vxlan MTU", 1500, 1450, 1500, report.Passed, report.Failed, "1450"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edit := chain(setMTU("eth1", tt.underlay), setMTU("vxlan.calico", tt.vxlan))
			dir := copyCapture(t, map[string]func(string) string{
				workerAddr:                edit,
				workerLink:                edit,
				multitool + "ip-addr.txt": setMTU("eth0", tt.pod),
				web0 + "ip-addr.txt":      setMTU("eth0", tt.pod),
			})
			rep := run(t, dir, checkid.VXLANDevice, checkid.PodsWiring)
			dev := nodeResult(t, rep, checkid.VXLANDevice, "k01-worker")
			if dev.Status != tt.wantDevice {
				t.Errorf("vxlan.device: %s %+v, want %s", dev.Status, dev.Findings, tt.wantDevice)
			}
			pods := nodeResult(t, rep, checkid.PodsWiring, "k01-worker")
			if pods.Status != tt.wantPods {
				t.Errorf("pods.wiring: %s %+v, want %s", pods.Status, pods.Findings, tt.wantPods)
			}
			if tt.wantFinding != "" {
				var expected []string
				for _, f := range append(dev.Findings, pods.Findings...) {
					if f.Field == "mtu" {
						expected = append(expected, f.Expected)
					}
				}
				if len(expected) == 0 || expected[0] != tt.wantFinding {
					t.Errorf("mtu findings expect %v, want %s", expected, tt.wantFinding)
				}
			}
		})
	}
}

// The pods' eth0 MTU is judged against the tunnel device only when that was captured.
func TestPodMTUWithoutTheTunnelDeviceIsNotJudged(t *testing.T) {
	dir := copyCapture(t, map[string]func(string) string{
		workerAddr:                nil,
		workerLink:                nil,
		multitool + "ip-addr.txt": setMTU("eth0", 8951),
		web0 + "ip-addr.txt":      setMTU("eth0", 8951),
	})
	// vxlan.calico was not captured, so no MTU is known.
	wantPassedNoting(t, run(t, dir, checkid.PodsWiring), checkid.PodsWiring, "k01-worker", "cannot judge", "vxlan.calico not captured")
}

// Class 2: a pod whose directory (or whose ip-route.txt) was not captured is not judged.
func TestPodNotCapturedIsSkippedNotMissing(t *testing.T) {
	for _, tt := range []struct {
		name  string
		edits map[string]func(string) string
	}{
		{"pod directory", map[string]func(string) string{web0 + "ip-addr.txt": nil, web0 + "ip-route.txt": nil}},
		{"pod ip-route.txt", map[string]func(string) string{web0 + "ip-route.txt": nil}},
		{"pod ip-addr.txt", map[string]func(string) string{web0 + "ip-addr.txt": nil}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := run(t, copyCapture(t, tt.edits), checkid.PodsWiring)
			wantPassedNoting(t, rep, checkid.PodsWiring, "k01-worker", "default/web-0", "not captured")
		})
	}
}

// Class 3: a pod route no known pod explains is unattributed in a partial capture.
func TestUnattributedPodRouteDoesNotFail(t *testing.T) {
	dir := copyCapture(t, map[string]func(string) string{
		workerRoute: func(s string) string { return s + "192.168.93.70 dev cali1234567890a scope link\n" },
	})
	// Nothing in the capture says 192.168.93.70's pod is gone.
	wantPassedNoting(t, run(t, dir, checkid.RoutesPods), checkid.RoutesPods, "k01-worker", "UNATTRIBUTED 192.168.93.70 ")
}

// ipamBlock prints a block as `kubectl get ipamblocks.crd.projectcalico.org -o yaml` lists it:
// allocations[i] is the index of the attributes of the block's i-th address, null when free.
type alloc struct {
	ordinal int
	handle  string
	attrs   [][2]string
}

func ipamBlock(apiVersion, cidr, host string, size int, allocs ...alloc) string {
	var b strings.Builder
	name := strings.NewReplacer(".", "-", "/", "-").Replace(cidr)
	fmt.Fprintf(&b, "- apiVersion: %s\n  kind: IPAMBlock\n  metadata:\n", apiVersion)
	fmt.Fprintf(&b, "    annotations:\n      projectcalico.org/metadata: '{\"creationTimestamp\":null}'\n")
	fmt.Fprintf(&b, "    creationTimestamp: \"2025-05-06T10:12:20Z\"\n    generation: 4\n    name: %s\n    resourceVersion: \"1201\"\n", name)
	fmt.Fprintf(&b, "  spec:\n")
	if host != "" {
		fmt.Fprintf(&b, "    affinity: host:%s\n", host)
	}
	b.WriteString("    allocations:\n")
	idx := map[int]int{}
	for i, a := range allocs {
		idx[a.ordinal] = i
	}
	for i := 0; i < size; i++ {
		if j, ok := idx[i]; ok {
			fmt.Fprintf(&b, "    - %d\n", j)
		} else {
			b.WriteString("    - null\n")
		}
	}
	b.WriteString("    attributes:\n")
	for _, a := range allocs {
		fmt.Fprintf(&b, "    - handle_id: %s\n      secondary:\n", a.handle)
		for _, kv := range a.attrs {
			fmt.Fprintf(&b, "        %s: %s\n", kv[0], kv[1])
		}
	}
	fmt.Fprintf(&b, "    cidr: %s\n    deleted: false\n    sequenceNumber: 1746526340000000003\n", cidr)
	b.WriteString("    sequenceNumberForAllocation:\n")
	for _, a := range allocs {
		fmt.Fprintf(&b, "      \"%d\": 1746526340000000000\n", a.ordinal)
	}
	b.WriteString("    strictAffinity: false\n    unallocated:\n")
	for i := 0; i < size; i++ {
		if _, ok := idx[i]; !ok {
			fmt.Fprintf(&b, "    - %d\n", i)
		}
	}
	return b.String()
}

func tunnel(ordinal int, node string) alloc {
	return alloc{ordinal, "vxlan-tunnel-addr-" + node, [][2]string{{"node", node}, {"type", "vxlanTunnelAddress"}}}
}

func podAlloc(ordinal int, node, ns, pod string) alloc {
	return alloc{ordinal, "k8s-pod-network.4f1c2b8e0d7a" + fmt.Sprint(ordinal), [][2]string{
		{"namespace", ns}, {"node", node}, {"pod", pod}, {"timestamp", "2025-05-06 10:14:02.123456789 +0000 UTC"}}}
}

// lesson06Blocks are the lesson's blocks as IPAMBlock objects: the four confirmed ones.
func lesson06Blocks(apiVersion string) string {
	return ipamBlock(apiVersion, "192.168.19.128/26", "k01-control-plane", 64, tunnel(0, "k01-control-plane"),
		podAlloc(1, "k01-control-plane", "kube-system", "coredns-668d6bf9bc-7tq2l")) +
		ipamBlock(apiVersion, "192.168.93.64/26", "k01-worker", 64, tunnel(0, "k01-worker"),
			podAlloc(1, "k01-worker", "default", "multitool-6f8b7d9c5-k2x4p"), podAlloc(2, "k01-worker", "default", "web-0")) +
		ipamBlock(apiVersion, "192.168.150.192/26", "k01-worker2", 64, tunnel(1, "k01-worker2")) +
		ipamBlock(apiVersion, "192.168.209.64/26", "k01-worker3", 64, tunnel(0, "k01-worker3"),
			podAlloc(1, "k01-worker3", "default", "web-2"))
}

// withoutAffinities drops the BlockAffinity items of the lesson's List.
func withoutAffinities(s string) string {
	parts := strings.Split(s, "\n- apiVersion: ")
	keep := parts[:1]
	for _, p := range parts[1:] {
		if !strings.Contains(p, "\n  kind: BlockAffinity\n") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "\n- apiVersion: ")
}

// addItems appends List items after the lesson's last item.
func addItems(items string) func(string) string {
	return func(s string) string {
		if !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return s + items
	}
}

// Class 6: a capture that states ownership only with IPAMBlock objects is judged as one with
// BlockAffinity objects, in both API groups.
func TestIPAMBlockStatesOwnership(t *testing.T) {
	for _, api := range []string{"crd.projectcalico.org/v1", "projectcalico.org/v3"} {
		t.Run(api, func(t *testing.T) {
			dir := copyCapture(t, map[string]func(string) string{
				"cluster.yaml": chain(withoutAffinities, addItems(lesson06Blocks(api))),
			})
			rep := run(t, dir, checkid.IPAMAffinities, checkid.RoutesBlocks, checkid.RoutesPods)
			for _, c := range rep.Checks {
				if c.Status != report.Passed {
					for _, n := range c.Nodes {
						t.Errorf("%s on %s: %s %+v", c.ID, n.Node, n.Status, n.Findings)
					}
				}
			}
		})
	}
}

func TestBlockAffinityAndIPAMBlockDisagree(t *testing.T) {
	dir := copyCapture(t, map[string]func(string) string{
		"cluster.yaml": addItems(ipamBlock("crd.projectcalico.org/v1", "192.168.150.192/26", "k01-worker3", 64, tunnel(1, "k01-worker2"))),
	})
	rep := run(t, dir, checkid.IPAMAffinities)
	c, _ := rep.Check(checkid.IPAMAffinities)
	if c.Status != report.Failed {
		t.Fatalf("ipam.affinities %s, want failed: BlockAffinity gives 192.168.150.192/26 to k01-worker2, IPAMBlock to k01-worker3", c.Status)
	}
	n := nodeResult(t, rep, checkid.IPAMAffinities, "cluster")
	var found string
	for _, f := range n.Findings {
		if f.Entry == "192.168.150.192/26" {
			found = f.Found
		}
	}
	if !strings.Contains(found, "k01-worker2") || !strings.Contains(found, "k01-worker3") {
		t.Errorf("findings %+v: want 192.168.150.192/26 naming both k01-worker2 and k01-worker3", n.Findings)
	}
}

func TestBlockAffineToTwoNodes(t *testing.T) {
	dir := copyCapture(t, map[string]func(string) string{
		"cluster.yaml": chain(withoutAffinities, addItems(lesson06Blocks("crd.projectcalico.org/v1")+
			ipamBlock("projectcalico.org/v3", "192.168.93.64/26", "k01-worker2", 64, tunnel(0, "k01-worker")))),
	})
	rep := run(t, dir, checkid.IPAMAffinities)
	n := nodeResult(t, rep, checkid.IPAMAffinities, "cluster")
	var found string
	for _, f := range n.Findings {
		if f.Entry == "192.168.93.64/26" {
			found = f.Found
		}
	}
	if n.Status != report.Failed || !strings.Contains(found, "host:k01-worker;") || !strings.Contains(found, "host:k01-worker2") {
		t.Errorf("cluster: %s %+v, want 192.168.93.64/26 affine to k01-worker and k01-worker2", n.Status, n.Findings)
	}
}

// With the allocations of the block captured, a route to a free address is stale; a route to an
// address allocated to a pod the capture does not list is that pod's.
func TestIPAMBlockAllocationsJudgeUnattributedRoutes(t *testing.T) {
	for _, tt := range []struct {
		name  string
		route string
		want  report.Status
	}{
		{"free address", "192.168.93.70 dev cali1234567890a scope link", report.Failed},
		{"allocated to a pod the capture does not list", "192.168.93.67 dev cali4448cbddedf scope link", report.Passed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyCapture(t, map[string]func(string) string{
				"cluster.yaml": addItems(ipamBlock("crd.projectcalico.org/v1", "192.168.93.64/26", "k01-worker", 64, tunnel(0, "k01-worker"),
					podAlloc(1, "k01-worker", "default", "multitool-6f8b7d9c5-k2x4p"), podAlloc(2, "k01-worker", "default", "web-0"),
					podAlloc(3, "k01-worker", "default", "web-3"))),
				workerRoute: func(s string) string { return s + tt.route + "\n" },
			})
			rep := run(t, dir, checkid.RoutesPods)
			n := nodeResult(t, rep, checkid.RoutesPods, "k01-worker")
			if n.Status != tt.want {
				t.Errorf("routes.pods: %s %+v (notes %q), want %s", n.Status, n.Findings, n.Notes, tt.want)
			}
		})
	}
}

// The lesson's pending affinity for 192.168.209.128/26 with an IPAMBlock already affine to
// k01-worker3: a claim in progress, noted, neither a fault nor an owner whose routes are expected.
func TestBlockClaimInProgressIsNotJudged(t *testing.T) {
	dir := copyCapture(t, map[string]func(string) string{
		"cluster.yaml": addItems(ipamBlock("crd.projectcalico.org/v1", "192.168.209.128/26", "k01-worker3", 64)),
	})
	rep := run(t, dir, checkid.IPAMAffinities, checkid.RoutesBlocks)
	wantPassedNoting(t, rep, checkid.IPAMAffinities, "cluster", "192.168.209.128/26 not judged")
	for _, node := range []string{"k01-worker", "k01-worker3"} {
		if n := nodeResult(t, rep, checkid.RoutesBlocks, node); n.Status != report.Passed {
			t.Errorf("routes.blocks on %s: %s %+v, want passed: no route to a block being claimed is expected", node, n.Status, n.Findings)
		}
	}
}

// A pod on k01-worker3 holding an address of k01-worker's block (borrowed when its own blocks
// were full): k01-worker routes the /32 to k01-worker3 as it would one of k01-worker3's blocks.
func TestBorrowedAddressRoutedToItsNode(t *testing.T) {
	borrower := "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: web-9\n    namespace: default\n  spec:\n    nodeName: k01-worker3\n  status:\n    podIP: 192.168.93.80\n"
	for _, tt := range []struct {
		name    string
		cluster func(string) string
		route   string
		want    report.Status
		note    string
	}{
		{"routed to its node", addItems(borrower), "192.168.93.80 via 192.168.209.64 dev vxlan.calico onlink", report.Passed, ""},
		{"routed elsewhere", addItems(borrower), "192.168.93.80 via 10.10.10.12 dev eth1 proto 80 onlink", report.Failed, ""},
		{"holder not captured", nil, "192.168.93.80 via 192.168.209.64 dev vxlan.calico onlink", report.Passed, "UNATTRIBUTED 192.168.93.80 "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edits := map[string]func(string) string{workerRoute: func(s string) string { return s + tt.route + "\n" }}
			if tt.cluster != nil {
				edits["cluster.yaml"] = tt.cluster
			}
			rep := run(t, copyCapture(t, edits), checkid.RoutesBlocks)
			n := nodeResult(t, rep, checkid.RoutesBlocks, "k01-worker")
			if n.Status != tt.want || !strings.Contains(notesOf(n), tt.note) {
				t.Errorf("routes.blocks: %s %+v (notes %q), want %s noting %q", n.Status, n.Findings, n.Notes, tt.want, tt.note)
			}
		})
	}
}

// keepLinks keeps only the named interfaces of `ip addr` or `ip -d link` output: what
// `ip -d link show dev vxlan.calico` or a grep of the full output prints.
func keepLinks(names ...string) func(string) string {
	return func(s string) string {
		var keep []string
		keeping := false
		head := regexp.MustCompile(`^\d+: ([^:@ ]+)[@:]`)
		for _, line := range strings.Split(s, "\n") {
			if m := head.FindStringSubmatch(line); m != nil {
				keeping = false
				for _, n := range names {
					keeping = keeping || m[1] == n
				}
			}
			if keeping {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "\n") + "\n"
	}
}

// A link paste cut to some devices (no lo, which ip always prints first) is not the whole
// table: the pods' host veths it does not show were not captured, not found missing; and a
// vxlan.calico it does not show is not judged. A whole table without the veth still fails.
func TestFilteredLinkPasteIsNotTheWholeTable(t *testing.T) {
	filtered := copyCapture(t, map[string]func(string) string{
		workerLink: keepLinks("vxlan.calico", "eth1"),
		workerAddr: nil,
	})
	wantPassedNoting(t, run(t, filtered, checkid.PodsWiring), checkid.PodsWiring, "k01-worker", "not judged", "filtered paste")
	if n := nodeResult(t, run(t, filtered, checkid.VXLANDevice), checkid.VXLANDevice, "k01-worker"); n.Status != report.Passed {
		t.Errorf("vxlan.device on a filtered paste that shows vxlan.calico: %s %+v, want passed", n.Status, n.Findings)
	}

	noVXLAN := copyCapture(t, map[string]func(string) string{
		workerLink: keepLinks("eth1"),
		workerAddr: nil,
	})
	if n := nodeResult(t, run(t, noVXLAN, checkid.VXLANDevice), checkid.VXLANDevice, "k01-worker"); n.Status != report.Skipped || !strings.Contains(n.Reason, "not captured") {
		t.Errorf("vxlan.device on a paste without vxlan.calico: %s (%s) %+v, want skipped as not captured", n.Status, n.Reason, n.Findings)
	}

	whole := copyCapture(t, map[string]func(string) string{
		workerLink: dropLink("cali33a6ed01365"),
		workerAddr: dropLink("cali33a6ed01365"),
	})
	n := nodeResult(t, run(t, whole, checkid.PodsWiring), checkid.PodsWiring, "k01-worker")
	if n.Status != report.Failed {
		t.Errorf("pods.wiring with a whole link table that lacks a pod's veth: %s, want failed", n.Status)
	}
}
