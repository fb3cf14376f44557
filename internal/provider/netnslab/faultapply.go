package netnslab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// vxlanDevice is Calico's VXLAN device.
const vxlanDevice = "vxlan.calico"

// calicoProtocol is the route protocol Calico's felix (and knetlab's agent) programs with.
const calicoProtocol = 80

// fdbMissing deletes the first worker's FDB entry toward the node across subnets.
func fdbMissing(_ context.Context, t *faultTarget) (journal.Fault, error) {
	node, err := firstWorker(t.lab)
	if err != nil {
		return journal.Fault{}, err
	}
	peer, err := peerOf(t, node.Name)
	if err != nil {
		return journal.Fault{}, err
	}
	pid, err := pauseAgent(t.rec, node.Name)
	if err != nil {
		return journal.Fault{}, err
	}
	var entry string
	err = inNode(t, node.Name, func(h *netlink.Handle) error {
		link, err := h.LinkByName(vxlanDevice)
		if err != nil {
			return fmt.Errorf("%s has no %s: %w", node.Name, vxlanDevice, err)
		}
		fdb, err := h.NeighList(link.Attrs().Index, unix.AF_BRIDGE)
		if err != nil {
			return fmt.Errorf("%s fdb: %w", node.Name, err)
		}
		for _, n := range fdb {
			if n.IP.Equal(net.IP(peer.Address.Addr().AsSlice())) {
				if err := h.NeighDel(&n); err != nil {
					return fmt.Errorf("delete %s fdb entry %s: %w", node.Name, n.HardwareAddr, err)
				}
				entry = fmt.Sprintf("%s dev %s dst %s", n.HardwareAddr, vxlanDevice, peer.Address.Addr())
				return nil
			}
		}
		return fmt.Errorf("%s has no FDB entry toward %s (%s) to delete; is the lab healthy? knetlab verify %s", node.Name, peer.Name, peer.Address.Addr(), t.lab.Name)
	})
	return journal.Fault{Node: node.Name, Entry: entry, PID: pid}, err
}

// wrongMTU is the MTU vxlan-mtu sets: below the 1450 the pods use, so a pod's full-size packet
// toward the other subnet no longer fits the tunnel. (Too large is not possible: the kernel caps
// a vxlan device at its parent's MTU minus the 50 bytes of outer headers.)
const wrongMTU = 1400

func vxlanMTU(_ context.Context, t *faultTarget) (journal.Fault, error) {
	node, err := firstWorker(t.lab)
	if err != nil {
		return journal.Fault{}, err
	}
	pid, err := pauseAgent(t.rec, node.Name)
	if err != nil {
		return journal.Fault{}, err
	}
	err = inNode(t, node.Name, func(h *netlink.Handle) error {
		link, err := h.LinkByName(vxlanDevice)
		if err != nil {
			return fmt.Errorf("%s has no %s: %w", node.Name, vxlanDevice, err)
		}
		return h.LinkSetMTU(link, wrongMTU)
	})
	return journal.Fault{Node: node.Name, Entry: vxlanDevice + " mtu " + strconv.Itoa(wrongMTU), PID: pid}, err
}

// viaUnderlay routes the across-subnet peer's block on the first worker straight to the
// peer's underlay address through eth1, as if both were in one subnet: the ARP for the peer
// is never answered, so the block becomes unreachable.
func viaUnderlay(_ context.Context, t *faultTarget) (journal.Fault, error) {
	node, err := firstWorker(t.lab)
	if err != nil {
		return journal.Fault{}, err
	}
	peer, err := peerAcross(t, node.Name)
	if err != nil {
		return journal.Fault{}, err
	}
	block, ok := blockOf(t.facts, peer.Name)
	if !ok {
		return journal.Fault{}, fmt.Errorf("%s owns no confirmed block; is its agent running?", peer.Name)
	}
	pid, err := pauseAgent(t.rec, node.Name)
	if err != nil {
		return journal.Fault{}, err
	}
	entry := fmt.Sprintf("%s via %s dev %s onlink", block, peer.Address.Addr(), node.Interface)
	err = inNode(t, node.Name, func(h *netlink.Handle) error {
		link, err := h.LinkByName(node.Interface)
		if err != nil {
			return fmt.Errorf("%s has no %s: %w", node.Name, node.Interface, err)
		}
		return h.RouteReplace(&netlink.Route{
			LinkIndex: link.Attrs().Index,
			Dst:       &net.IPNet{IP: block.Addr().AsSlice(), Mask: net.CIDRMask(block.Bits(), 32)},
			Gw:        peer.Address.Addr().AsSlice(),
			Flags:     int(netlink.FLAG_ONLINK),
			Protocol:  calicoProtocol,
			Table:     unix.RT_TABLE_MAIN,
		})
	})
	return journal.Fault{Node: node.Name, Entry: entry, PID: pid}, err
}

