package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// SpeakerConfig is a node's BGP speaker: its AS and identity, the peers it connects to, and
// where its API listens.
type SpeakerConfig struct {
	ASNumber uint32
	RouterID netip.Addr // IPv4; a node uses its underlay address, as calico-node does
	// LocalAddress is the source address of the sessions; invalid lets the kernel choose.
	LocalAddress netip.Addr
	// ListenPort, when not 0, also accepts sessions on LocalAddress (or every address) at this
	// port; 0 means the speaker only connects (its peers are passive route reflectors).
	ListenPort uint16
	Peers      []PeerConfig
	// API is the address of the speaker's gRPC API (GoBGP's, which ReadState and the gobgp CLI
	// read), e.g. 127.0.0.1:50051; "" means none.
	API    string
	Timers Timers // zero fields: DefaultTimers
	Log    *slog.Logger
}

// PeerConfig is one BGP neighbour of a speaker.
type PeerConfig struct {
	Address  netip.Addr
	ASNumber uint32 // the neighbour's AS: the speaker's own for iBGP
	Port     uint16 // 0: 179
}

func (p PeerConfig) String() string {
	s := p.Address.String()
	if p.Port != 0 {
		s = netip.AddrPortFrom(p.Address, p.Port).String()
	}
	return fmt.Sprintf("%s AS %d", s, p.ASNumber)
}

// Validate reports every problem of c at once.
func (c SpeakerConfig) Validate() error {
	var problems []string
	if !validAS(c.ASNumber) {
		problems = append(problems, fmt.Sprintf("AS %d is not a usable AS number (1..4294967294, not 65535)", c.ASNumber))
	}
	if !c.RouterID.Is4() {
		problems = append(problems, "router ID must be an IPv4 address")
	}
	if c.LocalAddress.IsValid() && !c.LocalAddress.Is4() {
		problems = append(problems, "local address must be IPv4")
	}
	seen := map[netip.Addr]bool{}
	for _, p := range c.Peers {
		if !p.Address.Is4() {
			problems = append(problems, fmt.Sprintf("peer %s: address must be IPv4", p.Address))
		}
		if seen[p.Address] {
			problems = append(problems, fmt.Sprintf("peer %s given twice", p.Address))
		}
		seen[p.Address] = true
		if !validAS(p.ASNumber) {
			problems = append(problems, fmt.Sprintf("peer %s: AS %d is not a usable AS number", p.Address, p.ASNumber))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("BGP speaker: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Speaker is a BGP speaker (GoBGP embedded) standing in for a node in the reflector's tests
// and benchmarks: it keeps sessions to its peers, announces the prefixes it is given and
// reports the best paths it learns. The lab's nodes speak BGP with BIRD (the agent runs it).
type Speaker struct {
	srv    *server.BgpServer
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	announced map[netip.Prefix]netip.Addr // prefix → next hop
	learned   []Route
	closed    bool
	// why holds, per peer whose session is down, the last reason it went down (GoBGP reports
	// reasons only in its events, not in its peer list).
	why map[netip.Addr]string
	// up are the peers whose session is Established; allUpSince is when the last of the
	// configured peers came up (zero while one is down).
	peers      int
	up         map[netip.Addr]bool
	allUpSince time.Time
	// lost are peers whose Established session just ended; follow configures them afresh.
	lost map[netip.Addr]bool
	cfg  SpeakerConfig
}

// StartSpeaker starts the speaker cfg describes. Sessions come up in the background; Learned
// reads what the speaker learned. Close stops it.
func StartSpeaker(ctx context.Context, cfg SpeakerConfig) (*Speaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	global := &api.Global{Asn: cfg.ASNumber, RouterId: cfg.RouterID.String(), ListenPort: -1}
	if cfg.ListenPort != 0 {
		global.ListenPort = int32(cfg.ListenPort)
		if cfg.LocalAddress.IsValid() {
			global.ListenAddresses = []string{cfg.LocalAddress.String()}
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv, err := startServer(ctx, global, cfg.API, log)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	s := &Speaker{
		srv: srv, log: log, cancel: cancel, done: make(chan struct{}),
		announced: map[netip.Prefix]netip.Addr{},
		why:       map[netip.Addr]string{},
		peers:     len(cfg.Peers),
		up:        map[netip.Addr]bool{},
		lost:      map[netip.Addr]bool{},
		cfg:       cfg,
	}
	// Every best-path or session change marks the learned set dirty; one goroutine reads the
	// RIB again, so the callbacks never wait on the server.
	dirty := make(chan struct{}, 1)
	mark := func() {
		select {
		case dirty <- struct{}{}:
		default:
		}
	}
	err = srv.WatchEvent(wctx, server.WatchEventMessageCallbacks{
		OnBestPath:   func([]*apiutil.Path, time.Time) { mark() },
		OnPeerUpdate: func(ev *apiutil.WatchEventMessage_PeerEvent, _ time.Time) { s.notePeer(ev); mark() },
	}, server.WatchBestPath(false), server.WatchPeer())
	if err != nil {
		cancel()
		srv.Stop()
		return nil, fmt.Errorf("watch BGP events: %w", err)
	}
	go s.follow(wctx, dirty)

	for _, p := range cfg.Peers {
		if err := s.addPeer(ctx, p); err != nil {
			s.Close()
			return nil, err
		}
	}
	log.Info("BGP speaker started", "as", cfg.ASNumber, "routerID", cfg.RouterID, "peers", fmt.Sprint(cfg.Peers), "api", cfg.API)
	return s, nil
}

func (s *Speaker) addPeer(ctx context.Context, p PeerConfig) error {
	cfg := s.cfg
	peer := &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASNumber},
		Timers:    cfg.Timers.api(),
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		AfiSafis:  ipv4Unicast(),
	}
	if cfg.LocalAddress.IsValid() {
		peer.Transport.LocalAddress = cfg.LocalAddress.String()
	}
	if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peer}); err != nil {
		return fmt.Errorf("BGP peer %s: %w", p, err)
	}
	return nil
}

// follow re-reads the learned routes whenever the server reports a change, until ctx ends.
func (s *Speaker) follow(ctx context.Context, dirty <-chan struct{}) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-dirty:
		}
		s.relink(ctx)
		st, err := stateOf(ctx, s.srv)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("BGP RIB not read", "err", err)
			}
			continue
		}
		var learned []Route
		for _, r := range st.RIB {
			if r.Best && r.From.IsValid() {
				learned = append(learned, r)
			}
		}
		s.mu.Lock()
		s.learned = learned
		s.mu.Unlock()
	}
}

