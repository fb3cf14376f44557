package clab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/render"
)

// TestLabsPinTheKindNodeImageDigest: the tag kindest/node:v1.32.2 has been re-pushed; every
// built-in lab runs the digest kind v0.27.0 (the kind library knetlab links) publishes for it.
func TestLabsPinTheKindNodeImageDigest(t *testing.T) {
	if kindNodeImage != kinddefaults.Image {
		t.Fatalf("kindNodeImage = %s, the linked kind library's default node image is %s", kindNodeImage, kinddefaults.Image)
	}
	for _, name := range lab.Names() {
		l := mustLab(t, name)
		if l.Cluster.NodeImage != kindNodeImage {
			t.Errorf("labs/%s/lab.yaml cluster.nodeImage = %s, want the digest kind publishes: %s", name, l.Cluster.NodeImage, kindNodeImage)
		}
		files, err := render.Render(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Path == render.TopologyPath(name) && !strings.Contains(string(f.Data), "image: "+kindNodeImage+"\n") {
				t.Errorf("%s does not deploy the pinned node image %s", f.Path, kindNodeImage)
			}
		}
	}
}

// TestCalicoManifestsArePinned: both operator manifests of the lab's Calico release have a
// pinned sha256, the dry-run plan shows it, and a release without pins is refused (exit 2).
func TestCalicoManifestsArePinned(t *testing.T) {
	urls, err := render.CalicoOperatorManifests(render.CalicoVersion)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{home: testHome, source: testSource, h: unusableHost(t)}
	pl, err := p.PlanDeploy(context.Background(), mustLab(t, "calico-overlay"), provider.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plan := string(printed(t, pl))
	for _, u := range urls {
		sum := calicoManifestSHA256[u]
		if len(sum) != 64 {
			t.Errorf("no sha256 pinned for %s", u)
			continue
		}
		if !strings.Contains(plan, u+" (HTTPS, at run time), sha256 must be "+sum) {
			t.Errorf("the plan does not show the sha256 of %s:\n%s", u, plan)
		}
	}

	l := mustLab(t, "calico-overlay")
	l.CNI.Calico.Version = "v3.29.3"
	_, err = p.PlanDeploy(context.Background(), l, provider.DeployOptions{})
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "cni.calico.version") {
		t.Errorf("Calico v3.29.3 without pinned digests: exit %d (%v), want %d naming cni.calico.version", exitcode.Code(err), err, exitcode.Usage)
	}
}

// TestCalicoManifestMismatchIsRefused: a manifest whose bytes are not the pinned ones is not
// applied; the deploy stops with exit 3 naming both digests.
func TestCalicoManifestMismatchIsRefused(t *testing.T) {
	tampered := []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: tigera-operator}\n")
	sum := sha256.Sum256(tampered)
	got := hex.EncodeToString(sum[:])
	h := fakeHost(t, &fakeDocker{}, &fakeKind{}, nil, nil, nil)
	h.fetch = func(context.Context, string) ([]byte, error) { return tampered, nil }
	p := &Provider{home: t.TempDir(), source: testSource, h: h}
	pl, err := p.PlanDeploy(context.Background(), mustLab(t, "pod-network"), provider.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var step *provider.Step
	for i := range pl.Steps {
		if strings.HasPrefix(pl.Steps[i].Title, "install the Calico") {
			step = &pl.Steps[i]
		}
	}
	if step == nil {
		t.Fatal("no Calico install step")
	}
	// The kube clients are nil: reaching apply would panic, so a pass means nothing was applied.
	err = exitcode.FromOutside(step.Run(context.Background(), &recorder{}), toolFix)
	if exitcode.Code(err) != exitcode.Environment {
		t.Fatalf("mismatched manifest: exit %d (%v), want %d", exitcode.Code(err), err, exitcode.Environment)
	}
	want := calicoManifestSHA256[render.CalicoOperatorCRDsURL]
	for _, w := range []string{render.CalicoOperatorCRDsURL, got, want} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}
