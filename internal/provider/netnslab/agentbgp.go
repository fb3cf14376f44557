package netnslab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

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

// birdProcess names a node's BIRD in the lab's record: "bird k8s-guide-worker".
const birdProcess = "bird "

// ensureBIRD starts node n's BIRD in its namespace as a lab process of its own, as calico-node
// runs BIRD beside Felix rather than under it, unless it runs already. It starts on the node's
// bird.conf as its agent last wrote it or, on a new node, on the configuration the agent
// starts with (its peers, nothing to announce yet): its sessions come up while the datastore
// and the agents start, and the agent adopts it and completes its configuration. The
// configuration's author is the agent alone (agent.Options.BIRDStartConfig).
func (d *deployer) ensureBIRD(n lab.Node, o agent.Options) error {
	name := birdProcess + n.Name
	if _, ok, err := runningProcess(d.store, name); err != nil || ok {
		return err
	}
	ns := NamespaceName(d.topo.lab.Name, n.Name)
	cfg := filepath.Join(o.BGPDir, agent.BIRDConfigFile)
	if _, err := os.Stat(cfg); err != nil {
		conf, err := o.BIRDStartConfig(namespacePath(ns))
		if err != nil {
			return fmt.Errorf("BIRD of %s: %w", n.Name, err)
		}
		if err := os.MkdirAll(o.BGPDir, 0o755); err != nil {
			return fmt.Errorf("BIRD of %s: %w", n.Name, err)
		}
		if err := os.WriteFile(cfg, conf, 0o644); err != nil {
			return fmt.Errorf("BIRD of %s: %w", n.Name, err)
		}
	}
	if err := os.Remove(filepath.Join(o.BGPDir, agent.BIRDSocketFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("BIRD of %s: remove its old control socket: %w", n.Name, err)
	}
	logDir := d.stateFile("logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", logDir, err)
	}
	out, err := os.OpenFile(filepath.Join(logDir, "bird-"+n.Name+".stderr"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("log of %s: %w", name, err)
	}
	defer out.Close()
	cmd := exec.Command(agent.BIRDPath("bird"), agent.BIRDArgs(o.BGPDir)...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, "/"
	if err := StartProcess(d.store, ns, name, cmd); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // reaped while this process lives, by init after
	d.did("processes", "started the BIRD of %s", n.Name)
	return nil
}

// birdStartTimeout bounds how long a deploy waits for a started BIRD's control socket.
const birdStartTimeout = 5 * time.Second

// waitBIRD waits until node n's BIRD answers on its control socket, so that its agent adopts
// it rather than starting a BIRD of its own.
func (d *deployer) waitBIRD(n lab.Node, dir string) error {
	name := birdProcess + n.Name
	logFile := d.stateFile("logs", "bird-"+n.Name+".stderr")
	for deadline := time.Now().Add(birdStartTimeout); !agent.BIRDAnswers(dir); time.Sleep(5 * time.Millisecond) {
		if _, ok, err := runningProcess(d.store, name); err != nil || !ok {
			if err != nil {
				return err
			}
			return exitcode.NewEnvironment(fmt.Errorf("the BIRD of %s stopped; see %s", n.Name, logFile), labBroken(d.topo.lab.Name))
		}
		if time.Now().After(deadline) {
			return exitcode.NewEnvironment(fmt.Errorf("the BIRD of %s does not answer on %s after %s; see %s", n.Name, filepath.Join(dir, agent.BIRDSocketFile), birdStartTimeout, logFile), labBroken(d.topo.lab.Name))
		}
	}
	return nil
}
