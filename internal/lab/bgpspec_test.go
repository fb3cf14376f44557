package lab

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/knetlab/knetlab/verify/spec"
)

// The calico-bgp lab tells verify which peer applies to every node, with the reflector's
// address resolved from the BGPPeer that names it.
func TestCalicoBGPVerifySpec(t *testing.T) {
	l, err := Load("calico-bgp")
	if err != nil {
		t.Fatal(err)
	}
	rr := netip.MustParseAddr("172.18.0.5")
	peer := []spec.Peer{{Name: "gobgp-peer", Address: rr, ASNumber: 64496, Selector: "all()", Reflector: "gobgp"}}
	want := &spec.BGP{
		ASNumber: 64496,
		Peers: map[string][]spec.Peer{
			"k8s-guide-control-plane": peer, "k8s-guide-worker": peer, "k8s-guide-worker2": peer,
		},
		Reflectors: []spec.Reflector{{Name: "gobgp", Address: rr, RouterID: netip.MustParseAddr("192.0.2.1"), ASNumber: 64496}},
	}
	if got := l.VerifySpec().BGP; !reflect.DeepEqual(got, want) {
		t.Errorf("VerifySpec().BGP\n got %+v\nwant %+v", got, want)
	}
	if s, _ := Load("calico-overlay"); s.VerifySpec().BGP != nil {
		t.Errorf("calico-overlay has no BGP, VerifySpec().BGP = %+v", s.VerifySpec().BGP)
	}
}
