package netnslab

import (
	"flag"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/lab/labgen"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The underlay steps of the dry-run plan list every namespace, bridge, cable, address, route and
// sysctl of a lab. Golden files pin them for both labs in both VLAN modes.
func TestTopologyGolden(t *testing.T) {
	for _, tc := range []struct{ lab, mode string }{
		{"calico-overlay", BridgePerVLAN},
		{"calico-overlay", VLANAware},
		{"pod-network", BridgePerVLAN},
		{"calico-bgp", BridgePerVLAN},
	} {
		t.Run(tc.lab+"/"+tc.mode, func(t *testing.T) {
			l, err := lab.Load(tc.lab)
			if err != nil {
				t.Fatal(err)
			}
			topo, err := newTopology(l, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, st := range topo.underlaySteps("") {
				actions = append(actions, st.Actions...)
			}
			golden(t, filepath.Join("testdata", tc.lab+"."+tc.mode+".txt"), []byte(strings.Join(actions, "\n")+"\n"))
		})
	}
}

func TestTopologyRules(t *testing.T) {
	overlay, err := lab.Load("calico-overlay")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := newTopology(overlay, BridgePerVLAN)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range topo.namespaces {
		if !strings.HasPrefix(ns.name, "knl.calico-overlay.") {
			t.Errorf("namespace %s is not named knl.<lab>.<member>", ns.name)
		}
	}
	for _, v := range topo.veths {
		// Both ends of every cable live in lab namespaces: nothing lands in the root namespace.
		if !strings.HasPrefix(v.ns, namespacePrefix) || !strings.HasPrefix(v.peerNS, namespacePrefix) {
			t.Errorf("cable %s/%s - %s/%s leaves the lab's namespaces", v.ns, v.name, v.peerNS, v.peerName)
		}
	}

	big, err := labgen.Generate("big", 100, 4)
	if err != nil {
		t.Fatal(err)
	}
	topo, err = newTopology(big, BridgePerVLAN)
	if err != nil {
		t.Fatalf("a 100-node lab: %v", err)
	}
	if len(topo.namespaces) != 102 || len(topo.veths) != 200 {
		t.Errorf("100-node lab: %d namespaces, %d cables; want 102 and 200", len(topo.namespaces), len(topo.veths))
	}

	// Interface names the kernel would refuse are refused before anything is created.
	long := *overlay
	long.Nodes = append([]lab.Node(nil), overlay.Nodes...)
	long.Nodes[0].Interface = "a-very-long-ifname"
	if _, err := newTopology(&long, BridgePerVLAN); err == nil || !strings.Contains(err.Error(), "1-15 characters") {
		t.Errorf("an interface name over 15 characters: %v", err)
	}
	// A management gateway a node already uses is left out rather than duplicated.
	taken := *overlay
	taken.Nodes = append([]lab.Node(nil), overlay.Nodes...)
	taken.Nodes[0].Management = netip.PrefixFrom(taken.Cluster.ManagementSubnet.Addr().Next(), 16)
	if _, ok := managementGateway(&taken); ok {
		t.Error("management gateway chosen although a node holds that address")
	}
}

// A route reflector is a member of its own, like a node: knl.<lab>.<name>, eth0 on the
// management bridge with its lab address, a default route via the bridge; the lab's record
// names it as a reflector, and its cable end on the bridge is named for it.
func TestTopologyRouteReflector(t *testing.T) {
	l, err := lab.Load("calico-bgp")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := newTopology(l, BridgePerVLAN)
	if err != nil {
		t.Fatal(err)
	}
	rr := l.BGP.RouteReflectors[0]
	ns := NamespaceName(l.Name, rr.Name)
	if ns != "knl.calico-bgp.gobgp" {
		t.Errorf("reflector namespace %s, want knl.calico-bgp.gobgp", ns)
	}
	found := false
	for _, spec := range topo.namespaces {
		if spec.name == ns {
			found = true
			if spec.role != journal.RoleReflector || spec.member != "gobgp" || len(spec.addrs) != 1 || spec.addrs[0] != netip.MustParsePrefix("172.18.0.5/16") {
				t.Errorf("reflector namespace %+v", spec)
			}
		}
	}
	if !found {
		t.Fatalf("no namespace %s among %v", ns, topo.namespaceNames())
	}
	cabled := false
	for _, v := range topo.veths {
		if v.ns == ns {
			cabled = v.name == "eth0" && v.addr == rr.Address && v.peerNS == NamespaceName(l.Name, networkMember) && v.peerMaster == mgmtBridge && v.peerName == mgmtPeerName("gobgp")
		}
	}
	if !cabled {
		t.Errorf("reflector %s is not cabled to the management bridge: %+v", rr.Name, topo.veths)
	}
	// No switch: the lab's nodes and its reflector share the one management network.
	if l.Switch != nil || len(topo.namespaces) != len(l.Nodes)+2 {
		t.Errorf("%d namespaces: want the network, %d nodes and the reflector", len(topo.namespaces), len(l.Nodes))
	}
}

// Each node's agent picks its underlay where the lab's node address is: by the lab's
// autodetection CIDRs, or, without them (pod-network), by the subnet of the node's address.
func TestAutodetectCIDRsMatchTheLabsNodeAddresses(t *testing.T) {
	for _, name := range []string{"calico-overlay", "pod-network", "calico-bgp"} {
		l, err := lab.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range l.Nodes {
			cidrs := autodetectCIDRs(l, n)
			inside := false
			for _, c := range cidrs {
				inside = inside || c.Contains(n.IP())
				if n.Management.IsValid() && n.Management != n.Address && c.Contains(n.Management.Addr()) {
					t.Errorf("%s %s: %v also holds the management address %s, which the agent could pick", name, n.Name, cidrs, n.Management)
				}
			}
			if !inside {
				t.Errorf("%s %s: %v does not hold the node address %s", name, n.Name, cidrs, n.Address)
			}
		}
	}
}
