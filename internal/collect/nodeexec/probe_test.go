package nodeexec

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/source"
)

// stubNode runs PingThrough's script with sh on this host, with `ip` and `nft` replaced by
// stubs that log what they are asked and answer as a kind node would: the script's own logic
// (table added before the ping, counters after it, the table removed on the way out) is
// tested without root. withNFT false leaves nft off the PATH; nftFails makes `nft -f` fail.
func stubNode(t *testing.T, withNFT, nftFails bool) (Execer, func() string) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	stub := func(name, body string) {
		script := "#!/bin/sh\nPATH=/usr/bin:/bin\necho \"" + name + " $*\" >> " + log + "\n" + body
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub("ip", `echo "10 packets transmitted, 9 received, 10% packet loss, time 1803ms"`+"\n")
	if withNFT {
		fail := ""
		if nftFails {
			fail = "echo 'Error: Could not process rule: Operation not permitted' >&2; exit 1"
		}
		stub("nft", `case "$1" in
-f) cat >> `+log+`; `+fail+` ;;
list) cat <<END
table ip $4 {
	chain forward {
		type filter hook forward priority mangle; policy accept;
		ip saddr 192.168.1.1 ip daddr 192.168.3.1 icmp type echo-request counter packets 10 bytes 840 comment "forwarded"
		ip saddr 192.168.1.1 ip daddr 192.168.3.1 icmp type echo-request oifname "vxlan.calico" counter packets 7 bytes 588 comment "through"
	}
}
END
;;
esac
`)
	}
	run := ExecFunc(func(ctx context.Context, _ string, argv []string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = []string{"PATH=" + dir}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, errors.New(stderr.String())
		}
		return out, nil
	})
	return run, func() string {
		b, _ := os.ReadFile(log)
		return string(b)
	}
}

func TestPingThroughScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	src, dst := netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("192.168.3.1")
	ctx := context.Background()

	run, log := stubNode(t, true, false)
	eg, err := New(run).PingThrough(ctx, "k01-worker", "cni-e6rec-5b1f0d2c", src, dst, 10, "vxlan.calico")
	if err != nil || eg != (source.Egress{Answered: 9, Forwarded: 10, Through: 7}) {
		t.Fatalf("PingThrough = %+v, %v; want 9 answered, 10 forwarded, 7 through", eg, err)
	}
	steps := log()
	for _, want := range []string{
		"type filter hook forward priority mangle; policy accept;",
		`ip saddr 192.168.1.1 ip daddr 192.168.3.1 icmp type echo-request counter comment "forwarded"`,
		`ip saddr 192.168.1.1 ip daddr 192.168.3.1 icmp type echo-request oifname "vxlan.calico" counter comment "through"`,
		"ip netns exec cni-e6rec-5b1f0d2c ping -n -q -c 10 -i 0.2 -W 1 192.168.3.1",
		"nft list table ip knetlab-probe-",
		"nft delete table ip knetlab-probe-",
	} {
		if !strings.Contains(steps, want) {
			t.Errorf("the script did not run %q:\n%s", want, steps)
		}
	}
	if strings.Index(steps, "table ip knetlab-probe-") > strings.Index(steps, "ip netns exec") {
		t.Errorf("the ping ran before the counting table was added:\n%s", steps)
	}

	// A table that could not be added is an error, and nothing is pinged or removed.
	run, log = stubNode(t, true, true)
	if _, err := New(run).PingThrough(ctx, "k01-worker", "cni-e6rec-5b1f0d2c", src, dst, 10, "vxlan.calico"); err == nil ||
		!strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("nft -f failing: err = %v", err)
	}
	if steps := log(); strings.Contains(steps, "ping") || strings.Contains(steps, "delete") {
		t.Errorf("after nft -f failed the script went on:\n%s", steps)
	}

	// A node without nft cannot count: absent, not an error that would fail the pair.
	run, log = stubNode(t, false, false)
	if _, err := New(run).PingThrough(ctx, "k01-worker", "cni-e6rec-5b1f0d2c", src, dst, 10, "vxlan.calico"); !errors.Is(err, source.ErrAbsent) {
		t.Errorf("no nft: err = %v, want ErrAbsent", err)
	}
	if steps := log(); steps != "" {
		t.Errorf("without nft the script ran:\n%s", steps)
	}

	// What goes into the script is checked first.
	for _, bad := range []struct{ ns, dev string }{{"x; reboot", "vxlan.calico"}, {"cni-1", "vxlan.calico\"; reboot"}} {
		if _, err := New(ExecFunc(func(context.Context, string, []string) ([]byte, error) {
			t.Fatal("a command ran")
			return nil, nil
		})).PingThrough(ctx, "k01-worker", bad.ns, src, dst, 10, bad.dev); err == nil {
			t.Errorf("namespace %q, device %q accepted", bad.ns, bad.dev)
		}
	}
}
