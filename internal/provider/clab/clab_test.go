package clab

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
)

var update = flag.Bool("update", false, "rewrite the golden plans under testdata/plans")

// Fixed paths, so that the golden plans do not depend on who runs the test.
const (
	testHome   = "/home/student/.knetlab"
	testSource = "/home/student/src/knetlab"
)

func mustLab(t *testing.T, name string) *lab.Lab {
	t.Helper()
	l, err := lab.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "plans", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the plan (go test -update rewrites it after review):\n%s", path, got)
	}
}

// printed is the plans as --dry-run prints them.
func printed(t *testing.T, plans ...*provider.Plan) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, pl := range plans {
		if err := pl.Print(&out); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// TestDryRunPlans pins the complete --dry-run output of every lab and CNI, and that printing it
// touches nothing: the host fails the test on any contact.
func TestDryRunPlans(t *testing.T) {
	tests := []struct {
		golden, lab, cni string
		reconfigure      bool
	}{
		{"deploy-calico-overlay.golden", "calico-overlay", "", false},
		{"deploy-calico-overlay-knetlab.golden", "calico-overlay", "knetlab", false},
		{"deploy-pod-network.golden", "pod-network", "calico", false},
		{"deploy-pod-network-knetlab-reconfigure.golden", "pod-network", "knetlab", true},
		{"deploy-calico-bgp.golden", "calico-bgp", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			p := &Provider{home: testHome, source: testSource, h: unusableHost(t)}
			pl, err := p.PlanDeploy(context.Background(), mustLab(t, tt.lab), provider.DeployOptions{
				CNI: tt.cni, Reconfigure: tt.reconfigure,
			})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, printed(t, pl))
		})
	}
	for _, name := range []string{"calico-bgp", "calico-overlay", "pod-network"} {
		t.Run("destroy-"+name, func(t *testing.T) {
			p := &Provider{home: testHome, source: testSource, h: unusableHost(t)}
			plans, err := p.PlanDestroy(context.Background(), name, provider.DestroyOptions{Lab: mustLab(t, name)})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "destroy-"+name+".golden", printed(t, plans...))
		})
	}
}

// TestDryRunPlanNamesWhatTheIssueAsksFor reads the plan as a user would: the commands and
// versions that must be there, whatever the wording around them.
func TestDryRunPlanNamesWhatTheIssueAsksFor(t *testing.T) {
	tests := []struct {
		lab, cni string
		want     []string
	}{
		{"calico-overlay", "calico", []string{
			"containerlab deploy -t " + testHome + "/calico-overlay/topologies/calico-overlay.clab.yaml",
			"KubeConfig(\"k01\", false) → " + testHome + "/calico-overlay/kubeconfig",
			"GET /readyz",
			"https://raw.githubusercontent.com/projectcalico/calico/v3.30.0/manifests/operator-crds.yaml",
			"https://raw.githubusercontent.com/projectcalico/calico/v3.30.0/manifests/tigera-operator.yaml",
			"Installation default, APIServer default",
			"TigeraStatus calico and apiserver Available=True",
			"docker import cEOS64-lab-4.34.0F.tar.xz ceos:4.34.0F",
			"fs.inotify.max_user_watches",
			"Pod default/net-w3",
		}},
		{"calico-overlay", "knetlab", []string{
			"ImageBuild (context: tar of " + testSource + ", dockerfile build/Dockerfile, tag knetlab/agent:dev",
			"nodeutils.LoadImageArchive(node k01-worker3, archive)",
			"deploy/manifests/crds.yaml, deploy/manifests/rbac.yaml",
			"ConfigMap knetlab-system/knetlab-config (autodetect 10.10.0.0/16)",
			"IPPool.datastore.knetlab.dev default-ipv4-ippool (cidr 192.168.0.0/16, blockSize 26, vxlanMode CrossSubnet",
			"server-side apply deploy/manifests/daemonset.yaml",
			"DaemonSet knetlab-system/knetlab-agent ready",
		}},
		{"calico-bgp", "calico", []string{
			"ImageBuild (context: tar of " + testHome + "/calico-bgp/configs/calico-bgp/gobgp, dockerfile Dockerfile, tag knetlab-gobgp:v4.8.0",
			"containerlab deploy -t " + testHome + "/calico-bgp/topologies/calico-bgp.clab.yaml",
			"route reflector container gobgp from knetlab-gobgp:v4.8.0 at 172.18.0.5 on docker network kind",
			"Installation default, APIServer default",
			"TigeraStatus calico and apiserver Available=True",
			"BGPConfiguration.projectcalico.org, BGPPeer.projectcalico.org",
			"server-side apply " + testHome + "/calico-bgp/configs/calico-bgp/bgp.yaml: BGPConfiguration default, BGPPeer gobgp-peer",
			"docker exec gobgp gobgp neighbor -j",
			"Established (session_state 6) from every node: 172.18.0.2, 172.18.0.3, 172.18.0.4",
			"Pod default/net-w2",
		}},
	}
	for _, tt := range tests {
		p := &Provider{home: testHome, source: testSource, h: unusableHost(t)}
		pl, err := p.PlanDeploy(context.Background(), mustLab(t, tt.lab), provider.DeployOptions{CNI: tt.cni})
		if err != nil {
			t.Fatal(err)
		}
		out := string(printed(t, pl))
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s --cni %s plan lacks %q", tt.lab, tt.cni, w)
			}
		}
		if tt.cni == "knetlab" && strings.Contains(out, "tigera-operator") {
			t.Errorf("--cni knetlab plan installs Calico's operator")
		}
	}
}

