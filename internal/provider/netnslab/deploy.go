package netnslab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// Deploy implements provider.Provider: it builds the lab's namespaces, or repairs a deployed lab.
func (p *Provider) Deploy(ctx context.Context, l *lab.Lab, opts provider.DeployOptions) error {
	prog := progressOr(opts.Progress)
	if err := checkCNI(opts.CNI); err != nil {
		return err
	}
	if err := requireRoot("deploy"); err != nil {
		return err
	}
	if err := checkBIRD(l, !p.underlayed); err != nil {
		return err
	}
	start := time.Now()
	if opts.Reconfigure {
		prog.Step("reconfigure: destroying lab %s first", l.Name)
		if err := p.destroyLab(ctx, l.Name, l, prog); err != nil {
			return err
		}
	}

	// A lab not yet deployed must fit this host; a deployed one already holds its memory.
	if rec, _ := journal.Read(p.root, l.Name); rec == nil && !p.underlayed {
		if err := checkMemory(l, availableMemory); err != nil {
			return err
		}
	}

	store, err := journal.Open(ctx, p.root, l.Name)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := checkOwnership(l, store.Lab); err != nil {
		if store.Lab.Phase == "" {
			_ = store.Remove() // a lab refused before its first object leaves no record
		}
		return err
	}
	rec := store.Lab
	fresh := rec.Phase == ""
	if rec.VLANMode == "" {
		mode, why := probeVLANMode()
		rec.VLANMode = mode
		if l.Switch != nil {
			prog.Step("switch VLANs: %s (%s)", mode, why)
		}
	}
	if fresh {
		rec.Started = time.Now().UTC()
	}
	rec.Provider, rec.Phase, rec.Source = Name, journal.PhaseDeploying, l.Source
	if err := store.Save(); err != nil {
		return err
	}

	t, err := newTopology(l, rec.VLANMode)
	if err != nil {
		return exitcode.NewUsage(fmt.Errorf("deploy %s: %w", l.Name, err))
	}
	d := &deployer{root: p.root, withCNI: !p.underlayed, store: store, topo: t, ns: map[string]netns.NsHandle{}, nl: map[string]*netlink.Handle{}, killAfter: killAfter(), fresh: fresh}
	defer d.close()
	if err := d.run(ctx, prog); err != nil {
		return fmt.Errorf("deploy %s: %w\n  what was created is recorded; knetlab destroy %s removes it, or deploy again to finish", l.Name, err, l.Name)
	}
	rec.Phase = journal.PhaseDeployed
	if err := store.Save(); err != nil {
		return err
	}
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case fresh:
		prog.Done("lab %s deployed in %s: %s", l.Name, took, d.summary())
	case len(d.repairs) == 0:
		prog.Done("lab %s: nothing to change (%d namespaces checked in %s)", l.Name, len(t.namespaces), took)
	default:
		for _, r := range d.repairs {
			prog.Step("repaired: %s", r)
		}
		prog.Done("lab %s repaired in %s: %d changes", l.Name, took, len(d.repairs))
	}
	if l.Switch != nil {
		prog.Done("switch %s: VLANs as %s", l.Switch.Name, rec.VLANMode)
	}
	return nil
}

// checkCNI refuses a CNI the netns provider cannot run.
func checkCNI(cni string) error {
	switch cni {
	case "", "knetlab":
		return nil
	case "calico":
		return exitcode.Usagef("upstream Calico runs only on kind nodes: use --provider clab for --cni calico (the netns provider runs knetlab's own CNI)")
	default:
		return exitcode.Usagef("unknown CNI %q (calico or knetlab)", cni)
	}
}

