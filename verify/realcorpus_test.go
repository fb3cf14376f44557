package verify_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/report"
)

// realCorpus holds captures assembled from outputs people published from real Calico clusters
// (testdata/real/README.md lists the sources). Each capture's verdicts.yaml states what a
// truthful verifier says on that cluster; the test reports every check whose verdict differs.
const realCorpus = "testdata/real"

// corpusVerdicts is a capture's verdicts.yaml.
type corpusVerdicts struct {
	// Refused is set when verify must refuse the capture (exit 2) instead of judging it.
	Refused *struct {
		Mentions string `yaml:"mentions"` // the error names this (a file, a missing input)
		Reason   string `yaml:"reason"`
	} `yaml:"refused"`
	Checks map[string]corpusCheck `yaml:"checks"`
}

type corpusCheck struct {
	Status   string            `yaml:"status"`
	Reason   string            `yaml:"reason"`
	Nodes    map[string]string `yaml:"nodes"`
	Findings []corpusFinding   `yaml:"findings"`
}

// corpusFinding is one finding a failed check must report: its kind, and a text its entry
// contains (e.g. the block "10.48.180.192/26").
type corpusFinding struct {
	Node  string `yaml:"node"`
	Kind  string `yaml:"kind"`
	Entry string `yaml:"entry"`
}

func readCorpusVerdicts(t *testing.T, dir string) corpusVerdicts {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "verdicts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v corpusVerdicts
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s/verdicts.yaml: %v", dir, err)
	}
	if v.Refused == nil {
		for _, id := range checkid.All {
			if _, ok := v.Checks[id]; !ok {
				t.Fatalf("%s/verdicts.yaml states no verdict for %s: every check needs one", dir, id)
			}
		}
	}
	for id, c := range v.Checks {
		if !checkid.Known(id) {
			t.Fatalf("%s/verdicts.yaml: unknown check %s", dir, id)
		}
		if c.Reason == "" {
			t.Fatalf("%s/verdicts.yaml: %s has no reason", dir, id)
		}
	}
	return v
}

func corpusDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(realCorpus)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) < 10 {
		t.Fatalf("%s holds %d captures, want at least 10", realCorpus, len(dirs))
	}
	return dirs
}

// verifyCapture opens dir as `verify --from` does and runs every check.
func verifyCapture(dir string) (*report.Report, error) {
	src, err := capture.Open(context.Background(), dir)
	if err != nil {
		return nil, err
	}
	return verify.Run(context.Background(), src, verify.Options{})
}

// TestRealCorpus runs verify over every published capture and compares each check's status,
// its per-node statuses and its findings with the capture's verdicts.yaml. Every
// disagreement is reported (none is skipped), each line starting with the capture and check.
func TestRealCorpus(t *testing.T) {
	for _, name := range corpusDirs(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(realCorpus, name)
			want := readCorpusVerdicts(t, dir)
			r, err := verifyCapture(dir)
			if want.Refused != nil {
				switch {
				case err == nil:
					t.Errorf("DISAGREE %s: verify judged the capture (%s), want it refused with exit 2 naming %q: %s",
						name, summary(r), want.Refused.Mentions, want.Refused.Reason)
				case exitcode.Code(err) != 2 || !strings.Contains(err.Error(), want.Refused.Mentions):
					t.Errorf("DISAGREE %s: error %q (exit %d), want exit 2 naming %q: %s",
						name, err, exitcode.Code(err), want.Refused.Mentions, want.Refused.Reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("DISAGREE %s: verify refused the capture (exit %d): %v", name, exitcode.Code(err), err)
			}
			for _, d := range compareVerdicts(r, want) {
				t.Errorf("DISAGREE %s %s", name, d)
			}
		})
	}
}

func summary(r *report.Report) string {
	s := r.Summary()
	return fmt.Sprintf("%d passed, %d failed, %d skipped", s.Passed, s.Failed, s.Skipped)
}