// TestCalicoBGPPlanOrder: the reflector's image exists before containerlab starts its
// container, the BGP resources go in once Calico (and its API server) is up, the sessions are
// waited for after them, and the test pods come last.
func TestCalicoBGPPlanOrder(t *testing.T) {
	p := &Provider{home: testHome, source: testSource, h: unusableHost(t)}
	pl, err := p.PlanDeploy(context.Background(), mustLab(t, "calico-bgp"), provider.DeployOptions{})
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]int{}
	for i, st := range pl.Steps {
		index[st.Title] = i + 1
	}
	order := []string{
		"build the image of route reflector gobgp (GoBGP v4.8.0)",
		"deploy the topology with containerlab (output streamed)",
		"configure Calico",
		"configure Calico BGP",
		"wait for the BGP sessions of route reflector gobgp",
		"create the test pods",
	}
	for i, title := range order {
		if index[title] == 0 {
			t.Fatalf("no step %q in the plan", title)
		}
		if i > 0 && index[title] <= index[order[i-1]] {
			t.Errorf("step %q (%d) comes before %q (%d)", title, index[title], order[i-1], index[order[i-1]])
		}
	}
}

// The knetlab agent image has no BGP speaker in the real lab: a BGP lab with --cni knetlab is
// refused as bad usage before anything runs.
func TestCalicoBGPRefusesTheKnetlabCNI(t *testing.T) {
	p := &Provider{home: testHome, source: testSource, h: unusableHost(t)}
	_, err := p.PlanDeploy(context.Background(), mustLab(t, "calico-bgp"), provider.DeployOptions{CNI: CNIKnetlab})
	if exitcode.Code(err) != exitcode.Usage || !strings.Contains(err.Error(), "--cni calico") {
		t.Errorf("err = %v (exit %d), want a usage error pointing at --cni calico", err, exitcode.Code(err))
	}
}

func TestDeployRejectsUnknownCNI(t *testing.T) {
	p := &Provider{home: testHome, source: testSource, h: unusableHost(t)}
	opts := provider.DeployOptions{CNI: "flannel"}
	_, planErr := p.PlanDeploy(context.Background(), mustLab(t, "pod-network"), opts)
	deployErr := p.Deploy(context.Background(), mustLab(t, "pod-network"), opts)
	for _, err := range []error{planErr, deployErr} {
		if exitcode.Code(err) != exitcode.Usage {
			t.Fatalf("err = %v (exit %d), want exit %d", err, exitcode.Code(err), exitcode.Usage)
		}
	}
}

