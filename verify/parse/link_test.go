package parse

import (
	"slices"
	"testing"

	"github.com/knetlab/knetlab/verify/observed"
)

// The counters of `ip -j -s link` are read into the link (stats64).
func TestLinksReadCounters(t *testing.T) {
	links, err := Links(fixture(t, "pod/ip-stats-cali.json"))
	if err != nil || len(links) != 1 || links[0].Stats == nil || links[0].Stats.RxPackets == 0 || links[0].Stats.TxPackets == 0 {
		t.Errorf("recorded link = %+v, %v; the ping must have moved packets", links, err)
	}
	links, err = Links([]byte(`[{"ifname":"vxlan.calico","stats64":{"rx":{"packets":17},"tx":{"packets":42}}}]`))
	if err != nil || len(links) != 1 || links[0].Stats == nil || *links[0].Stats != (observed.LinkStats{RxPackets: 17, TxPackets: 42}) {
		t.Errorf("links = %+v, %v; want rx 17 tx 42", links, err)
	}
}

func TestNetnsNames(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
		err      bool
	}{
		{"two namespaces", `[{"name":"cni-e6rec-5b1f0d2c","id":0},{"name":"cni-e6rec-hostnet"}]`, []string{"cni-e6rec-5b1f0d2c", "cni-e6rec-hostnet"}, false},
		{"no named namespace prints nothing", " \n", nil, false},
		{"broken JSON", `[{"name":`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NetnsNames([]byte(tt.in))
			if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tt.want, tt.err)
			}
		})
	}
}
