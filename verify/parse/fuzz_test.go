package parse

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The text parsers read what people paste, so they must never panic, and what they read must be
// stable: printing it and reading it again gives the same state.

func addSeeds(f *testing.F, files []string, extra ...string) {
	for _, file := range files {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

func FuzzRoutes(f *testing.F) {
	addSeeds(f, []string{"k01-worker/ip-route.txt", "k01-worker/ip-route.json", "gate/ip-route-multipath.txt",
		"gate/ip-o-route-multipath.txt", "gate/ip-j-route-multipath.json", "gate/ip-route-table-all.txt", "gate/route-n.txt",
		"gate/netstat-rn.txt", "gate/ip-neigh.txt"},
		"10.148.158.64/26 proto bird \\\tnexthop via 10.18.132.12 dev eth0 weight 1 \\\tnexthop via 10.18.132.13 dev eth0 weight 1\n",
		"192.168.104.0/26 proto 80 \n\tnexthop via 10.10.10.12 dev eth1 weight 3 onlink \n\tnexthop dev eth1 weight 0 dead\n\tnexthop\nnexthop via\n",
		"fe80::/64 proto static\n\tnexthop via fe80::1 dev eth0\n10.0.0.0/8 nexthop via 10.0.0.1 nexthop nexthop dev \\\n",
		"\x7fELF\x02\x01\x01\x00\n",
		"1.2.3.4 linkdown\n1.2.3.4\nblackhole\ndefault via fe80::1 dev eth0 pref medium\n",
		"192.168.10.0/26 via 10.10.10.12 dev eth1 proto 80 metric 20 onlink mtu lock 1450\r\n",
		"local 10.10.10.11 dev eth1 table local proto kernel scope host src 10.10.10.11\n",
		"192.168.1.0/26 via inet 10.0.0.1 dev eth1\nfe80::/64 dev eth1 proto kernel metric 256 pref medium\n",
		"unreachable\nblackhole\nvia\n1.2.3.4 mtu lock\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		routes, err := Routes(data)
		if err != nil || isJSON(data) {
			return
		}
		again, err := Routes(FormatRoutes(routes))
		if err != nil {
			t.Fatalf("re-reading printed routes: %v", err)
		}
		if d := cmp.Diff(routes, again, netipEqual); d != "" {
			t.Fatalf("print/parse changed the routes (-first +second):\n%s", d)
		}
	})
}

func FuzzNeighs(f *testing.F) {
	addSeeds(f, []string{"k01-worker/ip-neigh.txt", "k01-worker/ip-neigh.json", "gate/ip-neigh.txt", "gate/arp-n.txt", "gate/ip-br-neigh.txt"},
		"$ ip neigh\n10.10.10.5 lladdr 00:1c:73:aa:bb:05 PERMANENT\n? (10.18.132.12) at 02:42:0a:12:84:0c [ether] PERM on eth0\n",
		"10.10.10.99 dev eth1 INCOMPLETE\nfe80::1 dev eth1 lladdr 00:1c:73:aa:bb:01 router REACHABLE\n",
		"192.168.209.64 dev vxlan.calico lladdr 66:D2:0C:F0:EF:E5 PERMANENT \r\n10.0.0.1 dev\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		neighs, err := Neighs(data)
		if err != nil || isJSON(data) {
			return
		}
		again, err := Neighs(FormatNeighs(neighs))
		if err != nil {
			t.Fatalf("re-reading printed neighbours: %v", err)
		}
		if d := cmp.Diff(neighs, again, netipEqual); d != "" {
			t.Fatalf("print/parse changed the neighbours (-first +second):\n%s", d)
		}
	})
}

func FuzzFDB(f *testing.F) {
	addSeeds(f, []string{"k01-worker/bridge-fdb.txt", "k01-worker/bridge-fdb.json", "gate/bridge-fdb.txt", "gate/brctl-showmacs.txt"},
		"66:d2:0c:f0:ef:e5 dst 10.10.20.20 self permanent\n--\n",
		"aa:c1:ab:12:34:56 dev eth1 vlan 10 master br0 permanent\r\n",
		"00:00:00:00:00:00 dev vxlan6 dst 2001:db8::1 self permanent\n66:d2:0c:f0:ef:e5 dev\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := FDB(data)
		if err != nil || isJSON(data) {
			return
		}
		again, err := FDB(FormatFDB(entries))
		if err != nil {
			t.Fatalf("re-reading printed FDB: %v", err)
		}
		if d := cmp.Diff(entries, again, netipEqual); d != "" {
			t.Fatalf("print/parse changed the FDB (-first +second):\n%s", d)
		}
	})
}

func FuzzLinks(f *testing.F) {
	addSeeds(f, []string{"k01-worker/ip-d-link.txt", "k01-worker/ip-d-link.json", "k01-worker/ip-link-vxlan.txt",
		"gate/ip-s-d-link.txt", "gate/ip-br-link.txt", "gate/ip-link.txt", "gate/route-n.txt", "gate/ip-j-route-multipath.json"},
		`6: vxlan.calico: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN\    link/ether 66:fb:ad:98:aa:13 brd ff:ff:ff:ff:ff:ff\    vxlan id 4096 local 10.10.10.11 dev eth1 dstport 4789 nolearning`+"\n",
		"3: eth1@if7: <UP> mtu 1500 state UP\n    RX:  bytes packets errors\n    8342 77 0\n    TX: bytes packets\n 1 2\n    alias\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		links, err := Links(data)
		if err != nil {
			return
		}
		for _, l := range links {
			if l.Name == "" && !isJSON(data) {
				t.Fatalf("a text link without a name: %+v", l)
			}
		}
	})
}

func FuzzAddrs(f *testing.F) {
	addSeeds(f, []string{"k01-worker/ip-addr.txt", "k01-worker/ip-addr.json", "gate/ip-addr.txt", "gate/ip-br-addr.txt",
		"gate/ip-br-link.txt", "gate/ip-link.txt", "gate/arp-n.txt"},
		"2: eth0    inet 172.18.0.3/16 brd 172.18.255.255 scope global eth0\\       valid_lft forever preferred_lft forever\n",
		"6: vxlan.calico: <UP> mtu 1450\n    inet 192.168.93.64/32 scope global vxlan.calico\n    inet 192.168.93.64\n    inet6 ::1/128\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		links, err := Addrs(data)
		if err != nil || isJSON(data) {
			return
		}
		again, err := Addrs(FormatAddrs(links))
		if err != nil {
			t.Fatalf("re-reading printed addresses: %v", err)
		}
		if len(again) != len(links) {
			t.Fatalf("print/parse changed the number of links: %d then %d", len(links), len(again))
		}
		for i := range links {
			if d := cmp.Diff(links[i].Addrs, again[i].Addrs, netipEqual); d != "" {
				t.Fatalf("print/parse changed the addresses of %s:\n%s", links[i].Name, d)
			}
		}
	})
}