func agentStopped(_ context.Context, t *faultTarget) (journal.Fault, error) {
	node, err := worker(t.lab, 1)
	if err != nil {
		return journal.Fault{}, err
	}
	p, err := liveAgent(t.rec, node.Name)
	if err != nil {
		return journal.Fault{}, err
	}
	if err := unix.Kill(p.PID, unix.SIGKILL); err != nil {
		return journal.Fault{}, fmt.Errorf("kill the agent of %s (pid %d): %w", node.Name, p.PID, err)
	}
	// SIGKILL is delivered asynchronously; the fault is in place once the process is gone.
	if err := waitFor(func() bool { return !p.Alive() }); err != nil {
		return journal.Fault{}, fmt.Errorf("the agent of %s (pid %d) did not end: %w", node.Name, p.PID, err)
	}
	return journal.Fault{Node: node.Name, Entry: "agent pid " + strconv.Itoa(p.PID), PID: p.PID}, nil
}

func proxyARPOff(_ context.Context, t *faultTarget) (journal.Fault, error) {
	node, err := firstWorker(t.lab)
	if err != nil {
		return journal.Fault{}, err
	}
	for _, p := range t.rec.Pods {
		if p.Node != node.Name || p.HostIface == "" {
			continue
		}
		// The agent restores the host-side settings of its pods, as Felix does.
		pid, err := pauseAgent(t.rec, node.Name)
		if err != nil {
			return journal.Fault{}, err
		}
		key := "net.ipv4.conf." + p.HostIface + ".proxy_arp"
		err = withNode(t, node.Name, func(ns netns.NsHandle) error {
			return kernel.WriteSysctls(ns, map[string]string{key: "0"})
		})
		return journal.Fault{Node: node.Name, Entry: key, PID: pid}, err
	}
	return journal.Fault{}, fmt.Errorf("lab %s has no pod on %s; knetlab pod add %s <name> --node %s adds one", t.lab.Name, node.Name, t.lab.Name, node.Name)
}

// liveAgent is the node's recorded agent, when it runs.
func liveAgent(rec *journal.Lab, node string) (journal.Process, error) {
	p, ok := agentOf(rec, node)
	if !ok || !p.Alive() {
		return journal.Process{}, fmt.Errorf("%s has no running agent (fix the lab first: knetlab fix %s)", node, rec.Lab)
	}
	return p, nil
}

// pauseAgent stops the node's agent with SIGSTOP, so that it does not repair what the fault
// changes next, and returns its PID. An agent already paused stays paused.
func pauseAgent(rec *journal.Lab, node string) (int, error) {
	p, err := liveAgent(rec, node)
	if err != nil {
		return 0, err
	}
	if err := unix.Kill(p.PID, unix.SIGSTOP); err != nil {
		return 0, fmt.Errorf("pause the agent of %s (pid %d): %w", node, p.PID, err)
	}
	if err := waitFor(func() bool { return paused(p.PID) }); err != nil {
		return 0, fmt.Errorf("the agent of %s (pid %d) did not stop: %w", node, p.PID, err)
	}
	return p.PID, nil
}

func waitFor(done func() bool) error {
	deadline := time.Now().Add(2 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			return errors.New("timed out after 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func withNode(t *faultTarget, node string, fn func(netns.NsHandle) error) error {
	ns, ok := t.rec.Namespace(node)
	if !ok {
		return fmt.Errorf("lab %s has no namespace for %s; knetlab deploy %s repairs it", t.lab.Name, node, t.lab.Name)
	}
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", ns.Name, err)
	}
	defer h.Close()
	return fn(h)
}

// inNode runs fn with a netlink handle inside the node's namespace.
func inNode(t *faultTarget, node string, fn func(*netlink.Handle) error) error {
	return withNode(t, node, func(ns netns.NsHandle) error {
		h, err := netlink.NewHandleAt(ns)
		if err != nil {
			return fmt.Errorf("netlink in %s: %w", node, err)
		}
		defer h.Close()
		return fn(h)
	})
}
