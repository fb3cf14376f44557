package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// ReflectorOptions say where a route reflector listens.
type ReflectorOptions struct {
	// Listen is the address and port sessions are accepted on; the zero value means every
	// address, port 179.
	Listen netip.AddrPort
	// API is the address of the reflector's gRPC API (GoBGP's, what `gobgp neighbor` and
	// ReadState read), e.g. 127.0.0.1:50051; "" means none.
	API    string
	Timers Timers // the clients' session timers; zero fields: DefaultTimers
	Log    *slog.Logger
}

// Reflector is a running route reflector (GoBGP embedded), configured as gobgpd would be
// from the same rr.conf.
type Reflector struct {
	srv  *server.BgpServer
	cfg  ReflectorConfig
	stop sync.Once
}

// StartReflector starts the route reflector cfg describes: clients from cfg.Clients join the
// peer group as dynamic neighbours (passive when cfg says so), as route-reflector clients with
// cfg.ClusterID. Close stops it.
func StartReflector(ctx context.Context, cfg ReflectorConfig, opts ReflectorOptions) (*Reflector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	clusterID := cfg.ClusterID
	if !clusterID.IsValid() {
		clusterID = cfg.RouterID
	}
	global := &api.Global{Asn: cfg.ASNumber, RouterId: cfg.RouterID.String(), ListenPort: int32(opts.Listen.Port())}
	if global.ListenPort == 0 {
		global.ListenPort = 179
	}
	if a := opts.Listen.Addr(); a.IsValid() && !a.IsUnspecified() {
		global.ListenAddresses = []string{a.String()}
	}
	srv, err := startServer(ctx, global, opts.API, opts.Log)
	if err != nil {
		return nil, fmt.Errorf("route reflector: %w", err)
	}
	group := &api.PeerGroup{
		Conf:      &api.PeerGroupConf{PeerGroupName: cfg.PeerGroup, PeerAsn: cfg.PeerAS},
		Transport: &api.Transport{PassiveMode: cfg.Passive},
		RouteReflector: &api.RouteReflector{
			RouteReflectorClient:    true,
			RouteReflectorClusterId: clusterID.String(),
		},
		Timers:   opts.Timers.api(),
		AfiSafis: ipv4Unicast(),
	}
	if err := srv.AddPeerGroup(ctx, &api.AddPeerGroupRequest{PeerGroup: group}); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("route reflector: peer group %s: %w", cfg.PeerGroup, err)
	}
	err = srv.AddDynamicNeighbor(ctx, &api.AddDynamicNeighborRequest{DynamicNeighbor: &api.DynamicNeighbor{
		Prefix: cfg.Clients.String(), PeerGroup: cfg.PeerGroup,
	}})
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("route reflector: dynamic neighbours %s: %w", cfg.Clients, err)
	}
	if opts.Log != nil {
		opts.Log.Info("route reflector started", "as", cfg.ASNumber, "routerID", cfg.RouterID,
			"clusterID", clusterID, "clients", cfg.Clients, "listen", opts.Listen, "api", opts.API)
	}
	return &Reflector{srv: srv, cfg: cfg}, nil
}

// State reads the reflector's sessions and RIB.
func (r *Reflector) State(ctx context.Context) (State, error) { return stateOf(ctx, r.srv) }

// Close stops the reflector: every client is told (NOTIFICATION Cease) and its routes are
// gone with the session.
func (r *Reflector) Close() { r.stop.Do(r.srv.Stop) }

// RunReflector runs the route reflector cfg describes until ctx ends: what the lab's
// reflector process does with its rr.conf.
func RunReflector(ctx context.Context, cfg ReflectorConfig, opts ReflectorOptions) error {
	r, err := StartReflector(ctx, cfg, opts)
	if err != nil {
		return err
	}
	<-ctx.Done()
	r.Close()
	return nil
}
