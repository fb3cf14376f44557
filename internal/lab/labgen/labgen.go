// Package labgen generates calico-overlay-shaped labs of any size for tests and benchmarks: one
// control plane and n-1 workers behind one switch, spread round-robin over v VLANs. The lab is
// written as lab.yaml text and loaded with lab.Parse, so it passes the same validation as a
// hand-written lab.
package labgen

import (
	"fmt"
	"strings"

	"github.com/knetlab/knetlab/internal/lab"
)

// Generate returns a lab named name (also the kind cluster's name) with nodes nodes over vlans
// VLANs. VLAN i (0-based) has ID 10*(i+1), subnet 10.10.<10*(i+1)>.0/24, gateway .1; nodes get
// .10 upwards in their VLAN and 172.18.<x>.<y> on the management network.
func Generate(name string, nodes, vlans int) (*lab.Lab, error) {
	if nodes < 1 || vlans < 1 || vlans > 25 || nodes > 200*vlans {
		return nil, fmt.Errorf("labgen: %d nodes over %d VLANs is outside what the address plan holds", nodes, vlans)
	}
	return lab.Parse("generated:"+name, YAML(name, nodes, vlans))
}

// YAML is the lab.yaml text Generate parses.
func YAML(name string, nodes, vlans int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nlesson: {number: 6, title: generated lab}\n", name)
	b.WriteString("switch:\n  name: sw01\n  kind: arista_ceos\n  image: ceos:4.34.0F\n  vlans:\n")
	for i := 0; i < vlans; i++ {
		id := 10 * (i + 1)
		fmt.Fprintf(&b, "    - {id: %d, name: Net-%d, subnet: 10.10.%d.0/24, gateway: 10.10.%d.1}\n", id, id, id, id)
	}
	fmt.Fprintf(&b, "cluster:\n  name: %s\n  nodeImage: kindest/node:v1.32.2\n  podSubnet: 192.168.0.0/16\n  serviceSubnet: 10.96.0.0/16\n  managementSubnet: 172.18.0.0/16\n", name)
	b.WriteString("nodes:\n")
	perVLAN := make([]int, vlans)
	for i := 0; i < nodes; i++ {
		role, node := "worker", fmt.Sprintf("%s-worker", name)
		switch {
		case i == 0:
			role, node = "control-plane", name+"-control-plane"
		case i > 1:
			node = fmt.Sprintf("%s-worker%d", name, i)
		}
		v := i % vlans
		id := 10 * (v + 1)
		host := 10 + perVLAN[v]
		perVLAN[v]++
		mgmt := i + 2
		fmt.Fprintf(&b, "  - {name: %s, role: %s, interface: eth1, address: 10.10.%d.%d/24, management: 172.18.%d.%d/16, switchPort: eth%d, vlan: %d}\n",
			node, role, id, host, mgmt/256, mgmt%256, i+1, id)
	}
	b.WriteString(`cni:
  calico:
    version: v3.30.0
    nodeAddressAutodetectionV4: {cidrs: [10.10.0.0/16]}
  pools:
    - {name: default-ipv4-ippool, cidr: 192.168.0.0/16, blockSize: 26, vxlanMode: CrossSubnet, ipipMode: Never, natOutgoing: true, nodeSelector: all()}
checks: [topology.nodes, switch.ports, switch.svis, switch.routes]
`)
	return []byte(b.String())
}
