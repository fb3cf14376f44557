package clab

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/build"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/knetlab/knetlab/deploy/manifests"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/render"
)

// The CNIs a clab lab can run.
const (
	CNICalico  = "calico"
	CNIKnetlab = "knetlab"
)

// DockerfilePath is the agent image's Dockerfile, relative to the knetlab source tree.
const DockerfilePath = "build/Dockerfile"

// operatorKinds are the kinds the rendered calico.yaml uses; the operator's CRDs must be served
// before it can be applied.
var operatorKinds = []schema.GroupVersionKind{
	{Group: "operator.tigera.io", Version: "v1", Kind: "Installation"},
	{Group: "operator.tigera.io", Version: "v1", Kind: "APIServer"},
	{Group: "operator.tigera.io", Version: "v1", Kind: "TigeraStatus"},
}

// datastoreKinds are the kinds of deploy/manifests/crds.yaml.
var datastoreKinds = []schema.GroupVersionKind{
	{Group: "datastore.knetlab.dev", Version: "v1", Kind: "IPPool"},
	{Group: "datastore.knetlab.dev", Version: "v1", Kind: "BlockAffinity"},
	{Group: "datastore.knetlab.dev", Version: "v1", Kind: "IPAMBlock"},
	{Group: "datastore.knetlab.dev", Version: "v1", Kind: "Node"},
}

// labRecord is what the work directory remembers about a deployed lab, so that destroy and
// status work without the lab definition (destroy --all, a lab file that is gone).
type labRecord struct {
	Lab     string   `json:"lab"`
	Cluster string   `json:"cluster"`
	Switch  string   `json:"switch,omitempty"`
	Nodes   []string `json:"nodes"`
	CNI     string   `json:"cni"`
}

const recordFile = "knetlab-lab.json"

// deployment is one deploy's run-time state: what earlier steps produced for later ones.
type deployment struct {
	h       *host
	lab     *lab.Lab
	workDir string
	source  string
	files   []render.File
	kube    *kubeClients
}

func (d *deployment) path(rel string) string {
	return filepath.Join(d.workDir, filepath.FromSlash(rel))
}

func (d *deployment) kubeconfig() string { return filepath.Join(d.workDir, "kubeconfig") }

