package netnslab

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// goldenRoot is a state root no host has, so that no deployed lab's record changes a plan.
const goldenRoot = "/run/knetlab-golden"

func goldenPlan(t *testing.T, name string, pl *provider.Plan) {
	t.Helper()
	var out bytes.Buffer
	if err := pl.Print(&out); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "plans", name), out.Bytes())
}

// golden compares got with the file at path, which go test -update rewrites.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it after review):\n%s", path, got)
	}
}

// TestDeployPlans pins the complete --dry-run output of a deploy of each lab. Not as root, the
// VLAN mode is assumed rather than probed, so the plan is the same on every host.
func TestDeployPlans(t *testing.T) {
	orig := geteuid
	geteuid = func() int { return 1000 }
	t.Cleanup(func() { geteuid = orig })
	for _, tc := range []struct {
		golden, lab string
		opts        provider.DeployOptions
	}{
		{"deploy-calico-overlay.golden", "calico-overlay", provider.DeployOptions{}},
		{"deploy-pod-network-reconfigure.golden", "pod-network", provider.DeployOptions{CNI: "knetlab", Reconfigure: true}},
		{"deploy-calico-bgp.golden", "calico-bgp", provider.DeployOptions{}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			l, err := lab.Load(tc.lab)
			if err != nil {
				t.Fatal(err)
			}
			pl, err := New(WithStateRoot(goldenRoot)).PlanDeploy(context.Background(), l, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			goldenPlan(t, tc.golden, pl)
		})
	}
}

// TestDestroyPlan pins what destroy --dry-run lists for a deployed lab: the pods (its datastore
// runs: this test process stands in for it), the processes, the namespaces, the files.
func TestDestroyPlan(t *testing.T) {
	start, err := journal.ProcessStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	rec := &journal.Lab{
		Lab: "calico-overlay", Phase: journal.PhaseDeployed, Datastore: "http://172.18.0.2:2379",
		Processes: []journal.Process{{Name: datastoreProcess, PID: os.Getpid(), StartTime: start}},
		Pods:      []journal.Pod{{Namespace: "default", Name: "net-w1", Node: "k01-worker"}},
		Files:     []string{"/run/knetlab-golden/calico-overlay/cni"},
	}
	r := remains{
		processes: []journal.Process{{Name: datastoreProcess, PID: 4101}, {Name: agentProcess + "k01-worker", PID: 4102}},
		namespaces: []string{NamespaceName("calico-overlay", "ceos01"), NamespaceName("calico-overlay", "k01-worker"),
			PodNamespaceName("calico-overlay", "default", "net-w1")},
	}
	goldenPlan(t, "destroy-calico-overlay.golden", New(WithStateRoot(goldenRoot)).destroyPlan(rec, r))

	// A lab with nothing left has a plan with no steps.
	pls, err := New(WithStateRoot(t.TempDir())).PlanDestroy(context.Background(), testPrefix+"gone", provider.DestroyOptions{})
	if err != nil || len(pls) != 1 || len(pls[0].Steps) != 0 {
		t.Errorf("plan of a lab that is not there: %+v, %v; want one plan without steps", pls, err)
	}
}
