package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// Timers are a session's timers in seconds, GoBGP's unit.
type Timers struct {
	// ConnectRetry is the pause between connection attempts. GoBGP never retries faster than
	// every 2 s, and makes its first attempt 1.5 to 2 s after a peer is configured.
	ConnectRetry uint64
	HoldTime     uint64
	Keepalive    uint64
}

// DefaultTimers suit a lab: a dead peer whose TCP connection stays open is noticed within 9 s
// (a stopped one closes the connection and is noticed at once), and a lost session is retried
// as fast as GoBGP allows.
var DefaultTimers = Timers{ConnectRetry: 1, HoldTime: 9, Keepalive: 3}

func (t Timers) orDefault() Timers {
	if t.ConnectRetry == 0 {
		t.ConnectRetry = DefaultTimers.ConnectRetry
	}
	if t.HoldTime == 0 {
		t.HoldTime = DefaultTimers.HoldTime
	}
	if t.Keepalive == 0 {
		t.Keepalive = max(t.HoldTime/3, 1)
	}
	return t
}

func (t Timers) api() *api.Timers {
	t = t.orDefault()
	return &api.Timers{Config: &api.TimersConfig{
		ConnectRetry:           t.ConnectRetry,
		HoldTime:               t.HoldTime,
		KeepaliveInterval:      t.Keepalive,
		IdleHoldTimeAfterReset: 1,
	}}
}

// ipv4Unicast is the one address family of every session.
func ipv4Unicast() []*api.AfiSafi {
	return []*api.AfiSafi{{Config: &api.AfiSafiConfig{
		Family:  &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST},
		Enabled: true,
	}}}
}

// startServer starts a GoBGP server with global, its gRPC API on apiAddr when that is not "".
// The caller stops it with Stop.
func startServer(ctx context.Context, global *api.Global, apiAddr string, log *slog.Logger) (*server.BgpServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []server.ServerOption{server.LoggerOption(log, nil)}
	if apiAddr != "" {
		// GoBGP listens for its API in the background and only logs a failure: try the
		// address first so that a taken port is an error here.
		l, err := net.Listen("tcp", apiAddr)
		if err != nil {
			return nil, fmt.Errorf("BGP API address %s: %w (is another speaker already listening there? give another address)", apiAddr, err)
		}
		l.Close()
		opts = append(opts, server.GrpcListenAddress(apiAddr))
	}
	s := server.NewBgpServer(opts...)
	go s.Serve()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("start BGP (AS %d, router ID %s): %w", global.Asn, global.RouterId, err)
	}
	return s, nil
}

// stateOf reads s's sessions and RIB in-process.
func stateOf(ctx context.Context, s *server.BgpServer) (State, error) {
	var st State
	err := s.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		st.Sessions = append(st.Sessions, sessionOf(p))
	})
	if err != nil {
		return State{}, fmt.Errorf("list BGP peers: %w", err)
	}
	err = s.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: bgp.RF_IPv4_UC},
		func(_ bgp.NLRI, paths []*apiutil.Path) {
			for _, p := range paths {
				if r, ok := routeOf(p.Nlri, p.Attrs, p.Best, p.PeerAddress); ok {
					st.RIB = append(st.RIB, r)
				}
			}
		})
	if err != nil {
		return State{}, fmt.Errorf("list BGP RIB: %w", err)
	}
	st.sort()
	return st, nil
}
