package clab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/render"
)

// kind's documented inotify minimums: below them kubelet and kube-proxy in the node containers
// fail with "too many open files" once a few clusters' worth of pods run.
const (
	minInotifyWatches   = 524288
	minInotifyInstances = 512
)

// ceosTarball is the file Arista's download portal serves for an image tag like ceos:4.34.0F.
func ceosTarball(image string) string {
	_, tag, _ := strings.Cut(image, ":")
	return "cEOS64-lab-" + tag + ".tar.xz"
}

// ceosImportCommand is the exact command that makes a cEOS image available under the lab's tag.
func ceosImportCommand(image string) string {
	return fmt.Sprintf("docker import %s %s", ceosTarball(image), image)
}

const inotifyFix = "sudo sysctl -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512 " +
	"(persist it in /etc/sysctl.d/99-kind.conf)"

const dockerFix = "install Docker Engine (https://docs.docker.com/engine/install/) and start it " +
	"(sudo systemctl start docker); knetlab reaches it through DOCKER_HOST or /var/run/docker.sock"

const containerlabFix = `install containerlab: bash -c "$(curl -sL https://get.containerlab.dev)" ` +
	"(https://containerlab.dev/install/)"

// problem is one thing preflight found missing, with what to do about it.
type problem struct {
	what, fix string
}

// preflightError is every problem at once, so that a user fixes the host in one pass.
func preflightError(action string, probs []problem) error {
	if len(probs) == 0 {
		return nil
	}
	var what, fix []string
	seen := map[string]bool{}
	for _, p := range probs {
		what = append(what, "  - "+p.what)
		if !seen[p.fix] { // both inotify limits have one fix
			seen[p.fix] = true
			fix = append(fix, "  - "+p.fix)
		}
	}
	return exitcode.NewEnvironment(
		fmt.Errorf("the clab provider cannot %s on this host:\n%s", action, strings.Join(what, "\n")),
		"\n"+strings.Join(fix, "\n"))
}

// preflightActions are the checks as --dry-run lists them.
func preflightActions(l *lab.Lab, cni, buildContext string, reconfigure bool) []string {
	a := []string{
		"docker client (github.com/docker/docker/client FromEnv, API version negotiation): Ping — the Docker daemon is reachable",
		"look up docker on PATH (the kind library runs the docker CLI)",
		"exec: containerlab version — containerlab is on PATH; its version is reported",
	}
	if l.Switch != nil {
		a = append(a, fmt.Sprintf("docker client: ImageInspect %s — else import it: %s", l.Switch.Image, ceosImportCommand(l.Switch.Image)))
	}
	a = append(a, fmt.Sprintf("running as root (effective uid 0) or as a member of containerlab's %s group (/etc/group)", clabAdmins))
	a = append(a, fmt.Sprintf("read /proc/sys/fs/inotify/max_user_watches (≥ %d) and max_user_instances (≥ %d) — else: %s",
		minInotifyWatches, minInotifyInstances, inotifyFix))
	if !reconfigure { // --reconfigure destroys them first
		a = append(a,
			fmt.Sprintf("docker client: ContainerList label=%s=%s — no containers of this lab exist yet", clabLabel, l.Name),
			fmt.Sprintf("kind library: cluster.NewProvider().List() — no kind cluster named %s exists yet", l.Cluster.Name),
			"  (both are allowed when this work directory's "+recordFile+" says knetlab deployed the lab: deploy then repairs)")
	}
	a = append(a, fmt.Sprintf("docker client: NetworkList — network kind, if present, is %s; no other network holds it", l.Cluster.ManagementSubnet))
	for _, rr := range l.RouteReflectors() {
		a = append(a, fmt.Sprintf("  network kind, if present, was created by containerlab (label %s): Docker gives route reflector %s its fixed address %s only on a network whose subnet was configured, and kind creates its network without one",
			clabLabel, rr.Name, rr.Address.Addr()))
		if !reconfigure {
			a = append(a, fmt.Sprintf("docker client: ContainerList name=%s — no container outside this lab is named %s (the reflector's container takes the name)", rr.Name, rr.Name))
		}
	}
	if cni == CNIKnetlab {
		a = append(a, fmt.Sprintf("stat %s/%s — the knetlab source tree to build the agent image from", buildContext, DockerfilePath))
	}
	return a
}

