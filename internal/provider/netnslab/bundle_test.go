package netnslab

import (
	"context"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// TestBundleNamesTheKernelAndVLANMode: a netns lab's versions.txt says which kernel ran it and
// how its switch realised the VLANs, as deploy recorded it; an unrecorded mode is unknown.
func TestBundleNamesTheKernelAndVLANMode(t *testing.T) {
	root := t.TempDir()
	store, err := journal.Open(context.Background(), root, "calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	store.Lab.VLANMode = VLANAware
	if err := store.Save(); err != nil {
		t.Fatal(err)
	}
	store.Close()
	var _ provider.Bundler = (*Provider)(nil)
	p := New(WithStateRoot(root))
	files, err := p.Bundle(context.Background(), &lab.Lab{Name: "calico-overlay"})
	if err != nil {
		t.Fatal(err)
	}
	v := string(files[provider.VersionsFile])
	if !strings.Contains(v, "\nswitch VLANs: "+VLANAware+"\n") || !strings.HasPrefix(v, "kernel: ") || strings.HasPrefix(v, "kernel: unknown") {
		t.Errorf("versions.txt:\n%s", v)
	}
	files, err = p.Bundle(context.Background(), &lab.Lab{Name: "not-deployed"})
	if err != nil {
		t.Fatal(err)
	}
	if v := string(files[provider.VersionsFile]); !strings.Contains(v, "\nswitch VLANs: unknown: ") {
		t.Errorf("versions.txt of a lab without a record:\n%s", v)
	}
}
