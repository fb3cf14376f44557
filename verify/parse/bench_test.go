package parse

import (
	"fmt"
	"strings"
	"testing"
)

// routeLines10k is a main table of 10,000 lines in the shapes a large Calico node prints:
// same-subnet blocks, vxlan blocks, local pod /32s and a blackhole.
func routeLines10k() []byte {
	var b strings.Builder
	b.WriteString("default via 172.18.0.1 dev eth0 \n10.10.10.0/24 dev eth1 proto kernel scope link src 10.10.10.11 \n")
	b.WriteString("blackhole 192.168.93.64/26 proto 80 \n")
	for i := 3; i < 10000; i++ {
		third, fourth := (i/4)%256, (i%4)*64
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "10.%d.%d.0/26 via 10.10.10.%d dev eth1 proto 80 onlink \n", i/1024, third, 2+i%250)
		case 1:
			fmt.Fprintf(&b, "10.%d.%d.%d/26 via 10.%d.%d.%d dev vxlan.calico onlink \n", 64+i/1024, third, fourth, 64+i/1024, third, fourth)
		default:
			fmt.Fprintf(&b, "192.168.%d.%d dev cali%011x scope link \n", third, 1+i%250, i)
		}
	}
	return []byte(b.String())
}

func BenchmarkParseRoutesText10k(b *testing.B) {
	data := routeLines10k()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		routes, err := Routes(data)
		if err != nil || len(routes) != 10000 {
			b.Fatalf("parsed %d routes, err %v", len(routes), err)
		}
	}
}
