package eosview

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/observed"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// course is the course's switch as the model holds it: four access ports, two VLANs with
// their SVIs, the connected routes (no management interface: the netns switch has none).
func course() *observed.Switch {
	port := func(n, vlan int, node string) observed.SwitchPort {
		return observed.SwitchPort{Name: "eth" + string(rune('0'+n)), Up: true, Status: "connected", Mode: "access", VLAN: vlan, Description: "Connection to " + node}
	}
	return &observed.Switch{
		Name:  "ceos01",
		Ports: []observed.SwitchPort{port(1, 10, "k01-control-plane"), port(2, 10, "k01-worker"), port(3, 10, "k01-worker2"), port(4, 20, "k01-worker3")},
		SVIs: []observed.SVI{
			{Name: "Vlan10", VLAN: 10, Up: true, Address: netip.MustParsePrefix("10.10.10.1/24"), MTU: 1500},
			{Name: "Vlan20", VLAN: 20, Up: true, Address: netip.MustParsePrefix("10.10.20.1/24"), MTU: 1500},
		},
		Routes: []observed.SwitchRoute{
			{Dst: netip.MustParsePrefix("10.10.20.0/24"), Type: "connected", Iface: "Vlan20"},
			{Dst: netip.MustParsePrefix("10.10.10.0/24"), Type: "connected", Iface: "Vlan10"},
		},
		VLANs: []observed.SwitchVLAN{
			{ID: 10, Name: "Calico-Network", Ports: []string{"eth3", "eth1", "eth2"}},
			{ID: 20, Name: "Calico-Network-2", Ports: []string{"eth4"}},
		},
	}
}

// published reads a quoted cEOS output, comments left out.
func published(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "published-"+name))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func show(t *testing.T, cmd string) []string {
	t.Helper()
	out, err := Show(course(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// The layouts are the course's cEOS 4.34 outputs: every line the model can say is the
// published line, column for column. What only cEOS has (Management0, a port's Duplex, Speed and
// Type) is left out of the comparison, and said so.
func TestLayoutsMatchPublishedCEOS(t *testing.T) {
	t.Run("interfaces status", func(t *testing.T) {
		got, want := show(t, ShowInterfacesStatus), published(t, "interfaces-status.txt")
		if got[0] != want[0] {
			t.Errorf("header\n got %q\nwant %q", got[0], want[0])
		}
		for i := 1; i < len(want); i++ {
			// Port, Name, Status and Vlan: the first 65 columns.
			if i >= len(got) || got[i] != strings.TrimRight(want[i][:65], " ") {
				t.Errorf("row %d\n got %q\nwant %q (its first 65 columns)", i, at(got, i), want[i])
			}
		}
	})
	t.Run("ip interface brief", func(t *testing.T) {
		got, want := show(t, ShowIPInterfaceBrief), published(t, "ip-interface-brief.txt")
		var rows []string
		for _, l := range want {
			if !strings.HasPrefix(l, "Management0") {
				rows = append(rows, l)
			}
		}
		if strings.TrimSpace(got[0]) != "Address" || strings.Index(got[0], "Address") != strings.Index(rows[0], "Owner") {
			t.Errorf("first header line %q: want Address above Owner", got[0])
		}
		if strings.Join(got[1:], "\n") != strings.Join(rows, "\n") {
			t.Errorf("\n got %q\nwant %q", got[1:], rows)
		}
	})
	t.Run("ip route", func(t *testing.T) {
		got, want := show(t, ShowIPRoute), published(t, "ip-route.txt")
		want = want[:len(want)-2] // the Management0 route
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("\n got %q\nwant %q", got, want)
		}
	})
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(none)"
}

// Every command against its golden (go test -update rewrites them).
func TestGoldens(t *testing.T) {
	for _, cmd := range Commands {
		t.Run(cmd, func(t *testing.T) {
			got, err := Show(course(), cmd)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", strings.ReplaceAll(cmd, " ", "-")+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s:\n%s\nwant\n%s", cmd, got, want)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"show vlan", ShowVLAN},
		{"sh ip int br", ShowIPInterfaceBrief},
		{"show interface status", ShowInterfacesStatus},
		{"SHOW IP ROUTE", ShowIPRoute},
		{"show ip", ""},
		{"show running-config", ""},
		{"show vlan extra", ""},
	} {
		got, ok := ParseCommand(strings.Fields(tt.in))
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("ParseCommand(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	if _, err := Show(course(), "show version"); err == nil {
		t.Error("show version accepted")
	}
}
