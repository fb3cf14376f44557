package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/datastore"
)

// BGPPeer is one --bgp-peer: a BGP neighbour's address and AS.
type BGPPeer struct {
	Address  netip.Addr
	ASNumber uint32 // 0: the node's own AS (iBGP)
}

// String is the flag's form, ADDR or ADDR:AS.
func (p BGPPeer) String() string {
	if p.ASNumber == 0 {
		return p.Address.String()
	}
	return fmt.Sprintf("%s:%d", p.Address, p.ASNumber)
}

// ParseBGPPeer reads ADDR or ADDR:AS (IPv4, the AS in decimal).
func ParseBGPPeer(s string) (BGPPeer, error) {
	addr, as, hasAS := strings.Cut(strings.TrimSpace(s), ":")
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return BGPPeer{}, fmt.Errorf("%q: give the peer as IPv4ADDR or IPv4ADDR:AS", s)
	}
	p := BGPPeer{Address: a}
	if hasAS {
		n, err := strconv.ParseUint(as, 10, 32)
		if err != nil || n == 0 {
			return BGPPeer{}, fmt.Errorf("%q: the AS after the colon must be a number 1..4294967294", s)
		}
		p.ASNumber = uint32(n)
	}
	return p, nil
}

// BGPConfig is the agent's BGP mode: the node runs BIRD, as calico-node does, which
// announces the node's blocks to its peers and routes the blocks of pools without
// encapsulation as it learns them.
type BGPConfig struct {
	ASNumber uint32
	Peers    []BGPPeer // each with its AS resolved (the node's own for iBGP)
	// Dir holds BIRD's configuration and control socket (BIRDConfigFile, BIRDSocketFile).
	Dir string
	// NoExport are blocks the node does not announce although it owns them: a fault that
	// leaves them unreachable from the other nodes.
	NoExport []netip.Prefix
}

// bgpProblems checks the BGP flags.
func (o Options) bgpProblems() []string {
	var problems []string
	if o.BGPAS == 0 {
		if len(o.BGPPeers) > 0 || o.BGPDir != "" || len(o.BGPNoExport) > 0 {
			problems = append(problems, "--bgp-peer, --bgp-dir and --bgp-no-export need --bgp-as")
		}
		return problems
	}
	if o.BGPAS == 65535 || o.BGPAS == 4294967295 {
		problems = append(problems, fmt.Sprintf("--bgp-as %d is reserved: give 1..4294967294, not 65535", o.BGPAS))
	}
	if len(o.BGPPeers) == 0 {
		problems = append(problems, "--bgp-as needs at least one --bgp-peer: without a peer the node learns no route")
	}
	seen := map[netip.Addr]bool{}
	for _, p := range o.BGPPeers {
		if !p.Address.Is4() {
			problems = append(problems, fmt.Sprintf("--bgp-peer %s: the address must be IPv4", p))
		}
		if seen[p.Address] {
			problems = append(problems, fmt.Sprintf("--bgp-peer %s is given twice", p.Address))
		}
		seen[p.Address] = true
		if p.ASNumber == 65535 || p.ASNumber == 4294967295 {
			problems = append(problems, fmt.Sprintf("--bgp-peer %s: AS %d is reserved", p, p.ASNumber))
		}
	}
	switch sock := filepath.Join(o.BGPDir, BIRDSocketFile); {
	case o.BGPDir == "":
		problems = append(problems, "--bgp-as needs --bgp-dir: the directory of BIRD's configuration and control socket")
	case !filepath.IsAbs(o.BGPDir):
		problems = append(problems, fmt.Sprintf("--bgp-dir %q must be an absolute path", o.BGPDir))
	case len(sock) > maxSocketPath:
		problems = append(problems, fmt.Sprintf("--bgp-dir %q is too long: BIRD's control socket %s would exceed %d bytes", o.BGPDir, sock, maxSocketPath))
	}
	for _, p := range o.BGPNoExport {
		if !p.IsValid() || !p.Addr().Is4() {
			problems = append(problems, fmt.Sprintf("--bgp-no-export %q is not an IPv4 CIDR", p))
		}
	}
	return problems
}

// bgpArgs writes the BGP flags.
func (o Options) bgpArgs() []string {
	if o.BGPAS == 0 {
		return nil
	}
	args := []string{"--bgp-as", strconv.FormatUint(uint64(o.BGPAS), 10)}
	for _, p := range o.BGPPeers {
		args = append(args, "--bgp-peer", p.String())
	}
	if o.BGPDir != "" {
		args = append(args, "--bgp-dir", o.BGPDir)
	}
	for _, p := range o.BGPNoExport {
		args = append(args, "--bgp-no-export", p.String())
	}
	return args
}

// bgpConfig is the BGP mode o asks for; nil without --bgp-as.
func (o Options) bgpConfig() *BGPConfig {
	if o.BGPAS == 0 {
		return nil
	}
	c := &BGPConfig{ASNumber: o.BGPAS, Dir: o.BGPDir, NoExport: o.BGPNoExport}
	for _, p := range o.BGPPeers {
		if p.ASNumber == 0 {
			p.ASNumber = o.BGPAS
		}
		c.Peers = append(c.Peers, p)
	}
	return c
}

