package clab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/collect/nodeexec/dockertest"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/clab/clabtest"
)

// TestDeployKeepsItsLog: deploy tees its progress and containerlab's output into the work
// directory's deploy.log, with the error it stopped at.
func TestDeployKeepsItsLog(t *testing.T) {
	clabtest.Install(t, "0.68.0")
	home := t.TempDir()
	eng := dockertest.New(t)
	eng.Networks = []dockertest.Network{{Name: "kind", Subnet: "172.18.0.0/16"}}
	p := &Provider{home: home, source: testSource, h: wireHost(t, eng, &fakeKind{})}
	err := p.Deploy(context.Background(), mustLab(t, "pod-network"), provider.DeployOptions{Progress: &recorder{}})
	if err == nil {
		t.Fatal("deploy succeeded with a kind that cannot export a kubeconfig")
	}
	data, rerr := os.ReadFile(filepath.Join(home, "pod-network", deployLogFile))
	if rerr != nil {
		t.Fatalf("no deploy log: %v", rerr)
	}
	for _, want := range []string{"[1/", "check the host", "containerlab: INFO Parsing & checking topology file=", "export the kubeconfig"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("deploy.log lacks %q:\n%s", want, data)
		}
	}
}

// TestBundleOnTheWire: a clab lab's bundle names containerlab's version (from the double),
// the node image with its digest and the local image, the running kind nodes' images, the
// recorded CNI, Calico with the pinned manifest digests and the cEOS image, and carries the
// deploy log.
func TestBundleOnTheWire(t *testing.T) {
	clabtest.Install(t, "0.79.0")
	l := mustLab(t, "calico-overlay")
	eng := dockertest.New(t, engineContainers()...)
	eng.Images[l.Cluster.NodeImage] = "sha256:7c1e"
	eng.Images["ceos:4.34.0F"] = "sha256:5e1f"
	home := t.TempDir()
	work := filepath.Join(home, "calico-overlay")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		recordFile:    `{"lab": "calico-overlay", "cluster": "k01", "nodes": ["k01-worker"], "cni": "calico"}`,
		deployLogFile: "[1/12] check the host\n",
	} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := &Provider{home: home, source: testSource, h: wireHost(t, eng, &fakeKind{})}
	files, err := p.Bundle(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	v := string(files[provider.VersionsFile])
	for _, want := range []string{
		"containerlab: 0.79.0\n",
		"kind node image: " + l.Cluster.NodeImage + "\n",
		"kind node image (local): id sha256:7c1e",
		"kind node k01-worker: kindest/node:v1.32.2 (image id sha256:k-k01-worker, running)",
		"cni: calico (recorded by deploy)\n",
		"calico: v3.30.0\n",
		"calico manifest https://raw.githubusercontent.com/projectcalico/calico/v3.30.0/manifests/operator-crds.yaml: sha256 3533fc7d",
		"calico manifest https://raw.githubusercontent.com/projectcalico/calico/v3.30.0/manifests/tigera-operator.yaml: sha256 4fcda715",
		"ceos image: ceos:4.34.0F (id sha256:5e1f)\n",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("versions.txt lacks %q:\n%s", want, v)
		}
	}
	if string(files[deployLogFile]) != "[1/12] check the host\n" {
		t.Errorf("deploy.log = %q", files[deployLogFile])
	}

	// What cannot be found out is said to be unknown, with the reason.
	delete(eng.Images, "ceos:4.34.0F")
	if err := os.Remove(filepath.Join(work, deployLogFile)); err != nil {
		t.Fatal(err)
	}
	files, err = p.Bundle(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	if v := string(files[provider.VersionsFile]); !strings.Contains(v, "ceos image: ceos:4.34.0F (id unknown: ") {
		t.Errorf("missing cEOS image not reported unknown:\n%s", v)
	}
	if _, ok := files[deployLogFile]; ok {
		t.Error("a deploy.log without a log in the work directory")
	}
}
