package parse

import "testing"

// NFTCounters reads the commented counters of `nft list table` (nftables 1.0.6 output).
func TestNFTCounters(t *testing.T) {
	listed := "table ip knetlab-probe-4242-1 {\n" +
		"\tchain forward {\n" +
		"\t\ttype filter hook forward priority mangle; policy accept;\n" +
		"\t\tip saddr 192.168.1.1 ip daddr 192.168.3.1 icmp type echo-request counter packets 10 bytes 840 comment \"forwarded\"\n" +
		"\t\tip saddr 192.168.1.1 ip daddr 192.168.3.1 icmp type echo-request oifname \"vxlan.calico\" counter packets 0 bytes 0 comment \"through\"\n" +
		"\t}\n}\n"
	got, err := NFTCounters([]byte(listed))
	if err != nil || len(got) != 2 || got["forwarded"] != 10 || got["through"] != 0 {
		t.Errorf("NFTCounters = %v, %v; want forwarded 10, through 0", got, err)
	}
	for _, bad := range []string{"", "Error: No such file or directory\nlist table ip knetlab-probe-1-1\n", "counter packets 3 bytes 252\n"} {
		if _, err := NFTCounters([]byte(bad)); err == nil {
			t.Errorf("NFTCounters(%q) accepted", bad)
		}
	}
}
