// Package testbed builds small, throwaway network topologies from namespaces for root tests
// of the dataplane and the CNI plugin: a switch namespace routing between two underlay
// subnets, and node namespaces hanging off it. It never touches the host's root namespace:
// veth pairs are created inside the switch namespace with their peer end placed straight into
// the node namespace.
package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/knetlab/knetlab/internal/testenv"
)

// NetNSDir is where named namespaces are bind-mounted (iproute2's convention).
const NetNSDir = "/var/run/netns"

// NewNS creates a named namespace "<prefix>-<random>" and removes it when the test ends,
// failing the test if it is still there afterwards. Tests declare what they need with
// testenv.RequireLab first; NewNS checks again, so that no test creates a namespace under
// -short or without root.
func NewNS(t testing.TB, prefix string) string {
	t.Helper()
	testenv.RequireLab(t, "ip")
	var b [3]byte
	_, _ = rand.Read(b[:])
	name := prefix + "-" + hex.EncodeToString(b[:])
	if err := newNamed(name); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		// A test may have deleted it already, as a runtime deletes a pod's sandbox.
		if _, err := os.Stat(filepath.Join(NetNSDir, name)); err == nil {
			if err := netns.DeleteNamed(name); err != nil {
				t.Errorf("delete namespace %s: %v", name, err)
			}
		}
		if _, err := os.Stat(filepath.Join(NetNSDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s leaked", name)
		}
	})
	Run(t, name, "ip", "link", "set", "lo", "up")
	return name
}

// newNamed creates the namespace on a locked thread and puts the thread back where it was,
// so that no goroutine of the test ever runs in the wrong namespace.
func newNamed(name string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	created, err := netns.NewNamed(name)
	if err != nil {
		return err
	}
	created.Close()
	return netns.Set(orig)
}

// Path is the file of a named namespace, what CNI_NETNS and NewProgrammer take.
func Path(name string) string { return filepath.Join(NetNSDir, name) }

// Handle opens a netlink handle inside a named namespace, closed at the end of the test.
func Handle(t testing.TB, name string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink in %s: %v", name, err)
	}
	t.Cleanup(h.Close)
	return h
}

// Run runs argv inside a namespace and fails the test on error.
func Run(t testing.TB, nsName string, argv ...string) string {
	t.Helper()
	out, err := Try(nsName, argv...)
	if err != nil {
		t.Fatalf("ip netns exec %s %s: %v\n%s", nsName, strings.Join(argv, " "), err, out)
	}
	return out
}

// Try runs argv inside a namespace and returns its output and error.
func Try(nsName string, argv ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", nsName}, argv...)...).CombinedOutput()
	return string(out), err
}

// Node is a node namespace attached to the switch through its eth1.
type Node struct {
	Name     string // the lab node name, e.g. k01-worker
	NS       string // the namespace name
	Underlay netip.Prefix
	Gateway  netip.Addr
}

// Underlay is the calico-overlay underlay in miniature: a switch namespace with two bridges,
// br10 (10.10.10.1/24) and br20 (10.10.20.1/24), routing between them like the cEOS SVIs.
type Underlay struct {
	Switch string
	Nodes  map[string]*Node
}

// Subnets of the miniature underlay and their gateways.
var (
	Subnet10 = netip.MustParsePrefix("10.10.10.1/24")
	Subnet20 = netip.MustParsePrefix("10.10.20.1/24")
)

// NewUnderlay builds the switch namespace.
func NewUnderlay(t testing.TB) *Underlay {
	t.Helper()
	u := &Underlay{Switch: NewNS(t, "kdpsw"), Nodes: map[string]*Node{}}
	for bridge, gw := range map[string]netip.Prefix{"br10": Subnet10, "br20": Subnet20} {
		Run(t, u.Switch, "ip", "link", "add", bridge, "type", "bridge")
		Run(t, u.Switch, "ip", "addr", "add", gw.String(), "dev", bridge)
		Run(t, u.Switch, "ip", "link", "set", bridge, "up")
	}
	Run(t, u.Switch, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	return u
}

// AddNode creates a node namespace whose eth1 holds underlay and sits on the bridge of its
// subnet, with its default route through the switch.
func (u *Underlay) AddNode(t testing.TB, name string, underlay netip.Prefix) *Node {
	t.Helper()
	bridge, gw := "br10", Subnet10
	if Subnet20.Masked().Contains(underlay.Addr()) {
		bridge, gw = "br20", Subnet20
	}
	n := &Node{Name: name, NS: NewNS(t, "kdpn"), Underlay: underlay, Gateway: gw.Addr()}
	nodeNS, err := netns.GetFromName(n.NS)
	if err != nil {
		t.Fatalf("open %s: %v", n.NS, err)
	}
	defer nodeNS.Close()
	port := "p" + n.NS[len(n.NS)-6:]
	sw := Handle(t, u.Switch)
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: port, MTU: 1500},
		PeerName:      "eth1",
		PeerNamespace: netlink.NsFd(nodeNS),
	}
	if err := sw.LinkAdd(veth); err != nil {
		t.Fatalf("veth %s<->%s:eth1: %v", port, n.NS, err)
	}
	Run(t, u.Switch, "ip", "link", "set", port, "master", bridge, "up")
	Run(t, n.NS, "ip", "addr", "add", underlay.String(), "dev", "eth1")
	Run(t, n.NS, "ip", "link", "set", "eth1", "up")
	// A default route, as every kind node has: besides reaching the other subnet, it is what
	// lets the pods' proxy ARP for 169.254.1.1 work (the kernel answers proxy ARP only for
	// addresses it can route out of another interface).
	Run(t, n.NS, "ip", "route", "add", "default", "via", gw.Addr().String())
	u.Nodes[name] = n
	return n
}

// MAC reads a device's MAC inside a namespace.
func MAC(t testing.TB, nsName, dev string) net.HardwareAddr {
	t.Helper()
	l, err := Handle(t, nsName).LinkByName(dev)
	if err != nil {
		t.Fatalf("%s in %s: %v", dev, nsName, err)
	}
	return l.Attrs().HardwareAddr
}