// preflight checks the host for a deploy. allowExisting lets the lab's own containers and
// cluster exist: under --reconfigure they are destroyed first, and a lab knetlab deployed
// before is repaired.
func (h *host) preflight(ctx context.Context, l *lab.Lab, cni, buildContext string, allowExisting bool) (clabVersion string, err error) {
	var probs []problem
	d, dockerErr := h.docker()
	if dockerErr == nil {
		_, dockerErr = d.Ping(ctx)
	}
	if dockerErr != nil {
		probs = append(probs, problem{fmt.Sprintf("Docker daemon not reachable: %v", dockerErr), dockerFix})
	}
	if _, err := h.lookPath("docker"); err != nil {
		probs = append(probs, problem{"docker CLI not found on PATH (the kind library runs it)",
			"install the Docker CLI (docker-ce-cli, or Docker Engine which includes it)"})
	}
	if _, err := h.lookPath("containerlab"); err != nil {
		probs = append(probs, problem{"containerlab not found on PATH", containerlabFix})
	} else if out, err := h.output(ctx, "", []string{"containerlab", "version"}); err != nil {
		probs = append(probs, problem{fmt.Sprintf("containerlab version failed: %v", err), containerlabFix})
	} else if clabVersion = parseContainerlabVersion(out); clabVersion == "" {
		probs = append(probs, problem{fmt.Sprintf("containerlab version printed no version: %q", strings.TrimSpace(string(out))), containerlabFix})
	}
	probs = append(probs, h.inotifyProblems()...)
	probs = append(probs, h.privilegeProblems()...)
	if cni == CNIKnetlab {
		if _, err := h.readFile(buildContext + "/" + DockerfilePath); err != nil {
			probs = append(probs, problem{fmt.Sprintf("no %s under %s to build the knetlab agent image from", DockerfilePath, buildContext),
				"run knetlab from a checkout of the knetlab repository (git clone), or set KNETLAB_SOURCE to one"})
		}
	}
	if dockerErr != nil {
		// Image, container and network checks need the daemon; say they were not made rather
		// than pass them silently.
		if l.Switch != nil {
			probs = append(probs, problem{fmt.Sprintf("image %s not checked (Docker unreachable)", l.Switch.Image),
				"once Docker runs, import the image if `docker image inspect " + l.Switch.Image + "` fails: " + ceosImportCommand(l.Switch.Image)})
		}
		return "", preflightError("deploy "+l.Name, probs)
	}
	if l.Switch != nil {
		if _, err := d.ImageInspect(ctx, l.Switch.Image); err != nil {
			if client.IsErrNotFound(err) {
				probs = append(probs, problem{fmt.Sprintf("image %s not present locally (cEOS cannot be pulled from a registry)", l.Switch.Image),
					fmt.Sprintf("download %s from arista.com (Support → Software Downloads → cEOS-lab) and run: %s",
						ceosTarball(l.Switch.Image), ceosImportCommand(l.Switch.Image))})
			} else {
				probs = append(probs, problem{fmt.Sprintf("image %s: %v", l.Switch.Image, err), dockerFix})
			}
		}
	}
	if !allowExisting {
		probs = append(probs, h.clashes(ctx, d, l)...)
	}
	probs = append(probs, h.networkProblems(ctx, d, l)...)
	probs = append(probs, h.reflectorProblems(ctx, d, l, allowExisting)...)
	return clabVersion, preflightError("deploy "+l.Name, probs)
}

