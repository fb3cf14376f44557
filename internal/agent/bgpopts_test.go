package agent

import (
	"net/netip"
	"reflect"
	"testing"
)

// TestBGPConfigFromOptions: a peer given without an AS is an iBGP peer of the node's own AS,
// BIRD's directory is --bgp-dir, and no --bgp-as means no BGP mode.
func TestBGPConfigFromOptions(t *testing.T) {
	if c := (Options{}).bgpConfig(); c != nil {
		t.Errorf("no --bgp-as: BGP mode %+v", c)
	}
	o := Options{BGPAS: 64496, BGPPeers: []BGPPeer{{Address: netip.MustParseAddr("172.18.0.5")}, {Address: netip.MustParseAddr("172.18.0.6"), ASNumber: 64497}},
		BGPNoExport: []netip.Prefix{netip.MustParsePrefix("10.244.129.0/24")}, BGPDir: "/run/bird"}
	want := &BGPConfig{ASNumber: 64496, Dir: "/run/bird", NoExport: o.BGPNoExport, Peers: []BGPPeer{
		{Address: netip.MustParseAddr("172.18.0.5"), ASNumber: 64496}, {Address: netip.MustParseAddr("172.18.0.6"), ASNumber: 64497}}}
	if got := o.bgpConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	for _, s := range []string{"172.18.0.5", "172.18.0.5:64497"} {
		p, err := ParseBGPPeer(s)
		if err != nil || p.String() != s {
			t.Errorf("ParseBGPPeer(%q) = %v, %v; want it back", s, p, err)
		}
	}
	for _, s := range []string{"gobgp", "172.18.0.5:", "172.18.0.5:0", "172.18.0.5:x", "2001:db8::1", "172.18.0.5:4294967296"} {
		if _, err := ParseBGPPeer(s); err == nil {
			t.Errorf("ParseBGPPeer(%q): no error", s)
		}
	}
}
