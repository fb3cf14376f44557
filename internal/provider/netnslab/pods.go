package netnslab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"

	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// Pods of a netns lab. knetlab is their container runtime: it makes a named network namespace
// per pod (the sandbox), records it, and runs the CNI plugin as kubelet's runtime does — CNI_*
// environment, the network config on stdin — inside the pod's node, where the host end of the
// pod's veth belongs.

const (
	// podNetwork is the network name in the CNI config, as Calico's manifests call it; the IPAM
	// handle of a pod is "<podNetwork>.<container ID>".
	podNetwork = "k8s-pod-network"
	podIfName  = "eth0"
	// cniTimeout bounds one plugin run; the plugin's own datastore work is bounded by cni.Timeout.
	cniTimeout = 40 * time.Second
	// cniDestroyTimeout bounds a DEL during destroy, which removes the namespaces either way.
	cniDestroyTimeout = 5 * time.Second
)

// podRuntime runs the CNI plugin for one lab.
type podRuntime struct {
	lab       string
	dir       string // the lab's state directory
	datastore string // etcd client URL
}

func (d *deployer) podRuntime() *podRuntime {
	return &podRuntime{lab: d.topo.lab.Name, dir: journal.Dir(d.root, d.topo.lab.Name), datastore: d.store.Lab.Datastore}
}

func (rt *podRuntime) cniPath() string { return filepath.Join(rt.dir, "cni", "bin") }

// netConf is the network configuration the plugin reads on stdin for a pod on node.
func (rt *podRuntime) netConf(node string) ([]byte, error) {
	conf := cni.NetConf{
		NetConf:            types.NetConf{CNIVersion: "1.0.0", Name: podNetwork, Type: cni.PluginType},
		NodeName:           node,
		DatastoreEndpoints: []string{rt.datastore},
		LogFile:            filepath.Join(rt.dir, "logs", "cni.log"),
	}
	if tls := clientTLS(rt.dir, rt.datastore); tls.IsSet() {
		conf.Datastore = cni.DatastoreConf{Type: cni.DatastoreEtcd, EtcdCertFile: tls.CertFile, EtcdKeyFile: tls.KeyFile, EtcdCACertFile: tls.CAFile}
	}
	return json.Marshal(conf)
}

// invoke runs the plugin's command for pod inside its node's namespace and returns ADD's result.
func (rt *podRuntime) invoke(ctx context.Context, command string, pod journal.Pod) (*types100.Result, error) {
	plugin, err := invoke.FindInPath(cni.PluginType, []string{rt.cniPath()})
	if err != nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("CNI plugin: %w", err), "knetlab deploy "+rt.lab+" installs it")
	}
	conf, err := rt.netConf(pod.Node)
	if err != nil {
		return nil, err
	}
	pluginArgs, err := cni.PodArgs(cni.PodID{Namespace: pod.Namespace, Name: pod.Name}, pod.ContainerID)
	if err != nil {
		if command != "DEL" {
			return nil, exitcode.NewUsage(fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err))
		}
		// A pod an older knetlab recorded under a name Kubernetes refuses: DEL without its
		// name still removes its sandbox's veth pair and releases its address (by container ID).
		pluginArgs = [][2]string{{"IgnoreUnknown", "1"}}
	}
	args := &invoke.Args{
		Command:     command,
		ContainerID: pod.ContainerID,
		NetNS:       namespacePath(pod.NetNS),
		IfName:      podIfName,
		PluginArgs:  pluginArgs,
		Path:        rt.cniPath(),
	}
	node, err := openNamespace(NamespaceName(rt.lab, pod.Node))
	if err != nil {
		return nil, fmt.Errorf("node %s: %w; knetlab deploy %s repairs it", pod.Node, err, rt.lab)
	}
	defer node.Close()
	var stderr bytes.Buffer
	runner := &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: &stderr}}
	var res types.Result
	// The plugin is forked from a thread inside the node's namespace, so it runs there.
	err = kernel.Do(node, func() error {
		if command == "ADD" {
			var err error
			res, err = invoke.ExecPluginWithResult(ctx, plugin, conf, args, runner)
			return err
		}
		return invoke.ExecPluginWithoutResult(ctx, plugin, conf, args, runner)
	})
	if err != nil {
		if s := strings.TrimSpace(stderr.String()); s != "" {
			err = fmt.Errorf("%w (%s)", err, s)
		}
		return nil, fmt.Errorf("CNI %s of pod %s/%s on %s: %w; the plugin logs to %s", command, pod.Namespace, pod.Name, pod.Node, err,
			filepath.Join(rt.dir, "logs", "cni.log"))
	}
	if res == nil {
		return nil, nil
	}
	return types100.NewResultFromResult(res)
}

