package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/ipam"
)

// Config says which node the agent is and where it runs.
type Config struct {
	NodeName string
	// AutodetectCIDRs choose the underlay address, as Calico's nodeAddressAutodetectionV4
	// cidrs do: the first address inside one of them (the lab uses 10.10.0.0/16, so that eth1
	// wins over the management eth0).
	AutodetectCIDRs []netip.Prefix
	// NetNSPath is the node's network namespace; "" means the agent's own.
	NetNSPath    string
	ResyncPeriod time.Duration // 0: dataplane.DefaultResyncPeriod
	Log          *slog.Logger
	// BGP, when not nil, is the BGP mode: the agent runs BIRD (see BGPConfig).
	BGP *BGPConfig
}

// RegisterRetry is the pause between registration attempts.
const RegisterRetry = time.Second

// Agent registers one node and keeps its dataplane programmed.
type Agent struct {
	cfg   Config
	store datastore.Store
	ipam  *ipam.IPAM
	log   *slog.Logger

	mu         sync.Mutex
	reconciler *dataplane.Reconciler
	bird       *birdProcess // BGP mode: the node's BIRD, once the first publish started it

	kick chan struct{} // asks follow for another publish
}

// New returns an agent for cfg.NodeName working on store.
func New(store datastore.Store, cfg Config) *Agent {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("node", cfg.NodeName)
	return &Agent{cfg: cfg, store: store, ipam: ipam.New(store), log: log, kick: make(chan struct{}, 1)}
}

// Reconciler is the agent's dataplane reconciler once Run has started it, else nil.
func (a *Agent) Reconciler() *dataplane.Reconciler {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reconciler
}

// Register writes the node into the datastore: underlay address with prefix, the parent
// interface, a block, and the tunnel address (the node's first allocation). Repeating it
// changes nothing.
func (a *Agent) Register(ctx context.Context) (*datastore.Node, error) {
	underlay, parent, err := DetectUnderlay(a.cfg.NetNSPath, a.cfg.AutodetectCIDRs)
	if err != nil {
		return nil, err
	}
	tunnel, err := a.ipam.AllocateTunnelAddress(ctx, a.cfg.NodeName)
	if err != nil {
		return nil, fmt.Errorf("tunnel address of %s: %w", a.cfg.NodeName, err)
	}
	nodes := datastore.Nodes(a.store)
	for {
		node, err := nodes.Get(ctx, a.cfg.NodeName)
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			node = &datastore.Node{Metadata: datastore.ObjectMeta{Name: a.cfg.NodeName}}
		case err != nil:
			return nil, fmt.Errorf("read node %s: %w", a.cfg.NodeName, err)
		}
		if node.Spec.BGP.IPv4Address == underlay && node.Spec.VXLANParentInterface == parent && node.Spec.IPv4VXLANTunnelAddr == tunnel {
			return node, nil
		}
		node.Spec.BGP.IPv4Address = underlay
		node.Spec.VXLANParentInterface = parent
		node.Spec.IPv4VXLANTunnelAddr = tunnel
		if node.Metadata.Revision == 0 {
			err = nodes.Create(ctx, node)
		} else {
			err = nodes.Update(ctx, node)
		}
		if errors.Is(err, datastore.ErrConflict) || errors.Is(err, datastore.ErrExists) {
			continue // someone else wrote the node meanwhile: read it again
		}
		if err != nil {
			return nil, fmt.Errorf("register node %s: %w", a.cfg.NodeName, err)
		}
		a.log.Info("registered", "underlay", underlay, "parent", parent, "tunnelIP", tunnel)
		return node, nil
	}
}

