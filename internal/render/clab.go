package render

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/knetlab/knetlab/internal/lab"
)

// containerlab node kinds used by the labs.
const (
	// KindK8sKind is containerlab's node kind that creates a kind cluster; the node name is the cluster name.
	KindK8sKind = "k8s-kind"
	// KindExtContainer is a container containerlab did not create (here: a kind node) that it
	// links to and runs exec commands in; its name must equal the container name.
	KindExtContainer = "ext-container"
	// KindDeployWait is how long containerlab waits for the kind cluster to become ready. Nodes
	// stay NotReady until a CNI is installed, which happens after deploy, so it must not wait.
	KindDeployWait = "0s"
)

// ClabTopology is a containerlab topology file, with only the fields knetlab sets.
type ClabTopology struct {
	Name string `yaml:"name"`
	// Prefix "" names a containerlab node's container after the node alone (gobgp, not
	// clab-<lab>-gobgp); nil keeps containerlab's default prefix.
	Prefix   *string   `yaml:"prefix,omitempty"`
	Mgmt     *ClabMgmt `yaml:"mgmt,omitempty"`
	Topology ClabBody  `yaml:"topology"`
}

// ClabMgmt is containerlab's management network: for a lab with a route reflector, kind's own
// docker network, so that the reflector sits beside the nodes at a fixed address.
type ClabMgmt struct {
	Network    string `yaml:"network"`
	IPv4Subnet string `yaml:"ipv4-subnet"`
}

// KindNetwork is the docker network kind puts its nodes on.
const KindNetwork = "kind"

// ClabBody is the topology section: nodes in lab order, then links.
type ClabBody struct {
	Nodes ClabNodes  `yaml:"nodes"`
	Links []ClabLink `yaml:"links,omitempty"`
}

// ClabNode is one containerlab node.
type ClabNode struct {
	Name          string      `yaml:"-"`
	Kind          string      `yaml:"kind"`
	Image         string      `yaml:"image,omitempty"`
	StartupConfig string      `yaml:"startup-config,omitempty"`
	MgmtIPv4      string      `yaml:"mgmt-ipv4,omitempty"`
	Binds         []string    `yaml:"binds,omitempty"`
	Cmd           string      `yaml:"cmd,omitempty"`
	Exec          []string    `yaml:"exec,omitempty"`
	Extras        *ClabExtras `yaml:"extras,omitempty"`
}

// ClabExtras holds kind-specific options; knetlab only uses k8s_kind's deploy wait.
type ClabExtras struct {
	K8sKind *ClabK8sKindExtras `yaml:"k8s_kind,omitempty"`
}

// ClabK8sKindExtras are the k8s-kind node's extra options.
type ClabK8sKindExtras struct {
	Deploy ClabK8sKindDeploy `yaml:"deploy"`
}

// ClabK8sKindDeploy mirrors `kind create cluster` options containerlab exposes.
type ClabK8sKindDeploy struct {
	Wait string `yaml:"wait"`
}

// ClabLink is a point-to-point link between two "node:interface" endpoints.
type ClabLink struct {
	Endpoints []string `yaml:"endpoints"`
}

// MarshalYAML writes the endpoints the way containerlab's own examples do:
// endpoints: ["ceos01:eth1", "k01-control-plane:eth1"].
func (k ClabLink) MarshalYAML() (any, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, e := range k.Endpoints {
		seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Value: e})
	}
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "endpoints"}, seq,
	}}, nil
}

// ClabNodes is containerlab's nodes mapping, kept in the order the lab lists things (switch,
// cluster, kind nodes) rather than sorted, so the file reads top-down like the diagram.
type ClabNodes []ClabNode

// MarshalYAML renders the nodes as a mapping from node name to node, in slice order.
func (ns ClabNodes) MarshalYAML() (any, error) {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, n := range ns {
		var v yaml.Node
		if err := v.Encode(n); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: n.Name}, &v)
	}
	return m, nil
}

// Node returns the named node.
func (ns ClabNodes) Node(name string) (ClabNode, bool) {
	for _, n := range ns {
		if n.Name == name {
			return n, true
		}
	}
	return ClabNode{}, false
}