// add creates the pod's sandbox and runs CNI ADD. The pod is recorded (and its namespace) before
// the namespace exists, so a killed command leaves a pod destroy finds. An ADD that fails is
// rolled back: CNI DEL (the plugin releases the address and removes the veth pair), the sandbox
// removed, the records dropped.
func (rt *podRuntime) add(ctx context.Context, store *journal.Store, p lab.Pod) (journal.Pod, error) {
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	pod := journal.Pod{Namespace: p.Namespace, Name: p.Name, Node: p.Node,
		NetNS: PodNamespaceName(rt.lab, p.Namespace, p.Name), ContainerID: hex.EncodeToString(id)}
	for _, other := range store.Lab.Pods {
		if other.NetNS == pod.NetNS && (other.Namespace != p.Namespace || other.Name != p.Name) {
			return pod, exitcode.Usagef("pods %s/%s and %s/%s would share the sandbox %s (a hash collision): rename one",
				other.Namespace, other.Name, p.Namespace, p.Name, pod.NetNS)
		}
	}
	_, recorded := store.Lab.Namespace(p.Namespace + "/" + p.Name)
	if err := checkAdoptable(pod.NetNS, rt.lab, recorded); err != nil {
		return pod, err
	}
	nsRec := journal.Namespace{Name: pod.NetNS, Role: journal.RolePod, Node: p.Namespace + "/" + p.Name}
	if err := store.AddNamespace(nsRec); err != nil {
		return pod, err
	}
	if err := store.AddPod(pod); err != nil {
		return pod, err
	}
	if err := rt.sandbox(pod); err != nil {
		return pod, rt.rollback(ctx, store, pod, err)
	}
	addCtx, cancel := context.WithTimeout(ctx, cniTimeout)
	defer cancel()
	res, err := rt.invoke(addCtx, "ADD", pod)
	if err == nil && len(res.IPs) == 0 {
		err = fmt.Errorf("CNI ADD of pod %s/%s returned no address", p.Namespace, p.Name)
	}
	if err != nil {
		return pod, rt.rollback(ctx, store, pod, err)
	}
	pod.IP = res.IPs[0].Address.IP.String()
	for _, iface := range res.Interfaces {
		if iface.Sandbox == "" {
			pod.HostIface = iface.Name
		}
	}
	nsRec.Addresses = []string{res.IPs[0].Address.String()}
	if err := store.AddNamespace(nsRec); err != nil {
		return pod, err
	}
	return pod, store.AddPod(pod)
}