// deployPlan is the complete deploy of l: the same steps for --dry-run and for a real run.
func deployPlan(h *host, l *lab.Lab, opts provider.DeployOptions, workDir, source string) (*provider.Plan, error) {
	cni := opts.CNI
	if cni == "" {
		cni = CNICalico
	}
	if cni != CNICalico && cni != CNIKnetlab {
		return nil, fmt.Errorf("unknown CNI %q (calico or knetlab)", cni)
	}
	if cni == CNIKnetlab && l.BGP != nil {
		return nil, fmt.Errorf("lab %s routes its pods with BGP, and the knetlab agent image runs no BGP speaker in the real lab: deploy it with --cni calico (Calico's BIRD), or on the netns provider", l.Name)
	}
	files, err := render.Render(l)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", l.Name, err)
	}
	d := &deployment{h: h, lab: l, workDir: workDir, source: source, files: files}
	pl := &provider.Plan{Action: "deploy", Provider: Name, Lab: l.Name, CNI: cni, WorkDir: workDir}
	topology := d.path(render.TopologyPath(l.Name))

	pl.Steps = append(pl.Steps, provider.Step{
		Title:   "check the host (preflight: every problem at once, exit 3 with the fixes)",
		Actions: preflightActions(l, cni, source, opts.Reconfigure),
		Run: func(ctx context.Context, p provider.Progress) error {
			_, statErr := os.Stat(filepath.Join(workDir, recordFile))
			v, err := h.preflight(ctx, l, cni, source, opts.Reconfigure || statErr == nil)
			if err != nil {
				return err
			}
			p.Done("containerlab %s, Docker reachable", v)
			return nil
		},
	})

	if opts.Reconfigure {
		// From scratch: the lab's containers, cluster and work directory go first. The destroy's
		// own host check is kept because its later steps use the Docker client it connects.
		for _, st := range destroyPlan(h, target{lab: l.Name, cluster: l.Cluster.Name, workDir: workDir, def: l}).Steps {
			st.Title = "reconfigure: " + st.Title
			pl.Steps = append(pl.Steps, st)
		}
	}

	var writes []string
	for _, f := range files {
		writes = append(writes, "write "+d.path(f.Path))
	}
	writes = append(writes, "write "+filepath.Join(workDir, recordFile)+" (what destroy and status need without the lab file)")
	pl.Steps = append(pl.Steps, provider.Step{
		Title:   "render the lab's files into the work directory",
		Actions: writes,
		Run: func(context.Context, provider.Progress) error {
			return d.writeFiles(cni)
		},
	})
	pl.Steps = append(pl.Steps, d.reflectorImageSteps()...)

	deployCmd := []string{"containerlab", "deploy", "-t", topology}
	what := fmt.Sprintf("containerlab to exit 0: kind cluster %s from %s (deploy wait %s: its nodes stay NotReady until a CNI is installed)",
		l.Cluster.Name, l.Cluster.NodeImage, render.KindDeployWait)
	if l.Switch != nil {
		what += fmt.Sprintf(", switch %s from %s, %d links, the nodes' underlay addresses", l.Switch.Name, l.Switch.Image, len(switchNodes(l)))
	}
	for _, rr := range l.RouteReflectors() {
		what += fmt.Sprintf(", route reflector container %s from %s at %s on docker network %s", rr.Name, rr.Image, rr.Address.Addr(), render.KindNetwork)
	}
	pl.Steps = append(pl.Steps, provider.Step{
		Title: "deploy the topology with containerlab (output streamed)",
		Actions: []string{
			fmt.Sprintf("skipped when the lab is up already (kind cluster %s%s exist): the later steps repair what is missing", l.Cluster.Name, containersNote(l)),
			"exec (in " + workDir + "): " + strings.Join(deployCmd, " "),
		},
		Waits: what,
		Run: func(ctx context.Context, p provider.Progress) error {
			up, err := d.deployedAlready(ctx)
			if err != nil {
				return err
			}
			if up {
				p.Done("lab %s is up already: containerlab deploy skipped, the next steps repair what is missing", l.Name)
				return nil
			}
			return h.stream(ctx, workDir, deployCmd, func(line string) { p.Step("containerlab: %s", line) })
		},
	})

	if len(switchNodes(l)) > 0 {
		pl.Steps = append(pl.Steps, provider.Step{
			Title:   "check the nodes' underlay (containerlab exits 0 even when an exec command failed)",
			Actions: underlayActions(l),
			Run: func(ctx context.Context, _ provider.Progress) error {
				e, err := h.nodes()
				if err != nil {
					return err
				}
				return checkUnderlay(ctx, e, l)
			},
		})
	}

	pl.Steps = append(pl.Steps, provider.Step{
		Title: "export the kubeconfig",
		Actions: []string{fmt.Sprintf("kind library: cluster.NewProvider(cluster.ProviderWithDocker()).KubeConfig(%q, false) → %s (mode 0600)",
			l.Cluster.Name, d.kubeconfig())},
		Run: func(context.Context, provider.Progress) error { return d.exportKubeconfig() },
	})
	pl.Steps = append(pl.Steps, provider.Step{
		Title:   "wait for the API server",
		Actions: []string{"client-go (kubeconfig " + d.kubeconfig() + "): GET /readyz"},
		Waits:   fmt.Sprintf("/readyz answers ok (polled every %s, deadline %s)", pollInterval, apiServerTimeout),
		Run: func(ctx context.Context, _ provider.Progress) error {
			k, err := newKubeClients(d.kubeconfig())
			if err != nil {
				return err
			}
			d.kube = k
			return k.waitReadyz(ctx)
		},
	})

	switch cni {
	case CNICalico:
		steps, err := d.calicoSteps()
		if err != nil {
			return nil, err
		}
		pl.Steps = append(pl.Steps, steps...)
		if steps, err = d.bgpSteps(); err != nil {
			return nil, err
		}
		pl.Steps = append(pl.Steps, steps...)
	case CNIKnetlab:
		steps, err := d.knetlabSteps()
		if err != nil {
			return nil, err
		}
		pl.Steps = append(pl.Steps, steps...)
	}

	pods, err := d.objectsOf(render.PodsPath(l.Name))
	if err != nil {
		return nil, err
	}
	var podIDs []string
	for _, p := range l.Pods {
		podIDs = append(podIDs, p.Namespace+"/"+p.Name)
	}
	pl.Steps = append(pl.Steps, provider.Step{
		Title: "create the test pods",
		Actions: []string{fmt.Sprintf("server-side apply %s: %s", d.path(render.PodsPath(l.Name)), describe(pods)) +
			" (dynamic client + discovery RESTMapper, field manager knetlab)"},
		Waits: fmt.Sprintf("pods %s Ready (deadline %s)", strings.Join(podIDs, ", "), podsTimeout),
		Run: func(ctx context.Context, _ provider.Progress) error {
			if err := d.kube.apply(ctx, pods); err != nil {
				return err
			}
			return d.kube.waitPodsReady(ctx, podIDs)
		},
	})
	return pl, nil
}

