package clab

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/deploy/manifests"
	"github.com/knetlab/knetlab/internal/collect/nodeexec/dockertest"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/clab/clabtest"
)

// These tests run the provider's Docker SDK calls on the wire, against the Engine API double,
// and its containerlab invocations through os/exec, against the containerlab double on PATH.

// engineContainers are the containers of two labs whose names share the clab-calico-overlay-
// prefix, a kind cluster's nodes and a stopped container.
func engineContainers() []dockertest.Container {
	clab := func(lab, node, ip string) dockertest.Container {
		return dockertest.Container{ID: "c-" + lab + "-" + node, Name: "clab-" + lab + "-" + node, Image: "ceos:4.34.0F",
			State: "running", Status: "Up 3 minutes",
			Labels:   map[string]string{"containerlab": lab, "clab-node-name": node, "clab-node-kind": "arista_ceos"},
			Networks: map[string]string{"clab": ip}}
	}
	kind := func(cluster, name, ip, state string) dockertest.Container {
		return dockertest.Container{ID: "k-" + name, Name: name, Image: "kindest/node:v1.32.2", State: state, Status: "Up 3 minutes",
			Labels: map[string]string{"io.x-k8s.kind.cluster": cluster, "io.x-k8s.kind.role": "worker"}, Networks: map[string]string{"kind": ip}}
	}
	stopped := kind("k01", "k01-worker2", "", "exited")
	stopped.Status = "Exited (137) 2 minutes ago"
	return []dockertest.Container{
		clab("calico-overlay", "ceos01", "172.20.20.2"),
		clab("calico-overlay-2", "ceos01", "172.20.20.3"),
		kind("k01", "k01-worker", "172.18.0.3", "running"),
		stopped,
	}
}

// listFilters is the filters parameter of every container list the engine received.
func listFilters(t *testing.T, eng *dockertest.Engine) []string {
	t.Helper()
	var out []string
	for _, r := range eng.Requests() {
		if r.Method == "GET" && r.Path == "/containers/json" {
			if r.Query.Get("all") != "1" {
				t.Errorf("container list without all=1 (stopped containers would be missed): %v", r.Query)
			}
			out = append(out, r.Query.Get("filters"))
		}
	}
	return out
}

