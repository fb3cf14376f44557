// Package source declares what the verify engine reads its inputs from: a Source (a capture
// directory, a live lab) and, for live sources, a Prober that sends traffic. It is a leaf, so
// that the providers and the capture reader implement it without importing the engine.
package source

import (
	"context"
	"errors"
	"net/netip"

	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
)

// ErrAbsent is returned by a Source for data it does not have (a capture without a switch,
// a lab without a datastore). From a capture the checks that need it are skipped with the
// reason; from a live source (Live) they fail, since a running lab must have it.
var ErrAbsent = errors.New("not available from this source")

// Live is implemented by a source that says whether it reads a running lab (a provider's
// source) or files someone chose to collect (a capture). A source that does not implement it
// is taken as a capture.
//
// The verdicts differ: a live lab must yield every input its checks need, so a node, table,
// datastore or switch that is not there fails those checks (the lab is broken or half-built);
// a capture file that is absent was not captured, and what needs it is skipped. A live source
// therefore returns an error for every input it failed to read: NodeState returns the tables
// it could read together with an error naming the ones it could not; a table it leaves
// unmarked without an error is one its collectors never read, and stays a skip.
type Live interface {
	Live() bool
}

// IsLive reports whether src reads a running lab.
func IsLive(src Source) bool {
	l, ok := src.(Live)
	return ok && l.Live()
}

// Source is where the verify engine gets its inputs: a capture directory, a live netns lab,
// a kind cluster. The engine never knows which.
type Source interface {
	// Describe names the source for reports, e.g. "capture ./cap" or "netns lab calico-overlay".
	Describe() string
	// Facts returns the cluster's pools, nodes, affinities and pods.
	Facts(ctx context.Context) (*facts.Facts, error)
	// Topology returns each lab node's (and the switch's) run state.
	Topology(ctx context.Context) ([]observed.NodeStatus, error)
	// NodeState returns one node's dataplane tables; the tables it could not read are left unmarked.
	NodeState(ctx context.Context, node string) (*observed.Node, error)
	// Switch returns the switch's state.
	Switch(ctx context.Context) (*observed.Switch, error)
}

// Reflectors is implemented by sources that can read a lab's BGP route reflectors (a live lab
// with one, a capture with an rr/ directory). A source without it has no reflector state: the
// checks that need it skip (capture) or fail (live) saying so.
type Reflectors interface {
	// ReflectorNames names the route reflectors the source can read, in name order.
	ReflectorNames() []string
	// Reflector returns one reflector's sessions and RIB, the tables it could read marked; an
	// ErrAbsent error (wrapped) when the source has nothing of it. A live source returns what
	// it could read together with an error naming what it could not.
	Reflector(ctx context.Context, name string) (*observed.Reflector, error)
}

// Prober is implemented by live sources that can send traffic (connectivity checks).
type Prober interface {
	// Ping sends count echo requests from inside a pod to dst and returns how many were answered.
	Ping(ctx context.Context, from facts.Pod, dst netip.Addr, count int) (received int, err error)
	// PingThrough sends count echo requests from inside a pod to dst, as Ping does, and counts
	// in the forward path of the pod's node the echo requests from the pod to dst and those of
	// them the node routed out through its device dev. The counts are of this burst alone where
	// the source can tell its echo requests apart, and otherwise of echo requests between the
	// same two addresses, which take the same route; never of a device's other traffic.
	// ErrAbsent (wrapped) means the node cannot count them.
	PingThrough(ctx context.Context, from facts.Pod, dst netip.Addr, count int, dev string) (Egress, error)
}

// ProbeScope is implemented by probers that send traffic between some of the cluster's pods
// only — a lab's declared test pods, not the cluster's own (coredns, Calico's apiserver),
// whose images may have no ping and whose NetworkPolicies may drop it. The connectivity
// checks pair the pods it probes; without it they pair every pod of the facts.
type ProbeScope interface {
	Probes(p facts.Pod) bool
}

// Egress is what PingThrough saw of one burst.
type Egress struct {
	Answered  int    // echo replies received
	Forwarded uint64 // echo requests from the pod to dst that the node forwarded
	Through   uint64 // of those, the ones routed out through the device
}

// Router is implemented by live sources that can ask a node's (or the switch's) kernel which
// route it takes to an address, as `ip route get fibmatch <dst>` does: the matching table
// entry itself, not a cached result. ErrNoRoute (wrapped) when no route matches.
type Router interface {
	RouteGet(ctx context.Context, member string, dst netip.Addr) (observed.Route, error)
}

// ErrNoRoute is a Router's answer when no route of the member's table matches.
var ErrNoRoute = errors.New("no route to host")
