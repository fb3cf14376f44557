package lab

import (
	"net/netip"
	"strings"
	"testing"
)

// The calico-bgp facts (the k8s-guide Calico chapter), read back from the model.
func TestCalicoBGPFacts(t *testing.T) {
	l, err := Load("calico-bgp")
	if err != nil {
		t.Fatal(err)
	}
	if l.Switch != nil || l.Cluster.Name != "k8s-guide" || l.Cluster.ManagementSubnet.String() != "172.18.0.0/16" {
		t.Fatalf("switch %+v, cluster %+v", l.Switch, l.Cluster)
	}
	want := []string{"k8s-guide-control-plane 172.18.0.2/16", "k8s-guide-worker 172.18.0.3/16", "k8s-guide-worker2 172.18.0.4/16"}
	if len(l.Nodes) != len(want) {
		t.Fatalf("%d nodes, want %d", len(l.Nodes), len(want))
	}
	for i, w := range want {
		if n := l.Nodes[i]; n.Name+" "+n.Address.String() != w || n.Interface != "eth0" {
			t.Errorf("node %d = %+v, want %s on eth0", i, n, w)
		}
	}
	p := l.CNI.Pools[0]
	if p.Name != "default-ipv4-ippool" || p.CIDR.String() != "10.244.128.0/17" || p.BlockSize != 24 ||
		p.Encapsulation() != "None" || !p.NATOutgoing || p.NodeSelector != "all()" || p.DisableBGPExport {
		t.Errorf("pool = %+v", p)
	}
	b := l.BGP
	if b == nil || b.ASNumber != 64496 || b.NodeToNodeMesh || len(b.Peers) != 1 || len(b.RouteReflectors) != 1 {
		t.Fatalf("bgp = %+v", b)
	}
	rr, ok := l.RouteReflector("gobgp")
	if !ok || rr.Address.String() != "172.18.0.5/16" || rr.ASNumber != 64496 || rr.RouterID.String() != "192.0.2.1" ||
		rr.ClusterID.String() != "192.0.2.1" || rr.Clients != (RRClients{Prefix: netip.MustParsePrefix("172.18.0.0/16"), PeerGroup: "k8s-group", PeerAS: 64496}) {
		t.Errorf("reflector gobgp = %+v, %v", rr, ok)
	}
	if _, ok := l.RouteReflector("nope"); ok {
		t.Error("RouteReflector(nope) found one")
	}
	peer := b.Peers[0]
	if peer.Name != "gobgp-peer" || peer.ASNumber != 64496 || peer.NodeSelector != "all()" || peer.Address(l).String() != "172.18.0.5" {
		t.Errorf("peer = %+v, address %s", peer, peer.Address(l))
	}
	for _, n := range l.Nodes {
		if ps := l.PeersOf(n); len(ps) != 1 || ps[0].Name != "gobgp-peer" {
			t.Errorf("PeersOf(%s) = %+v, want gobgp-peer", n.Name, ps)
		}
	}
	if got, want := strings.Join(l.Checks, " "), "topology.nodes ipam.pools ipam.affinities routes.blocks routes.pods pods.wiring connectivity.pods nat.outgoing bgp.peers bgp.rib"; got != want {
		t.Errorf("checks %s, want %s (no tunnel or switch checks)", got, want)
	}
}

func TestBGPPeerAddress(t *testing.T) {
	l := &Lab{BGP: &BGP{RouteReflectors: []RouteReflector{{Name: "rr", Address: netip.MustParsePrefix("172.18.0.9/16")}}}}
	if a := (BGPPeer{PeerIP: netip.MustParseAddr("172.18.0.7")}).Address(l); a.String() != "172.18.0.7" {
		t.Errorf("peerIP peer: %s", a)
	}
	if a := (BGPPeer{Reflector: "rr"}).Address(l); a.String() != "172.18.0.9" {
		t.Errorf("reflector peer: %s", a)
	}
	if a := (BGPPeer{Reflector: "other"}).Address(l); a.IsValid() {
		t.Errorf("unknown reflector: %s, want no address", a)
	}
	var none *Lab
	if a := (BGPPeer{Reflector: "rr"}).Address(none); a.IsValid() {
		t.Errorf("no lab: %s", a)
	}
	if ps := (&Lab{}).PeersOf(Node{Name: "n"}); ps != nil {
		t.Errorf("PeersOf in a lab without BGP = %+v", ps)
	}
	if _, ok := (&Lab{}).RouteReflector("rr"); ok {
		t.Error("RouteReflector in a lab without BGP found one")
	}
	if rrs := l.RouteReflectors(); len(rrs) != 1 || rrs[0].Name != "rr" {
		t.Errorf("RouteReflectors = %+v", rrs)
	}
	if rrs := (&Lab{}).RouteReflectors(); rrs != nil {
		t.Errorf("RouteReflectors of a lab without BGP = %+v", rrs)
	}
}