// Run registers the node, then keeps its dataplane equal to the datastore until ctx ends.
// Stopping leaves the dataplane in place (pods keep working while an agent restarts); a
// restarted agent finds it already right and changes nothing.
//
// Registration is retried every RegisterRetry while it fails for a reason that may pass (the
// datastore still starting); a node without an underlay address is not such a reason.
func (a *Agent) Run(ctx context.Context) error {
	defer a.stopBIRD()
	for {
		_, err := a.Register(ctx)
		if err == nil {
			break
		}
		if _, _, detectErr := DetectUnderlay(a.cfg.NetNSPath, a.cfg.AutodetectCIDRs); detectErr != nil {
			return detectErr
		}
		a.log.Warn("registration failed; retrying", "err", err, "in", RegisterRetry)
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s never registered: %w", a.cfg.NodeName, err)
		case <-time.After(RegisterRetry):
		}
	}
	prog, err := dataplane.NewProgrammer(a.cfg.NetNSPath, a.log)
	if err != nil {
		return err
	}
	defer prog.Close()
	rec := dataplane.NewReconciler(prog, a.cfg.ResyncPeriod, a.log)
	a.mu.Lock()
	a.reconciler = rec
	a.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rec.Run(ctx) }()
	defer wg.Wait()

	for ctx.Err() == nil {
		err := a.follow(ctx, rec)
		if ctx.Err() != nil {
			break
		}
		a.log.Warn("datastore watch ended; listing again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// follow watches pools, nodes, affinities and IPAM blocks (the local pods), and hands every new desired state to the reconciler. Watches start before the list, so nothing that changes in between is missed.
func (a *Agent) follow(ctx context.Context, rec *dataplane.Reconciler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changed := make(chan error, 1)
	notify := func(err error) {
		select {
		case changed <- err:
		default:
		}
	}
	for _, kind := range []datastore.Kind{datastore.KindIPPool, datastore.KindNode, datastore.KindBlockAffinity, datastore.KindIPAMBlock} {
		events, err := a.store.Watch(ctx, kind, 0)
		if err != nil {
			return fmt.Errorf("watch %s: %w", kind, err)
		}
		go func() {
			for ev := range events {
				if ev.Type == datastore.EventError {
					notify(fmt.Errorf("watch %s: %w", kind, ev.Err))
					return
				}
				notify(nil)
			}
		}()
	}
	for {
		if err := a.publish(ctx, rec); err != nil {
			a.log.Warn("desired state not updated", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.kick:
		case err := <-changed:
			if err != nil {
				return err
			}
		}
	}
}

// publish lists the datastore and hands the node's desired state to the reconciler.
func (a *Agent) publish(ctx context.Context, rec *dataplane.Reconciler) error {
	pools, _, err := datastore.IPPools(a.store).List(ctx)
	if err != nil {
		return err
	}
	nodes, _, err := datastore.Nodes(a.store).List(ctx)
	if err != nil {
		return err
	}
	affs, _, err := datastore.BlockAffinities(a.store).List(ctx)
	if err != nil {
		return err
	}
	blocks, _, err := datastore.IPAMBlocks(a.store).List(ctx)
	if err != nil {
		return err
	}
	d, err := DesiredState(a.cfg.NodeName, pools, nodes, affs)
	if err != nil {
		return err
	}
	d.Workloads = LocalWorkloads(a.cfg.NodeName, blocks)
	bgpErr := a.publishBGP(ctx, &d, affs)
	rec.SetDesired(d)
	return bgpErr
}

// DetectUnderlay finds the node's underlay address (with its prefix) and the interface
// holding it: the first address, in interface order, inside one of cidrs. Tunnel and pod
// devices are never candidates.
func DetectUnderlay(nsPath string, cidrs []netip.Prefix) (netip.Prefix, string, error) {
	if len(cidrs) == 0 {
		return netip.Prefix{}, "", fmt.Errorf("no autodetection CIDRs: give the lab's underlay range (e.g. 10.10.0.0/16)")
	}
	handle := &netlink.Handle{}
	if nsPath != "" {
		ns, err := netns.GetFromPath(nsPath)
		if err != nil {
			return netip.Prefix{}, "", fmt.Errorf("open %s: %w", nsPath, err)
		}
		defer ns.Close()
		if handle, err = netlink.NewHandleAt(ns); err != nil {
			return netip.Prefix{}, "", fmt.Errorf("netlink in %s: %w", nsPath, err)
		}
		defer handle.Close()
	}
	links, err := handle.LinkList()
	if err != nil {
		return netip.Prefix{}, "", fmt.Errorf("list interfaces: %w", err)
	}
	slices.SortFunc(links, func(x, y netlink.Link) int { return x.Attrs().Index - y.Attrs().Index })
	for _, l := range links {
		name := l.Attrs().Name
		if name == dataplane.VXLANDeviceName || strings.HasPrefix(name, dataplane.PodDevicePrefix) {
			continue
		}
		addrs, err := handle.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			continue
		}
		for _, addr := range addrs {
			ip, ok := netip.AddrFromSlice(addr.IP)
			if !ok {
				continue
			}
			ones, _ := addr.Mask.Size()
			for _, c := range cidrs {
				if c.Contains(ip.Unmap()) {
					return netip.PrefixFrom(ip.Unmap(), ones), name, nil
				}
			}
		}
	}
	return netip.Prefix{}, "", fmt.Errorf("no interface has an address in %v; check the node's underlay addresses or the autodetection CIDRs", cidrs)
}
