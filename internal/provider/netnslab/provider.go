// Package netnslab is the embedded lab provider: it builds a lab from Linux network namespaces on
// this host, with the lab's node names, interface names and addresses (docs/labs/calico-overlay.md,
// "Running it on the netns provider"). Everything is done with netlink; no `ip` process is spawned.
//
// # What a lab is made of
//
// Every namespace is named knl.<lab>.<member> (names.go: the '.' occurs in no lab or node name,
// so two labs never share a name), is visible to `ip netns`, and carries its owner in the alias
// of its lo ("knetlab lab <lab>"), which deploy checks before it adopts an existing namespace:
//
//   - knl.<lab>.network: the management network standing in for kind's docker network — a
//     bridge "kind" holding the subnet's first address (docker's gateway, 172.18.0.1/16), with
//     one veth<7 hex> port per node.
//   - knl.<lab>.<switch> (calico-overlay: knl.calico-overlay.ceos01): ports eth1..ethN, each
//     with the alias "Connection to <node>" as the cEOS description; ip_forward=1 so it routes
//     between its SVIs. VLANs are a VLAN-aware bridge "br0" (vlan_filtering, port PVIDs, 802.1Q
//     devices Vlan10, Vlan20 as SVIs) where the kernel has 802.1Q and vlan_filtering, else one
//     bridge per VLAN named after the SVI (Vlan10, holding 10.10.10.1/24) with the VLAN's
//     ports enslaved. The choice is probed at deploy time in a scratch namespace that has no
//     name (it vanishes with its handle), recorded in the lab state, and shown by deploy and
//     status. The SVI device's alias is the VLAN name.
//   - knl.<lab>.<node>: lo up; eth0 on the management network (the management address, or the
//     lab address in a lab without a switch, with a default route via the management gateway
//     as kind's nodes have); eth1 cabled to the node's switch port with the lab address and the
//     routes to the other VLANs' subnets via the node's gateway; net.ipv4.ip_forward=1.
//
// Each veth is created inside one lab namespace with its peer placed directly in the other
// (IFLA_NET_NS_FD), so nothing ever exists in the host's root namespace and no lab address is
// configured or routed there.
//
// # State and lifecycle
//
// The lab's record is the journal (/run/knetlab/<lab>/state.json, KNETLAB_STATE_DIR overrides
// the root), written ahead of every object it lists and guarded by a per-lab flock. Deploy
// checks every object and creates or repairs only what is missing or wrong, so a second deploy
// reports "nothing to change"; --reconfigure destroys and rebuilds. Lab processes (datastore,
// agents) are started with StartProcess, which journals them. Destroy stops the lab's recorded
// processes and any other process found inside its namespaces (SIGTERM, then SIGKILL after
// 3 s; a recorded PID counts only with its recorded start time), removes the namespaces
// recorded in its journal and those its definition names (a record lost or a deploy killed
// half way), its recorded files and its state directory; with nothing to remove it says so
// and succeeds. destroy --all removes the labs that have a record and never touches a
// namespace knetlab did not record.
//
// # The lab's CNI
//
// After the underlay, deploy brings up knetlab's own CNI (cni.go, pods.go): the datastore (etcd)
// in the control-plane node's namespace on its management address :2379, the lab's IPPools
// seeded into it, one agent per node inside the node's namespace, and the lab's test pods. The
// datastore and agents are the knetlab binary itself re-executed as `knetlab lab-datastore ...`
// and `knetlab agent --datastore etcd ...` (package labprocess dispatches them), in sessions of
// their own, journaled with StartProcess, logging to <state>/logs. Deploy waits, with deadlines, until etcd answers and until every node is
// registered and its kernel holds vxlan.calico, every block route, neighbour and FDB entry its
// agent must program. Pods are made as a container runtime makes them: a named namespace
// knl.<lab>.pod.<hash> recorded before it exists, then the CNI plugin (<state>/cni/bin/knetlab-cni,
// a symlink to knetlab, which acts as the plugin under that name) run with the CNI_* environment
// and the network config on stdin, from a thread inside the pod's node. knetlab is outside the
// lab's namespaces, so it reaches the datastore by dialling from inside the management network
// namespace. A second deploy restarts a dead datastore or agent and re-adds a pod whose sandbox or
// wiring is gone; destroy runs CNI DEL for every pod before it stops the daemons. A pod's name is
// checked as Kubernetes checks it before anything is touched, its CNI_ARGS are built by
// cni.PodArgs, it lives once per lab (pod add --replace moves it), and a failed ADD is rolled
// back (CNI DEL, sandbox removed, records dropped).
//
// Test hook: KNETLAB_TEST_KILL_AFTER=<n> makes deploy SIGKILL itself right after creating its
// n-th namespace or link. It exists only so tests can kill a deploy half way deterministically.
package netnslab

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"syscall"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// Name is the provider's --provider value.
const Name = "netns"

// Register adds the netns provider to r.
func Register(r *provider.Registry) {
	r.Register(Name, func() (provider.Provider, error) { return New(), nil })
}

// Provider builds labs from network namespaces.
type Provider struct {
	root       string // lab state root
	underlayed bool   // deploy stops after the underlay (WithoutCNI)
}

// Option configures a Provider.
type Option func(*Provider)

// WithStateRoot keeps lab state under dir instead of journal.Root().
func WithStateRoot(dir string) Option { return func(p *Provider) { p.root = dir } }

// WithoutCNI makes deploy build the underlay only (namespaces, switch, cables), with no
// datastore, agents or pods. It exists for benchmarks and tests that measure the underlay alone;
// a lab deployed so has no pod network.
func WithoutCNI() Option { return func(p *Provider) { p.underlayed = true } }

// New returns the netns provider.
func New(opts ...Option) *Provider {
	p := &Provider{root: journal.Root()}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Name implements provider.Provider.
func (p *Provider) Name() string { return Name }

// requireRoot stops a command that would touch namespaces before it touches anything.
func requireRoot(what string) error {
	if geteuid() == 0 {
		return nil
	}
	return exitcode.NewEnvironment(
		fmt.Errorf("%s needs root: the netns provider creates and enters network namespaces", what),
		"run it as root, e.g. sudo knetlab ...")
}

var labName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// checkLabName refuses a lab name that could not have been deployed (and could escape the
// state directory).
func checkLabName(name string) error {
	if len(name) == 0 || len(name) > 32 || !labName.MatchString(name) {
		return exitcode.Usagef("%q is not a lab name (lower-case letters, digits and '-', at most 32 characters)", name)
	}
	return nil
}

func progressOr(p provider.Progress) provider.Progress {
	if p == nil {
		return provider.NopProgress{}
	}
	return p
}

// killAfter is the KNETLAB_TEST_KILL_AFTER test hook (see the package doc); 0 when unset.
func killAfter() int {
	n, _ := strconv.Atoi(os.Getenv("KNETLAB_TEST_KILL_AFTER"))
	return n
}

func killSelf() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}

// geteuid is a variable so a test can run the refusal path as root.
var geteuid = os.Geteuid
