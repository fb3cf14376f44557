package clab

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/knetlab/knetlab/internal/provider"
)

// clabContainer is a container as containerlab creates it: named clab-<lab>-<node> and labelled
// containerlab=<lab>.
func clabContainer(labName, node string) container.Summary {
	return container.Summary{Names: []string{"/clab-" + labName + "-" + node}, State: "running",
		Labels: map[string]string{"containerlab": labName, "clab-node-name": node}}
}

// kindContainer is a kind node container: its own name and kind's cluster label, no
// containerlab label (containerlab only adds it to what it lists, not to the container).
func kindContainer(cluster, name string) container.Summary {
	return container.Summary{Names: []string{"/" + name}, State: "running",
		Labels: map[string]string{"io.x-k8s.kind.cluster": cluster}}
}

// TestDestroyPodNetworkRunsContainerlab: pod-network has no clab-<lab>-* container, only the
// kind nodes of its k8s-kind node. containerlab destroy must still run: it deletes the cluster
// with kind's default kubeconfig, where kind put the context when containerlab created it.
func TestDestroyPodNetworkRunsContainerlab(t *testing.T) {
	home := t.TempDir()
	topology := filepath.Join(home, "pod-network", "topologies", "pod-network.clab.yaml")
	d := &fakeDocker{containers: []container.Summary{
		kindContainer("pod-network", "pod-network-control-plane"),
		kindContainer("pod-network", "pod-network-worker"),
	}}
	k := &fakeKind{clusters: []string{"pod-network"}}
	var ran []string
	h := fakeHost(t, d, k, []string{"docker", "containerlab"}, nil, nil)
	h.stream = func(_ context.Context, _ string, argv []string, line func(string)) error {
		ran = append(ran, strings.Join(argv, " "))
		k.clusters = nil // containerlab's k8s-kind node deleted the cluster
		line("INFO Deleting kind cluster \"pod-network\"")
		return nil
	}
	p := &Provider{home: home, source: testSource, h: h}
	var log recorder
	if err := p.Destroy(context.Background(), "pod-network", provider.DestroyOptions{Lab: mustLab(t, "pod-network"), Progress: &log}); err != nil {
		t.Fatal(err)
	}
	want := "containerlab destroy -t " + topology + " --cleanup"
	if strings.Join(ran, ";") != want {
		t.Errorf("ran %q, want %q\n%s", ran, want, log.String())
	}
}

// TestDestroyLeftoverKindClusterUsesKindsKubeconfig: when the cluster outlives containerlab, its
// delete removes the context from the kubeconfig kind wrote it to (kind's default), not from the
// work directory's exported copy.
func TestDestroyLeftoverKindClusterUsesKindsKubeconfig(t *testing.T) {
	home := t.TempDir()
	topology := filepath.Join(home, "pod-network", "topologies", "pod-network.clab.yaml")
	k := &fakeKind{clusters: []string{"pod-network"}}
	h := fakeHost(t, &fakeDocker{}, k, []string{"docker", "containerlab"}, nil, map[string]string{
		"containerlab destroy -t " + topology + " --cleanup": "INFO Destroying lab: pod-network\n",
	})
	p := &Provider{home: home, source: testSource, h: h}
	if err := p.Destroy(context.Background(), "pod-network", provider.DestroyOptions{Lab: mustLab(t, "pod-network"), Progress: &recorder{}}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(k.deleted, ",") != "pod-network" || len(k.kubeconfigs) != 1 || k.kubeconfigs[0] != "" {
		t.Errorf("deleted %v with kubeconfigs %q, want pod-network with kind's default (\"\")", k.deleted, k.kubeconfigs)
	}
}

// TestLabContainersByLabel: calico-overlay-2's containers are named clab-calico-overlay-2-*,
// which starts with clab-calico-overlay-; only the containerlab=<lab> label tells them apart.
func TestLabContainersByLabel(t *testing.T) {
	d := &fakeDocker{containers: []container.Summary{
		clabContainer("calico-overlay", "ceos01"),
		clabContainer("calico-overlay-2", "ceos01"),
		kindContainer("k02", "k02-worker"),
	}}
	names, err := labContainers(context.Background(), d, "calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); got != "clab-calico-overlay-ceos01" {
		t.Errorf("containers of calico-overlay = %q, want only clab-calico-overlay-ceos01", got)
	}

	// A destroy of calico-overlay leaves calico-overlay-2 alone.
	home := t.TempDir()
	topology := filepath.Join(home, "calico-overlay", "topologies", "calico-overlay.clab.yaml")
	d.containers = d.containers[1:]
	h := fakeHost(t, d, &fakeKind{clusters: []string{"k02"}}, []string{"docker", "containerlab"}, nil, map[string]string{
		"containerlab destroy -t " + topology + " --cleanup": "",
	})
	p := &Provider{home: home, source: testSource, h: h}
	var log recorder
	if err := p.Destroy(context.Background(), "calico-overlay", provider.DestroyOptions{Lab: mustLab(t, "calico-overlay"), Progress: &log}); err != nil {
		t.Fatal(err)
	}
	if len(d.removed) != 0 || !strings.Contains(log.String(), "nothing for containerlab to destroy") {
		t.Errorf("destroy of calico-overlay removed %v:\n%s", d.removed, log.String())
	}
}