// relink configures every lost peer afresh. GoBGP keeps a peer whose session ended idle for 5 s
// before it dials again (a fixed hold against flapping), so a restarted route reflector would
// wait up to 7 s for its clients; a peer configured anew dials within 2 s and then every 2 s
// until the reflector answers.
func (s *Speaker) relink(ctx context.Context) {
	s.mu.Lock()
	var lost []PeerConfig
	for _, p := range s.cfg.Peers {
		if s.lost[p.Address] {
			lost = append(lost, p)
		}
	}
	clear(s.lost)
	s.mu.Unlock()
	for _, p := range lost {
		err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: p.Address.String()})
		if err == nil {
			err = s.addPeer(ctx, p)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("BGP peer not reconfigured after its session ended", "peer", p.String(), "err", err)
		}
	}
}

// Announce makes prefixes, each with nextHop, the whole set the speaker announces: new ones
// are advertised, ones no longer given are withdrawn.
func (s *Speaker) Announce(ctx context.Context, prefixes []netip.Prefix, nextHop netip.Addr) error {
	if !nextHop.Is4() {
		return fmt.Errorf("announce: next hop %s is not an IPv4 address", nextHop)
	}
	want := map[netip.Prefix]netip.Addr{}
	for _, p := range prefixes {
		if !p.IsValid() || !p.Addr().Is4() {
			return fmt.Errorf("announce: %s is not an IPv4 prefix", p)
		}
		want[p.Masked()] = nextHop
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("announce: the BGP speaker is stopped")
	}
	var add, del []*apiutil.Path
	for p, nh := range want {
		if have, ok := s.announced[p]; ok && have == nh {
			continue
		}
		path, err := localPath(p, nh)
		if err != nil {
			return fmt.Errorf("announce %s: %w", p, err)
		}
		add = append(add, path)
	}
	for p, nh := range s.announced {
		if _, ok := want[p]; ok {
			continue
		}
		path, err := localPath(p, nh)
		if err != nil {
			return fmt.Errorf("withdraw %s: %w", p, err)
		}
		del = append(del, path)
	}
	if len(add) > 0 {
		if _, err := s.srv.AddPath(apiutil.AddPathRequest{Paths: add}); err != nil {
			return fmt.Errorf("announce: %w", err)
		}
	}
	if len(del) > 0 {
		if err := s.srv.DeletePath(apiutil.DeletePathRequest{Paths: del}); err != nil {
			return fmt.Errorf("withdraw: %w", err)
		}
	}
	s.announced = want
	return nil
}

