package bgp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The session states, as BGP (RFC 4271) and gobgp's CLI name them.
const (
	StateIdle        = "Idle"
	StateConnect     = "Connect"
	StateActive      = "Active"
	StateOpenSent    = "OpenSent"
	StateOpenConfirm = "OpenConfirm"
	StateEstablished = "Established"
)

// Session is one BGP session as the speaker holding it reports it.
type Session struct {
	Peer     netip.Addr // the neighbour's address
	PeerAS   uint32     // the AS the neighbour is configured with (for a dynamic neighbour: its group's)
	LocalAS  uint32
	State    string     // one of the State* names
	RouterID netip.Addr // the neighbour's BGP identifier, once it sent an OPEN
	// Info says why a session is not Established (the last NOTIFICATION or disconnect
	// reason), for findings; empty when nothing is known.
	Info string
}

// Route is one IPv4 unicast path in a speaker's RIB.
type Route struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
	Best    bool
	// From is the neighbour the path was learned from; invalid for a path the speaker
	// originates itself.
	From netip.Addr
}

func (r Route) String() string {
	s := fmt.Sprintf("%s via %s", r.Prefix, r.NextHop)
	if r.From.IsValid() {
		s += " from " + r.From.String()
	}
	if r.Best {
		s += " best"
	}
	return s
}

// State is what one speaker (a node's or a route reflector) holds: its sessions and its RIB
// (every known IPv4 unicast path, the best one of each prefix marked).
type State struct {
	Sessions []Session
	RIB      []Route
}

// DialFunc opens the connection to a speaker's API. A caller reading a speaker in another
// network namespace passes one that creates the socket inside that namespace.
type DialFunc func(ctx context.Context, address string) (net.Conn, error)

// ReadState reads a speaker's sessions and RIB over its gRPC API (GoBGP's own, what the gobgp
// CLI talks to) at address, e.g. 127.0.0.1:50051. dial nil means an ordinary TCP dial.
func ReadState(ctx context.Context, address string, dial DialFunc) (State, error) {
	if dial == nil {
		var d net.Dialer
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	conn, err := grpc.NewClient("passthrough:///"+address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dial))
	if err != nil {
		return State{}, fmt.Errorf("BGP API %s: %w", address, err)
	}
	defer conn.Close()
	client := api.NewGoBgpServiceClient(conn)

	var st State
	peers, err := client.ListPeer(ctx, &api.ListPeerRequest{})
	if err == nil {
		err = receiveAll(peers, func(rsp *api.ListPeerResponse) error {
			st.Sessions = append(st.Sessions, sessionOf(rsp.GetPeer()))
			return nil
		})
	}
	if err != nil {
		return State{}, fmt.Errorf("BGP API %s: list peers: %w", address, err)
	}

	paths, err := client.ListPath(ctx, &api.ListPathRequest{
		TableType: api.TableType_TABLE_TYPE_GLOBAL,
		Family:    &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST},
	})
	if err == nil {
		err = receiveAll(paths, func(rsp *api.ListPathResponse) error {
			for _, p := range rsp.GetDestination().GetPaths() {
				nlri, err := apiutil.GetNativeNlri(p)
				if err != nil {
					return fmt.Errorf("path of %s: %w", rsp.GetDestination().GetPrefix(), err)
				}
				attrs, err := apiutil.GetNativePathAttributes(p)
				if err != nil {
					return fmt.Errorf("path of %s: %w", rsp.GetDestination().GetPrefix(), err)
				}
				from, _ := netip.ParseAddr(p.GetNeighborIp())
				if r, ok := routeOf(nlri, attrs, p.GetBest(), from); ok {
					st.RIB = append(st.RIB, r)
				}
			}
			return nil
		})
	}
	if err != nil {
		return State{}, fmt.Errorf("BGP API %s: list RIB: %w", address, err)
	}
	st.sort()
	return st, nil
}

// receiveAll hands every message of a server stream to fn, until the stream ends.
func receiveAll[T any](stream interface{ Recv() (T, error) }, fn func(T) error) error {
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(msg); err != nil {
			return err
		}
	}
}

