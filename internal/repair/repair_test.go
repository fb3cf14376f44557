package repair

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/source"
)

// fakeProvider serves a capture as its lab's live source and records what repair asks of it.
type fakeProvider struct {
	capture string
	calls   []string
}

func (p *fakeProvider) Name() string { return "fake" }
func (p *fakeProvider) Deploy(context.Context, *lab.Lab, provider.DeployOptions) error {
	p.calls = append(p.calls, "deploy")
	return nil
}
func (p *fakeProvider) Destroy(context.Context, string, provider.DestroyOptions) error { return nil }
func (p *fakeProvider) Status(context.Context, string) ([]provider.LabStatus, error) {
	return nil, nil
}
func (p *fakeProvider) Exec(context.Context, string, string, []string, provider.Stdio) error {
	return nil
}
func (p *fakeProvider) Source(ctx context.Context, _ *lab.Lab) (source.Source, error) {
	p.calls = append(p.calls, "source")
	return capture.Open(ctx, p.capture)
}
func (p *fakeProvider) Faults(*lab.Lab) []provider.FaultInfo { return nil }
func (p *fakeProvider) Break(context.Context, *lab.Lab, string) (provider.AppliedFault, error) {
	return provider.AppliedFault{}, nil
}
func (p *fakeProvider) Heal(context.Context, *lab.Lab) ([]string, error) {
	p.calls = append(p.calls, "heal")
	return []string{"resumed the agent of k01-worker (pid 42)"}, nil
}
func (p *fakeProvider) ForgetFaults(context.Context, *lab.Lab) error {
	p.calls = append(p.calls, "forget")
	return nil
}

type lines []string

func (l *lines) Step(format string, args ...any) { *l = append(*l, fmt.Sprintf(format, args...)) }
func (l *lines) Done(format string, args ...any) { *l = append(*l, fmt.Sprintf(format, args...)) }

// Run heals, redeploys, then verifies; the faults are forgotten only when verify passes, so a
// repair that did not work names them again next time.
func TestRunForgetsFaultsOnlyWhenVerifyPasses(t *testing.T) {
	const healthy = "../../verify/capture/testdata/lesson06" // a capture of a healthy calico-overlay
	l, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		checks []string
		failed bool
		calls  []string
	}{
		// What a capture holds passes; the lab's own checks include some a capture cannot pass.
		{[]string{"routes.blocks", "vxlan.device", "vxlan.neigh", "vxlan.fdb"}, false, []string{"heal", "deploy", "source", "forget"}},
		{l.Checks, true, []string{"heal", "deploy", "source"}},
	} {
		l := *l
		l.Checks = tc.checks
		p := &fakeProvider{capture: healthy}
		var progress lines
		rep, err := Run(context.Background(), p, &l, Options{Progress: &progress})
		if err != nil {
			t.Fatal(err)
		}
		if (rep.Failed() > 0) != tc.failed {
			t.Errorf("%s: %d failed checks, want failures: %v", tc.checks, rep.Failed(), tc.failed)
		}
		if !slices.Equal(p.calls, tc.calls) {
			t.Errorf("%s: calls %v, want %v", tc.checks, p.calls, tc.calls)
		}
		if len(progress) == 0 || progress[0] != "resumed the agent of k01-worker (pid 42)" {
			t.Errorf("%s: what Heal did is not reported as progress: %v", tc.checks, progress)
		}
	}
}
