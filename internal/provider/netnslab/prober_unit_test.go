package netnslab

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The probe's rules match the burst by source, destination, echo request and identifier; the
// second also by the output device. The counters come back in that order.
func TestProbeRules(t *testing.T) {
	src, dst := netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("192.168.3.1")
	rules := probeRules(src, dst, 0xbeef, "vxlan.calico")
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

	read := []*nftables.Rule{
		{Exprs: []expr.Any{&expr.Counter{Packets: 10, Bytes: 840}}},
		{Exprs: []expr.Any{&expr.Meta{Key: expr.MetaKeyOIFNAME}, &expr.Counter{Packets: 4}}},
	}
	eg, err := egressOf(read)
	if err != nil || eg.Forwarded != 10 || eg.Through != 4 {
		t.Errorf("egressOf = %+v, %v; want 10 forwarded, 4 through", eg, err)
	}
	if _, err := egressOf(read[:1]); err == nil {
		t.Errorf("a table with one counter was read as a probe")
	}
}

func TestProbeTablePID(t *testing.T) {
	for name, want := range map[string]int{
		"knetlab-probe-4242-7": 4242,
		"knetlab-probe-x-7":    0,
		"knetlab-probe-4242":   0,
		"knetlab":              0,
		"filter":               0,
	} {
		pid, ok := probeTablePID(name)
		if ok != (want > 0) || pid != want {
			t.Errorf("probeTablePID(%q) = %d, %v; want %d", name, pid, ok, want)
		}
	}
}
