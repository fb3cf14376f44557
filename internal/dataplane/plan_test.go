package dataplane

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/knetlab/knetlab/internal/calico"
)

func TestVTEPMAC(t *testing.T) {
	tests := []struct {
		node string
		want string
	}{
		{"k01-worker", "66:fb:ad:98:aa:13"}, // the example of docs/dataplane.md
		{"", "66:da:39:a3:ee:5e"},           // SHA-1 of nothing: da39a3ee5e...
	}
	for _, tt := range tests {
		if got := VTEPMAC(tt.node).String(); got != tt.want {
			t.Errorf("VTEPMAC(%q) = %s, want %s", tt.node, got, tt.want)
		}
	}
}

// overlayCluster is the calico-overlay lab: three nodes in 10.10.10.0/24, one in 10.10.20.0/24.
func overlayCluster(vxlan, ipip calico.EncapMode) DesiredState {
	host := func(name, underlay, tunnel string) Host {
		return Host{Name: name, Underlay: netip.MustParsePrefix(underlay), TunnelIP: netip.MustParseAddr(tunnel)}
	}
	return DesiredState{
		Self:   host("k01-worker", "10.10.10.11/24", "192.168.10.0"),
		Parent: "eth1",
		Peers: []Host{
			host("k01-control-plane", "10.10.10.10/24", "192.168.0.0"),
			host("k01-worker2", "10.10.10.12/24", "192.168.20.1"), // tunnel IP not the block's first
			host("k01-worker3", "10.10.20.20/24", "192.168.30.0"),
		},
		Blocks: []Block{
			{netip.MustParsePrefix("192.168.0.0/26"), "k01-control-plane"},
			{netip.MustParsePrefix("192.168.10.0/26"), "k01-worker"},
			{netip.MustParsePrefix("192.168.10.64/26"), "k01-worker"},
			{netip.MustParsePrefix("192.168.20.0/26"), "k01-worker2"},
			{netip.MustParsePrefix("192.168.30.0/26"), "k01-worker3"},
		},
		Pools: []Pool{{CIDR: netip.MustParsePrefix("192.168.0.0/16"), VXLANMode: vxlan, IPIPMode: ipip, NATOutgoing: true}},
	}
}