// TestDeployWithoutDockerExitsThree runs a real deploy on this machine's host. Without a Docker
// engine it must stop in preflight with exit 3 naming Docker, and create nothing.
func TestDeployWithoutDockerExitsThree(t *testing.T) {
	if _, err := os.Stat("/var/run/docker.sock"); err == nil || os.Getenv("DOCKER_HOST") != "" {
		t.Skip("a Docker engine is configured here; this test is for hosts without one")
	}
	home := t.TempDir()
	p := &Provider{home: home, source: testSource, h: realHost()}
	err := p.Deploy(context.Background(), mustLab(t, "calico-overlay"), provider.DeployOptions{})
	if code := exitcode.Code(err); code != exitcode.Environment {
		t.Fatalf("deploy without Docker: exit %d (%v), want %d", code, err, exitcode.Environment)
	}
	var env *exitcode.EnvironmentError
	if !errors.As(err, &env) || !strings.Contains(err.Error(), "Docker daemon not reachable") ||
		!strings.Contains(env.Fix, "install Docker Engine") {
		t.Errorf("error does not name Docker and how to get it:\n%v", err)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("a deploy that failed preflight left %d entries in %s", len(entries), home)
	}
	// The destroy of the same lab must not pretend it cleaned up either.
	err = p.Destroy(context.Background(), "calico-overlay", provider.DestroyOptions{Lab: mustLab(t, "calico-overlay")})
	if code := exitcode.Code(err); code != exitcode.Environment || !strings.Contains(err.Error(), "Docker") {
		t.Errorf("destroy without Docker: exit %d (%v), want %d naming Docker", code, err, exitcode.Environment)
	}
}

func goodProcSys() map[string]string {
	return map[string]string{
		"/proc/sys/fs/inotify/max_user_watches":   "524288\n",
		"/proc/sys/fs/inotify/max_user_instances": "512\n",
	}
}

const clabVersionOutput = `
  ____ ___  _   _ _____  _    ___ _   _ _____ ____  _       _
 / ___/ _ \| \ | |_   _|/ \  |_ _| \ | | ____|  _ \| | __ _| |__
    version: 0.68.0
     commit: 1a2b3c4d
       date: 2025-05-01T10:00:00Z
     source: https://github.com/srl-labs/containerlab
 rel. notes: https://containerlab.dev/rn/0.68/
`

