package trace

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

// The verdicts of a trace.
const (
	// VerdictOK: delivered along the path the expected tables give.
	VerdictOK = "ok"
	// VerdictDiverged: the path parts from the expected one (or ends where it should not).
	VerdictDiverged = "diverged"
	// VerdictDropped: not delivered, where the expected tables drop it too (an address nobody
	// holds, a blackholed block).
	VerdictDropped = "dropped"
	// VerdictUnknown: a table the walk needed was not captured; nothing is judged past it.
	VerdictUnknown = "unknown"
)

// Result is one trace: the path found, and where it parts from the expected path.
type Result struct {
	Source string   `json:"source"`
	Live   bool     `json:"live"`
	From   Endpoint `json:"from"`
	To     Endpoint `json:"to"`
	// Kind is vxlan, bgp, direct or local (Path.Kind).
	Kind string `json:"kind"`
	Path
	// Expected is the path the expected tables give, when it differs from the one found.
	Expected *Path `json:"expected,omitempty"`
	// Divergence is the first hop where the two part.
	Divergence *Divergence `json:"divergence,omitempty"`
	Verdict    string      `json:"verdict"`
}

// Divergence is where the found path parts from the expected one.
type Divergence struct {
	// Hop is the number (from 1) of the found hop that differs; one past the last hop when the
	// path ends where the expected one goes on.
	Hop      int    `json:"hop"`
	At       string `json:"at"`
	Expected string `json:"expected"`
	Found    string `json:"found"`
	Reason   string `json:"reason,omitempty"`
	// BGP says, where the expected entry is a route learned over BGP, what the node's BGP
	// speaker holds of it and how its sessions are: why it was not learned.
	BGP string `json:"bgp,omitempty"`
}

// Trace walks the packet over the found tables and over the expected ones, and compares them.
func (w *World) Trace(ctx context.Context, from, to Endpoint) *Result {
	found := w.Walk(ctx, from, to)
	res := &Result{Source: w.Describe, Live: w.Live, From: from, To: to, Path: found, Kind: found.Kind()}
	want := w.Expected().Walk(ctx, from, to)
	res.Divergence = compare(&found, &want)
	if d := res.Divergence; d != nil && d.Hop <= len(want.Hops) {
		d.BGP = w.bgpState(ctx, want.Hops[d.Hop-1])
	}
	w.markNotReady(&res.Path)
	switch {
	case found.End.Kind == EndUnknown && (res.Divergence == nil || res.Divergence.Hop > len(found.Hops)):
		// Nothing is judged past the table that was not there; a hop before it still is.
		res.Divergence = nil
		res.Verdict = VerdictUnknown
	case res.Divergence != nil:
		res.Verdict = VerdictDiverged
		res.Expected = &want
	case found.End.Kind != EndDelivered:
		res.Verdict = VerdictDropped
	default:
		res.Verdict = VerdictOK
	}
	return res
}

// compare finds the first hop where found parts from want.
func compare(found, want *Path) *Divergence {
	for i, h := range found.Hops {
		if i >= len(want.Hops) {
			return &Divergence{Hop: i + 1, At: h.At, Expected: "the path ends: " + want.End.Detail, Found: h.Entry}
		}
		if w := want.Hops[i]; h.key != w.key {
			d := &Divergence{Hop: i + 1, At: h.At, Expected: w.Entry, Found: h.Entry, Reason: w.why}
			if w.Entry == h.Entry { // they differ in what the note says (an MTU)
				d.Expected, d.Found = w.Entry+"; "+w.Note, h.Entry+"; "+h.Note
			}
			return d
		}
	}
	n := len(found.Hops)
	if n < len(want.Hops) {
		w := want.Hops[n]
		return &Divergence{Hop: n + 1, At: w.At, Expected: w.Entry, Found: found.End.Detail, Reason: w.why}
	}
	if found.End.Kind != want.End.Kind && want.End.Kind != EndUnknown {
		return &Divergence{Hop: n + 1, At: found.End.At, Expected: want.End.Detail, Found: found.End.Detail}
	}
	return nil
}

// markNotReady warns on the first hop at each node whose agent is not running: the path is
// what its tables say now, and nothing keeps them (verify's topology.nodes fails).
func (w *World) markNotReady(p *Path) {
	warned := map[string]bool{}
	for i := range p.Hops {
		h := &p.Hops[i]
		if why, ok := w.NotReady[h.At]; ok && !warned[h.At] {
			warned[h.At] = true
			h.Warning = fmt.Sprintf("%s is not ready (%s): these are the last tables its agent wrote, and nothing keeps them", h.At, why)
		}
	}
}

