package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/verify/source"
)

type plainProvider struct{}

func (plainProvider) Name() string                                          { return "plain" }
func (plainProvider) Deploy(context.Context, *lab.Lab, DeployOptions) error { return nil }
func (plainProvider) Destroy(context.Context, string, DestroyOptions) error { return nil }
func (plainProvider) Status(context.Context, string) ([]LabStatus, error)   { return nil, nil }
func (plainProvider) Exec(context.Context, string, string, []string, Stdio) error {
	return nil
}
func (plainProvider) Source(context.Context, *lab.Lab) (source.Source, error) { return nil, nil }

type bundlingProvider struct{ plainProvider }

func (bundlingProvider) Bundle(context.Context, *lab.Lab) (map[string][]byte, error) {
	return map[string][]byte{VersionsFile: []byte("containerlab: 0.68.0\n"), "deploy.log": []byte("[1/9] check the host\n")}, nil
}

// TestBundle: every bundle names knetlab's version first; a Bundler's versions follow and its
// other files come along.
func TestBundle(t *testing.T) {
	l := &lab.Lab{Name: "calico-overlay", Source: "labs/calico-overlay/lab.yaml"}
	files, err := Bundle(context.Background(), plainProvider{}, l, "v0.3.0")
	if err != nil {
		t.Fatal(err)
	}
	v := string(files[VersionsFile])
	if len(files) != 1 || !strings.HasPrefix(v, "knetlab: v0.3.0 (commit ") || !strings.Contains(v, "\nprovider: plain\n") ||
		!strings.Contains(v, "\nlab: calico-overlay (labs/calico-overlay/lab.yaml)\n") {
		t.Errorf("plain provider's bundle: %q", files)
	}
	files, err = Bundle(context.Background(), bundlingProvider{}, l, "v0.3.0")
	if err != nil {
		t.Fatal(err)
	}
	v = string(files[VersionsFile])
	if !strings.HasPrefix(v, "knetlab: v0.3.0") || !strings.HasSuffix(v, "\ncontainerlab: 0.68.0\n") || string(files["deploy.log"]) != "[1/9] check the host\n" {
		t.Errorf("bundler's bundle: %q", files)
	}
}
