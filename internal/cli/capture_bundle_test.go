package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

// absentSource is a lab with nothing to read yet: every read is source.ErrAbsent.
type absentSource struct{}

func (absentSource) Describe() string                            { return "absent" }
func (absentSource) Facts(context.Context) (*facts.Facts, error) { return nil, source.ErrAbsent }
func (absentSource) Topology(context.Context) ([]observed.NodeStatus, error) {
	return nil, source.ErrAbsent
}
func (absentSource) NodeState(context.Context, string) (*observed.Node, error) {
	return nil, source.ErrAbsent
}
func (absentSource) Switch(context.Context) (*observed.Switch, error) { return nil, source.ErrAbsent }

// bundlingProvider is a recording provider with a source and a provider.Bundler.
type bundlingProvider struct{ recordingProvider }

func (bundlingProvider) Source(context.Context, *lab.Lab) (source.Source, error) {
	return absentSource{}, nil
}

func (bundlingProvider) Bundle(context.Context, *lab.Lab) (map[string][]byte, error) {
	return map[string][]byte{provider.VersionsFile: []byte("containerlab: 0.68.0\n"), "deploy.log": []byte("deployed\n")}, nil
}

// TestCaptureWritesTheBundle: capture writes the provider's extra files beside the capture,
// under versions.txt knetlab's own version first.
func TestCaptureWritesTheBundle(t *testing.T) {
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	reg := provider.NewRegistry()
	reg.Register("fake", func() (provider.Provider, error) {
		return bundlingProvider{recordingProvider{name: "fake", log: &callLog{}}}, nil
	})
	out := t.TempDir()
	if code, stderr := runReg(t, reg, "capture", "calico-overlay", "--provider", "fake", "--out", out); code != 0 {
		t.Fatalf("capture: exit %d, %s", code, stderr)
	}
	v, err := os.ReadFile(filepath.Join(out, "versions.txt"))
	if err != nil || !strings.HasPrefix(string(v), "knetlab: "+Version+" ") || !strings.HasSuffix(string(v), "\ncontainerlab: 0.68.0\n") {
		t.Errorf("versions.txt = %q, %v", v, err)
	}
	if d, err := os.ReadFile(filepath.Join(out, "deploy.log")); err != nil || string(d) != "deployed\n" {
		t.Errorf("deploy.log = %q, %v", d, err)
	}
}