// Every mistake in the BGP part of a lab is reported with its file, line and field, all at once.
func TestBGPValidation(t *testing.T) {
	bgpLab, podNet := catalogueText(t, "calico-bgp"), catalogueText(t, "pod-network")
	const peerSel = "      asNumber: 64496\n      nodeSelector: all()\n"
	type want = wantProblem
	for _, tc := range []struct {
		name  string
		base  string
		edits []string
		want  []want
	}{
		{"AS zero", bgpLab, []string{"  asNumber: 64496\n  nodeToNodeMesh", "  asNumber: 0\n  nodeToNodeMesh"},
			[]want{{"bgp.asNumber", "AS 0 is reserved", "asNumber: 0"}}},
		{"AS 65535 reserved", bgpLab, []string{"  asNumber: 64496\n  nodeToNodeMesh", "  asNumber: 65535\n  nodeToNodeMesh"},
			[]want{{"bgp.asNumber", "AS 65535 is reserved", "asNumber: 65535"}}},
		{"AS 4294967295 reserved", bgpLab, []string{"  asNumber: 64496\n  nodeToNodeMesh", "  asNumber: 4294967295\n  nodeToNodeMesh"},
			[]want{{"bgp.asNumber", "AS 4294967295 is reserved", "asNumber: 4294967295"}}},
		{"AS beyond 32 bits", bgpLab, []string{"  asNumber: 64496\n  nodeToNodeMesh", "  asNumber: 4294967296\n  nodeToNodeMesh"},
			[]want{{"bgp.asNumber", "4294967296 is out of range", "asNumber: 4294967296"}}},
		{"peer AS zero", bgpLab, []string{peerSel, "      asNumber: 0\n      nodeSelector: all()\n"},
			[]want{{"bgp.peers[0].asNumber", "AS 0 is reserved", "asNumber: 0"}}},
		{"peer outside every subnet", bgpLab, []string{"      reflector: gobgp\n", "      peerIP: 10.99.0.1\n"},
			[]want{{"bgp.peers[0].peerIP", "10.99.0.1 is outside every node subnet and the management subnet 172.18.0.0/16", "peerIP: 10.99.0.1"},
				{"bgp.routeReflectors[0].name", "no peer of bgp.peers peers with reflector gobgp", "- name: gobgp\n"}}},
		{"peer with neither address nor reflector", bgpLab, []string{"      reflector: gobgp\n", ""},
			[]want{{"bgp.peers[0]", "give the peer's peerIP or the reflector it peers with", "- name: gobgp-peer"},
				{"bgp.routeReflectors[0].name", "no peer of bgp.peers peers with reflector gobgp", "- name: gobgp\n"}}},
		{"peer with both", bgpLab, []string{"      reflector: gobgp\n", "      reflector: gobgp\n      peerIP: 172.18.0.5\n"},
			[]want{{"bgp.peers[0].peerIP", "either peerIP or reflector, not both", "peerIP: 172.18.0.5"}}},
		{"unknown reflector", bgpLab, []string{"      reflector: gobgp\n", "      reflector: rr9\n"},
			[]want{{"bgp.peers[0].reflector", `no route reflector "rr9" (reflectors: gobgp)`, "reflector: rr9"},
				{"bgp.routeReflectors[0].name", "no peer of bgp.peers peers with reflector gobgp", "- name: gobgp\n"}}},
		{"selector other than all()", bgpLab, []string{peerSel, "      asNumber: 64496\n      nodeSelector: rack == 'a'\n"},
			[]want{{"bgp.peers[0].nodeSelector", `selector "rack == 'a'" is not supported: only all()`, "rack == 'a'"}}},
		{"peer AS differs from its reflector's", bgpLab, []string{"      reflector: gobgp\n      asNumber: 64496\n", "      reflector: gobgp\n      asNumber: 64497\n"},
			[]want{{"bgp.peers[0].asNumber", "reflector gobgp is AS 64496", "asNumber: 64497"}}},
		{"reflector with no clients", bgpLab, []string{"      clients:\n        prefix: 172.18.0.0/16\n        peerGroup: k8s-group\n        peerAS: 64496\n", ""},
			[]want{{"bgp.routeReflectors[0].clients", "reflector gobgp has no clients", "- name: gobgp\n"}}},
		{"clients prefix holding no node", bgpLab, []string{"prefix: 172.18.0.0/16", "prefix: 172.18.9.0/24"},
			[]want{{"bgp.routeReflectors[0].clients.prefix", "172.18.9.0/24 holds none of the lab's nodes", "prefix: 172.18.9.0/24"}}},
		{"clients prefix with host bits", bgpLab, []string{"prefix: 172.18.0.0/16", "prefix: 172.18.0.1/16"},
			[]want{{"bgp.routeReflectors[0].clients.prefix", "has host bits set", "prefix: 172.18.0.1/16"}}},
		{"clients peer group missing, clients AS not the nodes'", bgpLab, []string{"        peerGroup: k8s-group\n        peerAS: 64496\n", "        peerAS: 64497\n"},
			[]want{{"bgp.routeReflectors[0].clients.peerGroup", "a peer group name is required", "      clients:\n"},
				{"bgp.routeReflectors[0].clients.peerAS", "the nodes are AS 64496 (bgp.asNumber)", "peerAS: 64497"}}},
		{"reflector AS not its clients' (route reflection is iBGP)", bgpLab, []string{"      asNumber: 64496\n      routerID", "      asNumber: 64500\n      routerID",
			"      reflector: gobgp\n      asNumber: 64496\n", "      reflector: gobgp\n      asNumber: 64500\n"},
			[]want{{"bgp.routeReflectors[0].asNumber", "AS 64500 but its clients are AS 64496", "asNumber: 64500\n      routerID"}}},
		{"router ID invalid", bgpLab, []string{"routerID: 192.0.2.1", "routerID: 0.0.0.0"},
			[]want{{"bgp.routeReflectors[0].routerID", "router ID 0.0.0.0", "routerID: 0.0.0.0"}}},
		{"router ID not an address", bgpLab, []string{"routerID: 192.0.2.1", "routerID: rr1"},
			[]want{{"bgp.routeReflectors[0].routerID", `"rr1" is not an IP address`, "routerID: rr1"}}},
		{"cluster ID missing", bgpLab, []string{"      clusterID: 192.0.2.1\n", ""},
			[]want{{"bgp.routeReflectors[0].clusterID", "a cluster ID (an IPv4 address, e.g. 192.0.2.1) is required", "- name: gobgp\n"}}},
		{"reflector outside the management subnet", bgpLab, []string{"address: 172.18.0.5/16", "address: 10.1.0.5/16"},
			[]want{{"bgp.routeReflectors[0].address", "10.1.0.5/16 is outside the management subnet 172.18.0.0/16", "address: 10.1.0.5/16"}}},
		{"reflector on a node's address", bgpLab, []string{"address: 172.18.0.5/16", "address: 172.18.0.4/16"},
			[]want{{"bgp.routeReflectors[0].address", "172.18.0.4 is already k8s-guide-worker2's", "address: 172.18.0.4/16\n      asNumber"}}},
		{"reflector named like a node", bgpLab, []string{"reflector: gobgp", "reflector: k8s-guide-worker", "    - name: gobgp\n", "    - name: k8s-guide-worker\n"},
			[]want{{"bgp.routeReflectors[0].name", `"k8s-guide-worker" is already a node's name`, "- name: k8s-guide-worker\n      image"}}},
		{"reflector image unpinned", bgpLab, []string{"image: knetlab-gobgp:v4.8.0", "image: knetlab-gobgp"},
			[]want{{"bgp.routeReflectors[0].image", "must be pinned", "image: knetlab-gobgp\n"}}},
		{"mesh off and no peers", bgpLab, []string{"  peers:\n    - name: gobgp-peer\n      reflector: gobgp\n      asNumber: 64496\n      nodeSelector: all()\n", ""},
			[]want{{"bgp.nodeToNodeMesh", "node-to-node mesh is off and there are no peers", "nodeToNodeMesh: false"},
				{"bgp.routeReflectors[0].name", "no peer of bgp.peers peers with reflector gobgp", "- name: gobgp\n"}}},
		{"duplicate peer", bgpLab, []string{"  routeReflectors:\n", "    - {name: gobgp-peer, peerIP: 172.18.0.9, asNumber: 64496, nodeSelector: all()}\n  routeReflectors:\n"},
			[]want{{"bgp.peers[1].name", `peer "gobgp-peer" is declared twice (also bgp.peers[0])`, "{name: gobgp-peer, peerIP"}}},
		{"pool not exported over BGP", bgpLab, []string{"      nodeSelector: all()\n\n", "      nodeSelector: all()\n      disableBGPExport: true\n\n"},
			[]want{{"cni.pools[0].disableBGPExport", "nothing would route its blocks", "disableBGPExport: true"}}},
		{"unencapsulated pool in a lab without BGP", podNet, []string{"vxlanMode: CrossSubnet", "vxlanMode: Never"},
			[]want{{"cni.pools[0].vxlanMode", "without encapsulation only BGP routes its blocks, and the lab has no bgp section", "vxlanMode: Never"}}},
		{"BGP checks in a lab without BGP", podNet, []string{"  - nat.outgoing\n", "  - nat.outgoing\n  - bgp.peers\n"},
			[]want{{"checks[12]", "check bgp.peers needs a bgp section, and the lab has none", "- bgp.peers"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkProblems(t, edit(t, tc.base, tc.edits...), tc.want)
		})
	}
}
