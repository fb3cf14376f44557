package netnslab

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// Names inside a lab's namespaces (names.go says how the namespaces themselves are named).
const (
	networkMember = "network"
	// mgmtBridge stands in for kind's docker network, which docker names "kind".
	mgmtBridge = "kind"
	// vlanAwareBridge is the one bridge of a VLAN-aware switch; its VLAN devices are the SVIs.
	vlanAwareBridge = "br0"
)

// VLAN modes of the netns switch.
const (
	VLANAware     = "vlan-aware-bridge" // one bridge with vlan_filtering, 802.1Q devices as SVIs
	BridgePerVLAN = "bridge-per-vlan"   // one plain bridge per VLAN, named and addressed as the SVI
)

// topology is everything a lab consists of in namespaces, derived from the lab definition alone:
// deploy creates it, dry-run prints it, destroy and status find the lab's namespaces by it.
type topology struct {
	lab        *lab.Lab
	vlanMode   string
	namespaces []namespaceSpec
	bridges    []bridgeSpec
	veths      []vethSpec
	routes     []routeSpec
}

type namespaceSpec struct {
	name    string
	role    string // journal.RoleNode, RoleSwitch, RoleNetwork, RoleReflector
	member  string // node name, switch name, "network", route reflector name
	addrs   []netip.Prefix
	sysctls map[string]string
}

// bridgeSpec is a bridge (per-VLAN SVI, VLAN-aware switch bridge, management network) or, when
// vlanOf is set, an 802.1Q SVI device on the VLAN-aware bridge.
type bridgeSpec struct {
	ns, name, alias string
	addr            netip.Prefix // invalid when none
	vlanFiltering   bool
	vlanOf          string // parent bridge of an 802.1Q SVI
	vlanID          int
}

// vethSpec is a cable: name in ns, peer in peerNS, enslaved to peerMaster.
type vethSpec struct {
	ns, name         string
	addr             netip.Prefix
	peerNS, peerName string
	peerMaster       string
	peerAlias        string
	peerPVID         int // access VLAN on a VLAN-aware bridge
}

type routeSpec struct {
	ns  string
	dst netip.Prefix
	via netip.Addr
	dev string
}

// nodeSysctls are the sysctls a kind node has that a fresh namespace lacks.
var nodeSysctls = map[string]string{"net.ipv4.ip_forward": "1"}

// mgmtPeerName is a node's cable end on the management bridge: docker names these veth<7 hex>;
// here the hex comes from the node name so the name is the same on every deploy.
func mgmtPeerName(node string) string {
	sum := sha1.Sum([]byte(node))
	return "veth" + hex.EncodeToString(sum[:])[:7]
}

// managementGateway is the address the management bridge holds, as docker's bridge holds the
// network's first address; none when a node already uses it.
func managementGateway(l *lab.Lab) (netip.Prefix, bool) {
	sub := l.Cluster.ManagementSubnet
	if !sub.IsValid() {
		return netip.Prefix{}, false
	}
	gw := sub.Masked().Addr().Next()
	for _, n := range l.Nodes {
		if n.ManagementAddress().Addr() == gw {
			return netip.Prefix{}, false
		}
	}
	for _, rr := range l.RouteReflectors() {
		if rr.Address.Addr() == gw {
			return netip.Prefix{}, false
		}
	}
	return netip.PrefixFrom(gw, sub.Bits()), true
}