// probeVLANMode tries, in a scratch namespace, a bridge with vlan_filtering and an 802.1Q
// device: with both the switch is one VLAN-aware bridge, otherwise one bridge per VLAN. Each
// feature is probed on its own so the message names everything the kernel lacks.
func probeVLANMode() (mode, why string) {
	var missing []string
	err := withScratchNamespace(func(ns netns.NsHandle) error {
		h, err := netlink.NewHandleAt(ns)
		if err != nil {
			return err
		}
		defer h.Close()
		on := true
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, VlanFiltering: &on}); err != nil {
			missing = append(missing, fmt.Sprintf("bridge vlan_filtering (%v)", err))
		}
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probe1"}}); err != nil {
			return fmt.Errorf("create a bridge: %w", err)
		}
		parent, err := h.LinkByName("probe1")
		if err != nil {
			return err
		}
		vl := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: "probe1.10", ParentIndex: parent.Attrs().Index}, VlanId: 10}
		if err := h.LinkAdd(vl); err != nil {
			missing = append(missing, fmt.Sprintf("802.1Q VLAN devices (%v)", err))
		}
		return nil
	})
	switch {
	case err != nil:
		return BridgePerVLAN, fmt.Sprintf("probe failed: %v", err)
	case len(missing) > 0:
		return BridgePerVLAN, "kernel lacks " + strings.Join(missing, " and ")
	}
	return VLANAware, "kernel has 802.1Q and bridge vlan_filtering"
}

// deployer creates or repairs one lab's objects.
type deployer struct {
	root      string // the provider's state root
	withCNI   bool   // bring up the datastore, agents and pods after the underlay
	store     *journal.Store
	topo      *topology
	ns        map[string]netns.NsHandle
	nl        map[string]*netlink.Handle
	killAfter int
	created   int // namespaces and links created (the test hook counts these)
	fresh     bool
	repairs   []string
	counts    map[string]int
}

func (d *deployer) close() {
	for _, h := range d.nl {
		h.Close()
	}
	for _, h := range d.ns {
		h.Close()
	}
}

// did records a change: counted on a fresh deploy, listed on a repair.
func (d *deployer) did(kind, format string, args ...any) {
	if d.counts == nil {
		d.counts = map[string]int{}
	}
	d.counts[kind]++
	if !d.fresh {
		d.repairs = append(d.repairs, fmt.Sprintf(format, args...))
	}
}

// createdObject counts a created namespace or link for the test hook.
func (d *deployer) createdObject() {
	d.created++
	if d.killAfter > 0 && d.created >= d.killAfter {
		killSelf()
	}
}

func (d *deployer) summary() string {
	var parts []string
	for _, k := range []string{"namespaces", "links", "addresses", "routes", "sysctls", "processes", "pods"} {
		if n := d.counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	return strings.Join(parts, ", ")
}

func (d *deployer) run(ctx context.Context, prog provider.Progress) error {
	t := d.topo
	if err := prepareNetnsDir(); err != nil {
		return err
	}
	if err := d.stopOrphans(); err != nil {
		return err
	}
	prog.Step("namespaces: %d", len(t.namespaces))
	for _, spec := range t.namespaces {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.ensureNamespace(spec); err != nil {
			return err
		}
	}
	// Links live only inside the lab's namespaces, which are journaled one by one above, so they
	// can be journaled in one write, still ahead of the first one.
	if err := d.store.AddLinks(t.links()...); err != nil {
		return err
	}
	prog.Step("bridges and SVIs: %d", len(t.bridges))
	for _, b := range t.bridges {
		if err := d.ensureBridge(b); err != nil {
			return err
		}
	}
	prog.Step("cables: %d", len(t.veths))
	for _, v := range t.veths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.ensureVeth(v); err != nil {
			return err
		}
	}
	for _, r := range t.routes {
		if err := d.ensureRoute(r); err != nil {
			return err
		}
	}
	for _, spec := range t.namespaces {
		if err := d.ensureSysctls(spec); err != nil {
			return err
		}
	}
	if !d.withCNI {
		return nil
	}
	return d.deployCNI(ctx, prog)
}

