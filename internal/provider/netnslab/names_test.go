package netnslab

import (
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/labs"
)

func catalogueText(t testing.TB, name string) string {
	t.Helper()
	b, err := labs.FS.ReadFile(name + "/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// collidingPair is issue 12's pair: lab cx with cluster ab-k01 and lab cx-ab with cluster k01
// both had their namespaces at knl-cx-ab-k01-*.
func collidingPair(t testing.TB) (*lab.Lab, *lab.Lab) {
	t.Helper()
	load := func(labName, cluster string) *lab.Lab {
		text := strings.ReplaceAll(catalogueText(t, "calico-overlay"), "k01", cluster)
		text = strings.Replace(text, "name: calico-overlay\n", "name: "+labName+"\n", 1)
		l, err := lab.Parse(labName+".yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	return load("cx", "ab-k01"), load("cx-ab", "k01")
}

func TestLabsNeverShareAName(t *testing.T) {
	a, b := collidingPair(t)
	names := map[string]string{}
	for _, l := range []*lab.Lab{a, b} {
		topo, err := newTopology(l, BridgePerVLAN)
		if err != nil {
			t.Fatal(err)
		}
		all := topo.namespaceNames()
		for _, p := range l.Pods {
			all = append(all, PodNamespaceName(l.Name, p.Namespace, p.Name))
		}
		for _, n := range all {
			if other, dup := names[n]; dup {
				t.Errorf("namespace %s belongs to both lab %s and lab %s", n, other, l.Name)
			}
			names[n] = l.Name
			// Readable: ip netns list shows the lab and the member.
			if !strings.HasPrefix(n, labNamespacePrefix(l.Name)) {
				t.Errorf("namespace %s of lab %s does not start with %s", n, l.Name, labNamespacePrefix(l.Name))
			}
			// No other lab's prefix matches it, so a destroy that sweeps a prefix never reaches across.
			for _, o := range []*lab.Lab{a, b} {
				if o != l && strings.HasPrefix(n, labNamespacePrefix(o.Name)) {
					t.Errorf("namespace %s of lab %s carries lab %s's prefix", n, l.Name, o.Name)
				}
			}
		}
	}
	if got, want := NamespaceName("cx", "ab-k01-worker"), "knl.cx.ab-k01-worker"; got != want {
		t.Errorf("NamespaceName = %q, want %q", got, want)
	}
	// A pod's sandbox cannot be a node's namespace: node names have no '.'.
	if p := PodNamespaceName("cx", "default", "web"); !strings.HasPrefix(p, "knl.cx.pod.") || strings.Count(p, ".") != 3 {
		t.Errorf("PodNamespaceName = %q, want knl.cx.pod.<hash>", p)
	}
}

// A lab recorded under the old, ambiguous names is not adopted piecemeal: deploy says how to
// rebuild it.
func TestDeployRefusesALabRecordedUnderOldNames(t *testing.T) {
	l, _ := collidingPair(t)
	rec := &journal.Lab{Lab: l.Name, Phase: journal.PhaseDeployed,
		Namespaces: []journal.Namespace{{Name: "knl-cx-ab-k01-worker", Role: journal.RoleNode, Node: "ab-k01-worker"}}}
	err := checkOwnership(l, rec)
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "--reconfigure") {
		t.Errorf("checkOwnership of a lab recorded as knl-cx-ab-k01-worker: %v, want exit 2 suggesting --reconfigure", err)
	}
}
