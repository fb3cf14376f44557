package netnslab

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// A burst's rules match it by source, destination, echo request and identifier; the second
// also by the output device. Its counters are read back by the burst's name, whatever other
// bursts' rules share the chain.
func TestProbeRules(t *testing.T) {
	src, dst := netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("192.168.3.1")
	rules := probeRules(src, dst, 0xbeef, "vxlan.calico", "4242-7")
	if len(rules) != 2 {
		t.Fatalf("%d rules, want 2", len(rules))
	}
	compared := func(r *nftables.Rule) [][]byte {
		var out [][]byte
		for _, e := range r.Exprs {
			if c, ok := e.(*expr.Cmp); ok {
				out = append(out, c.Data)
			}
		}
		return out
	}
	want := [][]byte{{192, 168, 1, 1}, {192, 168, 3, 1}, {1}, {8}, {0xbe, 0xef}}
	dev := append([]byte("vxlan.calico"), 0, 0, 0, 0)
	for i, w := range [][][]byte{want, append(want, dev)} {
		got := compared(rules[i])
		if len(got) != len(w) {
			t.Fatalf("rule %d compares %v, want %v", i, got, w)
		}
		for j := range w {
			if !bytes.Equal(got[j], w[j]) {
				t.Errorf("rule %d comparison %d: % x, want % x", i, j, got[j], w[j])
			}
		}
		if _, ok := rules[i].Exprs[len(rules[i].Exprs)-1].(*expr.Counter); !ok {
			t.Errorf("rule %d does not end in a counter", i)
		}
	}
	if c, _ := userdata.GetString(rules[1].UserData, userdata.TypeComment); c != "knetlab-probe 4242-7 through" {
		t.Errorf("comment %q", c)
	}

	read := func(comment string, packets uint64) *nftables.Rule {
		return &nftables.Rule{Exprs: []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME}, &expr.Counter{Packets: packets, Bytes: 84 * packets}},
			UserData: userdata.AppendString(nil, userdata.TypeComment, comment)}
	}
	chain := []*nftables.Rule{
		read("knetlab-probe 4242-6 forwarded", 99), // another burst
		read("knetlab-probe 4242-7 forwarded", 10),
		read("knetlab-probe 4242-7 through", 4),
		read("knetlab-probe 17-1 through", 99),
		{Exprs: []expr.Any{&expr.Counter{Packets: 99}}}, // somebody's rule without a comment
	}
	eg, err := egressOf(chain, "4242-7")
	if err != nil || eg.Forwarded != 10 || eg.Through != 4 {
		t.Errorf("egressOf = %+v, %v; want 10 forwarded, 4 through", eg, err)
	}
	if _, err := egressOf(chain[:2], "4242-7"); err == nil {
		t.Errorf("a burst with one counter was read")
	}
}

func TestProbeRuleOf(t *testing.T) {
	for comment, want := range map[string]int{
		"knetlab-probe 4242-7 forwarded": 4242,
		"knetlab-probe x-7 forwarded":    0,
		"knetlab-probe 4242-7":           0,
		"knetlab 4242-7 forwarded":       0,
		"":                               0,
	} {
		r := &nftables.Rule{UserData: userdata.AppendString(nil, userdata.TypeComment, comment)}
		burst, pid, count, ok := probeRuleOf(r)
		if ok != (want > 0) || pid != want || (ok && (burst != "4242-7" || count != "forwarded")) {
			t.Errorf("probeRuleOf(%q) = %q, %d, %q, %v; want pid %d", comment, burst, pid, count, ok, want)
		}
	}
}
