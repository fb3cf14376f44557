// Package lab is the model of a knetlab lab: what labs/<lab>/lab.yaml says, loaded strictly
// and validated completely. Every other package reads a *Lab; nothing re-derives lab facts.
package lab

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/spec"
)

// Lab is one lab definition.
type Lab struct {
	Name    string  `yaml:"name"`
	Lesson  Lesson  `yaml:"lesson"`
	Switch  *Switch `yaml:"switch,omitempty"`
	Cluster Cluster `yaml:"cluster"`
	Nodes   []Node  `yaml:"nodes"`
	CNI     CNI     `yaml:"cni"`
	// BGP is the lab's BGP configuration; nil when no node speaks BGP.
	BGP    *BGP     `yaml:"bgp,omitempty"`
	Pods   []Pod    `yaml:"pods,omitempty"`
	Checks []string `yaml:"checks"`

	// Source is where the lab was loaded from ("labs/calico-overlay/lab.yaml" or a path on disk).
	Source string `yaml:"-"`
}

// Lesson places the lab in the course.
type Lesson struct {
	Number  int    `yaml:"number"`
	Title   string `yaml:"title"`
	Summary string `yaml:"summary,omitempty"`
}

// Switch is the lab's switch: cEOS in the real lab, a namespace with bridges in the netns lab.
type Switch struct {
	Name  string `yaml:"name"`
	Kind  string `yaml:"kind"`
	Image string `yaml:"image"`
	VLANs []VLAN `yaml:"vlans"`
}

// VLAN is one switch VLAN with its SVI.
type VLAN struct {
	ID      int          `yaml:"id"`
	Name    string       `yaml:"name"`
	Subnet  netip.Prefix `yaml:"subnet"`
	Gateway netip.Addr   `yaml:"gateway"`
}

// SVI is the switch interface name of the VLAN's gateway, as EOS names it.
func (v VLAN) SVI() string { return "Vlan" + itoa(v.ID) }

// GatewayPrefix is the SVI address with the subnet's prefix length, e.g. 10.10.10.1/24.
func (v VLAN) GatewayPrefix() netip.Prefix {
	return netip.PrefixFrom(v.Gateway, v.Subnet.Bits())
}

// Cluster is the kind cluster.
type Cluster struct {
	Name             string       `yaml:"name"`
	NodeImage        string       `yaml:"nodeImage"`
	PodSubnet        netip.Prefix `yaml:"podSubnet"`
	ServiceSubnet    netip.Prefix `yaml:"serviceSubnet"`
	ManagementSubnet netip.Prefix `yaml:"managementSubnet"`
}

// Role is a kind node role.
type Role string

// The kind node roles.
const (
	ControlPlane Role = "control-plane"
	Worker       Role = "worker"
)

// Node is one kind node.
type Node struct {
	Name string `yaml:"name"`
	Role Role   `yaml:"role"`
	// Interface holds the underlay address: eth1 behind the switch, eth0 on a flat docker network.
	Interface string       `yaml:"interface"`
	Address   netip.Prefix `yaml:"address"`
	// Management is the node's eth0 address on kind's docker network when the underlay is eth1.
	Management netip.Prefix `yaml:"management,omitempty"`
	SwitchPort string       `yaml:"switchPort,omitempty"`
	VLAN       int          `yaml:"vlan,omitempty"`
}

// IP is the node's underlay address without the prefix length.
func (n Node) IP() netip.Addr { return n.Address.Addr() }

// ManagementAddress is the node's address on the management network: Management when the
// underlay is behind a switch, else the underlay address itself.
func (n Node) ManagementAddress() netip.Prefix {
	if n.Management.IsValid() {
		return n.Management
	}
	return n.Address
}

// CNI is the lab's CNI configuration, in Calico's terms.
type CNI struct {
	Calico Calico `yaml:"calico"`
	Pools  []Pool `yaml:"pools"`
}

// Calico pins the upstream Calico installation.
type Calico struct {
	Version                    string         `yaml:"version"`
	NodeAddressAutodetectionV4 *Autodetection `yaml:"nodeAddressAutodetectionV4,omitempty"`
}

// Autodetection is Calico's node address autodetection by CIDR.
type Autodetection struct {
	CIDRs []netip.Prefix `yaml:"cidrs"`
}