func newTopology(l *lab.Lab, vlanMode string) (*topology, error) {
	t := &topology{lab: l, vlanMode: vlanMode}
	netNS := NamespaceName(l.Name, networkMember)
	gw, hasGW := managementGateway(l)
	mgmt := namespaceSpec{name: netNS, role: journal.RoleNetwork, member: networkMember}
	bridge := bridgeSpec{ns: netNS, name: mgmtBridge, alias: "management network " + l.Cluster.ManagementSubnet.String()}
	if hasGW {
		bridge.addr = gw
		mgmt.addrs = []netip.Prefix{gw}
	}
	t.namespaces = append(t.namespaces, mgmt)
	t.bridges = append(t.bridges, bridge)

	var swNS string
	if sw := l.Switch; sw != nil {
		swNS = NamespaceName(l.Name, sw.Name)
		spec := namespaceSpec{name: swNS, role: journal.RoleSwitch, member: sw.Name, sysctls: map[string]string{"net.ipv4.ip_forward": "1"}}
		if vlanMode == VLANAware {
			t.bridges = append(t.bridges, bridgeSpec{ns: swNS, name: vlanAwareBridge, vlanFiltering: true})
		}
		for _, v := range sw.VLANs {
			spec.addrs = append(spec.addrs, v.GatewayPrefix())
			b := bridgeSpec{ns: swNS, name: v.SVI(), alias: v.Name, addr: v.GatewayPrefix()}
			if vlanMode == VLANAware {
				b.vlanOf, b.vlanID = vlanAwareBridge, v.ID
			}
			t.bridges = append(t.bridges, b)
		}
		t.namespaces = append(t.namespaces, spec)
	}

	for _, n := range l.Nodes {
		ns := NamespaceName(l.Name, n.Name)
		spec := namespaceSpec{name: ns, role: journal.RoleNode, member: n.Name, sysctls: nodeSysctls}
		mgmtAddr := n.ManagementAddress()
		spec.addrs = append(spec.addrs, mgmtAddr)
		t.veths = append(t.veths, vethSpec{
			ns: ns, name: "eth0", addr: mgmtAddr,
			peerNS: netNS, peerName: mgmtPeerName(n.Name), peerMaster: mgmtBridge, peerAlias: n.Name + " eth0",
		})
		if hasGW {
			t.routes = append(t.routes, routeSpec{ns: ns, dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), via: gw.Addr(), dev: "eth0"})
		}
		if l.Switch != nil && n.SwitchPort != "" {
			if n.Interface == "eth0" {
				return nil, fmt.Errorf("node %s: eth0 is the management interface; cable the switch to eth1", n.Name)
			}
			vl, ok := l.VLAN(n.VLAN)
			if !ok {
				return nil, fmt.Errorf("node %s: VLAN %d is not declared", n.Name, n.VLAN)
			}
			spec.addrs = append(spec.addrs, n.Address)
			v := vethSpec{ns: ns, name: n.Interface, addr: n.Address, peerNS: swNS, peerName: n.SwitchPort, peerAlias: "Connection to " + n.Name}
			if vlanMode == VLANAware {
				v.peerMaster, v.peerPVID = vlanAwareBridge, vl.ID
			} else {
				v.peerMaster = vl.SVI()
			}
			t.veths = append(t.veths, v)
			for _, r := range l.RoutesFor(n) {
				t.routes = append(t.routes, routeSpec{ns: ns, dst: r.Dst, via: r.Via, dev: r.Dev})
			}
		}
		t.namespaces = append(t.namespaces, spec)
	}
	for _, rr := range l.RouteReflectors() {
		// A route reflector stands beside the cluster on kind's docker network, as the gobgp
		// container does: eth0 on the management bridge, nothing else.
		ns := NamespaceName(l.Name, rr.Name)
		t.namespaces = append(t.namespaces, namespaceSpec{name: ns, role: journal.RoleReflector, member: rr.Name, addrs: []netip.Prefix{rr.Address}})
		t.veths = append(t.veths, vethSpec{
			ns: ns, name: "eth0", addr: rr.Address,
			peerNS: netNS, peerName: mgmtPeerName(rr.Name), peerMaster: mgmtBridge, peerAlias: rr.Name + " eth0",
		})
		if hasGW {
			t.routes = append(t.routes, routeSpec{ns: ns, dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), via: gw.Addr(), dev: "eth0"})
		}
	}
	return t, t.checkNames()
}

