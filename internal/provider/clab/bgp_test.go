package clab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/knetlab/knetlab/internal/collect/nodeexec/dockertest"
	"github.com/knetlab/knetlab/internal/render"
)

// rrNeighborJSON is real `gobgp neighbor -j` output of a GoBGP v4.8.0 route reflector (recorded
// for verify/parse: its testdata/bgp/README.md), its loopback addresses renamed: each "from"
// address becomes the matching "to" address.
func rrNeighborJSON(t *testing.T, renames ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "verify", "parse", "testdata", "bgp", "gobgp-v4.8.0", "rr-neighbor.json"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(renames...).Replace(string(data))
}

// The calico-bgp nodes 172.18.0.2-4 in place of the recording's speakers 127.0.0.2-4 (all
// Established); 127.0.0.9, a configured neighbour that never connected, stays Active.
var calicoBGPPeers = []string{`"127.0.0.2"`, `"172.18.0.2"`, `"127.0.0.3"`, `"172.18.0.3"`, `"127.0.0.4"`, `"172.18.0.4"`}

// TestWaitReflectorSessionsOnTheWire reads the reflector's sessions through docker exec of
// `gobgp neighbor -j` in its container, against the Engine API double.
func TestWaitReflectorSessionsOnTheWire(t *testing.T) {
	l := mustLab(t, "calico-bgp")
	rr, _ := l.RouteReflector("gobgp")
	var answer string
	gobgp := dockertest.Container{ID: "rr", Name: "gobgp", Image: rr.Image, State: "running", Status: "Up 1 minute",
		Labels: map[string]string{"containerlab": "calico-bgp"},
		Exec: func(argv []string, _ []byte) dockertest.Result {
			if strings.Join(argv, " ") != "gobgp neighbor -j" {
				return dockertest.Result{NotFound: true}
			}
			return dockertest.Result{Stdout: answer}
		}}
	stopped := gobgp
	stopped.State, stopped.Status, stopped.Name, stopped.ID = "exited", "Exited (1) 5 seconds ago", "gobgp", "rr-stopped"
	ctx := context.Background()

	t.Run("every node Established", func(t *testing.T) {
		answer = rrNeighborJSON(t, calicoBGPPeers...)
		h := wireHost(t, dockertest.New(t, gobgp), &fakeKind{})
		e, err := h.nodes()
		if err != nil {
			t.Fatal(err)
		}
		if err := waitReflectorSessions(ctx, e, l, rr, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("one node Active, one absent", func(t *testing.T) {
		// worker2 takes the never-connected neighbour's place; control-plane is not there at all.
		answer = rrNeighborJSON(t, `"127.0.0.9"`, `"172.18.0.4"`, `"127.0.0.2"`, `"172.18.0.99"`,
			`"127.0.0.3"`, `"172.18.0.3"`, `"127.0.0.4"`, `"172.18.0.98"`)
		h := wireHost(t, dockertest.New(t, gobgp), &fakeKind{})
		e, _ := h.nodes()
		err := waitReflectorSessions(ctx, e, l, rr, 20*time.Millisecond)
		if err == nil {
			t.Fatal("waited successfully for sessions that are not Established")
		}
		for _, want := range []string{
			"BGP sessions of route reflector gobgp: not ready after",
			"k8s-guide-control-plane (172.18.0.2): no session",
			"k8s-guide-worker2 (172.18.0.4): Active",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if strings.Contains(err.Error(), "k8s-guide-worker (172.18.0.3)") {
			t.Errorf("the Established worker is named: %v", err)
		}
	})
	t.Run("reflector container stopped", func(t *testing.T) {
		h := wireHost(t, dockertest.New(t, stopped), &fakeKind{})
		e, _ := h.nodes()
		err := waitReflectorSessions(ctx, e, l, rr, 20*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "gobgp neighbor -j: docker exec in gobgp") {
			t.Errorf("err = %v, want the failed docker exec named", err)
		}
	})
	t.Run("not GoBGP's output", func(t *testing.T) {
		answer = `{"peers": "none"}`
		h := wireHost(t, dockertest.New(t, gobgp), &fakeKind{})
		e, _ := h.nodes()
		if err := waitReflectorSessions(ctx, e, l, rr, 10*time.Second); err == nil {
			t.Error("foreign output accepted")
		}
	})
}

// TestBuildReflectorImageOnTheWire: the reflector's image is built from its rendered
// directory (the build context) with the rendered Dockerfile and tagged with the lab's image.
func TestBuildReflectorImageOnTheWire(t *testing.T) {
	l := mustLab(t, "calico-bgp")
	files, err := render.Render(l)
	if err != nil {
		t.Fatal(err)
	}
	eng := dockertest.New(t)
	d := &deployment{h: wireHost(t, eng, &fakeKind{}), lab: l, workDir: t.TempDir(), files: files}
	if err := d.writeFiles(CNICalico); err != nil {
		t.Fatal(err)
	}
	steps := d.reflectorImageSteps()
	if len(steps) != 1 {
		t.Fatalf("%d build steps, want one for gobgp", len(steps))
	}
	var log recorder
	if err := steps[0].Run(context.Background(), &log); err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	if _, ok := eng.Images["knetlab-gobgp:v4.8.0"]; !ok {
		t.Errorf("image knetlab-gobgp:v4.8.0 not tagged; engine has %v", eng.Images)
	}
	for _, r := range eng.Requests() {
		if r.Path == "/build" && (r.Query.Get("dockerfile") != "Dockerfile" || r.Query.Get("t") != "knetlab-gobgp:v4.8.0") {
			t.Errorf("build query %v", r.Query)
		}
	}
	if !strings.Contains(log.String(), "build: Step 2/5 : RUN CGO_ENABLED=0 go install github.com/osrg/gobgp/v4/cmd/gobgpd@v4.8.0") {
		t.Errorf("the build's steps are not the rendered Dockerfile's:\n%s", log.String())
	}
}

// TestDeployedAlreadyNeedsTheReflector: a calico-bgp lab is up only with its reflector's
// container; the kind cluster alone is a partly deployed lab (--reconfigure), not a lab to
// repair without containerlab.
func TestDeployedAlreadyNeedsTheReflector(t *testing.T) {
	l := mustLab(t, "calico-bgp")
	kindNode := container.Summary{Names: []string{"/k8s-guide-worker"}, Labels: map[string]string{"io.x-k8s.kind.cluster": "k8s-guide"}}
	rrContainer := container.Summary{Names: []string{"/gobgp"}, Labels: map[string]string{"containerlab": "calico-bgp"}}
	for _, tc := range []struct {
		name       string
		containers []container.Summary
		up         bool
		errWant    string
	}{
		{"cluster and reflector", []container.Summary{kindNode, rrContainer}, true, ""},
		{"reflector gone", []container.Summary{kindNode}, false, "knetlab deploy calico-bgp --provider clab --reconfigure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(t, &fakeDocker{containers: tc.containers}, &fakeKind{clusters: []string{"k8s-guide"}}, nil, nil, nil)
			d := &deployment{h: h, lab: l}
			up, err := d.deployedAlready(context.Background())
			if up != tc.up || (tc.errWant == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.errWant)) {
				t.Errorf("deployedAlready = %v, %v; want %v and an error with %q", up, err, tc.up, tc.errWant)
			}
		})
	}
}

// `knetlab exec calico-bgp gobgp -- gobgp global rib` reaches the reflector's container.
func TestExecTargetsTheReflector(t *testing.T) {
	l := mustLab(t, "calico-bgp")
	if c, err := containerOf(l, "gobgp"); err != nil || c != "gobgp" {
		t.Errorf("containerOf(gobgp) = %q, %v", c, err)
	}
	if _, err := containerOf(l, "rr9"); err == nil || !strings.Contains(err.Error(), "k8s-guide-worker2, gobgp") {
		t.Errorf("unknown target: %v, want the reflector among the names", err)
	}
}
