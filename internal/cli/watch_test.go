package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
)

// watch prints the totals first, then the change of each read per device, vxlan.calico first.
func TestCounterRows(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 40, 1, 0, time.UTC)
	all := []provider.LinkCounter{
		{Name: "lo", RxPackets: 5},
		{Name: "eth1", RxPackets: 100, TxPackets: 110, RxBytes: 10000, TxBytes: 11000},
		{Name: "vxlan.calico", RxPackets: 7, TxPackets: 9, RxBytes: 700, TxBytes: 900},
	}
	prev := pickDevices(all, []string{"vxlan.calico", "eth1"})
	if len(prev) != 2 || prev[0].Name != "vxlan.calico" || prev[1].Name != "eth1" {
		t.Fatalf("pickDevices: %+v", prev)
	}
	if got := pickDevices(all, nil); len(got) != 2 || got[0].Name == "lo" {
		t.Errorf("every device but lo: %+v", got)
	}
	totals := counterRows(at, nil, prev)
	if !strings.Contains(totals[0], "vxlan.calico") || !strings.HasSuffix(totals[0], "total") || !strings.Contains(totals[0], " 900") {
		t.Errorf("totals: %q", totals)
	}
	cur := []provider.LinkCounter{
		{Name: "vxlan.calico", RxPackets: 17, TxPackets: 19, RxBytes: 1680, TxBytes: 1880},
		{Name: "eth1", RxPackets: 110, TxPackets: 120, RxBytes: 11480, TxBytes: 12480},
	}
	rows := counterRows(at, prev, cur)
	want := []string{
		"12:40:01  vxlan.calico          +10        +10         +980         +980",
		"12:40:01  eth1                  +10        +10        +1480        +1480",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if h := counterHeader(); len(h) > 80 || len(rows[0]) > 80 {
		t.Errorf("wider than 80 columns:\n%s\n%s", h, rows[0])
	}
}

func TestWatchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"watch", "calico-overlay"},
		{"watch", "calico-overlay", "k01-worker", "--count", "-1"},
		{"watch", "calico-overlay", "k01-worker", "--interval", "1ns"},
	} {
		if code, _, stderr := run(t, args...); code != exitcode.Usage {
			t.Errorf("knetlab %s: exit %d, want 2\n%s", strings.Join(args, " "), code, stderr)
		}
	}
}