// labContainerNames are the containers containerlab creates for the lab besides the kind
// nodes: the switch (clab-<lab>-<switch>) and the route reflectors (named as they are: the
// topology's prefix is empty).
func labContainerNames(l *lab.Lab) []string {
	var names []string
	if l.Switch != nil {
		names = append(names, "clab-"+l.Name+"-"+l.Switch.Name)
	}
	for _, rr := range l.RouteReflectors() {
		names = append(names, rr.Name)
	}
	return names
}

func containersNote(l *lab.Lab) string {
	names := labContainerNames(l)
	switch len(names) {
	case 0:
		return ""
	case 1:
		return " and container " + names[0]
	}
	return " and containers " + strings.Join(names, ", ")
}

// deployedAlready reports whether containerlab has deployed the lab: its kind cluster and its
// own containers (the switch, the route reflectors) exist. A lab that is only partly there
// cannot be repaired by running containerlab again; it needs --reconfigure.
func (d *deployment) deployedAlready(ctx context.Context) (bool, error) {
	dk, err := d.h.docker()
	if err != nil {
		return false, err
	}
	names, err := labContainers(ctx, dk, d.lab.Name)
	if err != nil {
		return false, err
	}
	clusters, err := d.h.kind().List()
	if err != nil {
		return false, fmt.Errorf("list kind clusters: %w", err)
	}
	cluster := false
	for _, c := range clusters {
		cluster = cluster || c == d.lab.Cluster.Name
	}
	present := map[string]bool{}
	for _, n := range names {
		present[n] = true
	}
	all := true
	for _, n := range labContainerNames(d.lab) {
		all = all && present[n]
	}
	switch {
	case cluster && all:
		return true, nil
	case cluster || len(names) > 0:
		return false, exitcode.NewEnvironment(
			fmt.Errorf("lab %s is partly deployed (kind cluster %s present: %v, containers: %v)", d.lab.Name, d.lab.Cluster.Name, cluster, names),
			fmt.Sprintf("knetlab deploy %s --provider clab --reconfigure", d.lab.Name))
	}
	return false, nil
}

