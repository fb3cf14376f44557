package bgp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// ignoreGoBGPLeak: GoBGP v4.8.0 leaves one goroutine behind per dynamic neighbour whose
// session ended (the reflector's side: an fsm's infinite buffer, drained without waiting for
// it to stop); everything else of a stopped speaker or reflector must be gone.
var ignoreGoBGPLeak = []goleak.Option{goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/eapache/channels.(*InfiniteChannel).infiniteBuffer")}

// freePort is a TCP port nothing listens on at 127.0.0.1 right now.
func freePort(t testing.TB) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// loopbackLab is a route reflector and speakers on 127.0.0.x in this process: the lab's
// shape (every node a client of one passive reflector, AS 64496) without namespaces.
type loopbackLab struct {
	rr       *Reflector
	rrAddr   netip.AddrPort
	rrAPI    string
	speakers []*Speaker
	addrs    []netip.Addr // speaker i's session address, also its announced next hop
	apis     []string
}

const labAS = 64496

func testReflectorConfig() ReflectorConfig {
	return ReflectorConfig{
		ASNumber: labAS, RouterID: netip.MustParseAddr("192.0.2.1"), ClusterID: netip.MustParseAddr("192.0.2.1"),
		Clients: netip.MustParsePrefix("127.0.0.0/8"), PeerGroup: "k8s-group", PeerAS: labAS, Passive: true,
	}
}

func startLoopbackReflector(t testing.TB, lab *loopbackLab) {
	t.Helper()
	if !lab.rrAddr.IsValid() {
		lab.rrAddr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freePort(t))
		lab.rrAPI = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	rr, err := StartReflector(context.Background(), testReflectorConfig(), ReflectorOptions{Listen: lab.rrAddr, API: lab.rrAPI})
	if err != nil {
		t.Fatal(err)
	}
	lab.rr = rr
}

// startLoopbackSpeaker starts speaker i at 127.0.0.(i+2).
func startLoopbackSpeaker(t testing.TB, lab *loopbackLab, i int) *Speaker {
	t.Helper()
	addr := netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 2)})
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	sp, err := StartSpeaker(context.Background(), SpeakerConfig{
		ASNumber: labAS, RouterID: addr, LocalAddress: addr, API: api,
		Peers: []PeerConfig{{Address: lab.rrAddr.Addr(), ASNumber: labAS, Port: lab.rrAddr.Port()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lab.speakers = append(lab.speakers, sp)
	lab.addrs = append(lab.addrs, addr)
	lab.apis = append(lab.apis, api)
	return sp
}

func (lab *loopbackLab) close() {
	for _, s := range lab.speakers {
		s.Close()
	}
	if lab.rr != nil {
		lab.rr.Close()
	}
}

func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func routeStrings(rs []Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s via %s", r.Prefix, r.NextHop))
	}
	slices.Sort(out)
	return out
}

func mustPrefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestReflectorAndSpeakers is the lab's control plane end to end on loopback: three speakers
// peer with one passive reflector, each learns the others' blocks with the owner as next hop,
// the reflector holds each block once, a withdrawn block disappears everywhere, and a stopped
// reflector takes every session and learned route with it.
func TestReflectorAndSpeakers(t *testing.T) {
	defer goleak.VerifyNone(t, ignoreGoBGPLeak...)
	lab := &loopbackLab{}
	defer lab.close()
	startLoopbackReflector(t, lab)

	blocks := [][]netip.Prefix{
		mustPrefixes("10.244.128.0/24", "10.244.131.0/24"),
		mustPrefixes("10.244.129.0/24"),
		mustPrefixes("10.244.130.0/24"),
	}
	for i := range blocks {
		sp := startLoopbackSpeaker(t, lab, i)
		if err := sp.Announce(context.Background(), blocks[i], lab.addrs[i]); err != nil {
			t.Fatal(err)
		}
	}

	// expected[i]: what speaker i must learn, the others' blocks via their owners.
	expected := func() [][]string {
		out := make([][]string, len(blocks))
		for i := range blocks {
			var rs []Route
			for j, bs := range blocks {
				if j == i {
					continue
				}
				for _, b := range bs {
					rs = append(rs, Route{Prefix: b, NextHop: lab.addrs[j]})
				}
			}
			out[i] = routeStrings(rs)
		}
		return out
	}
	converged := func() bool {
		want := expected()
		for i, sp := range lab.speakers {
			if !slices.Equal(routeStrings(sp.Learned()), want[i]) {
				return false
			}
		}
		return true
	}
	waitFor(t, 15*time.Second, "every speaker learns the others' blocks via their owners", converged)

	ctx := context.Background()
	for i, sp := range lab.speakers {
		if sp.AllEstablishedSince().IsZero() {
			t.Errorf("speaker %d learned routes but says its session is not up", i)
		}
		st, err := ReadState(ctx, lab.apis[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Sessions) != 1 || st.Sessions[0].State != StateEstablished || st.Sessions[0].Peer != lab.rrAddr.Addr() || st.Sessions[0].PeerAS != labAS {
			t.Errorf("speaker %d sessions over its API: %+v", i, st.Sessions)
		}
		// Its RIB: its own blocks (From invalid) and the learned ones.
		var own []netip.Prefix
		for _, r := range st.RIB {
			if !r.From.IsValid() {
				own = append(own, r.Prefix)
			}
		}
		if !slices.Equal(own, blocks[i]) {
			t.Errorf("speaker %d originates %v, want %v", i, own, blocks[i])
		}
		if got := sp.Announced(); !slices.Equal(got, blocks[i]) {
			t.Errorf("speaker %d Announced() = %v", i, got)
		}
	}

	rrState, err := ReadState(ctx, lab.rrAPI, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sessions []string
	for _, s := range rrState.Sessions {
		sessions = append(sessions, fmt.Sprintf("%s %d %s", s.Peer, s.PeerAS, s.State))
	}
	wantSessions := []string{"127.0.0.2 64496 Established", "127.0.0.3 64496 Established", "127.0.0.4 64496 Established"}
	if !slices.Equal(sessions, wantSessions) {
		t.Errorf("reflector sessions = %v, want %v", sessions, wantSessions)
	}
	var rib, wantRIB []string
	for _, r := range rrState.RIB {
		rib = append(rib, fmt.Sprintf("%s via %s from %s best=%v", r.Prefix, r.NextHop, r.From, r.Best))
	}
	for j, bs := range blocks {
		for _, b := range bs {
			wantRIB = append(wantRIB, fmt.Sprintf("%s via %s from %s best=true", b, lab.addrs[j], lab.addrs[j]))
		}
	}
	slices.Sort(rib)
	slices.Sort(wantRIB)
	if !slices.Equal(rib, wantRIB) {
		t.Errorf("reflector RIB (each block once, next hop = owner):\n got %v\nwant %v", rib, wantRIB)
	}
	inProcess, err := lab.rr.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(inProcess) != fmt.Sprint(rrState) {
		t.Errorf("in-process state %+v differs from the API's %+v", inProcess, rrState)
	}

	// Speaker 0 stops announcing one block: everyone else forgets it.
	blocks[0] = blocks[0][:1]
	if err := lab.speakers[0].Announce(ctx, blocks[0], lab.addrs[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the withdrawn block 10.244.131.0/24 is gone from every speaker", converged)

	// The reflector stops: sessions drop and the learned routes go with them.
	lab.rr.Close()
	waitFor(t, 5*time.Second, "no speaker keeps a session or a learned route", func() bool {
		for _, sp := range lab.speakers {
			st, err := sp.State(ctx)
			if err != nil || len(sp.Learned()) > 0 || !sp.AllEstablishedSince().IsZero() {
				return false
			}
			for _, s := range st.Sessions {
				if s.State == StateEstablished {
					return false
				}
			}
		}
		return true
	})
	st, err := lab.speakers[1].State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Sessions) != 1 || (st.Sessions[0].State != StateIdle && st.Sessions[0].State != StateActive && st.Sessions[0].State != StateConnect) {
		t.Errorf("after the reflector stopped, speaker 1's session is %+v; want Idle, Connect or Active", st.Sessions)
	}
	if st.Sessions[0].Info == "" {
		t.Errorf("a session that went down says nothing about why: %+v", st.Sessions[0])
	}
	t.Logf("after the reflector stopped: %+v", st.Sessions[0])

	// The reflector comes back (a lab's `fix`): the speakers reconnect as soon as GoBGP dials
	// again (at most 2 s), not after its 5 s idle hold of a lost session, and every route is
	// back.
	startLoopbackReflector(t, lab)
	waitFor(t, 4*time.Second, "every speaker relearns the others' blocks after the reflector restarts", converged)
}

// TestReflectorAPIAddressTaken: a taken API address is an error at start, not a log line of
// GoBGP's background listener, and nothing of the reflector stays behind.
func TestReflectorAPIAddressTaken(t *testing.T) {
	defer goleak.VerifyNone(t, ignoreGoBGPLeak...)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	listen := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freePort(t))
	_, err = StartReflector(context.Background(), testReflectorConfig(), ReflectorOptions{Listen: listen, API: l.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "BGP API address "+l.Addr().String()) {
		t.Fatalf("err = %v, want one naming the API address", err)
	}
}

// TestRunReflectorStopsWithItsContext: RunReflector (what the lab's reflector process runs)
// serves until its context ends, then stops cleanly; a config it cannot run is an error at once.
func TestRunReflectorStopsWithItsContext(t *testing.T) {
	defer goleak.VerifyNone(t, ignoreGoBGPLeak...)
	ctx, cancel := context.WithCancel(context.Background())
	listen := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freePort(t))
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	done := make(chan error, 1)
	go func() { done <- RunReflector(ctx, testReflectorConfig(), ReflectorOptions{Listen: listen, API: api}) }()
	waitFor(t, 5*time.Second, "the reflector's API answers", func() bool {
		_, err := ReadState(context.Background(), api, nil)
		return err == nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunReflector did not return after its context ended")
	}

	bad := testReflectorConfig()
	bad.PeerAS = 0
	if err := RunReflector(context.Background(), bad, ReflectorOptions{Listen: listen}); err == nil || !strings.Contains(err.Error(), "peer AS 0") {
		t.Errorf("bad config: err = %v", err)
	}
}
