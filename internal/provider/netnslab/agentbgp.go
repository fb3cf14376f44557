package netnslab

import (
	"fmt"
	"net/netip"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/lab"
)

// bgpAgentOptions sets, in a BGP lab, the BGP part of node n's agent options: its AS and the
// peers the lab's BGPPeers give it.
func bgpAgentOptions(l *lab.Lab, n lab.Node, o *agent.Options) {}

// setPeerAS changes the AS the agent expects of its peer at addr.
func setPeerAS(o *agent.Options, addr netip.Addr, as uint32) error {
	return fmt.Errorf("the agent has no BGP peer %s", addr)
}
