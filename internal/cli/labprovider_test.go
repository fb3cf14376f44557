package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/labs"
	"github.com/knetlab/knetlab/verify/source"
)

// callLog is what the recording providers were asked, as "<provider> <call> <lab>" lines.
type callLog struct{ calls []string }

func (c *callLog) add(p, call, lab string) { c.calls = append(c.calls, p+" "+call+" "+lab) }

func (c *callLog) take() []string {
	out := c.calls
	c.calls = nil
	return out
}

// errFakeSource ends verify and capture once they have reached a provider's Source.
var errFakeSource = errors.New("no tables in a recording provider")

// recordingProvider answers every call of provider.Provider by logging it, under its name.
type recordingProvider struct {
	name string
	log  *callLog
}

func (p recordingProvider) Name() string { return p.name }

func (p recordingProvider) Deploy(_ context.Context, l *lab.Lab, _ provider.DeployOptions) error {
	p.log.add(p.name, "deploy", l.Name)
	return nil
}

func (p recordingProvider) Destroy(_ context.Context, labName string, opts provider.DestroyOptions) error {
	what := labName
	if opts.Lab != nil {
		what += " (definition " + opts.Lab.Name + ")"
	}
	p.log.add(p.name, "destroy", what)
	return nil
}

func (p recordingProvider) Status(_ context.Context, labName string) ([]provider.LabStatus, error) {
	p.log.add(p.name, "status", labName)
	return nil, nil
}

func (p recordingProvider) Exec(_ context.Context, labName, _ string, _ []string, _ provider.Stdio) error {
	p.log.add(p.name, "exec", labName)
	return nil
}

func (p recordingProvider) Source(_ context.Context, l *lab.Lab) (source.Source, error) {
	p.log.add(p.name, "source", l.Name)
	return nil, errFakeSource
}

// recordingRegistry registers a recording "fake" provider and a recording stand-in for the
// default provider, both logging to log.
func recordingRegistry(log *callLog) *provider.Registry {
	reg := provider.NewRegistry()
	for _, name := range []string{"fake", provider.Default} {
		reg.Register(name, func() (provider.Provider, error) { return recordingProvider{name: name, log: log}, nil })
	}
	return reg
}

// deployedWithFake deploys a lab with --provider fake (args: the lab, or --lab-file FILE) into a
// state root of the test's own, and returns the registry and its log, emptied.
func deployedWithFake(t *testing.T, args ...string) (*provider.Registry, *callLog) {
	t.Helper()
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	log := &callLog{}
	reg := recordingRegistry(log)
	if code, stderr := runReg(t, reg, append([]string{"deploy", "--provider", "fake"}, args...)...); code != 0 {
		t.Fatalf("deploy --provider fake %s: exit %d, %s", strings.Join(args, " "), code, stderr)
	}
	log.take()
	return reg, log
}

func runReg(t *testing.T, reg *provider.Registry, args ...string) (code int, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &ui.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, reg)
	return code, errb.String()
}

// A lab deployed with --provider fake is verified, captured, shown, exec'd into and destroyed
// there without --provider; once destroyed, the default provider is asked again.
func TestCommandsUseTheProviderThatDeployedTheLab(t *testing.T) {
	reg, log := deployedWithFake(t, "calico-overlay")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "calico-overlay"}, "fake source calico-overlay"},
		{[]string{"capture", "calico-overlay", "--out", t.TempDir()}, "fake source calico-overlay"},
		{[]string{"status", "calico-overlay"}, "fake status calico-overlay"},
		{[]string{"exec", "calico-overlay", "k01-worker", "--", "true"}, "fake exec calico-overlay"},
		{[]string{"deploy", "calico-overlay"}, "fake deploy calico-overlay"},
		{[]string{"destroy", "calico-overlay"}, "fake destroy calico-overlay (definition calico-overlay)"},
		// destroy removed the record: the lab is the default provider's business again.
		{[]string{"verify", "calico-overlay"}, provider.Default + " source calico-overlay"},
	} {
		_, stderr := runReg(t, reg, tt.args...)
		if got := log.take(); len(got) != 1 || got[0] != tt.want {
			t.Errorf("knetlab %s: provider calls %q, want [%q] (stderr %q)", strings.Join(tt.args, " "), got, tt.want, stderr)
		}
	}
}

