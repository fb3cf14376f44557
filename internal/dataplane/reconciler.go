package dataplane

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// DefaultResyncPeriod bounds how long a change the kernel does not announce (or an event
// that was lost) can stay unrepaired; with it a hand-deleted entry is back within 2 s.
const DefaultResyncPeriod = time.Second

// settle is how long the reconciler waits after an event for the burst it belongs to (one
// `ip link del` sends a dozen) before resyncing once.
const settle = 20 * time.Millisecond

// Reconciler keeps a namespace equal to the latest desired state: it applies on every change
// of the desired state, on every route, neighbour or link event in the namespace, and
// periodically.
type Reconciler struct {
	prog   *Programmer
	period time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	desired *DesiredState
	last    Changes // what the latest pass changed, for tests and logs
	passes  int
	changes int // changes of all passes: stays 0 on a node that was already right

	kick chan struct{}
}

// NewReconciler reconciles with prog; period 0 means DefaultResyncPeriod.
func NewReconciler(prog *Programmer, period time.Duration, log *slog.Logger) *Reconciler {
	if period <= 0 {
		period = DefaultResyncPeriod
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{prog: prog, period: period, log: log, kick: make(chan struct{}, 1)}
}

// SetDesired replaces the desired state and asks for a pass.
func (r *Reconciler) SetDesired(d DesiredState) {
	r.mu.Lock()
	r.desired = &d
	r.mu.Unlock()
	r.poke()
}

// Resync applies the desired state now (nothing before the first SetDesired).
func (r *Reconciler) Resync() (Changes, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.desired == nil {
		return nil, nil
	}
	ch, err := r.prog.Apply(*r.desired)
	r.last = ch
	r.passes++
	r.changes += len(ch)
	return ch, err
}

// Passes returns how many passes ran and what the latest one changed.
func (r *Reconciler) Passes() (int, Changes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.passes, r.last
}

// TotalChanges counts the kernel changes of every pass so far. A restarted agent on a
// programmed node must keep it at 0: that is what "no flap" means.
func (r *Reconciler) TotalChanges() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changes
}

func (r *Reconciler) poke() {
	select {
	case r.kick <- struct{}{}:
	default: // a pass is already pending; it will see the latest state
	}
}

// Run reconciles until ctx ends. Event subscriptions are an accelerator: if they fail, the
// periodic resync still restores everything within the period.
func (r *Reconciler) Run(ctx context.Context) error {
	done := make(chan struct{})
	defer close(done)
	events := r.subscribe(done)

	ticker := time.NewTicker(r.period)
	defer ticker.Stop()
	var settleTimer <-chan time.Time
	// A problem that persists (IPIP missing, a peer's bad address) is logged when it
	// appears and when it changes, not once a second.
	lastProblem := ""
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if settleTimer == nil {
				settleTimer = time.After(settle)
			}
			continue
		case <-r.kick:
		case <-ticker.C:
		case <-settleTimer:
		}
		settleTimer = nil
		ch, err := r.Resync()
		problem := ""
		if err != nil {
			problem = err.Error()
		}
		if problem != lastProblem {
			if err != nil {
				r.log.Warn("dataplane resync incomplete", "err", err, "changes", len(ch))
			} else {
				r.log.Info("dataplane problem resolved")
			}
			lastProblem = problem
		}
	}
}

// subscribe merges route, neighbour and link events of the namespace into one channel.
func (r *Reconciler) subscribe(done chan struct{}) <-chan struct{} {
	out := make(chan struct{}, 1)
	nsHandle := netns.NsHandle(r.prog.netNS.Fd())
	onErr := func(err error) { r.log.Warn("netlink subscription", "err", err) }
	signal := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	routes := make(chan netlink.RouteUpdate, 64)
	neighs := make(chan netlink.NeighUpdate, 64)
	links := make(chan netlink.LinkUpdate, 64)
	if err := netlink.RouteSubscribeWithOptions(routes, done, netlink.RouteSubscribeOptions{Namespace: &nsHandle, ErrorCallback: onErr}); err != nil {
		onErr(err)
	}
	if err := netlink.NeighSubscribeWithOptions(neighs, done, netlink.NeighSubscribeOptions{Namespace: &nsHandle, ErrorCallback: onErr}); err != nil {
		onErr(err)
	}
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{Namespace: &nsHandle, ErrorCallback: onErr}); err != nil {
		onErr(err)
	}
	go func() {
		for {
			select {
			case <-done:
				return
			case _, ok := <-routes:
				if !ok {
					routes = nil
				}
			case _, ok := <-neighs:
				if !ok {
					neighs = nil
				}
			case _, ok := <-links:
				if !ok {
					links = nil
				}
			}
			signal()
		}
	}()
	return out
}