// BuildTopology is the lab's containerlab topology as a structure (Topology encodes it).
//
// A lab with a switch gets the switch node, the k8s-kind node that creates the cluster, one
// ext-container per kind node (named exactly like the kind container, or containerlab waits
// for it forever) whose exec commands put the underlay address on the switch-facing interface
// and route the other VLANs' subnets via the node's own gateway, and a link per switch port.
//
// A lab without a switch gets the k8s-kind node alone: every kind node already sits on kind's
// docker network, which is the lab's underlay, so there is nothing for containerlab to wire.
func BuildTopology(l *lab.Lab) (ClabTopology, error) {
	topo := ClabTopology{Name: l.Name}
	kindConfig := relPath(TopologyPath(l.Name), KindConfigPath(l.Name))
	var nodes ClabNodes
	if sw := l.Switch; sw != nil {
		nodes = append(nodes, ClabNode{
			Name:          sw.Name,
			Kind:          sw.Kind,
			Image:         sw.Image,
			StartupConfig: relPath(TopologyPath(l.Name), SwitchConfigPath(l.Name, sw.Name)),
		})
	}
	nodes = append(nodes, ClabNode{
		Name:          l.Cluster.Name,
		Kind:          KindK8sKind,
		Image:         l.Cluster.NodeImage,
		StartupConfig: kindConfig,
		Extras:        &ClabExtras{K8sKind: &ClabK8sKindExtras{Deploy: ClabK8sKindDeploy{Wait: KindDeployWait}}},
	})
	if rrs := l.RouteReflectors(); len(rrs) > 0 {
		noPrefix := ""
		topo.Prefix = &noPrefix
		topo.Mgmt = &ClabMgmt{Network: KindNetwork, IPv4Subnet: l.Cluster.ManagementSubnet.String()}
		for _, rr := range rrs {
			nodes = append(nodes, ReflectorNode(l, rr))
		}
	}
	if l.Switch == nil {
		topo.Topology.Nodes = nodes
		return topo, nil
	}
	var links []ClabLink
	for _, n := range switchPortOrder(l.Nodes) {
		if n.SwitchPort == "" {
			continue
		}
		exec, err := UnderlayCommands(l, n)
		if err != nil {
			return ClabTopology{}, err
		}
		nodes = append(nodes, ClabNode{Name: n.Name, Kind: KindExtContainer, Exec: exec})
		links = append(links, ClabLink{Endpoints: []string{
			l.Switch.Name + ":" + n.SwitchPort,
			n.Name + ":" + n.Interface,
		}})
	}
	topo.Topology.Nodes = nodes
	topo.Topology.Links = links
	return topo, nil
}

// KindLinux is containerlab's node kind for a plain Linux container.
const KindLinux = "linux"

// ReflectorNode is a route reflector's containerlab node: a linux container of the reflector's
// image, at its fixed address on kind's network, with its rr.conf bind-mounted read-only and
// passed to gobgpd (the image's entrypoint).
func ReflectorNode(l *lab.Lab, rr lab.RouteReflector) ClabNode {
	return ClabNode{
		Name:     rr.Name,
		Kind:     KindLinux,
		Image:    rr.Image,
		MgmtIPv4: rr.Address.Addr().String(),
		Binds:    []string{relPath(TopologyPath(l.Name), ReflectorConfigPath(l.Name, rr.Name)) + ":" + ReflectorConfigInContainer + ":ro"},
		Cmd:      "-f " + ReflectorConfigInContainer,
	}
}

// UnderlayCommands are the shell commands that give a kind node behind the switch its underlay:
// the address on the switch-facing interface and a route to every other VLAN's subnet via the
// node's own gateway. containerlab runs them in the ext-container after wiring the links.
func UnderlayCommands(l *lab.Lab, n lab.Node) ([]string, error) {
	if l.Switch == nil {
		return nil, fmt.Errorf("node %s: lab %s has no switch, so kind's docker network is the underlay", n.Name, l.Name)
	}
	if _, ok := l.VLAN(n.VLAN); !ok {
		return nil, fmt.Errorf("node %s: VLAN %d is not one of switch %s's VLANs", n.Name, n.VLAN, l.Switch.Name)
	}
	cmds := []string{fmt.Sprintf("ip addr add dev %s %s", n.Interface, n.Address)}
	for _, r := range l.RoutesFor(n) {
		cmds = append(cmds, fmt.Sprintf("ip route add %s via %s", r.Dst, r.Via))
	}
	return cmds, nil
}

// Topology renders the containerlab topology file.
func Topology(l *lab.Lab) ([]byte, error) {
	topo, err := BuildTopology(l)
	if err != nil {
		return nil, err
	}
	head := header(l, "#", "containerlab topology")
	for _, rr := range l.RouteReflectors() {
		head += fmt.Sprintf("# First build route reflector %s's image: docker build -t %s %s\n", rr.Name, rr.Image, ReflectorDir(l.Name, rr.Name))
	}
	head += fmt.Sprintf("# Deploy from the directory it was rendered into: containerlab deploy -t %s\n", TopologyPath(l.Name))
	return encodeYAML(head, topo)
}

// switchPortOrder sorts nodes by switch port number (eth2 before eth10), so links and
// interfaces are listed the way the switch numbers them; nodes without a port keep lab order last.
func switchPortOrder(nodes []lab.Node) []lab.Node {
	out := append([]lab.Node(nil), nodes...)
	sort.SliceStable(out, func(i, j int) bool {
		pi, pj := portNumber(out[i].SwitchPort), portNumber(out[j].SwitchPort)
		return pi < pj
	})
	return out
}

// portNumber is the number of a containerlab port name (eth3 → 3); no port sorts last.
func portNumber(port string) int {
	if port == "" {
		return int(^uint(0) >> 1)
	}
	n := 0
	for _, c := range strings.TrimLeft(port, "abcdefghijklmnopqrstuvwxyz") {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
