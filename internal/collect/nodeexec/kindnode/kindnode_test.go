package kindnode

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/collect/nodeexec"
)

func TestMissing(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{nodeexec.RouteCmd, ""},
		{nodeexec.FDBCmd, ""},
		{nodeexec.SysctlCmd, ""},
		{nodeexec.NetnsListCmd, ""},
		{[]string{"ping", "-c", "1", "10.0.0.1"}, "ping"},
		{[]string{"/usr/bin/tcpdump", "-i", "eth0"}, "/usr/bin/tcpdump"},
		{[]string{"ip", "netns", "exec", "cni-1", "ping", "-c", "1", "10.0.0.1"}, "ping"},
		{[]string{"nsenter", "-t", "1", "-n", "--", "ping", "x"}, "ping"},
		{[]string{"sh", "-c", "ip netns exec cni-1 ping -n -q -c 3 10.0.0.1 2>&1; true"}, "ping"},
		{[]string{"sh", "-c", "echo $(hostname) && ss -tn | grep x"}, ""},
		{[]string{"sh", "-c", "echo a; nc -z x 1"}, "nc"},
		{[]string{"sh", "-c", "set -e\ncommand -v nft >/dev/null || { echo no; exit 0; }\nnft -f - <<EOF\ntable ip t {\n\tping x\n}\nEOF\ntrap 'nft delete table ip t' EXIT\nnft list table ip t\n"}, ""},
		{[]string{"sh", "-c", "set -e\nnft -f - <<EOF\nx\nEOF\ntcpdump -c 1\n"}, "tcpdump"},
		{[]string{"sh", "-c", "X=1 dig example.org"}, "dig"},
		{[]string{"crictl", "exec", "abc", "ping", "x"}, ""}, // runs in a container, not the node
		// The probe's ping runs in the lab's test pods: on the node it is not found.
		{nodeexec.PingCmd(netip.MustParseAddr("192.168.1.2"), 3), "ping"},
	} {
		if got := Missing(tt.argv); got != tt.want {
			t.Errorf("Missing(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}

func TestNodeAnswersAsBash(t *testing.T) {
	reached := 0
	n := Node{Next: nodeexec.ExecFunc(func(context.Context, string, []string) ([]byte, error) {
		reached++
		return []byte("ok"), nil
	})}
	_, err := n.Exec(context.Background(), "k01-worker", []string{"ping", "-c", "1", "192.168.1.1"})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 127 || !strings.Contains(err.Error(), "ping: command not found") {
		t.Errorf("ping: err = %v, want exit 127, command not found", err)
	}
	if reached != 0 {
		t.Errorf("a missing command reached the recordings")
	}
	if out, err := n.Exec(context.Background(), "k01-worker", nodeexec.RouteCmd); err != nil || string(out) != "ok" || reached != 1 {
		t.Errorf("ip route: %q, %v", out, err)
	}
}
