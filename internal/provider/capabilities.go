package provider

import (
	"context"

	"github.com/knetlab/knetlab/internal/calicoview"
	"github.com/knetlab/knetlab/internal/lab"
)

// What only some providers can do is an optional interface beside Provider; a command asks its
// provider for the interface and says so when the provider has none.

// Faults is implemented by providers that own a lab's dataplane closely enough to break it on
// purpose (knetlab break: teaching faults, each found again by one verify check) and to undo
// what they broke (knetlab fix).
type Faults interface {
	// Faults lists the faults that lab l supports (every fault when l is nil), in the order
	// break --list prints them.
	Faults(l *lab.Lab) []FaultInfo
	// Break applies the named fault to the deployed lab and records it, so that Heal undoes it.
	Break(ctx context.Context, l *lab.Lab, fault string) (AppliedFault, error)
	// Heal undoes what a redeploy does not repair (faults recorded by Break, and what they
	// leave behind) and returns what it did, one line each.
	Heal(ctx context.Context, l *lab.Lab) ([]string, error)
	// ForgetFaults clears the lab's record of applied faults; fix calls it once verify passes.
	ForgetFaults(ctx context.Context, l *lab.Lab) error
}

// FaultInfo is one teaching fault.
type FaultInfo struct {
	Name        string
	Description string
	Check       string // the verify check that fails once the fault is applied
	// Table is where on the node the fault is seen, with the command that shows it, e.g.
	// "the FDB of vxlan.calico: bridge fdb show dev vxlan.calico".
	Table string
}

// AppliedFault is what Break changed.
type AppliedFault struct {
	Name  string
	Node  string // the node it broke
	Entry string // the entry it changed, as the failing check names it
	Check string // the verify check that now fails
	Table string // where on the node it is seen (FaultInfo.Table)
	// Unnamed is true for a fault applied as an exercise (break --random): status does not
	// name it, so that the student finds it.
	Unnamed bool
}

// Exercises is implemented by providers whose faults a student can be set to find: a fault
// applied without being named, and hints that reveal it one step at a time (knetlab break
// --random, knetlab hint). The hint state is kept with the lab's record of the fault, so fix
// (ForgetFaults) clears it.
type Exercises interface {
	// BreakUnnamed applies the fault as Faults.Break does and records it as unnamed.
	BreakUnnamed(ctx context.Context, l *lab.Lab, fault string) (AppliedFault, error)
	// NextHint reveals the next step of the first applied fault not yet wholly revealed,
	// records that it did, and returns the fault with the steps revealed so far. ok is false
	// when no fault is applied.
	NextHint(ctx context.Context, l *lab.Lab) (h Hint, ok bool, err error)
}

// Hint is what knetlab hint has revealed of an applied fault.
type Hint struct {
	Fault AppliedFault
	// Step is how many steps are revealed: 1 the failing check, 2 the node, 3 the table and
	// entry, HintSteps and above nothing more (fix undoes it).
	Step int
}

// HintSteps is the number of hint steps; the call after the last one is told to run fix.
const HintSteps = 3

// PodRuntime is implemented by providers that are their lab's container runtime (netns): they
// create pods by running the CNI plugin themselves. On a kind cluster kubelet does that, and pods
// come from kubectl.
type PodRuntime interface {
	// AddPod creates the pod (idempotent on the same node) and returns it as wired. A pod of
	// the same namespace/name on another node is a usage error unless opts.Replace.
	AddPod(ctx context.Context, labName string, pod lab.Pod, opts AddPodOptions) (Pod, error)
	// DeletePod deletes a pod; found is false when it was not there (which is success).
	DeletePod(ctx context.Context, labName, namespace, name string) (found bool, err error)
	// Pods lists the lab's pods, sorted by namespace/name.
	Pods(ctx context.Context, labName string) ([]Pod, error)
}

// AddPodOptions change how AddPod treats a pod that exists.
type AddPodOptions struct {
	// Replace moves a pod that runs on another node (CNI DEL there, ADD on the new one).
	Replace bool
}

// Pod is a pod as its runtime wired it.
type Pod struct {
	Namespace string // Kubernetes namespace
	Name      string
	Node      string
	IP        string
	HostIface string // the host end of its veth, in the node
	NetNS     string // its network namespace
}

// Bundler is implemented by providers that add files of their own to a capture, so that a
// bundle from a real run says what it ran with (versions.txt) and how its deploy went
// (deploy.log). Names are plain file names; the capture writes them beside its own files.
type Bundler interface {
	// Bundle returns the extra files. A version the provider cannot find out is written as
	// unknown with the reason, not left out and not guessed.
	Bundle(ctx context.Context, l *lab.Lab) (map[string][]byte, error)
}

// LinkCounters is implemented by providers that can read a node's interface counters while the
// lab runs (knetlab watch: vxlan.calico and the underlay, live).
type LinkCounters interface {
	// LinkCounters returns the packet and byte counters of every interface of the node, as the
	// kernel counts them now.
	LinkCounters(ctx context.Context, labName, node string) ([]LinkCounter, error)
}

// LinkCounter is one interface's counters at one moment.
type LinkCounter struct {
	Name                 string
	RxPackets, TxPackets uint64
	RxBytes, TxBytes     uint64
}

// IPAMReader is implemented by providers that read a deployed lab's IPAM data from its
// datastore (knetlab get): pools, block affinities, IPAM blocks, nodes and the pods' workload
// endpoints, as Calico's own objects. A lab whose datastore cannot be reached is an
// environment error naming what to do.
type IPAMReader interface {
	ReadIPAM(ctx context.Context, l *lab.Lab) (*calicoview.Objects, error)
}

// SwitchCLI is implemented by providers that answer a lab switch's show commands in Arista
// EOS's words (knetlab switch): the netns provider prints its switch in EOS's text layout, the
// clab provider passes the command to cEOS. command is one of internal/eosview's Commands; l
// has a switch.
type SwitchCLI interface {
	SwitchShow(ctx context.Context, l *lab.Lab, command string) ([]byte, error)
}