// stopOrphans stops every lab process (an agent, the datastore) whose namespace was deleted or
// replaced since it started, and forgets its record, so that the deploy rebuilds the namespace
// (links, addresses, routes), starts the process again inside it and re-adds the node's pods,
// whose veths went with the old namespace. It waits for them to end: the old namespace, and
// the pods' veth pairs into it, go only with its last process.
func (d *deployer) stopOrphans() error {
	var stop []journal.Process
	for _, pr := range d.store.Processes() {
		why, ok := orphaned(pr)
		if !ok {
			continue
		}
		stop = append(stop, pr)
		d.did("processes", "stopped %s (pid %d): %s", pr.Name, pr.PID, why)
	}
	if len(stop) == 0 {
		return nil
	}
	stopProcesses(stop)
	deadline := time.Now().Add(stopGrace)
	for _, pr := range stop {
		for pr.Alive() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if pr.Alive() {
			return fmt.Errorf("%s (pid %d) runs on in a deleted namespace and did not stop on SIGKILL", pr.Name, pr.PID)
		}
		if err := d.store.RemoveProcess(pr.PID); err != nil {
			return err
		}
	}
	return nil
}

func (d *deployer) ensureNamespace(spec namespaceSpec) error {
	var addrs []string
	for _, a := range spec.addrs {
		addrs = append(addrs, a.String())
	}
	if err := d.store.AddNamespace(journal.Namespace{Name: spec.name, Role: spec.role, Node: spec.member, Addresses: addrs}); err != nil {
		return err
	}
	var h netns.NsHandle
	var err error
	created := false
	switch inspectNamespace(spec.name) {
	case nsPresent:
		h, err = openNamespace(spec.name)
	case nsStale:
		if err := deleteNamespace(spec.name); err != nil {
			return err
		}
		fallthrough
	case nsAbsent:
		h, err = createNamespace(spec.name)
		if err == nil {
			d.did("namespaces", "created namespace %s (%s)", spec.name, spec.member)
			d.createdObject()
			created = true
		}
	}
	if err != nil {
		return err
	}
	d.ns[spec.name] = h
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", spec.name, err)
	}
	d.nl[spec.name] = nl
	if marked, err := markOwner(nl, d.topo.lab.Name); err != nil {
		return fmt.Errorf("%s: mark it as lab %s's: %w", spec.name, d.topo.lab.Name, err)
	} else if marked && !created {
		d.did("links", "%s: marked lo as lab %s's", spec.name, d.topo.lab.Name)
	}
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("%s: loopback: %w", spec.name, err)
	}
	return d.ensureUp(spec.name, nl, lo, created)
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

func (d *deployer) ensureBridge(b bridgeSpec) error {
	h := d.nl[b.ns]
	kind := "bridge"
	if b.vlanOf != "" {
		kind = "vlan"
	}
	link, err := h.LinkByName(b.name)
	switch {
	case err == nil && link.Type() != kind:
		if err := h.LinkDel(link); err != nil {
			return fmt.Errorf("%s: remove %s (a %s, not a %s): %w", b.ns, b.name, link.Type(), kind, err)
		}
		d.did("links", "%s: replaced %s, a %s, with a %s", b.ns, b.name, link.Type(), kind)
		link = nil
	case err != nil && !isNotFound(err):
		return fmt.Errorf("%s: %s: %w", b.ns, b.name, err)
	}
	created := false
	if link == nil {
		var nl netlink.Link
		if kind == "vlan" {
			parent, err := h.LinkByName(b.vlanOf)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", b.ns, b.vlanOf, err)
			}
			// The bridge itself must carry the VLAN for its 802.1Q device to see the frames.
			if err := h.BridgeVlanAdd(parent, uint16(b.vlanID), false, false, true, false); err != nil {
				return fmt.Errorf("%s: VLAN %d on %s: %w", b.ns, b.vlanID, b.vlanOf, err)
			}
			nl = &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: b.name, ParentIndex: parent.Attrs().Index}, VlanId: b.vlanID}
		} else {
			br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: b.name}}
			if b.vlanFiltering {
				on := true
				br.VlanFiltering = &on
			}
			nl = br
		}
		if err := h.LinkAdd(nl); err != nil {
			return fmt.Errorf("%s: create %s %s: %w", b.ns, kind, b.name, err)
		}
		d.did("links", "%s: created %s %s", b.ns, kind, b.name)
		d.createdObject()
		created = true
		if link, err = h.LinkByName(b.name); err != nil {
			return fmt.Errorf("%s: %s: %w", b.ns, b.name, err)
		}
	}
	if err := d.ensureAlias(b.ns, h, link, b.alias, created); err != nil {
		return err
	}
	if b.addr.IsValid() {
		if err := d.ensureAddr(b.ns, h, link, b.addr); err != nil {
			return err
		}
	}
	return d.ensureUp(b.ns, h, link, created)
}