// calicoSteps install upstream Calico with the Tigera operator and wait for it.
func (d *deployment) calicoSteps() ([]provider.Step, error) {
	l := d.lab
	urls, err := pinnedCalicoManifests(l.CNI.Calico.Version)
	if err != nil {
		return nil, err
	}
	resources, err := d.objectsOf(render.CalicoPath(l.Name))
	if err != nil {
		return nil, err
	}
	var fetchApply []string
	for _, u := range urls {
		fetchApply = append(fetchApply,
			"fetch "+u+" (HTTPS, at run time), sha256 must be "+calicoManifestSHA256[u]+" (else exit 3)",
			"  server-side apply of every document (dynamic client + discovery RESTMapper, field manager knetlab, force)")
	}
	return []provider.Step{
		{
			Title:   fmt.Sprintf("install the Calico %s operator (CRDs, then tigera-operator)", l.CNI.Calico.Version),
			Actions: fetchApply,
			Waits:   fmt.Sprintf("the API server serves %s (deadline %s)", kindNames(operatorKinds), crdTimeout),
			Run: func(ctx context.Context, p provider.Progress) error {
				for _, u := range urls {
					data, err := d.h.fetch(ctx, u)
					if err != nil {
						return err
					}
					if err := checkManifest(u, data); err != nil {
						return err
					}
					objs, err := decodeManifests(data)
					if err != nil {
						return fmt.Errorf("%s: %w", u, err)
					}
					if err := d.kube.apply(ctx, objs); err != nil {
						return fmt.Errorf("%s: %w", u, err)
					}
					p.Step("applied %d objects from %s", len(objs), u)
				}
				return d.kube.waitKinds(ctx, operatorKinds)
			},
		},
		{
			Title: "configure Calico",
			Actions: []string{fmt.Sprintf("server-side apply %s: %s", d.path(render.CalicoPath(l.Name)), describe(resources)) +
				" (dynamic client + discovery RESTMapper, field manager knetlab)"},
			Waits: fmt.Sprintf("TigeraStatus calico and apiserver Available=True (deadline %s; a timeout names the conditions that are not), then all %d nodes Ready (deadline %s)",
				tigeraTimeout, len(l.Nodes), nodesTimeout),
			Run: func(ctx context.Context, _ provider.Progress) error {
				if err := d.kube.apply(ctx, resources); err != nil {
					return err
				}
				if err := d.kube.waitTigeraStatus(ctx, []string{"calico", "apiserver"}); err != nil {
					return err
				}
				return d.kube.waitNodesReady(ctx, len(l.Nodes))
			},
		},
	}, nil
}

// knetlabSteps build knetlab's agent image, load it into the nodes and run it.
func (d *deployment) knetlabSteps() ([]provider.Step, error) {
	l := d.lab
	seed, err := knetlabLabObjects(l)
	if err != nil {
		return nil, err
	}
	var loads []string
	for _, n := range l.Nodes {
		loads = append(loads, "  kind library: nodeutils.LoadImageArchive(node "+n.Name+", archive)")
	}
	var files []string
	for _, f := range manifests.Order {
		files = append(files, "deploy/manifests/"+f)
	}
	return []provider.Step{
		{
			Title: "build the knetlab agent/CNI image",
			Actions: []string{fmt.Sprintf("docker client: ImageBuild (context: tar of %s, dockerfile %s, tag %s, output streamed)",
				d.source, DockerfilePath, manifests.Image)},
			Run: func(ctx context.Context, p provider.Progress) error {
				return d.buildImage(ctx, p, d.source, DockerfilePath, manifests.Image)
			},
		},
		{
			Title: "load the image into every node of kind cluster " + l.Cluster.Name,
			Actions: append([]string{
				"docker client: ImageSave " + manifests.Image + " (one archive, streamed to each node)",
				fmt.Sprintf("kind library: cluster.NewProvider(cluster.ProviderWithDocker()).ListNodes(%q)", l.Cluster.Name),
			}, loads...),
			Run: func(ctx context.Context, p provider.Progress) error { return d.loadImage(ctx, p) },
		},
		{
			Title: "run the knetlab agent",
			Actions: []string{
				"server-side apply " + strings.Join(files[:len(files)-1], ", ") + " (embedded in the binary; datastore CRDs, RBAC)",
				"server-side apply the lab's agent settings and datastore seed: " + describeLabObjects(seed),
				"server-side apply " + files[len(files)-1] + " (embedded in the binary; the agent DaemonSet)",
			},
			Waits: fmt.Sprintf("the API server serves %s (deadline %s), DaemonSet %s/%s ready on every node (deadline %s), all %d nodes Ready (deadline %s)",
				kindNames(datastoreKinds), crdTimeout, manifests.Namespace, manifests.DaemonSet, agentTimeout, len(l.Nodes), nodesTimeout),
			Run: func(ctx context.Context, _ provider.Progress) error {
				for _, f := range manifests.Order {
					if f == "daemonset.yaml" {
						// The agent reads its --autodetect from the ConfigMap and allocates from
						// the pools: both exist before it starts.
						if err := d.kube.apply(ctx, seed); err != nil {
							return fmt.Errorf("the lab's agent settings and IPPools: %w", err)
						}
					}
					data, err := manifests.Manifests.ReadFile(f)
					if err != nil {
						return err
					}
					objs, err := decodeManifests(data)
					if err != nil {
						return fmt.Errorf("deploy/manifests/%s: %w", f, err)
					}
					if err := d.kube.apply(ctx, objs); err != nil {
						return fmt.Errorf("deploy/manifests/%s: %w", f, err)
					}
					if f == "crds.yaml" {
						if err := d.kube.waitKinds(ctx, datastoreKinds); err != nil {
							return err
						}
					}
				}
				if err := d.kube.waitDaemonSet(ctx, manifests.Namespace, manifests.DaemonSet); err != nil {
					return err
				}
				return d.kube.waitNodesReady(ctx, len(l.Nodes))
			},
		},
	}, nil
}