func TestPreflight(t *testing.T) {
	kindNet := network.Summary{Name: "kind"}
	kindNet.IPAM.Config = []network.IPAMConfig{{Subnet: "172.18.0.0/16"}, {Subnet: "fc00:f853:ccd:e793::/64"}}
	otherNet := network.Summary{Name: "mynet"}
	otherNet.IPAM.Config = []network.IPAMConfig{{Subnet: "172.18.5.0/24"}}
	wrongKind := network.Summary{Name: "kind"}
	wrongKind.IPAM.Config = []network.IPAMConfig{{Subnet: "172.19.0.0/16"}}
	kindNetByClab := kindNet
	kindNetByClab.Labels = map[string]string{"containerlab": ""}
	strayRR := container.Summary{Names: []string{"/gobgp"}, Labels: map[string]string{"app": "tkng"}}
	otherRR := container.Summary{Names: []string{"/gobgp-old"}}
	ownRR := container.Summary{Names: []string{"/gobgp"}, Labels: map[string]string{"containerlab": "calico-bgp"}}
	leftover := clabContainer("calico-overlay", "ceos01")
	otherLab := clabContainer("calico-overlay2", "ceos01")

	tests := []struct {
		name        string
		lab         string
		cni         string
		docker      *fakeDocker
		kind        *fakeKind
		path        []string
		procSys     map[string]string
		reconfigure bool
		want        []string // substrings of the error; none means preflight passes
		notWant     []string
	}{
		{name: "all there", lab: "calico-overlay",
			docker: &fakeDocker{images: map[string]bool{"ceos:4.34.0F": true}, networks: []network.Summary{kindNet}, containers: []container.Summary{otherLab}},
			kind:   &fakeKind{clusters: []string{"other"}}, path: []string{"docker", "containerlab"}, procSys: goodProcSys()},
		{name: "pod-network needs no cEOS image", lab: "pod-network",
			docker: &fakeDocker{}, kind: &fakeKind{}, path: []string{"docker", "containerlab"}, procSys: goodProcSys()},
		{name: "no containerlab", lab: "pod-network",
			docker: &fakeDocker{}, kind: &fakeKind{}, path: []string{"docker"}, procSys: goodProcSys(),
			want: []string{"containerlab not found on PATH", "https://get.containerlab.dev"}},
		{name: "no cEOS image", lab: "calico-overlay",
			docker: &fakeDocker{}, kind: &fakeKind{}, path: []string{"docker", "containerlab"}, procSys: goodProcSys(),
			want: []string{"image ceos:4.34.0F not present", "docker import cEOS64-lab-4.34.0F.tar.xz ceos:4.34.0F"}},
		{name: "inotify too low, every problem at once", lab: "pod-network",
			docker: &fakeDocker{}, kind: &fakeKind{}, path: []string{"containerlab"},
			procSys: map[string]string{"/proc/sys/fs/inotify/max_user_watches": "8192", "/proc/sys/fs/inotify/max_user_instances": "128"},
			want:    []string{"max_user_watches is 8192", "max_user_instances is 128", "sudo sysctl -w fs.inotify.max_user_watches=524288", "docker CLI not found"}},
		{name: "lab already deployed", lab: "calico-overlay",
			docker: &fakeDocker{images: map[string]bool{"ceos:4.34.0F": true}, containers: []container.Summary{leftover, otherLab}},
			kind:   &fakeKind{clusters: []string{"k01"}}, path: []string{"docker", "containerlab"}, procSys: goodProcSys(),
			want: []string{"already has containers: clab-calico-overlay-ceos01", "kind cluster named k01 already exists", "knetlab destroy calico-overlay --provider clab"}},
		{name: "reconfigure accepts the lab's own containers", lab: "calico-overlay", reconfigure: true,
			docker: &fakeDocker{images: map[string]bool{"ceos:4.34.0F": true}, containers: []container.Summary{leftover}},
			kind:   &fakeKind{clusters: []string{"k01"}}, path: []string{"docker", "containerlab"}, procSys: goodProcSys()},
		{name: "kind network renumbered", lab: "pod-network",
			docker: &fakeDocker{networks: []network.Summary{wrongKind}}, kind: &fakeKind{}, path: []string{"docker", "containerlab"}, procSys: goodProcSys(),
			want: []string{"docker network kind has subnet 172.19.0.0/16, lab pod-network assumes 172.18.0.0/16"}},
		{name: "another network holds the management subnet", lab: "pod-network",
			docker: &fakeDocker{networks: []network.Summary{otherNet}}, kind: &fakeKind{}, path: []string{"docker", "containerlab"}, procSys: goodProcSys(),
			want: []string{"docker network mynet holds 172.18.5.0/24"}},
		{name: "Docker down: image not checked, said so", lab: "calico-overlay",
			docker: &fakeDocker{pingErr: errors.New("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")},
			kind:   &fakeKind{}, path: []string{"docker", "containerlab"}, procSys: goodProcSys(),
			want: []string{"Docker daemon not reachable", "image ceos:4.34.0F not checked"}},
		{name: "calico-bgp on containerlab's kind network", lab: "calico-bgp",
			docker: &fakeDocker{networks: []network.Summary{kindNetByClab}, containers: []container.Summary{otherRR}}, kind: &fakeKind{},
			path: []string{"docker", "containerlab"}, procSys: goodProcSys()},
		{name: "calico-bgp on kind's own network", lab: "calico-bgp",
			docker: &fakeDocker{networks: []network.Summary{kindNet}}, kind: &fakeKind{}, path: []string{"docker", "containerlab"}, procSys: goodProcSys(),
			want: []string{"docker network kind exists and was not created by containerlab", "route reflector gobgp's fixed address 172.18.0.5",
				"docker network rm kind: containerlab creates it again with subnet 172.18.0.0/16"}},
		{name: "calico-bgp: a container already named gobgp", lab: "calico-bgp",
			docker: &fakeDocker{containers: []container.Summary{strayRR, otherRR}}, kind: &fakeKind{}, path: []string{"docker", "containerlab"}, procSys: goodProcSys(),
			want: []string{"a container named gobgp exists (labels: app=tkng)", "docker rm -f gobgp"}},
		{name: "calico-bgp: its own gobgp is this lab's, reported once", lab: "calico-bgp",
			docker: &fakeDocker{containers: []container.Summary{ownRR}}, kind: &fakeKind{}, path: []string{"docker", "containerlab"}, procSys: goodProcSys(),
			want: []string{"lab calico-bgp already has containers: gobgp"}, notWant: []string{"a container named gobgp"}},
		{name: "calico-bgp redeployed: its own gobgp and network are fine", lab: "calico-bgp", reconfigure: true,
			docker: &fakeDocker{containers: []container.Summary{ownRR}, networks: []network.Summary{kindNetByClab}}, kind: &fakeKind{clusters: []string{"k8s-guide"}},
			path: []string{"docker", "containerlab"}, procSys: goodProcSys()},
		{name: "knetlab CNI needs the source tree", lab: "pod-network", cni: CNIKnetlab,
			docker: &fakeDocker{}, kind: &fakeKind{}, path: []string{"docker", "containerlab"}, procSys: goodProcSys(),
			want: []string{"no build/Dockerfile under " + testSource}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHost(t, tt.docker, tt.kind, tt.path, tt.procSys, map[string]string{"containerlab version": clabVersionOutput})
			version, err := h.preflight(context.Background(), mustLab(t, tt.lab), tt.cni, testSource, tt.reconfigure)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("preflight failed: %v", err)
				}
				if version != "0.68.0" {
					t.Errorf("containerlab version = %q, want 0.68.0", version)
				}
				return
			}
			if code := exitcode.Code(err); code != exitcode.Environment {
				t.Fatalf("exit %d (%v), want %d", code, err, exitcode.Environment)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error has %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseContainerlabVersion(t *testing.T) {
	tests := map[string]string{
		clabVersionOutput:                   "0.68.0",
		"version: v0.54.2\ncommit: abc\n":   "0.54.2",
		"containerlab: command not found\n": "",
	}
	for in, want := range tests {
		if got := parseContainerlabVersion([]byte(in)); got != want {
			t.Errorf("parseContainerlabVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDestroyIsIdempotent destroys a lab that is not there: success, and nothing removed that
// belongs to anyone else.
func TestDestroyIsIdempotent(t *testing.T) {
	clabNet := network.Summary{Name: "clab", Containers: map[string]network.EndpointResource{"x": {Name: "clab-other-srl1"}}}
	d := &fakeDocker{
		containers: []container.Summary{clabContainer("calico-overlay2", "ceos01")},
		networks:   []network.Summary{clabNet},
	}
	k := &fakeKind{clusters: []string{"kind", "k02"}}
	h := fakeHost(t, d, k, []string{"docker", "containerlab"}, nil, nil) // no command may run
	home := t.TempDir()
	p := &Provider{home: home, source: testSource, h: h}
	for i := 0; i < 2; i++ {
		var log recorder
		err := p.Destroy(context.Background(), "calico-overlay", provider.DestroyOptions{Progress: &log})
		if err != nil {
			t.Fatalf("destroy #%d of an absent lab: %v", i+1, err)
		}
		if !strings.Contains(log.String(), "nothing for containerlab to destroy") || !strings.Contains(log.String(), "no kind cluster k01") {
			t.Errorf("destroy #%d does not say there was nothing:\n%s", i+1, log.String())
		}
	}
	if len(d.removed) != 0 || len(k.deleted) != 0 {
		t.Errorf("destroy of an absent lab removed %v and deleted clusters %v", d.removed, k.deleted)
	}
}

// TestDestroyRemovesTheLabsLeftovers: containerlab ran, but a container of the lab and its
// management network remain; only they go.
func TestDestroyRemovesTheLabsLeftovers(t *testing.T) {
	home := t.TempDir()
	l := mustLab(t, "pod-network")
	topology := filepath.Join(home, "pod-network", "topologies", "pod-network.clab.yaml")
	d := &fakeDocker{
		containers: []container.Summary{
			clabContainer("pod-network", "leftover"),
			clabContainer("pod-network2", "x"),
		},
		networks: []network.Summary{{Name: "clab"}},
	}
	k := &fakeKind{clusters: []string{"pod-network", "other"}}
	h := fakeHost(t, d, k, []string{"docker", "containerlab"}, nil, map[string]string{
		"containerlab destroy -t " + topology + " --cleanup": "INFO Destroying lab: pod-network\n",
	})
	p := &Provider{home: home, source: testSource, h: h}
	var log recorder
	if err := p.Destroy(context.Background(), "pod-network", provider.DestroyOptions{Lab: l, Progress: &log}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(k.deleted, ",") != "pod-network" {
		t.Errorf("deleted kind clusters %v, want [pod-network]", k.deleted)
	}
	want := "container clab-pod-network-leftover,network clab"
	if got := strings.Join(d.removed, ","); got != want {
		t.Errorf("removed %q, want %q", got, want)
	}
	if !strings.Contains(log.String(), "containerlab: INFO Destroying lab: pod-network") {
		t.Errorf("containerlab output not streamed:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(home, "pod-network")); !os.IsNotExist(err) {
		t.Errorf("work directory still there: %v", err)
	}
}

func TestConfirmDestroy(t *testing.T) {
	var p provider.Provider = New()
	c, ok := p.(provider.Confirmer)
	if !ok || !c.ConfirmDestroy() {
		t.Fatal("the clab provider must ask before destroying containers and clusters")
	}
}

// recorder is a provider.Progress that keeps the lines.
type recorder struct{ bytes.Buffer }

func (r *recorder) Step(format string, args ...any) { r.line(format, args...) }
func (r *recorder) Done(format string, args ...any) { r.line(format, args...) }
func (r *recorder) line(format string, args ...any) {
	r.WriteString(strings.TrimSpace(fmt.Sprintf(format, args...)) + "\n")
}

// TestDeployStopsAtTheFirstFailedStep runs a deploy on a fake host that passes preflight and
// whose containerlab "succeeds" but leaves no kind cluster: the deploy must stream containerlab's
// output, keep the rendered files, and fail at the kubeconfig step — never report the lab up.
func TestDeployStopsAtTheFirstFailedStep(t *testing.T) {
	home := t.TempDir()
	topology := filepath.Join(home, "pod-network", "topologies", "pod-network.clab.yaml")
	h := fakeHost(t, &fakeDocker{}, &fakeKind{}, []string{"docker", "containerlab"}, goodProcSys(), map[string]string{
		"containerlab version":               clabVersionOutput,
		"containerlab deploy -t " + topology: "INFO Creating lab directory\nINFO Creating kind cluster pod-network\n",
	})
	p := &Provider{home: home, source: testSource, h: h}
	var log recorder
	err := p.Deploy(context.Background(), mustLab(t, "pod-network"), provider.DeployOptions{Progress: &log})
	if err == nil {
		t.Fatalf("deploy succeeded without a cluster:\n%s", log.String())
	}
	if !strings.Contains(err.Error(), "step 4/8 (export the kubeconfig)") || !strings.Contains(err.Error(), "kubeconfig of kind cluster pod-network") {
		t.Errorf("error does not name the failed step: %v", err)
	}
	for _, want := range []string{"containerlab 0.68.0", "containerlab: INFO Creating kind cluster pod-network", "[3/8] deploy the topology"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, log.String())
		}
	}
	if strings.Contains(log.String(), "[4/8] export the kubeconfig (") {
		t.Errorf("the failed step was reported done:\n%s", log.String())
	}
	for _, f := range []string{topology, filepath.Join(home, "pod-network", recordFile)} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("rendered file missing: %v", err)
		}
	}
}

// TestDeployRepairsALabItDeployed: a second deploy of a lab knetlab deployed (its record is in
// the work directory) passes preflight, does not run containerlab again, and goes on to the
// later steps; a lab that is only partly there is refused with the --reconfigure fix.
func TestDeployRepairsALabItDeployed(t *testing.T) {
	kindLabel := map[string]string{"io.x-k8s.kind.cluster": "k01"}
	tests := []struct {
		name       string
		containers []container.Summary
		clusters   []string
		want       string
	}{
		{"up", []container.Summary{clabContainer("calico-overlay", "ceos01"), {Names: []string{"/k01-worker"}, Labels: kindLabel}},
			[]string{"k01"}, "step 5/9 (export the kubeconfig)"},
		{"switch gone", nil, []string{"k01"}, "knetlab deploy calico-overlay --provider clab --reconfigure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			l := mustLab(t, "calico-overlay")
			if err := os.MkdirAll(filepath.Join(home, l.Name), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(home, l.Name, recordFile), []byte(`{"lab":"calico-overlay","cluster":"k01"}`), 0o644); err != nil {
				t.Fatal(err)
			}
			d := &fakeDocker{images: map[string]bool{"ceos:4.34.0F": true}, containers: tt.containers}
			// No containerlab deploy among the commands: running it would fail the test.
			h := fakeHost(t, d, &fakeKind{clusters: tt.clusters}, []string{"docker", "containerlab"}, goodProcSys(),
				map[string]string{"containerlab version": clabVersionOutput})
			h.nodeExec = goodUnderlay(t) // the lab that is up has its underlay
			p := &Provider{home: home, source: testSource, h: h}
			var log recorder
			err := p.Deploy(context.Background(), l, provider.DeployOptions{Progress: &log})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one with %q\n%s", err, tt.want, log.String())
			}
			if strings.Contains(err.Error(), "unexpected command") {
				t.Errorf("containerlab ran again: %v", err)
			}
			if exitcode.Code(err) != exitcode.Environment {
				t.Errorf("exit %d, want %d", exitcode.Code(err), exitcode.Environment)
			}
		})
	}
}
