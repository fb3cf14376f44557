package expect

import (
	"fmt"
	"net/netip"

	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/spec"
)

// BGPSession is a BGP session a speaker must have Established: a node's with a peer that
// applies to it, or a route reflector's with a node that peers with it.
type BGPSession struct {
	Peer   netip.Addr
	PeerAS uint32 // 0 when any AS will do
	// PeerName names the other end: a node, a route reflector or a BGPPeer's speaker.
	PeerName string
	// Why says why the session must exist, in the words of the lab's BGP configuration.
	Why string
}

// BGPSessions are the sessions node n must have: one with every other node when the
// node-to-node mesh is on (in the nodes' AS), and one with every BGPPeer that selects n. A node
// without an underlay address in the facts cannot be peered with, and is left out.
func (n *Node) BGPSessions(b *spec.BGP) []BGPSession {
	var out []BGPSession
	if b.Mesh {
		for _, m := range n.c.Nodes {
			if m == n || !m.Facts.Address.IsValid() {
				continue
			}
			out = append(out, BGPSession{Peer: m.Facts.Address.Addr(), PeerAS: b.ASNumber, PeerName: m.Name(),
				Why: fmt.Sprintf("the node-to-node mesh is on: %s peers with every other node, %s among them", n.Name(), m.Name())})
		}
	}
	for _, p := range b.Peers[n.Name()] {
		name := p.Address.String()
		if p.Reflector != "" {
			name = p.Reflector
		}
		out = append(out, BGPSession{Peer: p.Address, PeerAS: p.ASNumber, PeerName: name,
			Why: fmt.Sprintf("%s peers with %s (%s) because BGPPeer %s selects %s", n.Name(), name, p.Address, p.Name, p.Selector)})
	}
	return out
}

// ReflectorClients are the sessions route reflector r must have: one with every node a BGPPeer
// at r's address applies to, each Established.
func (c *Cluster) ReflectorClients(b *spec.BGP, r spec.Reflector) []BGPSession {
	var out []BGPSession
	for _, n := range c.Nodes {
		if !n.Facts.Address.IsValid() {
			continue
		}
		for _, p := range b.Peers[n.Name()] {
			if p.Address != r.Address {
				continue
			}
			out = append(out, BGPSession{Peer: n.Facts.Address.Addr(), PeerAS: b.ASNumber, PeerName: n.Name(),
				Why: fmt.Sprintf("%s peers with %s (%s) because BGPPeer %s selects %s", n.Name(), r.Name, r.Address, p.Name, p.Selector)})
			break
		}
	}
	return out
}

// BGPRoute is a block a BGP speaker must hold: announced by its owner, with the owner's
// underlay address as the next hop (iBGP and route reflection keep the next hop).
type BGPRoute struct {
	Prefix  netip.Prefix
	NextHop netip.Addr
	Owner   *facts.Node
	Pool    *facts.Pool
}

// BGPRoutes are the blocks a route reflector's RIB must hold: every confirmed block in a pool,
// each once, via its owner. Blocks of owners without an underlay address are problems.
func (c *Cluster) BGPRoutes() ([]BGPRoute, []Problem) {
	return c.bgpRoutes("")
}

// LearnedRoutes are the blocks node n must have learned over BGP: every other node's.
func (n *Node) LearnedRoutes() ([]BGPRoute, []Problem) {
	return n.c.bgpRoutes(n.Name())
}

// OwnsBlock reports whether node n is the owner of block p.
func (n *Node) OwnsBlock(p netip.Prefix) bool {
	for _, b := range n.c.Blocks {
		if b.CIDR == p && b.Owner.Name == n.Name() {
			return true
		}
	}
	return false
}

// Block returns the confirmed block p, when the facts give it an owner.
func (c *Cluster) Block(p netip.Prefix) (Block, bool) {
	for _, b := range c.Blocks {
		if b.CIDR == p {
			return b, true
		}
	}
	return Block{}, false
}

func (c *Cluster) bgpRoutes(except string) ([]BGPRoute, []Problem) {
	var out []BGPRoute
	var problems []Problem
	for _, b := range c.Blocks {
		if b.Pool == nil || b.Owner.Name == except {
			continue
		}
		if !b.Owner.Address.IsValid() {
			problems = append(problems, Problem{Entry: b.CIDR.String(),
				Reason: fmt.Sprintf("%s owns %s but has no underlay address in the facts: the next hop its announcement must carry is unknown", b.Owner.Name, b.CIDR)})
			continue
		}
		out = append(out, BGPRoute{Prefix: b.CIDR, NextHop: b.Owner.Address.Addr(), Owner: b.Owner, Pool: b.Pool})
	}
	return out, problems
}