// sandbox makes the pod's named namespace, lo up and marked as the lab's, unless it exists.
func (rt *podRuntime) sandbox(pod journal.Pod) error {
	if inspectNamespace(pod.NetNS) == nsPresent {
		return nil
	}
	if err := deleteNamespace(pod.NetNS); err != nil {
		return err
	}
	h, err := createNamespace(pod.NetNS)
	if err != nil {
		return err
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return err
	}
	defer nl.Close()
	if _, err := markOwner(nl, rt.lab); err != nil {
		return fmt.Errorf("pod %s/%s: mark its namespace: %w", pod.Namespace, pod.Name, err)
	}
	// A pod's loopback is up, as a container runtime leaves it.
	if err := upLoopback(nl); err != nil {
		return fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// rollback undoes a pod whose ADD failed with cause. When DEL itself fails the records stay, so
// that knetlab pod del or destroy can finish the job.
func (rt *podRuntime) rollback(ctx context.Context, store *journal.Store, pod journal.Pod, cause error) error {
	// The ADD's own deadline may be what failed: the rollback gets one of its own.
	if err := rt.del(context.WithoutCancel(ctx), store, pod, cniTimeout); err != nil {
		return errors.Join(cause, fmt.Errorf("and rolling it back failed: %w; knetlab pod del %s %s -n %s retries", err, rt.lab, pod.Name, pod.Namespace))
	}
	return fmt.Errorf("%w (rolled back: no sandbox, veth or address of pod %s/%s is left)", cause, pod.Namespace, pod.Name)
}

// del runs CNI DEL for a recorded pod, removes its sandbox and forgets it.
func (rt *podRuntime) del(ctx context.Context, store *journal.Store, pod journal.Pod, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := rt.invoke(ctx, "DEL", pod); err != nil {
		return err
	}
	if err := deleteNamespace(pod.NetNS); err != nil {
		return err
	}
	store.Lab.Namespaces = removeNamespaceRecord(store.Lab.Namespaces, pod.NetNS)
	return store.RemovePod(pod.Namespace, pod.Name)
}

func removeNamespaceRecord(list []journal.Namespace, name string) []journal.Namespace {
	out := list[:0]
	for _, n := range list {
		if n.Name != name {
			out = append(out, n)
		}
	}
	return out
}

// ensurePod creates the lab pod p, or repairs it when its sandbox or wiring is gone; it
// returns what it changed, "" when the pod was right.
func (rt *podRuntime) ensurePod(ctx context.Context, store *journal.Store, p lab.Pod) (string, error) {
	have, recorded := store.Lab.Pod(p.Namespace, p.Name)
	if recorded && have.Node == p.Node {
		problem := rt.podProblem(have)
		if problem == "" {
			return "", nil
		}
		// Release what the old sandbox held before wiring a new one: DEL is idempotent.
		if err := rt.del(ctx, store, have, cniTimeout); err != nil {
			return "", err
		}
		if _, err := rt.add(ctx, store, p); err != nil {
			return "", err
		}
		return fmt.Sprintf("pod %s/%s re-added (%s)", p.Namespace, p.Name, problem), nil
	}
	if recorded {
		if err := rt.del(ctx, store, have, cniTimeout); err != nil {
			return "", err
		}
	}
	if _, err := rt.add(ctx, store, p); err != nil {
		return "", err
	}
	if recorded {
		return fmt.Sprintf("pod %s/%s moved to %s", p.Namespace, p.Name, p.Node), nil
	}
	return fmt.Sprintf("pod %s/%s added on %s", p.Namespace, p.Name, p.Node), nil
}

// podProblem says what is wrong with a recorded pod's wiring, or "".
func (rt *podRuntime) podProblem(pod journal.Pod) string {
	if pod.IP == "" || pod.HostIface == "" {
		return "CNI ADD did not finish"
	}
	h, err := openNamespace(pod.NetNS)
	if err != nil {
		return "its namespace is missing"
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return err.Error()
	}
	defer nl.Close()
	eth0, err := nl.LinkByName(podIfName)
	if err != nil {
		return "it has no " + podIfName
	}
	addrs, _ := nl.AddrList(eth0, netlink.FAMILY_V4)
	ip, _ := netip.ParseAddr(pod.IP)
	found := false
	for _, a := range addrs {
		if a.IP.Equal(ip.AsSlice()) {
			found = true
		}
	}
	if !found {
		return podIfName + " lacks " + pod.IP
	}
	nh, nnl, err := nodeHandle(rt.lab, pod.Node)
	if err != nil {
		return err.Error()
	}
	defer nh.Close()
	defer nnl.Close()
	if _, err := nnl.LinkByName(pod.HostIface); err != nil {
		return pod.Node + " has no " + pod.HostIface
	}
	return ""
}

// upLoopback sets a new sandbox's lo up, which a runtime does (kubelet through the loopback
// plugin) and the pod network plugin does not.
func upLoopback(nl *netlink.Handle) error {
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return err
	}
	return nl.LinkSetUp(lo)
}

// AddPod implements provider.PodRuntime: it creates a pod on a deployed lab through the CNI
// plugin (knetlab pod add). A pod that exists on the same node and is wired is left as it is;
// one on another node is refused unless opts.Replace moves it. Its name is checked as
// Kubernetes checks it before anything is opened.
func (p *Provider) AddPod(ctx context.Context, labName string, pod lab.Pod, opts provider.AddPodOptions) (provider.Pod, error) {
	if problems := lab.CheckPodName(pod.Namespace, pod.Name); len(problems) > 0 {
		var msgs []string
		for _, pr := range problems {
			msgs = append(msgs, pr.Msg)
		}
		return provider.Pod{}, exitcode.Usagef("%s", strings.Join(msgs, "; "))
	}
	store, rt, l, err := p.openPods(ctx, labName)
	if err != nil {
		return provider.Pod{}, err
	}
	defer store.Close()
	if ns, ok := l.Namespace(pod.Node); !ok || ns.Role != journal.RoleNode {
		return provider.Pod{}, exitcode.Usagef("lab %s has no node %q (nodes: %s)", labName, pod.Node, strings.Join(nodeNames(l), ", "))
	}
	if have, ok := l.Pod(pod.Namespace, pod.Name); ok && have.Node != pod.Node && !opts.Replace {
		return provider.Pod{}, exitcode.Usagef("pod %s/%s is already on node %s (a pod name lives once per lab): knetlab pod del %s %s -n %s first, or add --replace to move it to %s",
			pod.Namespace, pod.Name, have.Node, labName, pod.Name, pod.Namespace, pod.Node)
	}
	if _, err := rt.ensurePod(ctx, store, pod); err != nil {
		return provider.Pod{}, err
	}
	got, _ := store.Lab.Pod(pod.Namespace, pod.Name)
	return podOf(got), nil
}

func podOf(p journal.Pod) provider.Pod {
	return provider.Pod{Namespace: p.Namespace, Name: p.Name, Node: p.Node, IP: p.IP, HostIface: p.HostIface, NetNS: p.NetNS}
}

// DeletePod implements provider.PodRuntime: it runs CNI DEL for a pod and removes its sandbox. A pod that is not there is success.
func (p *Provider) DeletePod(ctx context.Context, labName, namespace, name string) (bool, error) {
	store, rt, _, err := p.openPods(ctx, labName)
	if err != nil {
		return false, err
	}
	defer store.Close()
	pod, ok := store.Lab.Pod(namespace, name)
	if !ok {
		return false, nil
	}
	return true, rt.del(ctx, store, pod, cniTimeout)
}

// Pods implements provider.PodRuntime: the pods of a deployed lab.
func (p *Provider) Pods(_ context.Context, labName string) ([]provider.Pod, error) {
	if err := checkLabName(labName); err != nil {
		return nil, err
	}
	rec, err := journal.Read(p.root, labName)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, exitcode.Usagef("lab %s is not deployed by the netns provider: knetlab deploy %s", labName, labName)
	}
	var pods []provider.Pod
	for _, pod := range rec.Pods {
		pods = append(pods, podOf(pod))
	}
	sort.Slice(pods, func(i, j int) bool {
		return pods[i].Namespace+"/"+pods[i].Name < pods[j].Namespace+"/"+pods[j].Name
	})
	return pods, nil
}

