package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/labs"
)

func TestLabList(t *testing.T) {
	code, out, _ := run(t, "lab", "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"calico-overlay", "06 Calico overlay networks", "ceos01 (arista_ceos)", "pod-network", "02 Pod networking",
		"calico-bgp", "07 Calico BGP routing with a route reflector"} {
		if !strings.Contains(out, want) {
			t.Errorf("lab list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour codes on a pipe:\n%q", out)
	}
}

// lab show prints each lab's lesson, addressing, switch, pools and, for a BGP lab, its AS,
// mesh, peers and route reflectors.
func TestLabShow(t *testing.T) {
	for _, tc := range []struct {
		lab           string
		want, notWant []string
	}{
		{"calico-overlay", []string{
			"lesson 06: Calico overlay networks",
			"k01-worker3        worker         eth1   10.10.20.20/24  10.10.20.1  ceos01:eth4 (Ethernet4)  20 Calico-Network-2",
			"10    Calico-Network    10.10.10.0/24  Vlan10 10.10.10.1/24  Ethernet1,Ethernet2,Ethernet3",
			"default-ipv4-ippool  192.168.0.0/16  /26    CrossSubnet",
			"node address autodetection: cidrs 10.10.0.0/16",
		}, []string{"BGP"}},
		{"calico-bgp", []string{
			"lesson 07: Calico BGP routing with a route reflector",
			"default-ipv4-ippool  10.244.128.0/17  /24    Never  Never",
			"BGP: AS 64496, node-to-node mesh off",
			"gobgp-peer  172.18.0.5 (reflector gobgp)  64496  all()",
			"gobgp      172.18.0.5/16  64496  192.0.2.1  192.0.2.1   172.18.0.0/16 (k8s-group, AS 64496)  knetlab-gobgp:v4.8.0",
		}, nil},
		{"pod-network", []string{"lesson 02: Pod networking"}, []string{"BGP"}},
	} {
		code, out, _ := run(t, "lab", "show", tc.lab)
		if code != 0 {
			t.Fatalf("%s: exit %d", tc.lab, code)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("lab show %s lacks %q:\n%s", tc.lab, want, out)
			}
		}
		for _, bad := range tc.notWant {
			if strings.Contains(out, bad) {
				t.Errorf("lab show %s has %q:\n%s", tc.lab, bad, out)
			}
		}
	}
}

func TestLabShowBadLabFileExits2NamingEveryProblem(t *testing.T) {
	data, err := labs.FS.ReadFile("calico-overlay/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "10.10.20.20/24", "10.10.30.20/24", 1)
	text = strings.Replace(text, "address: 10.10.10.12/24", "address: 10.10.10.11/24", 1)
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"lab", "show", "--lab-file", file},
		{"render", "--lab-file", file, "--out", filepath.Join(dir, "out")},
	} {
		code, out, stderr := run(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if out != "" {
			t.Errorf("%v: wrote to stdout: %q", args, out)
		}
		for _, want := range []string{
			file + ":52: nodes[2].address: address 10.10.10.11 is already k01-worker's",
			file + ":59: nodes[3].address: address 10.10.30.20/24 is outside VLAN 20's subnet 10.10.20.0/24",
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, stderr)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("render with a bad lab file created its output directory (err=%v)", err)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"lab", "show", "no-such-lab"},
		{"lab", "list", "extra"},
		{"render", "--no-such-flag"},
	} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "knetlab ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}