// objectsOf decodes one rendered file.
func (d *deployment) objectsOf(rel string) ([]*unstructured.Unstructured, error) {
	for _, f := range d.files {
		if f.Path == rel {
			objs, err := decodeManifests(f.Data)
			if err != nil {
				return nil, fmt.Errorf("rendered %s: %w", rel, err)
			}
			return objs, nil
		}
	}
	return nil, fmt.Errorf("render produced no %s", rel)
}

func (d *deployment) writeFiles(cni string) error {
	for _, f := range d.files {
		p := d.path(f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	rec := labRecord{Lab: d.lab.Name, Cluster: d.lab.Cluster.Name, CNI: cni}
	if d.lab.Switch != nil {
		rec.Switch = d.lab.Switch.Name
	}
	for _, n := range d.lab.Nodes {
		rec.Nodes = append(rec.Nodes, n.Name)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.workDir, recordFile), append(data, '\n'), 0o644)
}

func (d *deployment) exportKubeconfig() error {
	cfg, err := d.h.kind().KubeConfig(d.lab.Cluster.Name, false)
	if err != nil {
		return fmt.Errorf("kubeconfig of kind cluster %s: %w (did containerlab create it? `docker ps --filter label=io.x-k8s.kind.cluster=%s`)",
			d.lab.Cluster.Name, err, d.lab.Cluster.Name)
	}
	// The kubeconfig holds cluster-admin credentials.
	if err := os.WriteFile(d.kubeconfig(), []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// buildImage sends a build context (the source tree for the agent image, a reflector's
// rendered directory for its image) to the Docker daemon and builds the image tagged tag from
// the dockerfile inside it, streaming the build's progress lines.
func (d *deployment) buildImage(ctx context.Context, p provider.Progress, contextDir, dockerfile, tag string) error {
	dk, err := d.h.docker()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarDir(pw, contextDir)) }()
	resp, err := dk.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Dockerfile: dockerfile, Tags: []string{tag}, Remove: true, ForceRemove: true,
	})
	if err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("docker build %s: %w", contextDir, err)
	}
	defer resp.Body.Close()
	return followBuild(resp.Body, func(line string) { p.Step("build: %s", line) })
}

// followBuild reads the daemon's JSON message stream; a message with an error fails the build
// (the HTTP status is 200 even when a RUN step fails).
func followBuild(r io.Reader, line func(string)) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read build output: %w", err)
		}
		if msg.Error != "" {
			return fmt.Errorf("image build failed: %s", msg.Error)
		}
		if s := strings.TrimSpace(msg.Stream); s != "" {
			line(s)
		}
	}
}