func (st *State) sort() {
	slices.SortFunc(st.Sessions, func(a, b Session) int { return a.Peer.Compare(b.Peer) })
	slices.SortFunc(st.RIB, func(a, b Route) int {
		if c := comparePrefix(a.Prefix, b.Prefix); c != 0 {
			return c
		}
		if a.Best != b.Best { // best first
			if a.Best {
				return -1
			}
			return 1
		}
		return a.From.Compare(b.From)
	})
}

// sessionOf turns GoBGP's peer into a Session.
func sessionOf(p *api.Peer) Session {
	st := p.GetState()
	s := Session{
		PeerAS:  st.GetPeerAsn(),
		LocalAS: st.GetLocalAsn(),
		State:   stateName(st.GetSessionState()),
	}
	s.Peer, _ = netip.ParseAddr(st.GetNeighborAddress())
	if !s.Peer.IsValid() {
		s.Peer, _ = netip.ParseAddr(p.GetConf().GetNeighborAddress())
	}
	if s.PeerAS == 0 {
		s.PeerAS = p.GetConf().GetPeerAsn()
	}
	if s.LocalAS == 0 {
		s.LocalAS = p.GetConf().GetLocalAsn()
	}
	if id, err := netip.ParseAddr(st.GetRouterId()); err == nil && !id.IsUnspecified() {
		s.RouterID = id
	}
	if s.State != StateEstablished {
		s.Info = disconnectInfo(st.GetDisconnectReason(), st.GetDisconnectMessage())
		if s.Info == "" {
			s.Info = notifications(st.GetMessages())
		}
	}
	return s
}

func stateName(s api.PeerState_SessionState) string {
	switch s {
	case api.PeerState_SESSION_STATE_CONNECT:
		return StateConnect
	case api.PeerState_SESSION_STATE_ACTIVE:
		return StateActive
	case api.PeerState_SESSION_STATE_OPENSENT:
		return StateOpenSent
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return StateOpenConfirm
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return StateEstablished
	default:
		return StateIdle
	}
}

// noReason is GoBGP's zero DisconnectReason: no reason given.
const noReason api.PeerState_DisconnectReason = 0

func disconnectInfo(reason api.PeerState_DisconnectReason, msg string) string {
	var parts []string
	name := ""
	if reason != noReason {
		name = strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(reason.String(), "DISCONNECT_REASON_"), "_", " "))
		parts = append(parts, name)
	}
	// GoBGP's message often starts with the reason again ("notification-received code 6…").
	msg = strings.TrimSpace(strings.TrimPrefix(msg, strings.ReplaceAll(name, " ", "-")))
	if msg != "" {
		parts = append(parts, msg)
	}
	return strings.Join(parts, ": ")
}

// notifications says how many NOTIFICATION messages a session exchanged: all GoBGP's peer
// list tells of why a session is down.
func notifications(m *api.Messages) string {
	sent, recv := m.GetSent().GetNotification(), m.GetReceived().GetNotification()
	if sent == 0 && recv == 0 {
		return ""
	}
	return fmt.Sprintf("%d NOTIFICATION messages sent, %d received", sent, recv)
}

// routeOf reads an IPv4 unicast path; ok is false for anything else.
func routeOf(nlri bgp.NLRI, attrs []bgp.PathAttributeInterface, best bool, from netip.Addr) (Route, bool) {
	pfx, ok := nlri.(*bgp.IPAddrPrefix)
	if !ok || !pfx.Prefix.Addr().Is4() {
		return Route{}, false
	}
	r := Route{Prefix: pfx.Prefix, Best: best}
	if from.IsValid() && !from.IsUnspecified() {
		r.From = from
	}
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgp.PathAttributeNextHop:
			r.NextHop = a.Value
		case *bgp.PathAttributeMpReachNLRI:
			if !r.NextHop.IsValid() {
				r.NextHop = a.Nexthop
			}
		}
	}
	return r, true
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
