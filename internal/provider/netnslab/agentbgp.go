package netnslab

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/lab"
)

// bgpAgentOptions sets, in a BGP lab, the BGP part of node n's agent options: the lab's AS and
// the peers its BGPPeers give the node, each with its own AS, and the speaker's API where the
// verify source reads it.
func bgpAgentOptions(l *lab.Lab, n lab.Node, o *agent.Options) {
	if l.BGP == nil {
		return
	}
	o.BGPAS, o.BGPAPI = l.BGP.ASNumber, speakerAPI
	for _, p := range l.PeersOf(n) {
		o.BGPPeers = append(o.BGPPeers, agent.BGPPeer{Address: p.Address(l), ASNumber: p.ASNumber})
	}
}

// setPeerAS changes the AS the agent expects of its peer at addr.
func setPeerAS(o *agent.Options, addr netip.Addr, as uint32) error {
	i := slices.IndexFunc(o.BGPPeers, func(p agent.BGPPeer) bool { return p.Address == addr })
	if i < 0 {
		return fmt.Errorf("the agent of %s has no BGP peer %s", o.Node, addr)
	}
	o.BGPPeers[i].ASNumber = as
	return nil
}

// withholdBlock makes the agent's speaker leave block out of what it announces, as a Calico
// BGPFilter with an exportV4 Reject rule for the CIDR makes BIRD do.
func withholdBlock(o *agent.Options, block netip.Prefix) error {
	o.BGPNoExport = append(o.BGPNoExport, block)
	return nil
}