// Pool is a Calico IPPool.
type Pool struct {
	Name             string           `yaml:"name"`
	CIDR             netip.Prefix     `yaml:"cidr"`
	BlockSize        int              `yaml:"blockSize"`
	VXLANMode        calico.EncapMode `yaml:"vxlanMode"`
	IPIPMode         calico.EncapMode `yaml:"ipipMode"`
	NATOutgoing      bool             `yaml:"natOutgoing"`
	NodeSelector     string           `yaml:"nodeSelector"`
	DisableBGPExport bool             `yaml:"disableBGPExport,omitempty"`
}

// Encapsulation is the operator Installation's name for the pool's mode, e.g. VXLANCrossSubnet.
func (p Pool) Encapsulation() string {
	switch {
	case p.VXLANMode == calico.EncapAlways:
		return "VXLAN"
	case p.VXLANMode == calico.EncapCrossSubnet:
		return "VXLANCrossSubnet"
	case p.IPIPMode == calico.EncapAlways:
		return "IPIP"
	case p.IPIPMode == calico.EncapCrossSubnet:
		return "IPIPCrossSubnet"
	}
	return "None"
}

// Pod is a test pod the lab creates.
type Pod struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Node      string            `yaml:"node"`
	Image     string            `yaml:"image"`
	Labels    map[string]string `yaml:"labels,omitempty"`
	Service   *Service          `yaml:"service,omitempty"`
}

// Service exposes a test pod.
type Service struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	Port int    `yaml:"port"`
}

// Node returns the named node.
func (l *Lab) Node(name string) (Node, bool) {
	for _, n := range l.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// VLAN returns the VLAN with the given ID.
func (l *Lab) VLAN(id int) (VLAN, bool) {
	if l.Switch == nil {
		return VLAN{}, false
	}
	for _, v := range l.Switch.VLANs {
		if v.ID == id {
			return v, true
		}
	}
	return VLAN{}, false
}

// RoutesFor is the static underlay routes a node needs to reach the other VLANs' subnets
// through its own VLAN's gateway (what the containerlab exec commands add).
func (l *Lab) RoutesFor(n Node) []StaticRoute {
	own, ok := l.VLAN(n.VLAN)
	if !ok {
		return nil
	}
	var routes []StaticRoute
	for _, v := range l.Switch.VLANs {
		if v.ID != own.ID {
			routes = append(routes, StaticRoute{Dst: v.Subnet, Via: own.Gateway, Dev: n.Interface})
		}
	}
	return routes
}

// StaticRoute is an underlay route on a node.
type StaticRoute struct {
	Dst netip.Prefix
	Via netip.Addr
	Dev string
}

// HasCheck reports whether the lab declares the check ID.
func (l *Lab) HasCheck(id string) bool {
	for _, c := range l.Checks {
		if c == id {
			return true
		}
	}
	return false
}

// EOSPort is the cEOS interface name of a containerlab port: eth3 → Ethernet3.
func EOSPort(port string) string {
	return "Ethernet" + strings.TrimPrefix(port, "eth")
}

func itoa(i int) string { return strconv.Itoa(i) }

// VerifySpec is what verify compares the cluster against: the lab's nodes, its switch (each
// node's port, the VLANs with their SVIs) and its pools. Nil for no lab (verify of a capture
// without one).
func (l *Lab) VerifySpec() *spec.Lab {
	if l == nil {
		return nil
	}
	s := &spec.Lab{Name: l.Name}
	for _, n := range l.Nodes {
		s.Nodes = append(s.Nodes, n.Name)
	}
	if l.Switch != nil {
		s.Switch = &spec.Switch{Name: l.Switch.Name}
		for _, n := range l.Nodes {
			if n.SwitchPort != "" {
				s.Switch.Ports = append(s.Switch.Ports, spec.Port{Name: n.SwitchPort, Node: n.Name, VLAN: n.VLAN})
			}
		}
		for _, v := range l.Switch.VLANs {
			s.Switch.VLANs = append(s.Switch.VLANs, spec.VLAN{ID: v.ID, Name: v.Name, Subnet: v.Subnet, SVI: v.SVI(), Gateway: v.GatewayPrefix()})
		}
	}
	for _, p := range l.CNI.Pools {
		s.Pools = append(s.Pools, spec.Pool{Name: p.Name, CIDR: p.CIDR, BlockSize: p.BlockSize,
			VXLANMode: p.VXLANMode, IPIPMode: p.IPIPMode, NATOutgoing: p.NATOutgoing})
	}
	s.BGP = l.verifyBGP()
	return s
}
