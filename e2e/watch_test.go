package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// watch shows encapsulation live (issue 16): a ping burst from net-w1 to net-w3, in the other
// subnet, raises vxlan.calico's TX on k01-worker by at least the burst; a burst to net-w2, in
// the same subnet, goes out eth1 and not through vxlan.calico.
func TestWatchCountsTheTunnel(t *testing.T) {
	file, name := deployCNILab(t)
	ips := podIPs(t, name)
	burst := func(to string) (vxlanTX, eth1TX uint64) {
		t.Helper()
		type result struct {
			code        int
			out, stderr string
		}
		done := make(chan result, 1)
		go func() {
			code, out, stderr := run(t, "watch", "--lab-file", file, name, "k01-worker", "--count", "1", "--interval", "3s")
			done <- result{code, out, stderr}
		}()
		time.Sleep(700 * time.Millisecond) // the first read (the totals) is done
		if code, out, stderr := run(t, "exec", name, "default/net-w1", "--", "ping", "-c", "10", "-i", "0.1", "-W", "1", ips[to]); code != exitcode.OK {
			t.Fatalf("ping %s: exit %d\n%s%s", to, code, out, stderr)
		}
		r := <-done
		if r.code != exitcode.OK {
			t.Fatalf("watch: exit %d\n%s%s", r.code, r.out, r.stderr)
		}
		// TIME DEVICE RX-PKTS TX-PKTS RX-BYTES TX-BYTES; the change lines have "+N".
		tx := map[string]uint64{}
		for _, l := range strings.Split(r.out, "\n") {
			f := strings.Fields(l)
			if len(f) == 6 && strings.HasPrefix(f[3], "+") {
				n, err := strconv.ParseUint(strings.TrimPrefix(f[3], "+"), 10, 64)
				if err != nil {
					t.Fatalf("watch line %q: %v", l, err)
				}
				tx[f[1]] = n
			}
		}
		v, ok1 := tx["vxlan.calico"]
		e, ok2 := tx["eth1"]
		if !ok1 || !ok2 {
			t.Fatalf("watch printed no change line for vxlan.calico and eth1:\n%s", r.out)
		}
		return v, e
	}
	if v, e := burst("default/net-w3"); v < 10 || e < 10 {
		t.Errorf("10 pings to net-w3 (other subnet): vxlan.calico TX +%d, eth1 TX +%d; want both ≥ 10", v, e)
	}
	if v, e := burst("default/net-w2"); v >= 10 || e < 10 {
		t.Errorf("10 pings to net-w2 (same subnet): vxlan.calico TX +%d, eth1 TX +%d; want vxlan.calico < 10, eth1 ≥ 10", v, e)
	}
}

// podIPs are the lab's pods' addresses by namespace/name, from knetlab pod list.
func podIPs(t *testing.T, name string) map[string]string {
	t.Helper()
	code, out, stderr := run(t, "pod", "list", name)
	if code != exitcode.OK {
		t.Fatalf("pod list: exit %d\n%s", code, stderr)
	}
	ips := map[string]string{}
	for _, l := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(l); len(f) >= 3 {
			ips[f[0]] = f[2]
		}
	}
	return ips
}
