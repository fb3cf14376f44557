package netnslab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/testenv"
)

// Issue 12: `pod add` stored and ran whatever name it was given. The name is refused before
// any record, lock or namespace exists; no lab needs to be deployed for that.
func TestAddPodRefusesHostileNamesFirst(t *testing.T) {
	root := t.TempDir()
	p := New(WithStateRoot(root))
	for _, pod := range []lab.Pod{
		{Namespace: "default", Name: "z;K8S_POD_NAME=net-w1"},
		{Namespace: "default", Name: "$(id)"},
		{Namespace: "default", Name: "../../x"},
		{Namespace: "default", Name: "Upper"},
		{Namespace: "default", Name: strings.Repeat("a", 300)},
		{Namespace: "default", Name: "a;touch /tmp/knetlab-pwned"},
		{Namespace: "../etc", Name: "web"},
	} {
		pod.Node = "k01-worker"
		_, err := p.AddPod(context.Background(), "calico-overlay", pod, provider.AddPodOptions{})
		if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "RFC 1123") {
			t.Errorf("pod add %q/%q: %v (exit %d), want exit 2 naming the RFC 1123 rule", pod.Namespace, pod.Name, err, exitcode.Code(err))
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) > 0 {
		t.Errorf("refused pod adds left %d entries in the state root", len(entries))
	}
}

// Deploy never adopts a namespace another lab owns, nor one nobody recorded; it refuses before
// it records or creates anything.
func TestDeployRefusesToAdoptAForeignNamespace(t *testing.T) {
	testenv.RequireLab(t)
	for _, owner := range []string{"another-lab", ""} {
		p := newTestProvider(t)
		l := uniqueLab(t, "calico-overlay")
		victim := NamespaceName(l.Name, "k01-worker")
		t.Cleanup(func() { _ = deleteNamespace(victim); removeTestNamespaces(l.Name) })
		h, err := createNamespace(victim)
		if err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			nl, err := netlink.NewHandleAt(h)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := markOwner(nl, owner); err != nil {
				t.Fatal(err)
			}
			nl.Close()
		}
		h.Close()
		err = p.Deploy(context.Background(), l, provider.DeployOptions{})
		if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), victim) || (owner != "" && !strings.Contains(err.Error(), "belongs to lab "+owner)) {
			t.Errorf("deploy over %s (owner %q): %v (exit %d), want exit 2 naming it", victim, owner, err, exitcode.Code(err))
		}
		if inspectNamespace(NamespaceName(l.Name, networkMember)) != nsAbsent {
			t.Errorf("the refused deploy created namespaces")
		}
		if rec, _ := journal.Read(p.root, l.Name); rec != nil {
			t.Errorf("the refused deploy left a record: %+v", rec)
		}
		if inspectNamespace(victim) != nsPresent {
			t.Errorf("the refused deploy removed %s", victim)
		}
		// Destroying the refused lab, definition in hand, leaves another lab's namespace alone.
		if err := p.Destroy(context.Background(), l.Name, provider.DestroyOptions{Lab: l}); err != nil {
			t.Fatal(err)
		}
		if owner != "" && inspectNamespace(victim) != nsPresent {
			t.Errorf("destroy of lab %s removed %s, which lab %s owns", l.Name, victim, owner)
		}
	}
}

// A failed ADD leaves nothing: the plugin here wires the pod, then the runtime sees it fail (a
// wrapper reports an error after the real plugin's ADD), as a plugin that dies half way would.
func TestFailedPodAddRollsBack(t *testing.T) {
	c, _ := deployCNILab(t, "calico-overlay")
	ctx := context.Background()
	link := filepath.Join(journal.Dir(c.p.root, c.lab.Name), "cni", "bin", cni.PluginType)
	real := filepath.Join(journal.Dir(c.p.root, c.lab.Name), "cni", "real", cni.PluginType)
	exe, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, real); err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then\n  " + real + " >/dev/null\n" +
		"  echo '{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"injected failure after ADD\"}'\n  exit 1\nfi\nexec " + real + "\n"
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(link); _ = os.Symlink(exe, link) })

	doomed := lab.Pod{Namespace: "default", Name: "doomed", Node: "k01-worker2"}
	_, err = c.p.AddPod(ctx, c.lab.Name, doomed, provider.AddPodOptions{})
	if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("pod add through a failing plugin: %v, want the plugin's error and a rollback", err)
	}
	if ns := PodNamespaceName(c.lab.Name, "default", "doomed"); inspectNamespace(ns) != nsAbsent {
		t.Errorf("sandbox %s left after the failed ADD", ns)
	}
	hostVeth := cni.HostVethName(cni.PodID{Namespace: "default", Name: "doomed"})
	if _, err := c.node("k01-worker2").LinkByName(hostVeth); err == nil {
		t.Errorf("host veth %s left on k01-worker2 after the failed ADD", hostVeth)
	}
	rec := c.record()
	if _, ok := rec.Pod("default", "doomed"); ok {
		t.Errorf("pod record left after the failed ADD")
	}
	if _, ok := rec.Namespace("default/doomed"); ok {
		t.Errorf("namespace record left after the failed ADD")
	}
	if n := c.allocationsOf("doomed"); n != 0 {
		t.Errorf("%d addresses still allocated to pod doomed after the failed ADD", n)
	}
}

// allocationsOf counts the addresses the lab's IPAM holds for pod name.
func (c *cniLab) allocationsOf(name string) int {
	c.t.Helper()
	blocks, _, err := datastore.IPAMBlocks(c.datastore()).List(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	n := 0
	for _, b := range blocks {
		for _, a := range b.Spec.Allocations {
			if a != nil && *a < len(b.Spec.Attributes) && b.Spec.Attributes[*a].Secondary[datastore.AttrPod] == name {
				n++
			}
		}
	}
	return n
}