// clashes finds what a deploy would collide with: this lab's containers, a kind cluster of the
// same name. A failed lookup is a problem too, so that the other checks still get reported.
func (h *host) clashes(ctx context.Context, d dockerAPI, l *lab.Lab) []problem {
	var probs []problem
	names, err := labContainers(ctx, d, l.Name)
	if err != nil {
		probs = append(probs, problem{err.Error(), dockerFix})
	}
	if len(names) > 0 {
		probs = append(probs, problem{fmt.Sprintf("lab %s already has containers: %s", l.Name, strings.Join(names, ", ")),
			fmt.Sprintf("knetlab destroy %s --provider clab, or deploy with --reconfigure", l.Name)})
	}
	clusters, err := h.kind().List()
	if err != nil {
		probs = append(probs, problem{fmt.Sprintf("list kind clusters: %v", err),
			"the kind library runs the docker CLI: check that `docker ps` works for this user"})
	}
	for _, c := range clusters {
		if c == l.Cluster.Name {
			probs = append(probs, problem{fmt.Sprintf("a kind cluster named %s already exists", c),
				fmt.Sprintf("knetlab destroy %s --provider clab if it is this lab's; otherwise delete it (kind delete cluster --name %s)", l.Name, c)})
		}
	}
	return probs
}

// networkProblems checks that kind's docker network will have the subnet the lab's addresses
// assume (pod-network's nodes are 172.18.0.x because kind's network is 172.18.0.0/16).
func (h *host) networkProblems(ctx context.Context, d dockerAPI, l *lab.Lab) []problem {
	want := l.Cluster.ManagementSubnet
	if !want.IsValid() {
		return nil
	}
	nets, err := d.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return []problem{{fmt.Sprintf("list docker networks: %v", err), dockerFix}}
	}
	var probs []problem
	for _, n := range nets {
		for _, cfg := range n.IPAM.Config {
			sub, err := netip.ParsePrefix(cfg.Subnet)
			if err != nil || !sub.Addr().Is4() {
				continue
			}
			switch {
			case n.Name == "kind" && sub != want:
				probs = append(probs, problem{fmt.Sprintf("docker network kind has subnet %s, lab %s assumes %s", sub, l.Name, want),
					"remove the kind network when no cluster uses it (docker network rm kind) so that kind recreates it"})
			case n.Name != "kind" && sub.Overlaps(want):
				probs = append(probs, problem{fmt.Sprintf("docker network %s holds %s, which overlaps the lab's management subnet %s", n.Name, sub, want),
					fmt.Sprintf("remove or renumber docker network %s", n.Name)})
			}
		}
	}
	return probs
}

// reflectorProblems checks what a route reflector's container needs: kind's network made with a
// configured subnet (containerlab makes it so when it creates the network; kind does not, and
// Docker then refuses the fixed address), and its name free.
func (h *host) reflectorProblems(ctx context.Context, d dockerAPI, l *lab.Lab, allowExisting bool) []problem {
	rrs := l.RouteReflectors()
	if len(rrs) == 0 {
		return nil
	}
	var probs []problem
	nets, err := d.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return []problem{{fmt.Sprintf("list docker networks: %v", err), dockerFix}}
	}
	for _, n := range nets {
		if _, byClab := n.Labels[clabLabel]; n.Name == render.KindNetwork && !byClab {
			probs = append(probs, problem{fmt.Sprintf("docker network kind exists and was not created by containerlab: Docker refuses route reflector %s's fixed address %s on a network without a configured subnet (\"user specified IP address is supported only when connecting to networks with user configured subnets\")",
				rrs[0].Name, rrs[0].Address.Addr()),
				fmt.Sprintf("delete the kind clusters that use it (kind get clusters), then docker network rm kind: containerlab creates it again with subnet %s", l.Cluster.ManagementSubnet)})
		}
	}
	if allowExisting {
		return probs
	}
	for _, rr := range rrs {
		list, err := d.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", rr.Name))})
		if err != nil {
			return append(probs, problem{fmt.Sprintf("list containers: %v", err), dockerFix})
		}
		for _, c := range list {
			// The name filter matches substrings; only the exact name clashes. The lab's own
			// container is reported by clashes already.
			if len(c.Names) == 0 || strings.TrimPrefix(c.Names[0], "/") != rr.Name || c.Labels[clabLabel] == l.Name {
				continue
			}
			probs = append(probs, problem{fmt.Sprintf("a container named %s exists (labels: %s); route reflector %s's container needs the name", rr.Name, labelList(c.Labels), rr.Name),
				fmt.Sprintf("docker rm -f %s if it is a leftover (tkng's make gobgp-rr names its reflector so too)", rr.Name)})
		}
	}
	return probs
}