func (p *Provider) openPods(ctx context.Context, labName string) (*journal.Store, *podRuntime, *journal.Lab, error) {
	if err := checkLabName(labName); err != nil {
		return nil, nil, nil, err
	}
	if err := requireRoot("pods"); err != nil {
		return nil, nil, nil, err
	}
	store, err := journal.Open(ctx, p.root, labName)
	if err != nil {
		return nil, nil, nil, err
	}
	if store.Lab.Phase != journal.PhaseDeployed || store.Lab.Datastore == "" {
		store.Close()
		return nil, nil, nil, exitcode.NewEnvironment(fmt.Errorf("lab %s has no running CNI (not deployed by the netns provider, or its deploy did not finish)", labName),
			"knetlab deploy "+labName)
	}
	rt := &podRuntime{lab: labName, dir: journal.Dir(p.root, labName), datastore: store.Lab.Datastore}
	return store, rt, store.Lab, nil
}

func nodeNames(l *journal.Lab) []string {
	var out []string
	for _, n := range l.Namespaces {
		if n.Role == journal.RoleNode {
			out = append(out, n.Node)
		}
	}
	return out
}

// deletePods runs CNI DEL for every pod of a lab being destroyed, so that the datastore and the
// nodes are left clean even if only part of the lab goes. It is best effort: destroy removes
// the namespaces either way.
func (p *Provider) deletePods(ctx context.Context, rec *journal.Lab, prog interface{ Step(string, ...any) }) {
	if !podsToDelete(rec) {
		return
	}
	rt := &podRuntime{lab: rec.Lab, dir: journal.Dir(p.root, rec.Lab), datastore: rec.Datastore}
	for _, pod := range rec.Pods {
		ctx, cancel := context.WithTimeout(ctx, cniDestroyTimeout)
		if _, err := rt.invoke(ctx, "DEL", pod); err != nil {
			prog.Step("pod %s/%s: %v (its namespace is removed anyway)", pod.Namespace, pod.Name, err)
		}
		cancel()
	}
}

// podsToDelete says whether a destroy runs CNI DEL for the lab's pods: when it has pods and its
// datastore runs (else the plugin would wait for a datastore that is gone).
func podsToDelete(rec *journal.Lab) bool {
	return len(rec.Pods) > 0 && rec.Datastore != "" && slicesContainsAlive(rec.Processes, datastoreProcess)
}

func slicesContainsAlive(procs []journal.Process, name string) bool {
	for _, pr := range procs {
		if pr.Name == name && pr.Alive() {
			return true
		}
	}
	return false
}