// compareVerdicts lists every way r differs from want.
func compareVerdicts(r *report.Report, want corpusVerdicts) []string {
	var out []string
	ids := make([]string, 0, len(want.Checks))
	for id := range want.Checks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		w := want.Checks[id]
		c, ok := r.Check(id)
		if !ok {
			out = append(out, fmt.Sprintf("%s: not in the report", id))
			continue
		}
		if string(c.Status) != w.Status {
			out = append(out, fmt.Sprintf("%s: %s, want %s (%s)%s", id, c.Status, w.Status, w.Reason, describeCheck(c)))
		}
		nodes := make([]string, 0, len(w.Nodes))
		for n := range w.Nodes {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		for _, n := range nodes {
			got := "absent"
			if rn, ok := c.Node(n); ok {
				got = string(rn.Status)
			}
			if got != w.Nodes[n] {
				out = append(out, fmt.Sprintf("%s on %s: %s, want %s%s", id, n, got, w.Nodes[n], describeNode(c, n)))
			}
		}
		out = append(out, compareFindings(id, c, w.Findings)...)
	}
	return out
}

// compareFindings checks that a check reports exactly the expected findings on each node that
// the verdicts name: every expected one present, nothing else.
func compareFindings(id string, c *report.Check, want []corpusFinding) []string {
	var out []string
	byNode := map[string][]corpusFinding{}
	for _, f := range want {
		byNode[f.Node] = append(byNode[f.Node], f)
	}
	for node, fs := range byNode {
		rn, ok := c.Node(node)
		if !ok {
			out = append(out, fmt.Sprintf("%s on %s: no result, want findings %v", id, node, fs))
			continue
		}
		used := make([]bool, len(rn.Findings))
		for _, f := range fs {
			found := false
			for i, g := range rn.Findings {
				if !used[i] && string(g.Kind) == f.Kind && strings.Contains(g.Entry, f.Entry) {
					used[i], found = true, true
					break
				}
			}
			if !found {
				out = append(out, fmt.Sprintf("%s on %s: no %s finding for %s%s", id, node, f.Kind, f.Entry, describeNode(c, node)))
			}
		}
		for i, g := range rn.Findings {
			if !used[i] {
				out = append(out, fmt.Sprintf("%s on %s: unexpected finding %s %s (expected %q, found %q: %s)", id, node, g.Kind, g.Entry, g.Expected, g.Found, g.Reason))
			}
		}
	}
	return out
}

func describeCheck(c *report.Check) string {
	var b strings.Builder
	if c.Reason != "" {
		fmt.Fprintf(&b, "; reason %q", c.Reason)
	}
	for _, n := range c.Nodes {
		b.WriteString(describeNode(c, n.Node))
	}
	return b.String()
}

