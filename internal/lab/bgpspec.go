package lab

import (
	"github.com/knetlab/knetlab/verify/spec"
)

// verifyBGP is what bgp.peers and bgp.rib compare the cluster against: the nodes' AS, the
// mesh, for every node the BGPPeers that select it (with their addresses resolved, a reflector
// named by the peer included), and the route reflectors. Nil for a lab without BGP.
func (l *Lab) verifyBGP() *spec.BGP {
	if l.BGP == nil {
		return nil
	}
	b := &spec.BGP{ASNumber: l.BGP.ASNumber, Mesh: l.BGP.NodeToNodeMesh, Peers: map[string][]spec.Peer{}}
	reflectorAt := map[string]string{} // address → reflector name
	for _, rr := range l.BGP.RouteReflectors {
		b.Reflectors = append(b.Reflectors, spec.Reflector{Name: rr.Name, Address: rr.Address.Addr(), RouterID: rr.RouterID, ASNumber: rr.ASNumber})
		reflectorAt[rr.Address.Addr().String()] = rr.Name
	}
	for _, n := range l.Nodes {
		for _, p := range l.PeersOf(n) {
			addr := p.Address(l)
			b.Peers[n.Name] = append(b.Peers[n.Name], spec.Peer{Name: p.Name, Address: addr, ASNumber: p.ASNumber,
				Selector: p.NodeSelector, Reflector: reflectorAt[addr.String()]})
		}
	}
	return b
}
