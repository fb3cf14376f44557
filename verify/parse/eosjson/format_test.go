package eosjson

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/knetlab/knetlab/verify/observed"
)

// A switch printed in EOS shapes and parsed again is the switch the checks judged.
func TestFormatRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		sw   observed.Switch
	}{
		{"netns calico-overlay switch", observed.Switch{
			Ports: []observed.SwitchPort{
				{Name: "eth1", Up: true, Status: "connected", Mode: "access", VLAN: 10, Description: "Connection to k01-control-plane"},
				{Name: "eth2", Up: true, Status: "connected", Mode: "access", VLAN: 10, Description: "Connection to k01-worker"},
				{Name: "eth4", Status: "notconnect", Mode: "access", VLAN: 20, Description: "Connection to k01-worker3"},
				{Name: "eth10", Up: true, Status: "connected", Mode: "access", VLAN: 20},
			},
			SVIs: []observed.SVI{
				{Name: "Vlan10", VLAN: 10, Up: true, Address: netip.MustParsePrefix("10.10.10.1/24")},
				{Name: "Vlan20", VLAN: 20, Address: netip.MustParsePrefix("10.10.20.1/24")},
				{Name: "Vlan30", VLAN: 30},
			},
			Routes: []observed.SwitchRoute{
				{Dst: netip.MustParsePrefix("10.10.10.0/24"), Type: "connected", Iface: "Vlan10"},
				{Dst: netip.MustParsePrefix("10.10.20.0/24"), Type: "connected", Iface: "Vlan20"},
				{Dst: netip.MustParsePrefix("10.99.0.0/16"), Type: "static", Iface: "eth3"},
			},
			VLANs: []observed.SwitchVLAN{
				{ID: 10, Name: "Calico-Network", Ports: []string{"eth1", "eth2"}},
				{ID: 20, Name: "Calico-Network-2", Ports: []string{"eth4", "eth10"}},
				{ID: 30, Name: "unused"},
			},
		}},
		{"trunk and routed ports", observed.Switch{
			Ports: []observed.SwitchPort{
				{Name: "eth1", Up: true, Status: "connected", Mode: "trunk"},
				{Name: "eth2", Up: true, Status: "connected", Mode: "routed"},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got observed.Switch
			var err error
			if got.Ports, err = ParseInterfacesStatus(FormatInterfacesStatus(tt.sw.Ports)); err != nil {
				t.Fatal(err)
			}
			if got.SVIs, err = ParseIPInterfaceBrief(FormatIPInterfaceBrief(tt.sw.SVIs)); err != nil {
				t.Fatal(err)
			}
			if got.Routes, err = ParseIPRoute(FormatIPRoute(tt.sw.Routes)); err != nil {
				t.Fatal(err)
			}
			if got.VLANs, err = ParseVLANs(FormatVLANs(tt.sw.VLANs)); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.sw) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tt.sw)
			}
		})
	}
}

// A port's link state is what the checks read; EOS has one word for up.
func TestFormatInterfacesStatusLinkWords(t *testing.T) {
	tests := []struct {
		port     observed.SwitchPort
		wantUp   bool
		wantWord string
	}{
		{observed.SwitchPort{Name: "eth1", Up: true, Status: "up"}, true, "connected"},
		{observed.SwitchPort{Name: "eth1", Status: "down"}, false, "down"},
		{observed.SwitchPort{Name: "eth1", Status: "connected"}, false, "notconnect"},
		{observed.SwitchPort{Name: "eth1"}, false, "notconnect"},
	}
	for _, tt := range tests {
		ports, err := ParseInterfacesStatus(FormatInterfacesStatus([]observed.SwitchPort{tt.port}))
		if err != nil {
			t.Fatal(err)
		}
		if len(ports) != 1 || ports[0].Up != tt.wantUp || ports[0].Status != tt.wantWord {
			t.Errorf("%+v read back as %+v, want up=%v status %q", tt.port, ports, tt.wantUp, tt.wantWord)
		}
	}
}