// poke asks follow for another publish.
func (a *Agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// publishBGP, in BGP mode, gives BIRD the node's confirmed blocks of pools without
// encapsulation (blackholed, and announced but the NoExport ones) and those pools (the routes
// it takes from its peers), adopting the BIRD that answers on its socket or else starting its
// own the first time (and again should it have exited), and marks d as BIRD's to route.
func (a *Agent) publishBGP(ctx context.Context, d *dataplane.DesiredState, affinities []*datastore.BlockAffinity) error {
	c := a.cfg.BGP
	if c == nil {
		return nil
	}
	d.BGP = true
	conf := birdConfig{Node: a.cfg.NodeName, RouterID: d.Self.Underlay.Addr(), ASNumber: c.ASNumber, Peers: c.Peers, NoExport: c.NoExport}
	for _, p := range d.Pools {
		if !p.Disabled && p.RoutedByBGP() {
			conf.Pools = append(conf.Pools, p.CIDR.Masked())
		}
	}
	for _, af := range affinities {
		blk := af.Spec.CIDR.Masked()
		if af.Spec.Node != a.cfg.NodeName || af.Spec.State != datastore.AffinityConfirmed || af.Spec.Deleted ||
			!slices.ContainsFunc(conf.Pools, func(p netip.Prefix) bool { return p.Bits() <= blk.Bits() && p.Contains(blk.Addr()) }) {
			continue
		}
		conf.Blocks = append(conf.Blocks, blk)
	}
	slices.SortFunc(conf.Blocks, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	conf.Blocks = slices.Compact(conf.Blocks)
	text := conf.render()

	a.mu.Lock()
	b := a.bird
	a.mu.Unlock()
	if b != nil && !b.exited() {
		return b.configure(ctx, text)
	}
	if BIRDAnswers(c.Dir) {
		// A BIRD of its own runs already (a lab started it, as calico-node runs BIRD beside
		// Felix rather than under it): the agent configures it, and leaves it running when it
		// stops.
		b = &birdProcess{dir: c.Dir, done: make(chan struct{}), log: a.log.With("component", "bird")}
		if err := b.configure(ctx, text); err != nil {
			return fmt.Errorf("BGP speaker of %s: %w", a.cfg.NodeName, err)
		}
		a.log.Info("BIRD runs already: adopted and configured", "socket", filepath.Join(c.Dir, BIRDSocketFile))
		a.mu.Lock()
		a.bird = b
		a.mu.Unlock()
		return nil
	}
	b, err := startBIRD(a.cfg.NetNSPath, c.Dir, text, a.log.With("component", "bird"))
	if err != nil {
		return fmt.Errorf("BGP speaker of %s: %w", a.cfg.NodeName, err)
	}
	a.mu.Lock()
	a.bird = b
	a.mu.Unlock()
	go func() {
		select {
		case <-b.done:
			a.poke() // exited on its own: publish starts it again
		case <-ctx.Done():
		}
	}()
	return nil
}

// startBIRDEarly starts the node's BIRD before anything else of the agent, unless one answers
// already on the node's control socket (publishBGP adopts it). It starts BIRD with its peers but neither blocks nor
// pools yet (the first publish gives them, long before a session is up): BIRD waits ¾ to 1 s
// after it starts before it first dials a peer (its minimum connect delay), and this wait
// overlaps the agent's own start (datastore, registration). nil when the underlay is not
// there yet: Agent.Run says why, and starts BIRD itself once it is.
func startBIRDEarly(o Options, log *slog.Logger) *birdProcess {
	c := o.bgpConfig()
	if c == nil {
		return nil
	}
	if BIRDAnswers(c.Dir) {
		return nil // the first publish adopts it
	}
	conf, err := o.BIRDStartConfig("")
	if err != nil {
		return nil
	}
	b, err := startBIRD("", c.Dir, conf, log.With("component", "bird"))
	if err != nil {
		log.Warn("BIRD not started early; the agent starts it once registered", "err", err)
		return nil
	}
	return b
}

// BIRDStartConfig is the BIRD configuration a node starts with, before its agent knows its
// blocks and pools: its identity (the underlay address found in the network namespace nsPath,
// "" this one) and its peers, nothing to announce or to take yet. Its agent's first publish
// completes it.
func (o Options) BIRDStartConfig(nsPath string) ([]byte, error) {
	c := o.bgpConfig()
	if c == nil {
		return nil, fmt.Errorf("the agent of %s has no BGP mode (--bgp-as)", o.Node)
	}
	underlay, _, err := DetectUnderlay(nsPath, o.Autodetect)
	if err != nil {
		return nil, err
	}
	conf := birdConfig{Node: o.Node, RouterID: underlay.Addr(), ASNumber: c.ASNumber, Peers: c.Peers, NoExport: c.NoExport}
	return conf.render(), nil
}

// stopBIRD stops the node's BIRD, if it runs.
func (a *Agent) stopBIRD() {
	a.mu.Lock()
	b := a.bird
	a.bird = nil
	a.mu.Unlock()
	if b != nil {
		b.stop()
	}
}
