package nodeexec

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/source"
)

// stubNode runs PingThrough's scripts with sh on this host, with `nft` replaced by a stub that
// logs what it is asked and answers as a kind node would: the probe's own logic (table added
// before the ping, counters after it, the table removed on the way out) is tested without
// root. withNFT false leaves nft off the PATH; nftFails makes `nft -f` fail. note adds a line
// to the same log (the burst's).
func stubNode(t *testing.T, withNFT, nftFails bool) (run Execer, log func() string, note func(string)) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "log")
	stub := func(name, body string) {
		script := "#!/bin/sh\nPATH=/usr/bin:/bin\necho \"" + name + " $*\" >> " + logFile + "\n" + body
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if withNFT {
		fail := ""
		if nftFails {
			fail = "echo 'Error: Could not process rule: Operation not permitted' >&2; exit 1"
		}
		stub("nft", `case "$1" in
-f) cat >> `+logFile+`; `+fail+` ;;
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
	run = ExecFunc(func(ctx context.Context, _ string, argv []string) ([]byte, error) {
		// Only the stubs and sh: never this host's own nft.
		name := filepath.Join(dir, argv[0])
		if _, err := os.Stat(name); err != nil {
			if argv[0] != "sh" {
				return nil, fmt.Errorf("%s: command not found", argv[0])
			}
			name = "sh"
		}
		cmd := exec.CommandContext(ctx, name, argv[1:]...)
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
			b, _ := os.ReadFile(logFile)
			return string(b)
		}, func(line string) {
			f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.WriteString(line + "\n")
		}
}

// pinged is a burst: it logs that it ran (so the order of table, ping and counters shows) and
// answers as ping does.
func pinged(note func(string)) Burst {
	return func(context.Context) ([]byte, error) {
		note("ping")
		return []byte("10 packets transmitted, 9 received, 10% packet loss, time 1803ms\n"), nil
	}
}

func TestPingThroughScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	src, dst := netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("192.168.3.1")
	ctx := context.Background()

	run, log, note := stubNode(t, true, false)
	eg, err := New(run).PingThrough(ctx, "k01-worker", src, dst, "vxlan.calico", pinged(note))
	if err != nil || eg != (source.Egress{Answered: 9, Forwarded: 10, Through: 7}) {
		t.Fatalf("PingThrough = %+v, %v; want 9 answered, 10 forwarded, 7 through", eg, err)
	}
	got := log()
	for _, want := range []string{
		"type filter hook forward priority mangle; policy accept;",
		`ip saddr 192.168.1.1 ip daddr 192.168.3.1 icmp type echo-request counter comment "forwarded"`,
		`ip saddr 192.168.1.1 ip daddr 192.168.3.1 icmp type echo-request oifname "vxlan.calico" counter comment "through"`,
		"ping",
		"nft list table ip knetlab-probe-",
		"nft delete table ip knetlab-probe-",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the probe did not run %q:\n%s", want, got)
		}
	}
	if !(strings.Index(got, "table ip knetlab-probe-") < strings.Index(got, "ping\n") &&
		strings.Index(got, "ping\n") < strings.Index(got, "nft list")) {
		t.Errorf("want the table added, then the ping, then the counters read:\n%s", got)
	}
	if strings.Count(got, "nft delete") != 1 {
		t.Errorf("the table was removed %d times:\n%s", strings.Count(got, "nft delete"), got)
	}

	// A burst that fails still removes the table.
	run, log, _ = stubNode(t, true, false)
	if _, err := New(run).PingThrough(ctx, "k01-worker", src, dst, "vxlan.calico", func(context.Context) ([]byte, error) {
		return nil, errors.New("sh in pod default/net-w1 exited 126: permission denied")
	}); err == nil || !strings.Contains(err.Error(), "exited 126") {
		t.Errorf("failing burst: err = %v", err)
	}
	if got := log(); !strings.Contains(got, "nft delete table ip knetlab-probe-") || strings.Contains(got, "nft list") {
		t.Errorf("after a failed burst the table was not removed (or counted):\n%s", got)
	}

	// A table that could not be added is an error, and nothing is pinged or removed.
	run, log, note = stubNode(t, true, true)
	if _, err := New(run).PingThrough(ctx, "k01-worker", src, dst, "vxlan.calico", pinged(note)); err == nil ||
		!strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("nft -f failing: err = %v", err)
	}
	if got := log(); strings.Contains(got, "ping") || strings.Contains(got, "delete") {
		t.Errorf("after nft -f failed the probe went on:\n%s", got)
	}

	// A node without nft cannot count: absent, not an error that would fail the pair.
	run, log, note = stubNode(t, false, false)
	if _, err := New(run).PingThrough(ctx, "k01-worker", src, dst, "vxlan.calico", pinged(note)); !errors.Is(err, source.ErrAbsent) {
		t.Errorf("no nft: err = %v, want ErrAbsent", err)
	}
	if got := log(); got != "" {
		t.Errorf("without nft the probe ran:\n%s", got)
	}

	// What goes into the script is checked first.
	for _, bad := range []string{"vxlan.calico\"; reboot", "x y"} {
		if _, err := New(ExecFunc(func(context.Context, string, []string) ([]byte, error) {
			t.Fatal("a command ran")
			return nil, nil
		})).PingThrough(ctx, "k01-worker", src, dst, bad, pinged(note)); err == nil {
			t.Errorf("device %q accepted", bad)
		}
	}
}