// Pairs are every ordered pair of pods, sorted by name.
func Pairs(pods []facts.Pod) [][2]facts.Pod {
	sorted := append([]facts.Pod(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool {
		return sorted[i].Namespace+"/"+sorted[i].Name < sorted[j].Namespace+"/"+sorted[j].Name
	})
	var out [][2]facts.Pod
	for _, a := range sorted {
		for _, b := range sorted {
			if a != b && a.IP.IsValid() && b.IP.IsValid() {
				out = append(out, [2]facts.Pod{a, b})
			}
		}
	}
	return out
}

// All traces every pair of the given pods.
func (w *World) All(ctx context.Context, pods []facts.Pod) []*Result {
	var out []*Result
	for _, pr := range Pairs(pods) {
		out = append(out, w.Trace(ctx, podEndpoint(pr[0]), podEndpoint(pr[1])))
	}
	return out
}

// Summary is the one line --all gives a result: from, to, path kind, hop count, verdict.
func (r *Result) Summary() string {
	verdict := r.Verdict
	if r.Verdict == VerdictOK {
		verdict = "delivered"
	}
	line := fmt.Sprintf("%s → %s %s %d hops %s", r.From.Name, r.To.Name, r.Kind, len(r.Hops), verdict)
	if d := r.detail(); d != "" {
		line += ": " + d
	}
	return line
}

// detail says why a result is not a plain delivery, or warns.
func (r *Result) detail() string {
	switch {
	case r.Divergence != nil:
		return fmt.Sprintf("at hop %d (%s) expected %s; %s", r.Divergence.Hop, r.Divergence.At, r.Divergence.Expected, r.End.Detail)
	case r.Verdict != VerdictOK:
		return r.End.Detail
	}
	for _, h := range r.Hops {
		if h.Warning != "" {
			return h.Warning
		}
	}
	return ""
}

// TestPods are the pods --all pairs: the lab's declared ones (namespace/name) when given, else
// those the source probes (a kind cluster's test pods, not its system pods), else every pod.
func TestPods(f *facts.Facts, declared []string, src any) []facts.Pod {
	var out []facts.Pod
	scope, scoped := src.(source.ProbeScope)
	for _, p := range f.Pods {
		switch {
		case declared != nil:
			if slices.Contains(declared, p.Namespace+"/"+p.Name) {
				out = append(out, p)
			}
		case scoped:
			if scope.Probes(p) {
				out = append(out, p)
			}
		default:
			out = append(out, p)
		}
	}
	return out
}

// bgpState says, for an expected route a node learns over BGP, whether the node's BGP speaker
// holds a path for it and which of its sessions are not Established; "" for any other entry,
// or when the node's BGP tables were not read.
func (w *World) bgpState(ctx context.Context, h Hop) string {
	dst, err := netip.ParsePrefix(strings.Fields(h.Entry + " x")[0])
	if h.Step != StepRoute || !strings.Contains(h.Entry, " proto bird") || err != nil {
		return ""
	}
	n, err := w.Node(ctx, h.At)
	if err != nil || n == nil || !n.Has(observed.TableBGPRoutes) {
		return ""
	}
	var paths []string
	for _, r := range n.BGPRoutes {
		if r.Prefix == dst {
			paths = append(paths, "via "+r.NextHop.String())
		}
	}
	out := fmt.Sprintf("%s's BGP speaker holds no path for %s", h.At, dst)
	if len(paths) > 0 {
		out = fmt.Sprintf("%s's BGP speaker holds %s %s, but the kernel does not route it so", h.At, dst, strings.Join(paths, ", "))
	}
	if !n.Has(observed.TableBGPSessions) {
		return out
	}
	var down, up []string
	for _, s := range n.BGPSessions {
		name := s.Name
		if s.Peer.IsValid() && s.Peer.String() != s.Name {
			name = fmt.Sprintf("%s (%s)", s.Name, s.Peer)
		}
		if w.BGP != nil {
			for _, r := range w.BGP.Reflectors {
				if r.Address == s.Peer {
					name = fmt.Sprintf("%s (%s)", r.Name, s.Peer)
				}
			}
		}
		if s.Established() {
			up = append(up, name)
			continue
		}
		state := s.State
		if s.Info != "" {
			state += ", " + s.Info
		}
		if w.BGP != nil {
			for _, p := range w.BGP.Peers[h.At] {
				if p.Address == s.Peer && s.PeerAS != 0 && p.ASNumber != s.PeerAS {
					state += fmt.Sprintf("; it expects AS %d of the peer, where the lab's BGPPeer %s says AS %d", s.PeerAS, p.Name, p.ASNumber)
				}
			}
		}
		down = append(down, fmt.Sprintf("its session with %s is %s", name, state))
	}
	switch {
	case len(down) > 0:
		return out + ": " + strings.Join(down, "; ")
	case len(up) > 0 && len(paths) == 0:
		return fmt.Sprintf("%s: its sessions with %s are Established, and no peer announces it", out, strings.Join(up, ", "))
	case len(up) == 0 && len(paths) == 0:
		return out + ": it has no BGP session"
	}
	return out
}
