package parse

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestNATOutgoingCaptures(t *testing.T) {
	tests := []struct {
		file string
		want []netip.Prefix
	}{
		// What knetlab's agent programs, as `nft list table ip knetlab` prints it.
		{"knetlab-nft.txt", prefixes("192.168.0.0/16")},
		// Calico's nftables dataplane next to docker's own masquerade of its bridge network.
		{"calico-nft-ruleset.txt", prefixes("172.17.0.0/16", "192.168.0.0/16")},
		// Calico's iptables dataplane: the rule names ipsets, ipset save holds their members;
		// cali40all-ipam-pools (the excluded destinations) and cali40all-hosts-net are not sources.
		{"calico-iptables-ipset-save.txt", prefixes("172.18.0.0/16", "192.168.0.0/16")},
		// A grep-filtered terminal paste with the prompts, and ipset list instead of save.
		{"calico-iptables-ipset-list.txt", prefixes("10.48.0.0/20", "172.18.0.0/16", "192.168.0.0/16")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "nat", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := NATOutgoing(data)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("NATOutgoing = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNATOutgoingLines(t *testing.T) {
	tests := []struct {
		name, text string
		want       []netip.Prefix
	}{
		{"empty", "", nil},
		{"no table comment", "# nft list table ip knetlab: no such table (no natOutgoing pool)\n", nil},
		{"nft literal prefix, CRLF", "ip saddr 10.244.0.0/24 ip daddr != 10.244.0.0/24 masquerade\r\n", prefixes("10.244.0.0/24")},
		{"nft anonymous set without spaces", "ip saddr {192.168.0.0/16,10.1.2.3} masquerade\n", prefixes("10.1.2.3/32", "192.168.0.0/16")},
		{"nft negated source is no pool", "ip saddr != @masq-ipam-pools masquerade\nset masq-ipam-pools {\nelements = { 192.168.0.0/16 }\n}\n", nil},
		{"nft set after the rule", "ip saddr @p masquerade\nset p {\n\ttype ipv4_addr\n\telements = { 192.168.0.0/16,\n\t\t10.1.0.0/16 }\n}\n", prefixes("10.1.0.0/16", "192.168.0.0/16")},
		{"nft set cut by grep before its brace", "set m {\n\telements = { 192.168.0.0/16,\n\t\t10.1.0.0/16,\n\t\tip saddr @m ip daddr != @a masquerade\n", prefixes("10.1.0.0/16", "192.168.0.0/16")},
		{"nft rule without its set", "ip saddr @cali40masq-ipam-pools ip daddr != @cali40all-ipam-pools masquerade fully-random\n", nil},
		{"nft rule without source", "oifname \"eth0\" masquerade\n", nil},
		{"nft set never masqueraded", "set cali40masq-ipam-pools {\nelements = { 192.168.0.0/16 }\n}\n", nil},
		{"nft ipv6 source ignored", "ip6 saddr fd00::/64 masquerade\n", nil},
		{"nft snat is not masquerade", "ip saddr 192.168.0.0/16 snat to 10.10.10.11\n", nil},
		{"iptables negated source", "-A POSTROUTING ! -s 192.168.0.0/16 -j MASQUERADE\n", nil},
		{"iptables negated set source", "-A cali-nat-outgoing -m set ! --match-set cali40masq-ipam-pools src -j MASQUERADE\nadd cali40masq-ipam-pools 192.168.0.0/16\n", nil},
		{"iptables set is a destination", "-A x -m set --match-set cali40all-ipam-pools dst -j MASQUERADE\nadd cali40all-ipam-pools 192.168.0.0/16\n", nil},
		{"iptables accept is not masquerade", "-A x -m set --match-set m src -j RETURN\nadd m 192.168.0.0/16\n", nil},
		{"iptables duplicates once", "-A a -s 192.168.0.0/16 -j MASQUERADE\n-A b -m set --match-set m src -j MASQUERADE\nadd m 192.168.0.0/16\n", prefixes("192.168.0.0/16")},
		{"ipset list members end at a non-address", "-A c -m set --match-set m src -j MASQUERADE\nName: m\nMembers:\n192.168.0.0/16\nName: other\nMembers:\n10.0.0.0/8\n", prefixes("192.168.0.0/16")},
		{"unmasked member", "-A c -s 192.168.1.7/16 -j MASQUERADE\n", prefixes("192.168.0.0/16")},
		{"garbage", "{{{ }}} masquerade ip saddr\n-A\n-A -j MASQUERADE -s\nName:\nMembers:\nelements = {\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NATOutgoing([]byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("NATOutgoing = %v, want %v", got, tt.want)
			}
		})
	}
}

// FormatNAT prints what the agent programs; reading it back gives the masqueraded pools.
func TestFormatNATRoundTrip(t *testing.T) {
	tests := []struct {
		name           string
		masq, allPools []netip.Prefix
	}{
		{"one pool", prefixes("192.168.0.0/16"), prefixes("192.168.0.0/16")},
		{"one of two pools", prefixes("192.168.0.0/16"), prefixes("10.244.0.0/24", "192.168.0.0/16")},
		{"unsorted", prefixes("192.168.0.0/16", "10.244.0.0/24"), prefixes("192.168.0.0/16", "10.244.0.0/24")},
		{"none", nil, prefixes("192.168.0.0/16")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NATOutgoing(FormatNAT(tt.masq, tt.allPools))
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tt.masq)
			slices.SortFunc(want, comparePrefixes)
			if !slices.Equal(got, want) {
				t.Errorf("read back %v, want %v\n%s", got, want, FormatNAT(tt.masq, tt.allPools))
			}
		})
	}
}

func FuzzNATOutgoing(f *testing.F) {
	addSeeds(f, []string{"nat/knetlab-nft.txt", "nat/calico-nft-ruleset.txt", "nat/calico-iptables-ipset-save.txt", "nat/calico-iptables-ipset-list.txt"},
		"ip saddr { 1.2.3.0/24, @x } masquerade\n",
		"elements = { 1.2.3.4 }\n}\nset\nset x {\nelements = {\n",
		"Members:\n1.2.3.4\n-A x -m set ! --match-set\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := NATOutgoing(data)
		if err != nil {
			t.Fatalf("NATOutgoing returned an error on text: %v", err)
		}
		// What was read prints as the agent's table and reads back the same.
		again, err := NATOutgoing(FormatNAT(got, got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("round trip: %v (%v), first read %v", again, err, got)
		}
	})
}
