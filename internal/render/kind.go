package render

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/knetlab/knetlab/internal/lab"
)

// KindCluster is a kind.x-k8s.io/v1alpha4 Cluster with only the fields knetlab sets, in the
// order a person reads them. The test decodes the rendered file strictly into kind's own type.
type KindCluster struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Name       string         `yaml:"name"`
	Networking KindNetworking `yaml:"networking"`
	Nodes      []KindNode     `yaml:"nodes"`
}

// KindNetworking is the cluster's networking section.
type KindNetworking struct {
	// DisableDefaultCNI keeps kindnet out: the lab installs Calico (or knetlab's CNI) itself.
	DisableDefaultCNI bool   `yaml:"disableDefaultCNI"`
	PodSubnet         string `yaml:"podSubnet"`
	ServiceSubnet     string `yaml:"serviceSubnet"`
}

// KindNode is one kind node.
type KindNode struct {
	Role                 string   `yaml:"role"`
	Image                string   `yaml:"image"`
	KubeadmConfigPatches []string `yaml:"kubeadmConfigPatches,omitempty"`
}

// kubeadmNodePatch is the kubeadm config patch that sets the kubelet's node-ip. kind applies it
// to the InitConfiguration of the first control-plane node and the JoinConfiguration of the
// others; no apiVersion, so it matches whichever kubeadm API version kind generates.
type kubeadmNodePatch struct {
	Kind             string `yaml:"kind"`
	NodeRegistration struct {
		KubeletExtraArgs map[string]string `yaml:"kubeletExtraArgs"`
	} `yaml:"nodeRegistration"`
}

// BuildKindConfig is the lab's kind cluster config as a structure (KindConfig encodes it).
//
// A node behind the switch gets a patch that sets the kubelet's node-ip to its underlay address:
// without it the kubelet registers the docker eth0 address, and the cluster (and Calico, which
// reads the Node's addresses) would talk over docker's network instead of the lab's switch.
func BuildKindConfig(l *lab.Lab) (KindCluster, error) {
	c := KindCluster{
		APIVersion: "kind.x-k8s.io/v1alpha4",
		Kind:       "Cluster",
		Name:       l.Cluster.Name,
		Networking: KindNetworking{
			DisableDefaultCNI: true,
			PodSubnet:         l.Cluster.PodSubnet.String(),
			ServiceSubnet:     l.Cluster.ServiceSubnet.String(),
		},
	}
	firstControlPlane := true
	for _, n := range l.Nodes {
		kn := KindNode{Role: string(n.Role), Image: l.Cluster.NodeImage}
		if n.SwitchPort != "" {
			// kubeadm init runs on the first control-plane node only; every other node joins.
			kind := "JoinConfiguration"
			if n.Role == lab.ControlPlane && firstControlPlane {
				kind = "InitConfiguration"
			}
			patch, err := nodeIPPatch(kind, n)
			if err != nil {
				return KindCluster{}, err
			}
			kn.KubeadmConfigPatches = []string{patch}
		}
		if n.Role == lab.ControlPlane {
			firstControlPlane = false
		}
		c.Nodes = append(c.Nodes, kn)
	}
	return c, nil
}

func nodeIPPatch(kind string, n lab.Node) (string, error) {
	p := kubeadmNodePatch{Kind: kind}
	p.NodeRegistration.KubeletExtraArgs = map[string]string{"node-ip": n.IP().String()}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return "", fmt.Errorf("node %s: kubeadm patch: %w", n.Name, err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("node %s: kubeadm patch: %w", n.Name, err)
	}
	return b.String(), nil
}

// KindConfig renders the kind cluster config.
func KindConfig(l *lab.Lab) ([]byte, error) {
	c, err := BuildKindConfig(l)
	if err != nil {
		return nil, err
	}
	return encodeYAML(header(l, "#", "kind cluster config"), c)
}
