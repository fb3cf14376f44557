package agent

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBIRDConfig: the configuration the agent gives BIRD blackholes every own block, announces
// all but the withheld one, takes only the pools' routes from its peers, and names each peer's
// protocol as calico-node does; BIRD 2 itself accepts it (bird -p), when installed.
func TestBIRDConfig(t *testing.T) {
	c := birdConfig{
		Node: "k8s-guide-worker", RouterID: netip.MustParseAddr("172.18.0.3"), ASNumber: 64496,
		Peers:    []BGPPeer{{Address: netip.MustParseAddr("172.18.0.5"), ASNumber: 64496}, {Address: netip.MustParseAddr("172.18.0.6"), ASNumber: 64497}},
		Blocks:   []netip.Prefix{netip.MustParsePrefix("10.244.129.0/24"), netip.MustParsePrefix("10.244.130.0/24")},
		NoExport: []netip.Prefix{netip.MustParsePrefix("10.244.130.0/24")},
		Pools:    []netip.Prefix{netip.MustParsePrefix("10.244.128.0/17")},
	}
	conf := string(c.render())
	for _, want := range []string{
		"router id 172.18.0.3;",
		"if net ~ [ 10.244.128.0/17+ ] then accept;",
		"if net = 10.244.130.0/24 then reject;",
		"route 10.244.129.0/24 blackhole;",
		"route 10.244.130.0/24 blackhole;",
		"protocol bgp Node_172_18_0_5 {",
		"neighbor 172.18.0.5 as 64496;",
		"protocol bgp Node_172_18_0_6 {",
		"neighbor 172.18.0.6 as 64497;",
		"local 172.18.0.3 as 64496;",
		"metric 0;",
		"persist;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("bird.conf lacks %q:\n%s", want, conf)
		}
	}
	// No pools yet (BIRD started before the agent read them): nothing is imported.
	empty := string(birdConfig{Node: "n", RouterID: netip.MustParseAddr("172.18.0.3"), ASNumber: 64496}.render())
	if strings.Contains(empty, "net ~ [") {
		t.Errorf("a configuration without pools imports something:\n%s", empty)
	}

	bird := BIRDPath("bird")
	if _, err := os.Stat(bird); err != nil {
		t.Skipf("BIRD 2 is not installed (%s), so its parse of the configuration is not checked: apt-get install bird2", bird)
	}
	for name, text := range map[string]string{"full": conf, "empty": empty} {
		path := filepath.Join(t.TempDir(), "bird.conf")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bird, "-p", "-c", path).CombinedOutput(); err != nil {
			t.Errorf("bird -p refuses the %s configuration: %v\n%s\n%s", name, err, out, text)
		}
	}
}
