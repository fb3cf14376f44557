package check

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// noSession is what a BGP session that is not Established costs.
const (
	noSessionNode = "with no session, the node neither announces its blocks nor learns the others'"
	noSessionRR   = "with no session, the reflector neither learns the node's blocks nor reflects the others' to it"
)

// bgpPeers: every node has an Established session with every BGP peer that applies to it (the
// mesh, BGPPeers), and every route reflector has one with every node that peers with it.
func bgpPeers(_ context.Context, in *Inputs) []*report.Node {
	b := in.Lab.BGP
	out := perNode(in, []observed.Table{observed.TableBGPSessions}, func(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
		judgeSessions(r, e.BGPSessions(b), s.BGPSessions, noSessionNode, func(got observed.BGPSession) string {
			return fmt.Sprintf("neither the node-to-node mesh (%s) nor any BGPPeer selecting %s gives it this peer", onOff(b.Mesh), e.Name())
		})
	})
	for _, rr := range b.Reflectors {
		out = append(out, onReflector(in, rr.Name, observed.TableBGPSessions, "gobgp neighbor -j", func(st *observed.Reflector, r *report.Node) {
			judgeSessions(r, in.Expect.ReflectorClients(b, rr), st.Sessions, noSessionRR, func(got observed.BGPSession) string {
				return fmt.Sprintf("%s is no node of the cluster: %s peers with the lab's nodes only", got.Peer, rr.Name)
			})
		}))
	}
	return out
}

// noBGPInLab says why the bgp checks do not apply: the lab does not route with BGP.
func noBGPInLab(in *Inputs) string {
	if in.Lab != nil && in.Lab.BGP == nil {
		return fmt.Sprintf("lab %s does not route its pools with BGP", in.Lab.Name)
	}
	return ""
}

// judgeSessions compares the sessions a speaker must have with those it has: a missing one, one
// that is not Established or has another AS, and one nothing expects (unexpected says why).
func judgeSessions(r *report.Node, want []expect.BGPSession, found []observed.BGPSession, cost string, unexpected func(observed.BGPSession) string) {
	extra := keyedDiff[netip.Addr, expect.BGPSession, observed.BGPSession]{
		key:      func(w expect.BGPSession) netip.Addr { return w.Peer },
		foundKey: func(g observed.BGPSession) netip.Addr { return g.Peer },
		entry:    func(w expect.BGPSession) string { return fmt.Sprintf("session with %s (%s)", w.PeerName, w.Peer) },
		missing:  func(w expect.BGPSession) string { return "an Established BGP session with " + w.Peer.String() },
		why:      func(w expect.BGPSession) string { return w.Why + "; " + cost },
		// Of several sessions with one address (BIRD's Node_ and Mesh_ for one peer), the
		// Established one.
		pick: func(w expect.BGPSession, found []observed.BGPSession) int {
			for i, g := range found {
				if g.Established() {
					return i
				}
			}
			return 0
		},
		compare: func(w expect.BGPSession, got observed.BGPSession, f fields) {
			if !got.Established() {
				f.differBecause("state", observed.BGPEstablished, sessionState(got),
					fmt.Sprintf("%s; the session is %s: %s", w.Why, sessionState(got), cost))
			}
			if w.PeerAS != 0 && got.PeerAS != 0 && got.PeerAS != w.PeerAS {
				f.differBecause("peer AS", strconv.FormatUint(uint64(w.PeerAS), 10), strconv.FormatUint(uint64(got.PeerAS), 10),
					fmt.Sprintf("%s in AS %d: a peer that answers with another AS is refused (OPEN: bad peer AS)", w.Why, w.PeerAS))
			}
		},
	}.run(r, want, found)
	for _, got := range extra {
		if !got.Peer.IsValid() {
			r.Notes = append(r.Notes, fmt.Sprintf("session %s (%s) not judged: the speaker does not show its peer's address", got.Name, sessionState(got)))
			continue
		}
		unexpectedEntry(r, fmt.Sprintf("session with %s", got.Peer), fmt.Sprintf("%s %s", got.Name, sessionState(got)), unexpected(got))
	}
}

// sessionState is a session's state with what the speaker says of it.
func sessionState(s observed.BGPSession) string {
	if s.Info == "" {
		return s.State
	}
	return s.State + " (" + s.Info + ")"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// onReflector judges route reflector name when its table was read, and otherwise says why not:
// skipped from a capture, failed from a live lab that could not be read.
func onReflector(in *Inputs, name string, table observed.Table, command string, judge func(*observed.Reflector, *report.Node)) *report.Node {
	start := time.Now()
	r := &report.Node{Node: name}
	st, ok := in.Reflectors[name]
	switch {
	case in.ReflectorUnread[name]:
		r.Findings = append(r.Findings, report.Finding{Kind: report.Missing, Entry: "route reflector " + name,
			Expected: "the route reflector's sessions and RIB, read from the running lab", Found: in.ReflectorAbsent[name],
			Reason: "a live lab yields every input its checks need: the lab's route reflector is down or half-built"})
		return r
	case !ok:
		r.Status, r.Reason = report.Skipped, orDefault(in.ReflectorAbsent[name], "no state for route reflector "+name+" in this source")
		return r
	case !st.Has(table):
		r.Status, r.Reason = report.Skipped, fmt.Sprintf("no %s table for route reflector %s in this source (save `%s`)", table, name, command)
		return r
	}
	judge(st, r)
	r.Duration = time.Since(start)
	return r
}

// reflectorNames are the reflectors a check judges: the lab's, or without a lab the source's.
func reflectorNames(in *Inputs) []string {
	if in.Lab != nil && in.Lab.BGP != nil {
		names := make([]string, 0, len(in.Lab.BGP.Reflectors))
		for _, r := range in.Lab.BGP.Reflectors {
			names = append(names, r.Name)
		}
		return names
	}
	return in.ReflectorNames
}
