// Package expecttest builds facts and node states for tests and benchmarks of the verify engine:
// the lesson 06 cluster, synthetic clusters of any size, and the node state a healthy Calico
// dataplane would show for given facts (which tests then break on purpose).
package expecttest

import (
	"fmt"
	"net/netip"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
)

// Lesson06 is the calico-overlay lab as Calico reports it: one VXLAN CrossSubnet pool, three
// nodes in 10.10.10.0/24 and k01-worker3 alone in 10.10.20.0/24, one block and one pod each.
// k01-worker2's tunnel address is not its block's first address, as happens after a block is
// released and reallocated.
func Lesson06() *facts.Facts {
	return &facts.Facts{
		Pools: []facts.Pool{{
			Name: "default-ipv4-ippool", CIDR: netip.MustParsePrefix("192.168.0.0/16"), BlockSize: 26,
			VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever, NATOutgoing: true,
		}},
		Nodes: []facts.Node{
			node("k01-control-plane", "10.10.10.10/24", "192.168.52.192"),
			node("k01-worker", "10.10.10.11/24", "192.168.26.0"),
			node("k01-worker2", "10.10.10.12/24", "192.168.104.7"),
			node("k01-worker3", "10.10.20.20/24", "192.168.209.64"),
		},
		Affinities: []facts.BlockAffinity{
			confirmed("k01-control-plane", "192.168.52.192/26"),
			confirmed("k01-worker", "192.168.26.0/26"),
			confirmed("k01-worker2", "192.168.104.0/26"),
			confirmed("k01-worker3", "192.168.209.64/26"),
		},
		Pods: []facts.Pod{
			pod("net-cp", "k01-control-plane", "192.168.52.193"),
			pod("net-w1", "k01-worker", "192.168.26.1"),
			pod("net-w2", "k01-worker2", "192.168.104.8"),
			pod("net-w3", "k01-worker3", "192.168.209.65"),
		},
	}
}

func node(name, addr, tunnel string) facts.Node {
	return facts.Node{Name: name, Address: netip.MustParsePrefix(addr), VXLANTunnelAddr: netip.MustParseAddr(tunnel)}
}

func confirmed(node, cidr string) facts.BlockAffinity {
	return facts.BlockAffinity{Node: node, CIDR: netip.MustParsePrefix(cidr), State: "confirmed"}
}

func pod(name, node, ip string) facts.Pod {
	return facts.Pod{Namespace: "default", Name: name, Node: node, IP: netip.MustParseAddr(ip)}
}

// Synthetic is a cluster of n nodes, 250 to a /24 underlay subnet (172.20.<s>.0/24), one /26
// block and one pod per node, in one VXLAN CrossSubnet pool 10.128.0.0/9: each node routes
// the blocks of its own subnet directly and every other block through vxlan.calico.
func Synthetic(n int) *facts.Facts {
	f := &facts.Facts{Pools: []facts.Pool{{
		Name: "bench-pool", CIDR: netip.MustParsePrefix("10.128.0.0/9"), BlockSize: 26, VXLANMode: calico.EncapCrossSubnet, IPIPMode: calico.EncapNever,
	}}}
	base := netip.MustParseAddr("10.128.0.0").As4()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("node-%04d", i)
		subnet, host := i/250, i%250+2
		blk := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(i)<<6
		b := netip.AddrFrom4([4]byte{byte(blk >> 24), byte(blk >> 16), byte(blk >> 8), byte(blk)})
		tunnel := b.Next()
		f.Nodes = append(f.Nodes, facts.Node{
			Name:            name,
			Address:         netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 20, byte(subnet), byte(host)}), 24),
			VXLANTunnelAddr: b,
		})
		f.Affinities = append(f.Affinities, facts.BlockAffinity{Node: name, CIDR: netip.PrefixFrom(b, 26), State: "confirmed"})
		f.Pods = append(f.Pods, facts.Pod{Namespace: "bench", Name: "pod-" + name, Node: name, IP: tunnel.Next()})
	}
	return f
}

// Parent is the underlay interface name Healthy gives every node.
const Parent = "eth1"