func TestComputePlanRoutes(t *testing.T) {
	// The wanted routes are written as `ip route` prints them, in the shapes of Calico 3.30:
	// no proto on routes through vxlan.calico, a host route to each remote tunnel address.
	tests := []struct {
		name      string
		vxlan     calico.EncapMode
		ipip      calico.EncapMode
		wantVXLAN bool
		wantIPIP  bool
		want      []string
	}{
		{
			name:  "VXLAN CrossSubnet: same subnet direct, other subnet through vxlan.calico",
			vxlan: calico.EncapCrossSubnet, ipip: calico.EncapNever, wantVXLAN: true,
			want: []string{
				"192.168.0.0/26 via 10.10.10.10 dev eth1 proto 80 onlink",
				"192.168.0.0 via 10.10.10.10 dev eth1 proto 80 onlink",
				"blackhole 192.168.10.0/26 proto 80",
				"blackhole 192.168.10.64/26 proto 80",
				"192.168.20.0/26 via 10.10.10.12 dev eth1 proto 80 onlink",
				"192.168.20.1 via 10.10.10.12 dev eth1 proto 80 onlink",
				"192.168.30.0/26 via 192.168.30.0 dev vxlan.calico onlink",
				"192.168.30.0 dev vxlan.calico scope link",
			},
		},
		{
			name:  "VXLAN Always: every remote block through its owner's tunnel address",
			vxlan: calico.EncapAlways, ipip: calico.EncapNever, wantVXLAN: true,
			want: []string{
				"192.168.0.0/26 via 192.168.0.0 dev vxlan.calico onlink",
				"192.168.0.0 dev vxlan.calico scope link",
				"blackhole 192.168.10.0/26 proto 80",
				"blackhole 192.168.10.64/26 proto 80",
				"192.168.20.0/26 via 192.168.20.1 dev vxlan.calico onlink",
				"192.168.20.1 dev vxlan.calico scope link",
				"192.168.30.0/26 via 192.168.30.0 dev vxlan.calico onlink",
				"192.168.30.0 dev vxlan.calico scope link",
			},
		},
		{
			name:  "no encapsulation: straight to the owner's underlay address",
			vxlan: calico.EncapNever, ipip: calico.EncapNever,
			want: []string{
				"192.168.0.0/26 via 10.10.10.10 dev eth1 proto 80",
				"blackhole 192.168.10.0/26 proto 80",
				"blackhole 192.168.10.64/26 proto 80",
				"192.168.20.0/26 via 10.10.10.12 dev eth1 proto 80",
				"192.168.30.0/26 via 10.10.20.20 dev eth1 proto 80",
			},
		},
		{
			name:  "IPIP CrossSubnet: same subnet direct, other subnet through tunl0",
			vxlan: calico.EncapNever, ipip: calico.EncapCrossSubnet, wantIPIP: true,
			want: []string{
				"192.168.0.0/26 via 10.10.10.10 dev eth1 proto 80",
				"blackhole 192.168.10.0/26 proto 80",
				"blackhole 192.168.10.64/26 proto 80",
				"192.168.20.0/26 via 10.10.10.12 dev eth1 proto 80",
				"192.168.30.0/26 via 10.10.20.20 dev tunl0 proto 80 onlink",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := ComputePlan(overlayCluster(tt.vxlan, tt.ipip))
			var got []string
			for _, r := range plan.Routes {
				got = append(got, r.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("routes:\n got %q\nwant %q", got, tt.want)
			}
			if (plan.VXLAN != nil) != tt.wantVXLAN {
				t.Errorf("vxlan device planned = %v, want %v", plan.VXLAN != nil, tt.wantVXLAN)
			}
			if plan.NeedsIPIP != tt.wantIPIP {
				t.Errorf("NeedsIPIP = %v, want %v", plan.NeedsIPIP, tt.wantIPIP)
			}
			if len(plan.Skipped) != 0 {
				t.Errorf("skipped %q", plan.Skipped)
			}
		})
	}
}

func TestComputePlanVTEPs(t *testing.T) {
	d := overlayCluster(calico.EncapCrossSubnet, calico.EncapNever)
	configured := net.HardwareAddr{0x66, 1, 2, 3, 4, 5}
	d.Peers[0].VTEPMAC = configured
	plan := ComputePlan(d)

	if plan.VXLAN == nil {
		t.Fatal("no vxlan device planned")
	}
	if got, want := plan.VXLAN.MAC.String(), "66:fb:ad:98:aa:13"; got != want {
		t.Errorf("device MAC = %s, want %s (derived from k01-worker)", got, want)
	}
	if plan.VXLAN.Local != netip.MustParseAddr("10.10.10.11") || plan.VXLAN.Address != netip.MustParseAddr("192.168.10.0") {
		t.Errorf("device local/address = %s/%s", plan.VXLAN.Local, plan.VXLAN.Address)
	}
	var neigh, fdb []string
	for _, n := range plan.Neighbours {
		neigh = append(neigh, n.String())
	}
	for _, f := range plan.FDB {
		fdb = append(fdb, f.String())
	}
	wantNeigh := []string{
		"192.168.0.0 dev vxlan.calico lladdr 66:01:02:03:04:05 PERMANENT", // the configured MAC wins
		"192.168.20.1 dev vxlan.calico lladdr " + VTEPMAC("k01-worker2").String() + " PERMANENT",
		"192.168.30.0 dev vxlan.calico lladdr " + VTEPMAC("k01-worker3").String() + " PERMANENT",
	}
	wantFDB := []string{
		"66:01:02:03:04:05 dev vxlan.calico dst 10.10.10.10 self permanent",
		VTEPMAC("k01-worker2").String() + " dev vxlan.calico dst 10.10.10.12 self permanent",
		VTEPMAC("k01-worker3").String() + " dev vxlan.calico dst 10.10.20.20 self permanent",
	}
	if !slices.Equal(neigh, wantNeigh) {
		t.Errorf("neighbours:\n got %q\nwant %q", neigh, wantNeigh)
	}
	if !slices.Equal(fdb, wantFDB) {
		t.Errorf("fdb:\n got %q\nwant %q", fdb, wantFDB)
	}
}

func TestComputePlanSkipsWhatCannotBeRouted(t *testing.T) {
	d := overlayCluster(calico.EncapAlways, calico.EncapNever)
	d.Peers[2].TunnelIP = netip.Addr{} // k01-worker3 has not allocated its tunnel address yet
	d.Blocks = append(d.Blocks,
		Block{netip.MustParsePrefix("10.99.0.0/26"), "k01-worker2"}, // outside every pool
		Block{netip.MustParsePrefix("192.168.40.0/26"), "k01-gone"}, // owner without a Node
	)
	plan := ComputePlan(d)
	if len(plan.Skipped) != 3 {
		t.Fatalf("skipped %d blocks, want 3: %q", len(plan.Skipped), plan.Skipped)
	}
	for _, r := range plan.Routes {
		switch r.Dst.String() {
		case "192.168.30.0/26", "10.99.0.0/26", "192.168.40.0/26":
			t.Errorf("route %s planned, want skipped", r)
		}
	}
	for _, n := range plan.Neighbours {
		if n.IP == d.Peers[2].TunnelIP {
			t.Errorf("neighbour for a peer without tunnel address: %s", n)
		}
	}
}

func TestComputePlanNAT(t *testing.T) {
	d := overlayCluster(calico.EncapCrossSubnet, calico.EncapNever)
	d.Pools = append(d.Pools, Pool{CIDR: netip.MustParsePrefix("172.30.0.0/16"), VXLANMode: calico.EncapNever, IPIPMode: calico.EncapNever})
	plan := ComputePlan(d)
	if got := plan.NAT.Masquerade; len(got) != 1 || got[0].String() != "192.168.0.0/16" {
		t.Errorf("masquerade = %v, want [192.168.0.0/16]", got)
	}
	if got := plan.NAT.AllPools; len(got) != 2 || got[0].String() != "172.30.0.0/16" {
		t.Errorf("all pools = %v, want [172.30.0.0/16 192.168.0.0/16]", got)
	}
}

func TestValidate(t *testing.T) {
	d := overlayCluster(calico.EncapAlways, calico.EncapAlways)
	d.Self.Underlay = netip.Prefix{}
	err := d.Validate()
	if err == nil {
		t.Fatal("Validate accepted a node without underlay and a pool with two encapsulations")
	}
	if ok := overlayCluster(calico.EncapCrossSubnet, calico.EncapNever).Validate(); ok != nil {
		t.Errorf("Validate(calico-overlay) = %v", ok)
	}
}

// bgpCluster is calico-bgp seen from k8s-guide-worker: three nodes on kind's docker
// network, pool 10.244.128.0/17 without encapsulation, the node speaking BGP.
func bgpCluster() DesiredState {
	host := func(name, underlay string) Host { return Host{Name: name, Underlay: netip.MustParsePrefix(underlay)} }
	return DesiredState{
		Self:   host("k8s-guide-worker", "172.18.0.3/16"),
		Parent: "eth0",
		Peers:  []Host{host("k8s-guide-control-plane", "172.18.0.2/16"), host("k8s-guide-worker2", "172.18.0.4/16")},
		Blocks: []Block{
			{netip.MustParsePrefix("10.244.128.0/24"), "k8s-guide-control-plane"},
			{netip.MustParsePrefix("10.244.129.0/24"), "k8s-guide-worker"},
			{netip.MustParsePrefix("10.244.130.0/24"), "k8s-guide-worker2"},
		},
		Pools: []Pool{{CIDR: netip.MustParsePrefix("10.244.128.0/17"), VXLANMode: calico.EncapNever, IPIPMode: calico.EncapNever, NATOutgoing: true}},
		BGP:   true,
	}
}

// TestComputePlanBGP: with BGP, the blocks of a pool without encapsulation are BIRD's to route
// (what it learned, and a blackhole for the node's own): the plan has no route for any of them
// and needs no tunnel device; NAT still covers the pool. Without BGP the datastore routes them.
func TestComputePlanBGP(t *testing.T) {
	plan := ComputePlan(bgpCluster())
	if len(plan.Routes) != 0 {
		t.Errorf("BGP mode plans routes for BIRD's blocks: %v", plan.Routes)
	}
	if plan.VXLAN != nil || plan.NeedsIPIP {
		t.Errorf("a plain BGP lab needs no tunnel device: %+v", plan)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("10.244.128.0/17")}; !slices.Equal(plan.NAT.Masquerade, want) {
		t.Errorf("masquerade %v, want %v", plan.NAT.Masquerade, want)
	}
	d := bgpCluster()
	d.BGP = false
	if n := len(ComputePlan(d).Routes); n != 3 {
		t.Errorf("without BGP: %d routes, want 3 from the datastore", n)
	}
}