func labelList(labels map[string]string) string {
	if len(labels) == 0 {
		return "none"
	}
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// clabAdmins is the group whose members may run a setuid containerlab (0.63 and later) without
// sudo; every other user needs root.
const clabAdmins = "clab_admins"

// privilegeProblems checks what containerlab checks before it deploys: root, or membership of
// clab_admins.
func (h *host) privilegeProblems() []problem {
	euid := h.euid()
	if euid == 0 {
		return nil
	}
	name, groups, err := h.userGroups()
	if err != nil {
		return []problem{{fmt.Sprintf("running as uid %d, not root, and the groups of the user are unknown: %v", euid, err),
			"run as root: sudo knetlab ..."}}
	}
	for _, g := range groups {
		if g == clabAdmins {
			return nil
		}
	}
	return []problem{{fmt.Sprintf("running as %s (uid %d), not root and not in containerlab's %s group: containerlab refuses to deploy", name, euid, clabAdmins),
		fmt.Sprintf("run as root (sudo knetlab ...), or join the group containerlab's installer creates: sudo usermod -aG %s %s, then log in again", clabAdmins, name)}}
}

func (h *host) inotifyProblems() []problem {
	var probs []problem
	for _, c := range []struct {
		key string
		min int
	}{
		{"fs.inotify.max_user_watches", minInotifyWatches},
		{"fs.inotify.max_user_instances", minInotifyInstances},
	} {
		path := "/proc/sys/" + strings.ReplaceAll(c.key, ".", "/")
		data, err := h.readFile(path)
		if err != nil {
			probs = append(probs, problem{fmt.Sprintf("read %s: %v", path, err), inotifyFix})
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			probs = append(probs, problem{fmt.Sprintf("%s: %q is not a number", path, strings.TrimSpace(string(data))), inotifyFix})
			continue
		}
		if v < c.min {
			probs = append(probs, problem{fmt.Sprintf("%s is %d, kind needs at least %d", c.key, v, c.min), inotifyFix})
		}
	}
	return probs
}

// labContainers lists the names of the containers containerlab created for the lab: those it
// labelled containerlab=<lab>. The clab-<lab>- name prefix would also match lab <lab>-2's.
// kind's node containers do not carry the label (containerlab adds it only to what it lists).
func labContainers(ctx context.Context, d dockerAPI, labName string) ([]string, error) {
	list, err := d.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", clabLabel+"="+labName))})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var names []string
	for _, c := range list {
		if len(c.Names) > 0 {
			names = append(names, strings.TrimPrefix(c.Names[0], "/"))
		}
	}
	return names, nil
}

// clabLabel is the label containerlab puts on every container it creates, with the lab name.
const clabLabel = "containerlab"

var versionLine = regexp.MustCompile(`(?m)^\s*version:\s*v?(\d+\.\d+\.\d+\S*)`)

// parseContainerlabVersion finds the version in `containerlab version` output, whose banner
// has a "version: 0.68.0" line.
func parseContainerlabVersion(out []byte) string {
	m := versionLine.FindSubmatch(out)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// destroyPreflight checks what a destroy needs: the daemon, and containerlab when there is a
// topology to destroy.
func (h *host) destroyPreflight(ctx context.Context, labName string, needContainerlab bool) (dockerAPI, error) {
	var probs []problem
	d, err := h.docker()
	if err == nil {
		_, err = d.Ping(ctx)
	}
	if err != nil {
		probs = append(probs, problem{fmt.Sprintf("Docker daemon not reachable: %v", err), dockerFix})
	}
	if needContainerlab {
		if _, err := h.lookPath("containerlab"); err != nil {
			probs = append(probs, problem{"containerlab not found on PATH", containerlabFix})
		}
	}
	if err := preflightError("destroy "+labName, probs); err != nil {
		return nil, err
	}
	return d, nil
}

// errNoWorkDir is returned when a lab has no work directory and no definition to render one.
var errNoWorkDir = errors.New("no work directory")