func (d *deployer) ensureVeth(v vethSpec) error {
	ha, hb := d.nl[v.ns], d.nl[v.peerNS]
	a, aerr := ha.LinkByName(v.name)
	b, berr := hb.LinkByName(v.peerName)
	for _, err := range []error{aerr, berr} {
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("%s: %s: %w", v.ns, v.name, err)
		}
	}
	paired := aerr == nil && berr == nil && a.Type() == "veth" && b.Type() == "veth" &&
		a.Attrs().ParentIndex == b.Attrs().Index && b.Attrs().ParentIndex == a.Attrs().Index
	created := false
	if !paired {
		if aerr == nil {
			if err := ha.LinkDel(a); err != nil {
				return fmt.Errorf("%s: remove miscabled %s: %w", v.ns, v.name, err)
			}
		}
		if berr == nil {
			if err := hb.LinkDel(b); err != nil && !isNotFound(err) && !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("%s: remove miscabled %s: %w", v.peerNS, v.peerName, err)
			}
		}
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: v.name},
			PeerName:      v.peerName,
			PeerNamespace: netlink.NsFd(int(d.ns[v.peerNS])),
		}
		if err := ha.LinkAdd(veth); err != nil {
			return fmt.Errorf("%s: create veth %s to %s %s: %w", v.ns, v.name, v.peerNS, v.peerName, err)
		}
		d.did("links", "%s: cabled %s to %s %s", v.ns, v.name, v.peerNS, v.peerName)
		d.createdObject()
		created = true
		var err error
		if a, err = ha.LinkByName(v.name); err != nil {
			return fmt.Errorf("%s: %s: %w", v.ns, v.name, err)
		}
		if b, err = hb.LinkByName(v.peerName); err != nil {
			return fmt.Errorf("%s: %s: %w", v.peerNS, v.peerName, err)
		}
	}

	master, err := hb.LinkByName(v.peerMaster)
	if err != nil {
		return fmt.Errorf("%s: bridge %s: %w", v.peerNS, v.peerMaster, err)
	}
	if b.Attrs().MasterIndex != master.Attrs().Index {
		if err := hb.LinkSetMasterByIndex(b, master.Attrs().Index); err != nil {
			return fmt.Errorf("%s: attach %s to %s: %w", v.peerNS, v.peerName, v.peerMaster, err)
		}
		if !created {
			d.did("links", "%s: attached %s to %s", v.peerNS, v.peerName, v.peerMaster)
		}
	}
	if v.peerPVID != 0 {
		// Access port: untagged in its VLAN, out of the bridge's default VLAN 1. Both calls are
		// idempotent, so a repair simply repeats them.
		if err := hb.BridgeVlanAdd(b, uint16(v.peerPVID), true, true, false, true); err != nil {
			return fmt.Errorf("%s: %s access VLAN %d: %w", v.peerNS, v.peerName, v.peerPVID, err)
		}
		if v.peerPVID != 1 {
			_ = hb.BridgeVlanDel(b, 1, true, true, false, true)
		}
	}
	if err := d.ensureAlias(v.peerNS, hb, b, v.peerAlias, created); err != nil {
		return err
	}
	if err := d.ensureAddr(v.ns, ha, a, v.addr); err != nil {
		return err
	}
	if err := d.ensureUp(v.peerNS, hb, b, created); err != nil {
		return err
	}
	return d.ensureUp(v.ns, ha, a, created)
}

