package agent

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/dataplane/testbed"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/ipam"
)

// podRoutes lists the proto boot routes through pod devices (the CNI plugin's) as "dst dev"
// pairs; the agent's routes through vxlan.calico are proto boot too, and left out.
func podRoutes(t *testing.T, h *netlink.Handle) []string {
	var out []string
	for _, r := range testbed.RoutesOf(t, h, unix.RTPROT_BOOT) {
		if strings.Contains(r, " cali") {
			out = append(out, r)
		}
	}
	return out
}

// A pod route deleted by hand, or a host-side veth setting changed, comes back from the
// datastore within the resync period, as Felix restores workload routes. Only pods the
// datastore records on this node and whose veth exists get one.
func TestAgentRestoresLocalWorkloadRoutes(t *testing.T) {
	store, u := overlayLab(t)
	ctx := context.Background()
	const self = "k01-worker"
	nsName := u.Nodes[self].NS
	_, _ = startAgent(t, store, self, nsName)
	agentBlocks(t, store, self)
	h := testbed.Handle(t, nsName)

	im := ipam.New(store)
	pod := cni.PodID{Namespace: "default", Name: "net-w1"}
	attrs := map[string]string{datastore.AttrNamespace: pod.Namespace, datastore.AttrPod: pod.Name, datastore.AttrNode: self}
	ip, err := im.Allocate(ctx, self, "k8s-pod-network.c1", attrs)
	if err != nil {
		t.Fatal(err)
	}
	veth := cni.HostVethName(pod)
	testbed.Run(t, nsName, "ip", "link", "add", veth, "type", "veth", "peer", "name", "podend")
	testbed.Run(t, nsName, "ip", "link", "set", veth, "up")
	testbed.Run(t, nsName, "ip", "link", "set", "podend", "up")
	// What the CNI plugin installs.
	testbed.Run(t, nsName, "ip", "route", "replace", ip.String()+"/32", "dev", veth, "scope", "link", "proto", "boot")
	want := ip.String() + "/32 " + veth

	// An allocation without a veth (a pod of another node by its attributes, or one whose
	// sandbox is gone) and a cali veth the datastore does not know get nothing.
	orphanPod := cni.PodID{Namespace: "default", Name: "gone"}
	orphanIP, err := im.Allocate(ctx, self, "k8s-pod-network.c2", map[string]string{datastore.AttrNamespace: "default", datastore.AttrPod: "gone", datastore.AttrNode: self})
	if err != nil {
		t.Fatal(err)
	}
	stranger := cni.HostVethName(cni.PodID{Namespace: "default", Name: "stranger"})
	testbed.Run(t, nsName, "ip", "link", "add", stranger, "type", "veth", "peer", "name", "strangerend")
	testbed.Run(t, nsName, "ip", "link", "set", stranger, "up")
	testbed.Run(t, nsName, "ip", "link", "set", "strangerend", "up")

	testbed.Run(t, nsName, "ip", "route", "del", ip.String()+"/32", "dev", veth)
	testbed.Run(t, nsName, "sysctl", "-qw", "net.ipv4.conf."+veth+".proxy_arp=0")
	testbed.Run(t, nsName, "sysctl", "-qw", "net.ipv4.neigh."+veth+".proxy_delay=80")
	testbed.Run(t, nsName, "sysctl", "-qw", "net.ipv4.conf."+veth+".forwarding=0")
	took := waitFor(t, 10*time.Second, "pod route "+ip.String()+"/32 dev "+veth+" restored", func() bool {
		return slices.Contains(podRoutes(t, h), want)
	})
	t.Logf("pod route restored after %v", took.Round(time.Millisecond))
	waitFor(t, 5*time.Second, "host veth settings restored", func() bool {
		for name, value := range map[string]string{
			"net.ipv4.conf." + veth + ".proxy_arp":    "1",
			"net.ipv4.neigh." + veth + ".proxy_delay": "0",
			"net.ipv4.conf." + veth + ".forwarding":   "1",
		} {
			out, err := testbed.Try(nsName, "sysctl", "-n", name)
			if err != nil || strings.TrimSpace(out) != value {
				return false
			}
		}
		return true
	})
	for _, r := range podRoutes(t, h) {
		if strings.HasPrefix(r, orphanIP.String()+"/32 ") {
			t.Errorf("allocation of %s/%s has no veth (%s), yet it has the route %s", orphanPod.Namespace, orphanPod.Name, cni.HostVethName(orphanPod), r)
		}
	}
	if out := testbed.Run(t, nsName, "ip", "-4", "route", "show", "dev", stranger); strings.TrimSpace(out) != "" {
		t.Errorf("veth %s belongs to no pod of the datastore, yet it has routes:\n%s", stranger, out)
	}
}

// agentBlocks waits until the agent registered self and holds a block.
func agentBlocks(t *testing.T, store datastore.Store, self string) {
	t.Helper()
	waitFor(t, 10*time.Second, self+" registered with a block", func() bool {
		blocks, err := ipam.New(store).NodeBlocks(context.Background(), self)
		return err == nil && len(blocks) > 0
	})
}
