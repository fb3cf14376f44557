package netnslab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// bgpAgentOptions sets, in a BGP lab, the BGP part of node n's agent options: the lab's AS,
// the peers its BGPPeers give the node, each with its own AS, and the directory of the node's
// BIRD (birdDir) in the lab's state directory under root.
func bgpAgentOptions(root string, l *lab.Lab, n lab.Node, o *agent.Options) {
	if l.BGP == nil {
		return
	}
	o.BGPAS, o.BGPDir = l.BGP.ASNumber, birdDir(root, l.Name, n.Name)
	for _, p := range l.PeersOf(n) {
		o.BGPPeers = append(o.BGPPeers, agent.BGPPeer{Address: p.Address(l), ASNumber: p.ASNumber})
	}
}

// birdDir is where node's BIRD keeps its configuration and control socket:
// <state>/<lab>/bird/<node>/{bird.conf,bird.ctl}. birdcl reaches the socket from anywhere:
// `birdcl -s <state>/<lab>/bird/<node>/bird.ctl show protocols`.
func birdDir(root, labName, node string) string {
	return filepath.Join(journal.Dir(root, labName), "bird", node)
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

// withholdBlock makes the node's BIRD leave block out of what it announces, as a Calico
// BGPFilter with an exportV4 Reject rule for the CIDR does.
func withholdBlock(o *agent.Options, block netip.Prefix) error {
	o.BGPNoExport = append(o.BGPNoExport, block)
	return nil
}

// checkBIRD refuses, before anything is built, a BGP lab whose nodes' agents would find no
// BIRD to run (bird, and birdcl which reconfigures and reads it).
func checkBIRD(l *lab.Lab, withCNI bool) error {
	if l.BGP == nil || !withCNI {
		return nil
	}
	var missing []string
	for _, prog := range []string{"bird", "birdcl"} {
		if _, err := os.Stat(agent.BIRDPath(prog)); err != nil {
			missing = append(missing, prog)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return exitcode.NewEnvironment(fmt.Errorf("lab %s routes its pools with BGP, and its nodes speak it with BIRD 2 as calico-node does, but %s is not installed", l.Name, strings.Join(missing, " and ")),
		"install BIRD 2: sudo apt-get install bird2 (Debian, Ubuntu), then deploy again")
}