// Healthy is the node state a correct Calico dataplane shows for the expectation of node
// name: every table collected, every expected entry present in its canonical form, plus
// routes that are not Calico's (default, connected) that the checks must ignore.
func Healthy(c *expect.Cluster, name string) *observed.Node {
	n, ok := c.Node(name)
	if !ok {
		panic("expecttest: no node " + name)
	}
	s := &observed.Node{Name: name}
	for _, t := range []observed.Table{observed.TableRoutes, observed.TableLinks, observed.TableAddrs, observed.TableNeigh,
		observed.TableFDB, observed.TableSysctls, observed.TablePods, observed.TableNAT} {
		s.Mark(t)
	}
	s.Links = append(s.Links,
		observed.Link{Name: "lo", Index: 1, MTU: 65536, Up: true, OperState: "UNKNOWN", Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		observed.Link{Name: Parent, Index: 2, MTU: 1500, MAC: "aa:c1:ab:00:00:01", Up: true, OperState: "UP",
			Addrs: []netip.Prefix{n.Facts.Address}},
	)
	s.Routes = append(s.Routes,
		observed.Route{Type: "unicast", Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.18.0.1"), Dev: "eth0"},
		observed.Route{Type: "unicast", Dst: n.Facts.Address.Masked(), Dev: Parent, Protocol: "kernel", Scope: "link", Src: n.Facts.Address.Addr()},
	)
	if d := n.Device; d != nil {
		l := observed.Link{Name: d.Name, Index: 3, Kind: "vxlan", MTU: d.MTU(1500), MAC: d.MAC, Up: true, OperState: "UNKNOWN",
			VXLAN: &observed.VXLAN{VNI: d.VNI, Port: d.Port, Local: d.Local, Dev: Parent}}
		if d.Addr.IsValid() {
			l.Addrs = []netip.Prefix{d.Addr}
		}
		s.Links = append(s.Links, l)
	}
	routes, _ := n.Routes()
	for _, r := range routes {
		sr := observed.Route{Type: r.Type, Dst: r.Dst, Gateway: r.Gateway, Dev: r.Dev, Onlink: r.Onlink, Protocol: r.Protocols.Canonical()}
		if r.Underlay {
			sr.Dev = Parent
		}
		s.Routes = append(s.Routes, sr)
	}
	for _, nb := range n.Neighs() {
		s.Neighs = append(s.Neighs, observed.Neigh{Dst: nb.Dst, Dev: expect.VXLANDevice, LLAddr: nb.LLAddr, State: []string{"PERMANENT"}})
	}
	for _, e := range n.FDB() {
		s.FDB = append(s.FDB, observed.FDBEntry{MAC: e.MAC, Dev: expect.VXLANDevice, Dst: e.Dst, Self: true, Permanent: true})
	}
	s.Sysctls = map[string]string{}
	gw := netip.MustParseAddr(expect.PodGateway)
	for i, p := range n.PodRoutes {
		s.Routes = append(s.Routes, observed.Route{Type: "unicast", Dst: p.Dst, Dev: p.Dev, Scope: "link"})
		s.Links = append(s.Links, observed.Link{Name: p.Dev, Index: 10 + i, Kind: "veth", MTU: 1450, MAC: expect.PodHostMAC, Up: true, OperState: "UP"})
		s.Sysctls["net.ipv4.conf."+p.Dev+".proxy_arp"] = "1"
		s.Sysctls["net.ipv4.neigh."+p.Dev+".proxy_delay"] = "0"
		s.Sysctls["net.ipv4.conf."+p.Dev+".forwarding"] = "1"
		s.Pods = append(s.Pods, observed.PodWiring{
			Namespace: p.Pod.Namespace, Name: p.Pod.Name, HostIface: p.Dev,
			Eth0: observed.Link{Name: "eth0", MTU: 1450, Up: true, OperState: "UP", Addrs: []netip.Prefix{p.Dst}},
			Routes: []observed.Route{
				{Type: "unicast", Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: gw, Dev: "eth0"},
				{Type: "unicast", Dst: netip.PrefixFrom(gw, 32), Dev: "eth0", Scope: "link"},
			},
		})
	}
	for _, p := range c.Pools {
		if p.NATOutgoing {
			s.NATOutgoing = append(s.NATOutgoing, p.CIDR)
		}
	}
	return s
}