// Announced is the set the speaker announces, sorted.
func (s *Speaker) Announced() []netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Collect(maps.Keys(s.announced))
	slices.SortFunc(out, comparePrefix)
	return out
}

// Learned is the best path of every prefix the speaker learned from a peer, sorted by prefix.
func (s *Speaker) Learned() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.learned)
}

// AllEstablishedSince is when the last of the speaker's peers reached Established; zero while
// any session is down. Right after it, the peers' tables are arriving: a caller that must not
// act on a half-learned table waits a moment past it.
func (s *Speaker) AllEstablishedSince() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allUpSince
}

// notePeer follows a session's state: which peers are up, since when all are, and why a
// session went down (until it is Established again).
func (s *Speaker) notePeer(ev *apiutil.WatchEventMessage_PeerEvent) {
	st := ev.Peer.State
	if !st.NeighborAddress.IsValid() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.SessionState == bgp.BGP_FSM_ESTABLISHED {
		s.up[st.NeighborAddress] = true
		if len(s.up) == s.peers && s.allUpSince.IsZero() {
			s.allUpSince = time.Now()
		}
	} else {
		if s.up[st.NeighborAddress] {
			s.lost[st.NeighborAddress] = true
		}
		delete(s.up, st.NeighborAddress)
		s.allUpSince = time.Time{}
	}
	switch {
	case st.SessionState == bgp.BGP_FSM_ESTABLISHED:
		delete(s.why, st.NeighborAddress)
	case st.DisconnectReason == noReason,
		st.DisconnectReason == api.PeerState_DISCONNECT_REASON_IDLE_TIMER_EXPIRED, // Idle → Active: no news
		st.DisconnectReason == api.PeerState_DISCONNECT_REASON_DECONFIGURED:       // relink's doing, not the reason
	default:
		s.why[st.NeighborAddress] = disconnectInfo(st.DisconnectReason, st.DisconnectMessage)
	}
}

// State reads the speaker's sessions and RIB; a session that is down says why it went down
// when the speaker saw it happen.
func (s *Speaker) State(ctx context.Context) (State, error) {
	st, err := stateOf(ctx, s.srv)
	if err != nil {
		return st, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sess := range st.Sessions {
		if why, ok := s.why[sess.Peer]; ok && sess.State != StateEstablished {
			st.Sessions[i].Info = why
		}
	}
	return st, nil
}

// Close stops the speaker: its sessions end (peers are told with a NOTIFICATION), its API
// closes, and no goroutine of it remains. Closing twice is harmless.
func (s *Speaker) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
	s.srv.Stop()
}

// localPath is the path a speaker originates for prefix with nextHop.
func localPath(prefix netip.Prefix, nextHop netip.Addr) (*apiutil.Path, error) {
	nlri, err := bgp.NewIPAddrPrefix(prefix)
	if err != nil {
		return nil, err
	}
	nh, err := bgp.NewPathAttributeNextHop(nextHop)
	if err != nil {
		return nil, err
	}
	return &apiutil.Path{
		Family: bgp.RF_IPv4_UC,
		Nlri:   nlri,
		Attrs:  []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP), nh},
		Age:    time.Now().Unix(),
	}, nil
}