// A --provider that contradicts the lab's record is bad usage naming both, and reaches no provider.
func TestAProviderContradictingTheRecordIsRefused(t *testing.T) {
	reg, log := deployedWithFake(t, "calico-overlay")
	other := "--provider=" + provider.Default
	for _, args := range [][]string{
		{"verify", "calico-overlay", other},
		{"capture", "calico-overlay", "--out", t.TempDir(), other},
		{"status", "calico-overlay", other},
		{"exec", "calico-overlay", "k01-worker", other, "--", "true"},
		{"destroy", "calico-overlay", other},
		{"deploy", "calico-overlay", other},
	} {
		code, stderr := runReg(t, reg, args...)
		if code != exitcode.Usage || !strings.Contains(stderr, "--provider fake") || !strings.Contains(stderr, "--provider "+provider.Default) {
			t.Errorf("knetlab %s: exit %d, stderr %q; want exit 2 naming --provider fake and --provider %s",
				strings.Join(args, " "), code, stderr, provider.Default)
		}
		if got := log.take(); len(got) > 0 {
			t.Errorf("knetlab %s reached %q", strings.Join(args, " "), got)
		}
	}
}

// An unknown --provider is named as unknown, record or not.
func TestAnUnknownProviderIsUnknownWhateverTheRecord(t *testing.T) {
	reg, log := deployedWithFake(t, "calico-overlay")
	for _, cmd := range []string{"verify", "deploy", "status", "destroy"} {
		code, stderr := runReg(t, reg, cmd, "calico-overlay", "--provider", "nope")
		if code != exitcode.Usage || !strings.Contains(stderr, `unknown provider "nope"`) {
			t.Errorf("knetlab %s calico-overlay --provider nope: exit %d, %q; want exit 2, unknown provider", cmd, code, stderr)
		}
	}
	if got := log.take(); len(got) > 0 {
		t.Errorf("an unknown provider reached %q", got)
	}
}

// A lab deployed from a lab file is verified and destroyed by name, even after the file is gone.
func TestALabFromAFileIsKnownByName(t *testing.T) {
	file, _ := editedLab(t, "name: calico-overlay\n", "name: my-overlay\n")
	reg, log := deployedWithFake(t, "--lab-file", file)
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "my-overlay"}, "fake source my-overlay"},
		{[]string{"destroy", "my-overlay"}, "fake destroy my-overlay (definition my-overlay)"},
	} {
		code, stderr := runReg(t, reg, tt.args...)
		if got := log.take(); len(got) != 1 || got[0] != tt.want {
			t.Errorf("knetlab %s: exit %d, provider calls %q, want [%q] (stderr %q)", strings.Join(tt.args, " "), code, got, tt.want, stderr)
		}
	}
	if code, stderr := runReg(t, reg, "verify", "my-overlay"); code != exitcode.Usage || !strings.Contains(stderr, fmt.Sprintf("%q", "my-overlay")) {
		t.Errorf("verify my-overlay after destroy: exit %d, %q; want exit 2: the lab is known no more", code, stderr)
	}
}

// editedLab writes calico-overlay's lab.yaml with old replaced by new to a file of the test's,
// and returns its path and text.
func editedLab(t *testing.T, old, new string) (file, text string) {
	t.Helper()
	data, err := labs.FS.ReadFile("calico-overlay/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "lab.yaml")
	text = strings.Replace(string(data), old, new, 1)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, text
}

// refusingProvider refuses every deploy before building anything, as the clab provider's
// preflight does on a host without Docker.
type refusingProvider struct{ recordingProvider }

func (p refusingProvider) Deploy(_ context.Context, l *lab.Lab, _ provider.DeployOptions) error {
	p.log.add(p.name, "deploy", l.Name)
	return exitcode.NewEnvironment(errors.New("Docker daemon not reachable"), "start Docker")
}

// A deploy the provider refused before building anything leaves no record behind: later
// commands must not be sent to a provider that holds nothing of the lab.
func TestARefusedDeployLeavesNoRecord(t *testing.T) {
	t.Setenv("KNETLAB_STATE_DIR", t.TempDir())
	log := &callLog{}
	reg := recordingRegistry(log)
	reg.Register("refusing", func() (provider.Provider, error) {
		return refusingProvider{recordingProvider{name: "refusing", log: log}}, nil
	})
	if code, stderr := runReg(t, reg, "deploy", "calico-overlay", "--provider", "refusing"); code != exitcode.Environment {
		t.Fatalf("deploy --provider refusing: exit %d, %s; want 3", code, stderr)
	}
	log.take()
	runReg(t, reg, "status", "calico-overlay")
	for _, call := range log.take() {
		if strings.HasPrefix(call, "refusing ") {
			t.Errorf("after a refused deploy, status went to the refusing provider: %q", call)
		}
	}
}
