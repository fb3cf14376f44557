package parse

import (
	"slices"
	"testing"
)

func TestLinkStats(t *testing.T) {
	st, err := LinkStats(fixture(t, "pod/ip-stats-cali.json"))
	if err != nil || st.RxPackets == 0 || st.TxPackets == 0 {
		t.Errorf("recorded stats = %+v, %v; the ping must have moved packets", st, err)
	}
	st, err = LinkStats([]byte(`[{"ifname":"vxlan.calico","stats64":{"rx":{"packets":17},"tx":{"packets":42}}}]`))
	if err != nil || st.RxPackets != 17 || st.TxPackets != 42 {
		t.Errorf("stats = %+v, %v; want rx 17 tx 42", st, err)
	}
	if _, err := LinkStats([]byte(`[]`)); err == nil {
		t.Errorf("no link accepted")
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
