package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knetlab/knetlab/internal/bgp"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/datastore"
)

// DefaultBGPAPI is where the speaker's gRPC API (GoBGP's) listens when --bgp-api is not given:
// the node namespace's own loopback, where a netns lab's verify reads it.
const DefaultBGPAPI = "127.0.0.1:50051"

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

// BGPConfig is the agent's BGP mode: the node runs a BGP speaker, announces its blocks and
// routes the blocks of pools without encapsulation as the speaker learned them, as calico-node
// does with BIRD.
type BGPConfig struct {
	ASNumber uint32
	Peers    []bgp.PeerConfig
	API      string // the speaker's gRPC API; "": none
	// NoExport are blocks the node does not announce although it owns them: a fault that
	// leaves them unreachable from the other nodes.
	NoExport []netip.Prefix
	// LocalAddress is the sessions' source address; invalid lets the kernel choose (the
	// node's address on the way to each peer).
	LocalAddress netip.Addr
}

// bgpProblems checks the BGP flags.
func (o Options) bgpProblems() []string {
	var problems []string
	if o.BGPAS == 0 {
		if len(o.BGPPeers) > 0 || o.BGPAPI != "" || len(o.BGPNoExport) > 0 {
			problems = append(problems, "--bgp-peer, --bgp-api and --bgp-no-export need --bgp-as")
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
	if o.BGPAPI != "" {
		if _, port, err := net.SplitHostPort(o.BGPAPI); err != nil || port == "" {
			problems = append(problems, fmt.Sprintf("--bgp-api %q: give HOST:PORT, e.g. %s", o.BGPAPI, DefaultBGPAPI))
		}
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
	if o.BGPAPI != "" {
		args = append(args, "--bgp-api", o.BGPAPI)
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
	c := &BGPConfig{ASNumber: o.BGPAS, API: o.BGPAPI, NoExport: o.BGPNoExport}
	if c.API == "" {
		c.API = DefaultBGPAPI
	}
	for _, p := range o.BGPPeers {
		as := p.ASNumber
		if as == 0 {
			as = o.BGPAS
		}
		c.Peers = append(c.Peers, bgp.PeerConfig{Address: p.Address, ASNumber: as})
	}
	return c
}

// startSpeaker starts the node's BGP speaker, its router ID the underlay address (as
// calico-node's). It starts before registration so that GoBGP's first connection attempt (1.5
// to 2 s after a peer is configured) overlaps the agent's own start.
func (a *Agent) startSpeaker(ctx context.Context) (*bgp.Speaker, error) {
	c := a.cfg.BGP
	underlay, _, err := DetectUnderlay(a.cfg.NetNSPath, a.cfg.AutodetectCIDRs)
	if err != nil {
		return nil, err
	}
	sp, err := bgp.StartSpeaker(ctx, bgp.SpeakerConfig{
		ASNumber: c.ASNumber, RouterID: underlay.Addr(), LocalAddress: c.LocalAddress,
		Peers: c.Peers, API: c.API, Log: a.log.With("component", "bgp"),
	})
	if err != nil {
		return nil, fmt.Errorf("BGP speaker of %s: %w", a.cfg.NodeName, err)
	}
	return sp, nil
}

// BGPSpeaker is the agent's BGP speaker once Run has started it in BGP mode, else nil.
func (a *Agent) BGPSpeaker() *bgp.Speaker {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.speaker
}

// BGPSyncGrace bounds how long an agent in BGP mode leaves the node's routes as they are when
// it starts, while its sessions come up (GoBGP dials a peer 1.5 to 2 s after it is configured):
// a restarted agent must not withdraw every learned route only to install it again a moment
// later. A peer that never comes up (a misconfigured one) costs the node its learned routes
// after this long.
const BGPSyncGrace = 4 * time.Second

// bgpSettle is how long after its last session came up the speaker's table counts as complete:
// a peer sends its whole table right after the session is established.
const bgpSettle = 200 * time.Millisecond

// bgpHold says whether the desired state must wait because the speaker has not learned its
// peers' tables yet, and for how long at most. Once the table was complete it never holds
// again: later a lost session must withdraw its routes at once.
func (a *Agent) bgpHold() (bool, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.speaker == nil || a.bgpSynced {
		return false, 0
	}
	now := time.Now()
	deadline := a.bgpStart.Add(BGPSyncGrace)
	if since := a.speaker.AllEstablishedSince(); !since.IsZero() && since.Add(bgpSettle).Before(deadline) {
		deadline = since.Add(bgpSettle)
	}
	if wait := deadline.Sub(now); wait > 0 {
		return true, wait
	}
	a.bgpSynced = true
	return false, 0
}

// poke asks follow for another publish.
func (a *Agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// bgpChanges is the speaker's change channel; nil (never ready) without BGP.
func (a *Agent) bgpChanges() <-chan struct{} {
	if sp := a.BGPSpeaker(); sp != nil {
		return sp.Changes()
	}
	return nil
}

// publishBGP announces the node's confirmed blocks (but the NoExport ones) with its underlay
// address as next hop, and puts what the speaker learned into d.
func (a *Agent) publishBGP(ctx context.Context, d *dataplane.DesiredState, affinities []*datastore.BlockAffinity) error {
	sp := a.BGPSpeaker()
	if sp == nil {
		return nil
	}
	var own []netip.Prefix
	for _, af := range affinities {
		if af.Spec.Node != a.cfg.NodeName || af.Spec.State != datastore.AffinityConfirmed || af.Spec.Deleted {
			continue
		}
		if slices.Contains(a.cfg.BGP.NoExport, af.Spec.CIDR.Masked()) {
			continue
		}
		own = append(own, af.Spec.CIDR.Masked())
	}
	d.BGP = &dataplane.BGPRoutes{}
	for _, r := range sp.Learned() {
		d.BGP.Learned = append(d.BGP.Learned, dataplane.LearnedRoute{Dst: r.Prefix, NextHop: r.NextHop})
	}
	if err := sp.Announce(ctx, own, d.Self.Underlay.Addr()); err != nil {
		return fmt.Errorf("announce the blocks of %s: %w", a.cfg.NodeName, err)
	}
	return nil
}