func (d *deployer) ensureAlias(ns string, h *netlink.Handle, link netlink.Link, alias string, created bool) error {
	if alias == "" || link.Attrs().Alias == alias {
		return nil
	}
	if err := h.LinkSetAlias(link, alias); err != nil {
		return fmt.Errorf("%s: alias of %s: %w", ns, link.Attrs().Name, err)
	}
	if !created {
		d.did("links", "%s: set the alias of %s to %q", ns, link.Attrs().Name, alias)
	}
	return nil
}

func (d *deployer) ensureUp(ns string, h *netlink.Handle, link netlink.Link, created bool) error {
	if link.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("%s: set %s up: %w", ns, link.Attrs().Name, err)
	}
	if !created {
		d.did("links", "%s: set %s up", ns, link.Attrs().Name)
	}
	return nil
}

func (d *deployer) ensureAddr(ns string, h *netlink.Handle, link netlink.Link, p netip.Prefix) error {
	have, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("%s: addresses of %s: %w", ns, link.Attrs().Name, err)
	}
	for _, a := range have {
		if a.IPNet != nil && a.IPNet.String() == p.String() {
			return nil
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := h.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("%s: add %s to %s: %w", ns, p, link.Attrs().Name, err)
	}
	d.did("addresses", "%s: added %s to %s", ns, p, link.Attrs().Name)
	return nil
}

func (d *deployer) ensureRoute(r routeSpec) error {
	h := d.nl[r.ns]
	link, err := h.LinkByName(r.dev)
	if err != nil {
		return fmt.Errorf("%s: route %s: %s: %w", r.ns, r.dst, r.dev, err)
	}
	have, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("%s: routes: %w", r.ns, err)
	}
	for _, x := range have {
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if x.Dst != nil {
			ip, _ := netip.AddrFromSlice(x.Dst.IP.To4())
			bits, _ := x.Dst.Mask.Size()
			dst = netip.PrefixFrom(ip, bits)
		}
		gw, _ := netip.AddrFromSlice(x.Gw.To4())
		if dst == r.dst && gw == r.via && x.LinkIndex == link.Attrs().Index {
			return nil
		}
	}
	route := &netlink.Route{
		Dst:       &net.IPNet{IP: r.dst.Addr().AsSlice(), Mask: net.CIDRMask(r.dst.Bits(), 32)},
		Gw:        r.via.AsSlice(),
		LinkIndex: link.Attrs().Index,
		Table:     unix.RT_TABLE_MAIN,
	}
	if err := h.RouteReplace(route); err != nil {
		return fmt.Errorf("%s: route %s via %s dev %s: %w", r.ns, r.dst, r.via, r.dev, err)
	}
	d.did("routes", "%s: added route %s via %s dev %s", r.ns, r.dst, r.via, r.dev)
	return nil
}

func (d *deployer) ensureSysctls(spec namespaceSpec) error {
	if len(spec.sysctls) == 0 {
		return nil
	}
	h := d.ns[spec.name]
	have, err := kernel.ReadSysctls(h, sortedKeys(spec.sysctls))
	if err != nil {
		return fmt.Errorf("%s: %w", spec.name, err)
	}
	want := map[string]string{}
	for _, k := range sortedKeys(spec.sysctls) {
		if have[k] != spec.sysctls[k] {
			want[k] = spec.sysctls[k]
			d.did("sysctls", "%s: set %s=%s", spec.name, k, spec.sysctls[k])
		}
	}
	if len(want) == 0 {
		return nil
	}
	return kernel.WriteSysctls(h, want)
}
