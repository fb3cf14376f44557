package netnslab

import (
	"fmt"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/collect/kernel"
)

// heal undoes what no agent repairs by itself: it stops the agents a BGP fault restarted with
// settings of its own, resumes every paused agent of the lab (each then resyncs its tables with
// the datastore) and puts back the host-side sysctls of every pod (a running agent restores
// them itself; a paused one does not). Agents and route reflectors that are gone are started
// again by a deploy (repair), which knetlab fix runs next. It returns what it did.
func heal(t *faultTarget) ([]string, error) {
	did, err := stopFaultyAgents(t)
	if err != nil {
		return did, err
	}
	for _, n := range t.lab.Nodes {
		p, ok := agentOf(t.rec, n.Name)
		if !ok || !p.Alive() || !paused(p.PID) {
			continue
		}
		if err := unix.Kill(p.PID, unix.SIGCONT); err != nil {
			return did, fmt.Errorf("resume the agent of %s (pid %d): %w", n.Name, p.PID, err)
		}
		did = append(did, fmt.Sprintf("resumed the agent of %s (pid %d)", n.Name, p.PID))
	}
	for _, p := range t.rec.Pods {
		if p.HostIface == "" {
			continue
		}
		// A node whose namespace is gone has no sysctls to reset: the deploy that fix runs
		// next rebuilds the node and re-adds its pods.
		if ns, ok := t.rec.Namespace(p.Node); !ok || inspectNamespace(ns.Name) != nsPresent {
			continue
		}
		want := map[string]string{
			"net.ipv4.conf." + p.HostIface + ".proxy_arp":    "1",
			"net.ipv4.neigh." + p.HostIface + ".proxy_delay": "0",
			"net.ipv4.conf." + p.HostIface + ".forwarding":   "1",
		}
		var changed bool
		err := withNode(t, p.Node, func(ns netns.NsHandle) error {
			have, err := kernel.ReadSysctls(ns, keysOf(want))
			if err != nil {
				return err
			}
			diff := map[string]string{}
			for k, v := range want {
				if got, ok := have[k]; ok && got != v {
					diff[k] = v
				}
			}
			changed = len(diff) > 0
			if !changed {
				return nil
			}
			return kernel.WriteSysctls(ns, diff)
		})
		if err != nil {
			return did, fmt.Errorf("reset the sysctls of pod %s/%s on %s: %w", p.Namespace, p.Name, p.Node, err)
		}
		if changed {
			did = append(did, fmt.Sprintf("reset proxy ARP and forwarding on %s (pod %s/%s on %s)", p.HostIface, p.Namespace, p.Name, p.Node))
		}
	}
	return did, nil
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