func TestLabDiscoveryOnTheWire(t *testing.T) {
	eng := dockertest.New(t, engineContainers()...)
	d := eng.Client(t)
	ctx := context.Background()

	names, err := labContainers(ctx, d, "calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, ","); got != "clab-calico-overlay-ceos01" {
		t.Errorf("containers of calico-overlay = %q, want clab-calico-overlay-ceos01 only", got)
	}
	// The label filter went out in the Engine API's form: a JSON map of filter → set.
	if got := listFilters(t, eng); len(got) != 1 || got[0] != `{"label":{"containerlab=calico-overlay":true}}` {
		t.Errorf("filters sent = %q, want the containerlab=calico-overlay label filter", got)
	}

	nodes, err := labNodeContainers(ctx, d, "calico-overlay", "k01")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, strings.Join([]string{n.node, n.container, n.kind, n.state, n.ip}, " "))
	}
	want := []string{
		"ceos01 clab-calico-overlay-ceos01 switch running 172.20.20.2",
		"k01-worker k01-worker node running 172.18.0.3",
		"k01-worker2 k01-worker2 node exited ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lab containers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// wireHost is a fake host whose Docker is the Engine API double (through the real SDK client)
// and whose commands really run (the containerlab double is first on PATH).
func wireHost(t *testing.T, eng *dockertest.Engine, k *fakeKind) *host {
	h := fakeHost(t, nil, k, []string{"docker"}, goodProcSys(), nil)
	cli := eng.Client(t)
	h.docker = func() (dockerAPI, error) { return cli, nil }
	fakeLook := h.lookPath
	h.lookPath = func(file string) (string, error) {
		if file == "containerlab" {
			return exec.LookPath(file)
		}
		return fakeLook(file) // no docker CLI here; the provider only looks it up
	}
	real := realHost()
	h.output, h.stream = real.output, real.stream
	return h
}

func TestPreflightOnTheWire(t *testing.T) {
	for _, version := range []string{"0.60.0", "0.79.0"} {
		t.Run(version, func(t *testing.T) {
			clab := clabtest.Install(t, version)
			eng := dockertest.New(t, engineContainers()[1:]...) // calico-overlay-2 runs, calico-overlay does not
			eng.Images["ceos:4.34.0F"] = "sha256:5e1f"
			eng.Networks = []dockertest.Network{{Name: "kind", Subnet: "172.18.0.0/16"}, {Name: "bridge", Subnet: "172.17.0.0/16"}}
			h := wireHost(t, eng, &fakeKind{})
			got, err := h.preflight(context.Background(), mustLab(t, "calico-overlay"), "", testSource, false)
			if err != nil {
				t.Fatalf("preflight: %v", err)
			}
			if got != version {
				t.Errorf("containerlab version = %q, want %s", got, version)
			}
			if calls := clab.Calls(t); len(calls) != 1 || strings.Join(calls[0], " ") != "version" {
				t.Errorf("containerlab calls = %q, want one `containerlab version`", calls)
			}
			if f := listFilters(t, eng); len(f) != 1 || f[0] != `{"label":{"containerlab=calico-overlay":true}}` {
				t.Errorf("filters sent = %q", f)
			}

			// The cEOS image missing is the daemon's 404, which preflight reads as not found.
			delete(eng.Images, "ceos:4.34.0F")
			_, err = h.preflight(context.Background(), mustLab(t, "calico-overlay"), "", testSource, false)
			if err == nil || !strings.Contains(err.Error(), "image ceos:4.34.0F not present locally") {
				t.Errorf("preflight without the image: %v", err)
			}
		})
	}
}

// TestDeployRunsContainerlabOnTheWire: deploy runs the real containerlab argument list in the
// work directory after the topology is written (the double refuses a -t file that does not
// exist, as containerlab does), and stops at the kubeconfig export the fake kind cannot do.
func TestDeployRunsContainerlabOnTheWire(t *testing.T) {
	clab := clabtest.Install(t, "0.68.0")
	home := t.TempDir()
	topology := filepath.Join(home, "pod-network", "topologies", "pod-network.clab.yaml")
	eng := dockertest.New(t)
	eng.Networks = []dockertest.Network{{Name: "kind", Subnet: "172.18.0.0/16"}}
	p := &Provider{home: home, source: testSource, h: wireHost(t, eng, &fakeKind{})}
	var log recorder
	err := p.Deploy(context.Background(), mustLab(t, "pod-network"), provider.DeployOptions{Progress: &log})
	if err == nil || !strings.Contains(err.Error(), "export the kubeconfig") {
		t.Fatalf("deploy: err = %v, want the stop at the kubeconfig export\n%s", err, log.String())
	}
	var calls []string
	for _, c := range clab.Calls(t) {
		calls = append(calls, strings.Join(c, " "))
	}
	want := []string{"version", "deploy -t " + topology}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("containerlab calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(log.String(), "containerlab: INFO Parsing & checking topology file="+topology) {
		t.Errorf("containerlab's output was not streamed:\n%s", log.String())
	}
}

// TestDestroyRunsContainerlabOnTheWire: destroy finds the lab by its label on the wire, runs
// containerlab destroy with flags containerlab accepts, and removes only the lab's leftovers.
func TestDestroyRunsContainerlabOnTheWire(t *testing.T) {
	clab := clabtest.Install(t, "0.60.0")
	home := t.TempDir()
	topology := filepath.Join(home, "calico-overlay", "topologies", "calico-overlay.clab.yaml")
	eng := dockertest.New(t, engineContainers()...)
	eng.Networks = []dockertest.Network{{Name: "clab", Subnet: "172.20.20.0/24", Containers: []string{"c-calico-overlay-2-ceos01"}}}
	p := &Provider{home: home, source: testSource, h: wireHost(t, eng, &fakeKind{clusters: []string{"k01"}})}
	var log recorder
	if err := p.Destroy(context.Background(), "calico-overlay", provider.DestroyOptions{Lab: mustLab(t, "calico-overlay"), Progress: &log}); err != nil {
		t.Fatalf("destroy: %v\n%s", err, log.String())
	}
	if calls := clab.Calls(t); len(calls) != 1 || strings.Join(calls[0], " ") != "destroy -t "+topology+" --cleanup" {
		t.Errorf("containerlab calls = %q", calls)
	}
	// The double's containerlab removed nothing, so the leftover step removed the lab's own
	// container, and only it: calico-overlay-2 and the clab network it still uses stay.
	var removed []string
	for _, r := range eng.Requests() {
		if r.Method == "DELETE" {
			removed = append(removed, r.Path)
		}
	}
	if strings.Join(removed, ",") != "/containers/clab-calico-overlay-ceos01" {
		t.Errorf("removed %q, want only /containers/clab-calico-overlay-ceos01\n%s", removed, log.String())
	}
}

// inspectNodes are calico-overlay's switch and a kind node as containerlab lists them.
func inspectNodes(topology string) []clabtest.Node {
	return []clabtest.Node{
		{Lab: "calico-overlay", Name: "clab-calico-overlay-ceos01", ContainerID: "4f1c2b9a7d3e", Image: "ceos:4.34.0F",
			Kind: "arista_ceos", State: "running", Status: "Up 3 minutes (healthy)", IPv4: "172.20.20.2/24",
			IPv6: "3fff:172:20:20::2/64", AbsLabPath: topology, Owner: "student"},
		{Lab: "calico-overlay", Name: "k01-worker3", ContainerID: "9b8e7d6c5a41", Image: "kindest/node:v1.32.2",
			Kind: "ext-container", State: "running", Status: "Up 3 minutes", IPv4: "N/A", IPv6: "N/A", AbsLabPath: topology},
	}
}

// TestInspectAcrossContainerlabVersions runs `containerlab inspect` as the source does and
// parses what each version prints, including a lab with no containers.
func TestInspectAcrossContainerlabVersions(t *testing.T) {
	for _, version := range []string{"0.60.0", "0.67.0", "0.68.0", "0.79.0"} {
		t.Run(version, func(t *testing.T) {
			dir := t.TempDir()
			topology := filepath.Join(dir, "calico-overlay.clab.yaml")
			if err := os.WriteFile(topology, []byte("name: calico-overlay\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			argv := []string{"containerlab", "inspect", "-t", topology, "--format", "json"}
			clabtest.Install(t, version, inspectNodes(topology)...)
			out, err := realHost().output(context.Background(), dir, argv)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := ParseInspect(out)
			if err != nil {
				t.Fatalf("ParseInspect: %v\n%s", err, out)
			}
			if len(cs) != 2 || cs[0].NodeName("calico-overlay") != "ceos01" || cs[0].Lab != "calico-overlay" {
				t.Fatalf("parsed %+v", cs)
			}
			if ip, ok := cs[0].MgmtIPv4(); !ok || ip.String() != "172.20.20.2" {
				t.Errorf("switch management address %v %v", ip, ok)
			}
			if _, ok := cs[1].MgmtIPv4(); ok {
				t.Errorf("N/A parsed as an address: %+v", cs[1])
			}
			wantStatus := ""
			if clabtest.Grouped(version) {
				wantStatus = "healthy" // containerlab shortens a status with a health state
			}
			if cs[0].Status != wantStatus {
				t.Errorf("status = %q, want %q", cs[0].Status, wantStatus)
			}

			// A lab without containers: v0.60–v0.67 print nothing on stdout, v0.68+ print {}.
			// Either is "no containers", not malformed output.
			clabtest.Install(t, version)
			out, err = realHost().output(context.Background(), dir, argv)
			if err != nil {
				t.Fatal(err)
			}
			if cs, err := ParseInspect(out); err != nil || len(cs) != 0 {
				t.Errorf("no containers (%q): %v, %v", out, cs, err)
			}
		})
	}
}

// fixtureNodes are the containers of the testdata/inspect fixtures: calico-overlay's switch and
// a kind node, deployed by user student from knetlab's work directory.
func fixtureNodes() []clabtest.Node {
	const abs = "/home/student/.knetlab/calico-overlay/topologies/calico-overlay.clab.yaml"
	return []clabtest.Node{
		{Lab: "calico-overlay", Name: "clab-calico-overlay-ceos01", ContainerID: "4f1c2b9a7d3e", Image: "ceos:4.34.0F",
			Kind: "arista_ceos", State: "running", Status: "Up 3 minutes", IPv4: "172.20.20.2/24", IPv6: "3fff:172:20:20::2/64",
			AbsLabPath: abs, LabPath: "topologies/calico-overlay.clab.yaml", Owner: "student"},
		{Lab: "calico-overlay", Name: "k01-worker3", ContainerID: "9b8e7d6c5a41", Image: "kindest/node:v1.32.2",
			Kind: "ext-container", State: "running", Status: "Up 3 minutes", IPv4: "N/A", IPv6: "N/A",
			AbsLabPath: abs, LabPath: "topologies/calico-overlay.clab.yaml", Owner: "student"},
	}
}

// TestInspectFixturesMatchContainerlab: the fixtures under testdata/inspect are what the
// containerlab double (shapes from containerlab's source) prints for fixtureNodes at v0.60 and
// v0.68; go test -update rewrites them from it.
func TestInspectFixturesMatchContainerlab(t *testing.T) {
	for file, version := range map[string]string{"containers.json": "0.60.0", "by-lab.json": "0.68.0"} {
		path := filepath.Join("testdata", "inspect", file)
		want := clabtest.InspectJSON(version, fixtureNodes())
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got, exp any
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		_ = json.Unmarshal([]byte(want), &exp)
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("%s is not what containerlab %s prints (go test -update rewrites it):\n%s\nwant:\n%s", path, version, data, want)
		}
	}
}

// TestExecOnTheWire: `knetlab exec` passes the command's streams through and takes its exit
// code from exec inspect; the switch is reached by its containerlab container name.
func TestExecOnTheWire(t *testing.T) {
	containers := engineContainers()
	containers[0].Exec = func(argv []string, stdin []byte) dockertest.Result {
		switch strings.Join(argv, " ") {
		case "Cli -c show version":
			return dockertest.Result{Stdout: "Arista cEOSLab\n"}
		case "Cli":
			return dockertest.Result{Stdout: "ran: " + string(stdin)}
		}
		return dockertest.Result{NotFound: true}
	}
	containers[2].Exec = func(argv []string, _ []byte) dockertest.Result {
		return dockertest.Result{Stdout: "partial\n", Stderr: "RTNETLINK answers: Operation not permitted\n", ExitCode: 2}
	}
	eng := dockertest.New(t, containers...)
	p := &Provider{home: t.TempDir(), source: testSource, h: wireHost(t, eng, &fakeKind{})}
	ctx := context.Background()

	var out, errOut strings.Builder
	if err := p.Exec(ctx, "calico-overlay", "ceos01", []string{"Cli", "-c", "show version"}, provider.Stdio{Out: &out, Err: &errOut}); err != nil {
		t.Fatalf("exec in the switch: %v", err)
	}
	if out.String() != "Arista cEOSLab\n" {
		t.Errorf("switch stdout = %q", out.String())
	}

	// With stdin the command reads it to the end: Exec must half-close its side of the
	// connection, or the command (and knetlab) would wait forever.
	out.Reset()
	if err := p.Exec(ctx, "calico-overlay", "ceos01", []string{"Cli"}, provider.Stdio{In: strings.NewReader("show vlan\n"), Out: &out}); err != nil {
		t.Fatalf("exec with stdin: %v", err)
	}
	if out.String() != "ran: show vlan\n" {
		t.Errorf("stdin did not reach the command: stdout %q", out.String())
	}

	out.Reset()
	err := p.Exec(ctx, "calico-overlay", "k01-worker", []string{"ip", "link", "set", "eth1", "down"}, provider.Stdio{Out: &out, Err: &errOut})
	var ce *exitcode.CommandError
	if !errors.As(err, &ce) || ce.Code != 2 {
		t.Fatalf("exec exit: err = %v, want a CommandError with code 2", err)
	}
	if out.String() != "partial\n" || !strings.Contains(errOut.String(), "RTNETLINK answers") {
		t.Errorf("streams: stdout %q, stderr %q", out.String(), errOut.String())
	}

	// A node the lab declares but whose container is gone: the daemon's 404, exit 3.
	err = p.Exec(ctx, "calico-overlay", "k01-worker3", []string{"true"}, provider.Stdio{})
	if exitcode.Code(err) != exitcode.Environment || !strings.Contains(err.Error(), "No such container: k01-worker3") {
		t.Errorf("exec in a missing container: exit %d, %v", exitcode.Code(err), err)
	}
}

// TestBuildImageOnTheWire: the agent image build sends the source tree as the build context
// with the Dockerfile's path, streams the steps, and fails on an error inside the stream,
// which the daemon sends with HTTP 200.
func TestBuildImageOnTheWire(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, DockerfilePath), []byte("FROM golang:1.24\nRUN go build ./cmd/knetlab\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eng := dockertest.New(t)
	d := &deployment{h: wireHost(t, eng, &fakeKind{}), source: src}
	var log recorder
	if err := d.buildImage(context.Background(), &log, d.source, DockerfilePath, manifests.Image); err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	if _, ok := eng.Images[manifests.Image]; !ok {
		t.Errorf("image %s not tagged; engine has %v", manifests.Image, eng.Images)
	}
	for _, r := range eng.Requests() {
		if r.Path == "/build" {
			if q := r.Query; q.Get("dockerfile") != DockerfilePath || q.Get("t") != manifests.Image || q.Get("forcerm") != "1" {
				t.Errorf("build query %v", q)
			}
		}
	}
	if !strings.Contains(log.String(), "build: Step 2/2 : RUN go build ./cmd/knetlab") {
		t.Errorf("build steps not streamed:\n%s", log.String())
	}

	eng.BuildError = "go: cannot find main module"
	err := d.buildImage(context.Background(), &recorder{}, d.source, DockerfilePath, manifests.Image)
	if err == nil || !strings.Contains(err.Error(), "returned a non-zero code: 1") {
		t.Errorf("failed RUN step: err = %v, want the build's error", err)
	}

	d.source = t.TempDir() // no build/Dockerfile
	err = d.buildImage(context.Background(), &recorder{}, d.source, DockerfilePath, manifests.Image)
	if err == nil || !strings.Contains(err.Error(), "Cannot locate specified Dockerfile: build/Dockerfile") {
		t.Errorf("no Dockerfile: err = %v", err)
	}
}
