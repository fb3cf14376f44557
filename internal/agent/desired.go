// Package agent is what runs on every node of a knetlab-CNI lab: it registers the node in
// the datastore (underlay address, block, tunnel address), then keeps the node's dataplane
// equal to what the datastore's pools, nodes and block affinities say, through
// internal/dataplane. It is Calico's calico-node reduced to the VXLAN dataplane.
//
// Run is the agent's whole startup (datastore, CNI plugin installation, the loop), what
// `knetlab agent` calls; Options.Args writes that command line for the labs that start it.
package agent

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/datastore"
)

// DesiredState translates the datastore's view of the cluster into what node self must
// program. Only confirmed, not deleted affinities own blocks; nodes without an underlay
// address are not peers yet (they have not registered).
func DesiredState(self string, pools []*datastore.IPPool, nodes []*datastore.Node, affinities []*datastore.BlockAffinity) (dataplane.DesiredState, error) {
	var d dataplane.DesiredState
	found := false
	for _, n := range nodes {
		host, err := hostOf(n)
		if err != nil {
			return d, err
		}
		if n.Metadata.Name == self {
			d.Self, d.Parent, found = host, n.Spec.VXLANParentInterface, true
			continue
		}
		if host.Underlay.IsValid() {
			d.Peers = append(d.Peers, host)
		}
	}
	if !found {
		return d, fmt.Errorf("node %s is not registered in the datastore; the agent registers it at start", self)
	}
	for _, a := range affinities {
		if a.Spec.State == datastore.AffinityConfirmed && !a.Spec.Deleted {
			d.Blocks = append(d.Blocks, dataplane.Block{CIDR: a.Spec.CIDR, Node: a.Spec.Node})
		}
	}
	for _, p := range pools {
		d.Pools = append(d.Pools, dataplane.Pool{
			CIDR:        p.Spec.CIDR,
			VXLANMode:   p.Spec.VXLANMode.OrNever(), // Calico treats an absent mode as Never
			IPIPMode:    p.Spec.IPIPMode.OrNever(),
			NATOutgoing: p.Spec.NATOutgoing,
			Disabled:    p.Spec.Disabled,
		})
	}
	return d, nil
}

func hostOf(n *datastore.Node) (dataplane.Host, error) {
	h := dataplane.Host{Name: n.Metadata.Name, Underlay: n.Spec.BGP.IPv4Address, TunnelIP: n.Spec.IPv4VXLANTunnelAddr}
	if n.Spec.VXLANTunnelMACAddr != "" {
		mac, err := net.ParseMAC(n.Spec.VXLANTunnelMACAddr)
		if err != nil || len(mac) != 6 {
			return h, fmt.Errorf("node %s: vxlanTunnelMACAddr %q is not a MAC address; fix or remove it", n.Metadata.Name, n.Spec.VXLANTunnelMACAddr)
		}
		h.VTEPMAC = mac
	}
	return h, nil
}

// LocalWorkloads lists the pods the datastore records on node self: every allocation whose
// attributes name a namespace, a pod and self as the node, as the CNI plugin writes them. The
// host veth is the one the plugin derives from the pod's name. Allocations of other nodes,
// without pod attributes (tunnel addresses) or in deleted blocks are not workloads.
func LocalWorkloads(self string, blocks []*datastore.IPAMBlock) []dataplane.Workload {
	var out []dataplane.Workload
	for _, b := range blocks {
		if b.Spec.Deleted || !b.Spec.CIDR.Addr().Is4() {
			continue
		}
		for ord, attr := range b.Spec.Allocations {
			if attr == nil || *attr < 0 || *attr >= len(b.Spec.Attributes) {
				continue
			}
			a := b.Spec.Attributes[*attr].Secondary
			ns, pod := a[datastore.AttrNamespace], a[datastore.AttrPod]
			if a[datastore.AttrNode] != self || ns == "" || pod == "" {
				continue
			}
			ip := addOrdinal(b.Spec.CIDR.Masked().Addr(), ord)
			if !b.Spec.CIDR.Contains(ip) {
				continue
			}
			out = append(out, dataplane.Workload{
				Pod: ns + "/" + pod, IP: ip,
				HostVeth: cni.HostVethName(cni.PodID{Namespace: ns, Name: pod}),
			})
		}
	}
	slices.SortFunc(out, func(x, y dataplane.Workload) int { return x.IP.Compare(y.IP) })
	return out
}

// addOrdinal is the address ord places after ip (an IPv4 block's base).
func addOrdinal(ip netip.Addr, ord int) netip.Addr {
	b := ip.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(ord)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
