// Package unguarded is read, never built, by TestGuardCatchesAnUnguardedTest: tests that
// create network namespaces the ways the module's tests do, some of them without RequireLab.
package unguarded

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/knetlab/knetlab/internal/cli"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/vishvananda/netns"
)

func TestMain(m *testing.M) { netns.New() }

func TestNamedNamespace(t *testing.T) { netns.NewNamed("x") }

func BenchmarkUnguarded(b *testing.B) { netns.New() }

func TestTestbed(t *testing.T) { testbed.NewNS(t, "x") }

func TestGuardedTestbed(t *testing.T) {
	testenv.RequireLab(t, "ip")
	testbed.NewUnderlay(t)
}

func deployLab(t *testing.T) {
	p := netnslab.New()
	p.Deploy(context.Background(), nil, provider.DeployOptions{})
}

func guardedLab(t *testing.T) {
	testenv.RequireLab(t)
	deployLab(t)
}

func TestDeployThroughAHelper(t *testing.T) { deployLab(t) }

func TestGuardedInAHelper(t *testing.T) { guardedLab(t) }

func run(t *testing.T, args ...string) int { return cli.Main(args, nil) }

func TestCLIDeploy(t *testing.T) { run(t, "deploy", "--lab-file", "lab.yaml") }

func TestCLIDryRun(t *testing.T) {
	run(t, "deploy", "--lab-file", "lab.yaml", "--dry-run")
	steps := [][]string{{"deploy", "--dry-run"}, {"status"}}
	_ = steps
}

func TestPure(t *testing.T) { run(t, "version") }

// TestMain deploys in the helper process this test starts.
func TestHelperProcess(t *testing.T) { exec.Command(os.Args[0], "-test.run=^$").Run() }