// checkNames refuses names the kernel would refuse or that would collide, before anything exists.
func (t *topology) checkNames() error {
	seen := map[string]string{}
	for _, ns := range t.namespaces {
		if other, dup := seen[ns.name]; dup {
			return fmt.Errorf("namespace %s would stand for both %s and %s; rename one", ns.name, other, ns.member)
		}
		seen[ns.name] = ns.member
	}
	links := map[string]bool{}
	check := func(ns, name string) error {
		if len(name) == 0 || len(name) > 15 {
			return fmt.Errorf("interface name %q in %s must be 1-15 characters (IFNAMSIZ)", name, ns)
		}
		if links[ns+"/"+name] {
			return fmt.Errorf("interface %s would be created twice in %s", name, ns)
		}
		links[ns+"/"+name] = true
		return nil
	}
	for _, b := range t.bridges {
		if err := check(b.ns, b.name); err != nil {
			return err
		}
	}
	for _, v := range t.veths {
		if err := check(v.ns, v.name); err != nil {
			return err
		}
		if err := check(v.peerNS, v.peerName); err != nil {
			return err
		}
	}
	return nil
}

// links is the journal record of every link of the lab.
func (t *topology) links() []journal.Link {
	var out []journal.Link
	for _, b := range t.bridges {
		kind := "bridge"
		if b.vlanOf != "" {
			kind = "vlan"
		}
		out = append(out, journal.Link{Namespace: b.ns, Name: b.name, Kind: kind})
	}
	for _, v := range t.veths {
		out = append(out, journal.Link{Namespace: v.ns, Name: v.name, Kind: "veth", PeerNamespace: v.peerNS, PeerName: v.peerName})
	}
	return out
}

// namespaceNames lists the lab's namespaces, sorted.
func (t *topology) namespaceNames() []string {
	var out []string
	for _, ns := range t.namespaces {
		out = append(out, ns.name)
	}
	sort.Strings(out)
	return out
}

// underlaySteps are the objects a deploy creates, in its order, as --dry-run lists them: the
// namespaces, the bridges (vlans: how the switch makes its VLANs and why; "" without a switch),
// the cables, then each namespace's routes and sysctls.
func (t *topology) underlaySteps(vlans string) []provider.Step {
	var namespaces, bridges, cables, settings []string
	for _, ns := range t.namespaces {
		namespaces = append(namespaces, fmt.Sprintf("namespace %s (%s %s)", ns.name, ns.role, ns.member))
	}
	for _, b := range t.bridges {
		what := "bridge"
		switch {
		case b.vlanOf != "":
			what = fmt.Sprintf("802.1Q device (VLAN %d on %s)", b.vlanID, b.vlanOf)
		case b.vlanFiltering:
			what = "VLAN-aware bridge"
		}
		line := fmt.Sprintf("%s: %s %s", b.ns, what, b.name)
		if b.addr.IsValid() {
			line += " " + b.addr.String()
		}
		if b.alias != "" {
			line += fmt.Sprintf(" (%q)", b.alias)
		}
		bridges = append(bridges, line)
	}
	for _, v := range t.veths {
		line := fmt.Sprintf("%s: veth %s %s <-> %s: %s master %s", v.ns, v.name, v.addr, v.peerNS, v.peerName, v.peerMaster)
		if v.peerPVID != 0 {
			line += fmt.Sprintf(" pvid %d untagged", v.peerPVID)
		}
		cables = append(cables, line+fmt.Sprintf(" (%q)", v.peerAlias))
	}
	for _, r := range t.routes {
		settings = append(settings, fmt.Sprintf("%s: route %s via %s dev %s", r.ns, r.dst, r.via, r.dev))
	}
	for _, ns := range t.namespaces {
		for _, k := range sortedKeys(ns.sysctls) {
			settings = append(settings, fmt.Sprintf("%s: sysctl %s=%s", ns.name, k, ns.sysctls[k]))
		}
	}
	bridgeTitle := "create the bridges"
	if vlans != "" {
		bridgeTitle += ", the switch's VLANs as " + vlans
	}
	return []provider.Step{
		{Title: "create the network namespaces (named, as ip netns shows them)", Actions: namespaces},
		{Title: bridgeTitle, Actions: bridges},
		{Title: "cable the namespaces with veth pairs (each end created in its own namespace, none in the host's)", Actions: cables},
		{Title: "set the routes and sysctls", Actions: settings},
	}
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
