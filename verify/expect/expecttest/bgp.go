package expecttest

import (
	"net/netip"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/spec"
)

// The calico-bgp lab's route reflector.
var (
	RRName    = "gobgp"
	RRAddress = netip.MustParseAddr("172.18.0.5")
)

// CalicoBGP is the calico-bgp lab as Calico reports it: one pool without encapsulation, three
// kind nodes on 172.18.0.0/16, one /24 block and one pod each.
func CalicoBGP() *facts.Facts {
	bgpNode := func(name, addr string) facts.Node {
		return facts.Node{Name: name, Address: netip.MustParsePrefix(addr)}
	}
	return &facts.Facts{
		Pools: []facts.Pool{{
			Name: "default-ipv4-ippool", CIDR: netip.MustParsePrefix("10.244.128.0/17"), BlockSize: 24,
			VXLANMode: calico.EncapNever, IPIPMode: calico.EncapNever, NATOutgoing: true,
		}},
		Nodes: []facts.Node{
			bgpNode("k8s-guide-control-plane", "172.18.0.2/16"),
			bgpNode("k8s-guide-worker", "172.18.0.3/16"),
			bgpNode("k8s-guide-worker2", "172.18.0.4/16"),
		},
		Affinities: []facts.BlockAffinity{
			confirmed("k8s-guide-control-plane", "10.244.236.0/24"),
			confirmed("k8s-guide-worker", "10.244.175.0/24"),
			confirmed("k8s-guide-worker2", "10.244.190.0/24"),
		},
		Pods: []facts.Pod{
			pod("net-cp", "k8s-guide-control-plane", "10.244.236.1"),
			pod("net-w1", "k8s-guide-worker", "10.244.175.1"),
			pod("net-w2", "k8s-guide-worker2", "10.244.190.1"),
		},
	}
}

// CalicoBGPSpec is the calico-bgp lab definition as verify reads it: mesh off, every node
// peering with the route reflector gobgp through BGPPeer gobgp-peer.
func CalicoBGPSpec() *spec.Lab {
	peer := []spec.Peer{{Name: "gobgp-peer", Address: RRAddress, ASNumber: 64496, Selector: "all()", Reflector: RRName}}
	return &spec.Lab{
		Name:  "calico-bgp",
		Nodes: []string{"k8s-guide-control-plane", "k8s-guide-worker", "k8s-guide-worker2"},
		Pools: []spec.Pool{{Name: "default-ipv4-ippool", CIDR: netip.MustParsePrefix("10.244.128.0/17"), BlockSize: 24,
			VXLANMode: calico.EncapNever, IPIPMode: calico.EncapNever, NATOutgoing: true}},
		BGP: &spec.BGP{
			ASNumber: 64496,
			Peers: map[string][]spec.Peer{
				"k8s-guide-control-plane": peer, "k8s-guide-worker": peer, "k8s-guide-worker2": peer,
			},
			Reflectors: []spec.Reflector{{Name: RRName, Address: RRAddress, RouterID: netip.MustParseAddr("192.0.2.1"), ASNumber: 64496}},
		},
	}
}

// HealthyBGP is Healthy with the node's BGP speaker (GoBGP here; BIRD's tables read the same) as a
// correct lab shows it: a session Established with every peer of b that applies, and the
// other nodes' blocks learned with their owners as next hops, besides its own.
func HealthyBGP(c *expect.Cluster, b *spec.BGP, name string) *observed.Node {
	s := Healthy(c, name)
	n, _ := c.Node(name)
	s.Mark(observed.TableBGPSessions)
	s.Mark(observed.TableBGPRoutes)
	s.BGPSpeaker = observed.SpeakerGoBGP
	for _, want := range n.BGPSessions(b) {
		s.BGPSessions = append(s.BGPSessions, observed.BGPSession{Name: want.Peer.String(), Peer: want.Peer, PeerAS: want.PeerAS, State: observed.BGPEstablished})
	}
	learned, _ := n.LearnedRoutes()
	for _, r := range learned {
		s.BGPRoutes = append(s.BGPRoutes, observed.BGPRoute{Prefix: r.Prefix, NextHop: r.NextHop, Best: true, From: RRAddress})
	}
	for _, blk := range c.Blocks {
		if blk.Owner.Name == name {
			s.BGPRoutes = append(s.BGPRoutes, observed.BGPRoute{Prefix: blk.CIDR, NextHop: n.Facts.Address.Addr(), Best: true})
		}
	}
	return s
}

// HealthyReflector is route reflector r as a correct lab shows it: every node that peers with
// it Established, and every block once in its RIB, via its owner.
func HealthyReflector(c *expect.Cluster, b *spec.BGP, r spec.Reflector) *observed.Reflector {
	st := &observed.Reflector{Name: r.Name}
	st.Mark(observed.TableBGPSessions)
	st.Mark(observed.TableBGPRoutes)
	for _, want := range c.ReflectorClients(b, r) {
		st.Sessions = append(st.Sessions, observed.BGPSession{Name: want.Peer.String(), Peer: want.Peer, PeerAS: want.PeerAS, State: observed.BGPEstablished})
	}
	routes, _ := c.BGPRoutes()
	for _, rt := range routes {
		st.RIB = append(st.RIB, observed.BGPRoute{Prefix: rt.Prefix, NextHop: rt.NextHop, Best: true, From: rt.NextHop})
	}
	return st
}