// tarDir writes dir as a tar stream, skipping .git and what would only slow the upload.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		if e.IsDir() && (e.Name() == ".git" || e.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() && !e.IsDir() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// loadImage saves the agent image once and loads it into every node of the cluster.
func (d *deployment) loadImage(ctx context.Context, p provider.Progress) error {
	dk, err := d.h.docker()
	if err != nil {
		return err
	}
	nodes, err := d.h.kind().ListNodes(d.lab.Cluster.Name)
	if err != nil {
		return fmt.Errorf("nodes of kind cluster %s: %w", d.lab.Cluster.Name, err)
	}
	if len(nodes) == 0 {
		return fmt.Errorf("kind cluster %s has no nodes", d.lab.Cluster.Name)
	}
	archive, err := os.CreateTemp(d.workDir, "agent-image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(archive.Name())
	defer archive.Close()
	rc, err := dk.ImageSave(ctx, []string{manifests.Image})
	if err != nil {
		return fmt.Errorf("docker save %s: %w", manifests.Image, err)
	}
	_, err = io.Copy(archive, rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("docker save %s: %w", manifests.Image, err)
	}
	for _, n := range nodes {
		if _, err := archive.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := nodeutils.LoadImageArchive(n, archive); err != nil {
			return fmt.Errorf("load %s into node %s: %w", manifests.Image, n.String(), err)
		}
		p.Step("loaded %s into %s", manifests.Image, n.String())
	}
	return nil
}

// describe names objects as "Installation default, APIServer default".
func describe(objs []*unstructured.Unstructured) string {
	var names []string
	for _, o := range objs {
		n := o.GetName()
		if ns := o.GetNamespace(); ns != "" {
			n = ns + "/" + n
		}
		names = append(names, o.GetKind()+" "+n)
	}
	return strings.Join(names, ", ")
}

func kindNames(kinds []schema.GroupVersionKind) string {
	var names []string
	for _, k := range kinds {
		names = append(names, k.Kind+"."+k.Group)
	}
	return strings.Join(names, ", ")
}

// switchNodes are the nodes cabled to the switch.
func switchNodes(l *lab.Lab) []lab.Node {
	var out []lab.Node
	for _, n := range l.Nodes {
		if n.SwitchPort != "" {
			out = append(out, n)
		}
	}
	return out
}

// kindNodeImage is the node image of the built-in labs: the digest kind v0.27.0 publishes for
// kindest/node:v1.32.2 (its release notes and pkg/apis/config/defaults/image.go), because the
// tag alone has been re-pushed.
const kindNodeImage = "kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f"

// calicoManifestSHA256 are the sha256 digests of the operator manifests knetlab applies, computed
// from the files at Calico's release tag (git blobs 6e0d9b76 and fcf15e6d of tag v3.30.0). A
// fetched manifest that does not match is refused: it would install cluster-admin software.
var calicoManifestSHA256 = map[string]string{
	render.CalicoOperatorCRDsURL: "3533fc7d5ca0bb5e595d2fe66965ad9199e72b4d213965f567a66b9fc5d712ba",
	render.TigeraOperatorURL:     "4fcda71515ab358a94c4e81b12963e50899e8c6eaa757a9fb587d17c4799f7ab",
}

// pinnedCalicoManifests are the operator manifests of a Calico release with their digests, in
// the order they are applied; a release knetlab has no digests for is refused.
func pinnedCalicoManifests(version string) ([]string, error) {
	urls, err := render.CalicoOperatorManifests(version)
	if err != nil {
		return nil, fmt.Errorf("cni.calico.version: %w", err)
	}
	for _, u := range urls {
		if _, ok := calicoManifestSHA256[u]; !ok {
			return nil, fmt.Errorf("cni.calico.version %s: knetlab has no pinned sha256 for %s (Calico %s is pinned)", version, u, render.CalicoVersion)
		}
	}
	return urls, nil
}

// checkManifest refuses a fetched manifest whose sha256 is not the pinned one.
func checkManifest(url string, data []byte) error {
	sum := sha256.Sum256(data)
	got, want := hex.EncodeToString(sum[:]), calicoManifestSHA256[url]
	if got != want {
		return exitcode.NewEnvironment(fmt.Errorf("%s has sha256 %s, knetlab pins %s: refusing to apply it", url, got, want),
			"the file at the release tag changed or something between this host and raw.githubusercontent.com altered it; "+
				"compare it with the tag (git show "+render.CalicoVersion+":manifests/...) before trusting it")
	}
	return nil
}