func describeNode(c *report.Check, node string) string {
	n, ok := c.Node(node)
	if !ok {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n\t\t%s: %s", n.Node, n.Status)
	if n.Reason != "" {
		fmt.Fprintf(&b, " (%s)", n.Reason)
	}
	for _, f := range n.Findings {
		fmt.Fprintf(&b, "\n\t\t\t%s %s %s: expected %q found %q (%s)", f.Kind, f.Entry, f.Field, f.Expected, f.Found, f.Reason)
	}
	for _, note := range n.Notes {
		fmt.Fprintf(&b, "\n\t\t\tnote: %s", note)
	}
	return b.String()
}

// corpusMutation changes one published line of a corpus capture; the check must then report
// the finding on the node.
type corpusMutation struct {
	name    string
	capture string
	file    string // under nodes/, or under rr/ when it starts with "rr/"
	old     string // a whole line of the file
	new     string // its replacement ("" deletes it)
	check   string
	node    string
	kind    report.FindingKind
	entry   string // the finding's entry contains this
	mention string // the finding's entry, expectation or found value contains this ("" for none)
}

var corpusMutations = []corpusMutation{
	{
		name: "missing route", capture: "tkng-bgp-kind-v3.16", file: "k8s-guide-worker2/ip-route.txt",
		old:   "10.244.236.0/24 via 172.18.0.5 dev eth0 proto bird ",
		check: checkid.RoutesBlocks, node: "k8s-guide-worker2", kind: report.Missing, entry: "10.244.236.0/24",
	},
	{
		name: "wrong gateway", capture: "tkng-bgp-kind-v3.16", file: "k8s-guide-worker2/ip-route.txt",
		old:   "10.244.175.0/24 via 172.18.0.4 dev eth0 proto bird ",
		new:   "10.244.175.0/24 via 172.18.0.5 dev eth0 proto bird ",
		check: checkid.RoutesBlocks, node: "k8s-guide-worker2", kind: report.Different, entry: "10.244.175.0/24", mention: "172.18.0.4",
	},
	{
		name: "stale route to a block no node owns", capture: "tkng-bgp-kind-v3.16", file: "k8s-guide-worker2/ip-route.txt",
		old:   "default via 172.18.0.1 dev eth0 ",
		new:   "10.244.200.0/24 via 172.18.0.4 dev eth0 proto bird",
		check: checkid.RoutesBlocks, node: "k8s-guide-worker2", kind: report.Unexpected, entry: "10.244.200.0/24",
	},
	{
		name: "multipath one-line form (as projectcalico/calico#6486 printed it)", capture: "tkng-bgp-kind-v3.16", file: "k8s-guide-worker2/ip-route.txt",
		old: "10.244.236.0/24 via 172.18.0.5 dev eth0 proto bird ",
		// The right next hop last: collapsing to the last one would hide the wrong one.
		new:   "10.244.236.0/24 proto bird \\\tnexthop via 172.18.0.4 dev eth0 weight 1 \\\tnexthop via 172.18.0.5 dev eth0 weight 1",
		check: checkid.RoutesBlocks, node: "k8s-guide-worker2", entry: "10.244.236.0/24", mention: "172.18.0.4",
	},
	{
		name: "multipath multi-line form", capture: "tkng-bgp-kind-v3.16", file: "k8s-guide-worker2/ip-route.txt",
		old:   "10.244.236.0/24 via 172.18.0.5 dev eth0 proto bird ",
		new:   "10.244.236.0/24 proto bird \n\tnexthop via 172.18.0.5 dev eth0 weight 1 \n\tnexthop via 172.18.0.4 dev eth0 weight 1 ",
		check: checkid.RoutesBlocks, node: "k8s-guide-worker2", entry: "10.244.236.0/24", mention: "172.18.0.4",
	},
	{
		name: "block missing from the route reflector's RIB", capture: "tkng-bgp-kind-v3.16", file: "rr/gobgp/gobgp-rib.json",
		old:   "*> 10.244.190.0/24      172.18.0.3                                00:05:04   [{Origin: i} {LocalPref: 100}]",
		check: checkid.BGPRIB, node: "gobgp", kind: report.Missing, entry: "10.244.190.0/24", mention: "172.18.0.3",
	},
	{
		name: "wrong next hop in the route reflector's RIB", capture: "tkng-bgp-kind-v3.16", file: "rr/gobgp/gobgp-rib.json",
		old:   "*> 10.244.236.0/24      172.18.0.5                                00:05:03   [{Origin: i} {LocalPref: 100}]",
		new:   "*> 10.244.236.0/24      172.18.0.4                                00:05:03   [{Origin: i} {LocalPref: 100}]",
		check: checkid.BGPRIB, node: "gobgp", kind: report.Different, entry: "10.244.236.0/24", mention: "172.18.0.5",
	},
	{
		name: "BGP route programmed by felix (proto 80)", capture: "tkng-bgp-kind-v3.16", file: "k8s-guide-worker2/ip-route.txt",
		old:   "10.244.175.0/24 via 172.18.0.4 dev eth0 proto bird ",
		new:   "10.244.175.0/24 via 172.18.0.4 dev eth0 proto 80 ",
		check: checkid.RoutesBlocks, node: "k8s-guide-worker2", kind: report.Different, entry: "10.244.175.0/24", mention: "bird",
	},
	{
		name: "BGP route onlink", capture: "tkng-bgp-kind-v3.16", file: "k8s-guide-worker2/ip-route.txt",
		old:   "10.244.175.0/24 via 172.18.0.4 dev eth0 proto bird ",
		new:   "10.244.175.0/24 via 172.18.0.4 dev eth0 proto bird onlink",
		check: checkid.RoutesBlocks, node: "k8s-guide-worker2", kind: report.Different, entry: "10.244.175.0/24", mention: "onlink",
	},
	{
		name: "wrong VTEP MAC in the neighbour table", capture: "tigera-training-vxlan-jumbo", file: "control1/ip-neigh.txt",
		old:   "10.48.0.206 dev vxlan.calico lladdr 66:14:9d:f4:2c:1f PERMANENT",
		new:   "10.48.0.206 dev vxlan.calico lladdr 66:14:9d:f4:2c:20 PERMANENT",
		check: checkid.VXLANNeigh, node: "control1", kind: report.Different, entry: "10.48.0.206", mention: "66:14:9d:f4:2c:1f",
	},
	{
		name: "wrong VTEP MAC in the FDB", capture: "tigera-training-vxlan-jumbo", file: "control1/bridge-fdb.txt",
		old:   "66:4b:ff:e1:ef:01 dev vxlan.calico dst 10.0.1.31 self permanent",
		new:   "66:4b:ff:e1:ef:02 dev vxlan.calico dst 10.0.1.31 self permanent",
		check: checkid.VXLANFDB, node: "control1", kind: report.Missing, entry: "66:4b:ff:e1:ef:01",
	},
	{
		name: "wrong FDB destination", capture: "tigera-training-vxlan-jumbo", file: "control1/bridge-fdb.txt",
		old:   "66:14:9d:f4:2c:1f dev vxlan.calico dst 10.0.1.30 self permanent",
		new:   "66:14:9d:f4:2c:1f dev vxlan.calico dst 10.0.1.31 self permanent",
		check: checkid.VXLANFDB, node: "control1", kind: report.Different, entry: "66:14:9d:f4:2c:1f", mention: "10.0.1.30",
	},
	{
		name: "wrong pod MTU (eth0 must equal the captured vxlan.calico)", capture: "fortinet-vxlan-jumbo-v3.25",
		file:  "ip-10-0-2-200/pods/default/multitool01-deployment-bb4c98bb-8p4lt/ip-addr.txt",
		old:   "3: eth0@if13: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 8951 qdisc noqueue state UP group default",
		new:   "3: eth0@if13: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default",
		check: checkid.PodsWiring, node: "ip-10-0-2-200", kind: report.Different, mention: "8951",
	},
	{
		name: "missing blackhole for the local block", capture: "tigera-training-vxlan-jumbo", file: "control1/ip-route.txt",
		old:   "blackhole 10.48.0.128/26 proto 80 ",
		check: checkid.RoutesBlocks, node: "control1", kind: report.Missing, entry: "10.48.0.128/26",
	},
}

// TestRealCorpusMutations changes one line of a published capture per finding class and
// requires the finding: a verifier that passes the real outputs must still see each fault.
func TestRealCorpusMutations(t *testing.T) {
	for _, m := range corpusMutations {
		t.Run(m.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), m.capture)
			if err := os.CopyFS(dir, os.DirFS(filepath.Join(realCorpus, m.capture))); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, capture.NodesDir, m.file)
			if strings.HasPrefix(m.file, capture.RRDir+"/") {
				path = filepath.Join(dir, m.file)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(data), "\n")
			changed := false
			for i, l := range lines {
				if l == m.old {
					if m.new == "" {
						lines = append(lines[:i], lines[i+1:]...)
					} else {
						lines[i] = m.new
					}
					changed = true
					break
				}
			}
			if !changed {
				t.Fatalf("%s has no line %q", path, m.old)
			}
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := verifyCapture(dir)
			if err != nil {
				t.Fatalf("verify refused the mutated capture (exit %d): %v", exitcode.Code(err), err)
			}
			c, ok := r.Check(m.check)
			if !ok {
				t.Fatalf("%s not in the report", m.check)
			}
			n, ok := c.Node(m.node)
			if !ok {
				t.Fatalf("%s has no result for %s", m.check, m.node)
			}
			for _, f := range n.Findings {
				if (m.kind == "" || f.Kind == m.kind) && strings.Contains(f.Entry, m.entry) &&
					(m.mention == "" || strings.Contains(f.Entry+" "+f.Expected+" "+f.Found, m.mention)) {
					if n.Status != report.Failed || c.Status != report.Failed {
						t.Errorf("%s found %s %s but the node is %s and the check %s", m.check, f.Kind, f.Entry, n.Status, c.Status)
					}
					return
				}
			}
			t.Errorf("%s on %s: no %s finding for %q mentioning %q%s", m.check, m.node, kindText(m.kind), m.entry, m.mention, describeNode(c, m.node))
		})
	}
}

func kindText(k report.FindingKind) string {
	if k == "" {
		return "any"
	}
	return string(k)
}
