package eosjson

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/observed"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ceos01", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseInterfacesStatus(t *testing.T) {
	ports, err := ParseInterfacesStatus(fixture(t, "show-interfaces-status.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []observed.SwitchPort{
		{Name: "eth1", Up: true, Status: "connected", Mode: "access", VLAN: 10, Description: "Connection to k01-control-plane"},
		{Name: "eth2", Up: true, Status: "connected", Mode: "access", VLAN: 10, Description: "Connection to k01-worker"},
		{Name: "eth3", Up: true, Status: "connected", Mode: "access", VLAN: 10, Description: "Connection to k01-worker2"},
		{Name: "eth4", Up: false, Status: "notconnect", Mode: "access", VLAN: 20, Description: "Connection to k01-worker3"},
	}
	if !reflect.DeepEqual(ports, want) {
		t.Errorf("ports:\n got %+v\nwant %+v", ports, want)
	}
}

func TestParseIPInterfaceBrief(t *testing.T) {
	svis, err := ParseIPInterfaceBrief(fixture(t, "show-ip-interface-brief.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []observed.SVI{
		{Name: "Vlan10", VLAN: 10, Up: true, Address: netip.MustParsePrefix("10.10.10.1/24"), MTU: 1500},
		{Name: "Vlan20", VLAN: 20, Up: false, Address: netip.MustParsePrefix("10.10.20.1/24"), MTU: 1500},
		{Name: "Vlan30", VLAN: 30, Up: false, MTU: 1500}, // no address: left invalid, never 0.0.0.0/0
	}
	if !reflect.DeepEqual(svis, want) {
		t.Errorf("SVIs:\n got %+v\nwant %+v", svis, want)
	}
}

func TestParseIPRoute(t *testing.T) {
	routes, err := ParseIPRoute(fixture(t, "show-ip-route.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []observed.SwitchRoute{
		{Dst: netip.MustParsePrefix("10.10.10.0/24"), Type: "connected", Iface: "Vlan10"},
		{Dst: netip.MustParsePrefix("10.10.20.0/24"), Type: "connected", Iface: "Vlan20"},
		{Dst: netip.MustParsePrefix("172.20.20.0/24"), Type: "connected", Iface: "Management0"},
	}
	if !reflect.DeepEqual(routes, want) {
		t.Errorf("routes:\n got %+v\nwant %+v", routes, want)
	}
}

func TestParseVLANs(t *testing.T) {
	vlans, err := ParseVLANs(fixture(t, "show-vlan.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []observed.SwitchVLAN{
		{ID: 1, Name: "default"},
		{ID: 10, Name: "Calico-Network", Ports: []string{"eth1", "eth2", "eth3"}},
		{ID: 20, Name: "Calico-Network-2", Ports: []string{"eth4"}},
	}
	if !reflect.DeepEqual(vlans, want) {
		t.Errorf("VLANs:\n got %+v\nwant %+v", vlans, want)
	}
}

func TestParsersRejectWhatIsNotTheirJSON(t *testing.T) {
	text := []byte("Port       Name                               Status       Vlan     Duplex Speed  Type\nEt1        Connection to k01-control-plane    connected    10       full   1G     EbraTestPhyPort\n")
	parsers := map[string]func([]byte) error{
		"interfaces status":  func(b []byte) error { _, err := ParseInterfacesStatus(b); return err },
		"ip interface brief": func(b []byte) error { _, err := ParseIPInterfaceBrief(b); return err },
		"ip route":           func(b []byte) error { _, err := ParseIPRoute(b); return err },
		"vlan":               func(b []byte) error { _, err := ParseVLANs(b); return err },
	}
	for name, parse := range parsers {
		if err := parse(text); err == nil {
			t.Errorf("%s: text output accepted", name)
		}
		// Valid JSON of another command must not pass as an empty table either.
		if err := parse([]byte(`{"errors": ["Invalid input"]}`)); err == nil {
			t.Errorf("%s: JSON without its section accepted", name)
		}
	}
}

func TestPortName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Ethernet3", "eth3", true},
		{"Ethernet12", "eth12", true},
		{"Ethernet1/1", "", false},
		{"Management0", "", false},
		{"Vlan10", "", false},
		{"Cpu", "", false},
	}
	for _, tt := range tests {
		got, ok := PortName(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PortName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestInterfaceName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"eth3", "Ethernet3"},
		{"eth12", "Ethernet12"},
		{"Vlan10", "Vlan10"},
		{"Management0", "Management0"},
		{"ethX", "ethX"},
	}
	for _, tt := range tests {
		got := InterfaceName(tt.in)
		if got != tt.want {
			t.Errorf("InterfaceName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back, ok := PortName(got); ok && back != tt.in {
			t.Errorf("PortName(InterfaceName(%q)) = %q", tt.in, back)
		}
	}
}

// Parse and Format serve exactly the four commands, each filling its own part of the switch.
func TestParseAndFormatByCommand(t *testing.T) {
	files := map[string]string{
		InterfacesStatusCmd: "show-interfaces-status.json",
		IPInterfaceBriefCmd: "show-ip-interface-brief.json",
		IPRouteCmd:          "show-ip-route.json",
		VLANCmd:             "show-vlan.json",
	}
	if len(Commands) != len(files) {
		t.Fatalf("Commands = %q, want the four of %v", Commands, files)
	}
	var sw observed.Switch
	for _, cmd := range Commands {
		if err := Parse(&sw, cmd, fixture(t, files[cmd])); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	if len(sw.Ports) != 4 || len(sw.SVIs) != 3 || len(sw.Routes) != 3 || len(sw.VLANs) != 3 {
		t.Errorf("switch = %+v", sw)
	}
	var again observed.Switch
	for _, cmd := range Commands {
		if err := Parse(&again, cmd, Format(&sw, cmd)); err != nil {
			t.Fatalf("%s printed and read again: %v", cmd, err)
		}
	}
	if !reflect.DeepEqual(again, sw) {
		t.Errorf("printed and read again:\n got %+v\nwant %+v", again, sw)
	}
	if err := Parse(&sw, "show version | json", []byte("{}")); err == nil || !strings.Contains(err.Error(), "show version") {
		t.Errorf("unknown command: err = %v, want one naming it", err)
	}
	if out := Format(&sw, "show version | json"); out != nil {
		t.Errorf("unknown command printed %q", out)
	}
}
