package render

import (
	"fmt"
	"strings"

	"github.com/knetlab/knetlab/internal/lab"
)

// The upstream Calico release knetlab pins, and its operator manifests. The clab provider
// applies them in this order (the CRDs, then the operator that watches them) before the
// rendered calico.yaml; knetlab never downloads them itself.
const (
	CalicoVersion         = "v3.30.0"
	CalicoOperatorCRDsURL = "https://raw.githubusercontent.com/projectcalico/calico/v3.30.0/manifests/operator-crds.yaml"
	TigeraOperatorURL     = "https://raw.githubusercontent.com/projectcalico/calico/v3.30.0/manifests/tigera-operator.yaml"
)

// CalicoOperatorManifests returns the URLs of the operator CRDs and the Tigera operator
// manifests of a Calico release (e.g. v3.30.0), in the order they must be applied.
func CalicoOperatorManifests(version string) ([]string, error) {
	if !strings.HasPrefix(version, "v") || strings.ContainsAny(version, "/ ") {
		return nil, fmt.Errorf("calico version %q is not a release tag like %s", version, CalicoVersion)
	}
	base := "https://raw.githubusercontent.com/projectcalico/calico/" + version + "/manifests/"
	return []string{base + "operator-crds.yaml", base + "tigera-operator.yaml"}, nil
}

// ObjectMeta is the metadata knetlab sets on Kubernetes objects.
type ObjectMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace,omitempty"`
	Labels    map[string]string `yaml:"labels,omitempty"`
}

// Installation is the operator.tigera.io/v1 Installation with the fields knetlab sets.
type Installation struct {
	APIVersion string           `yaml:"apiVersion"`
	Kind       string           `yaml:"kind"`
	Metadata   ObjectMeta       `yaml:"metadata"`
	Spec       InstallationSpec `yaml:"spec"`
}

// InstallationSpec is the Installation's spec.
type InstallationSpec struct {
	CalicoNetwork CalicoNetwork `yaml:"calicoNetwork"`
}

// CalicoNetwork is the Installation's calicoNetwork section.
type CalicoNetwork struct {
	// BGP is Enabled in a lab that speaks BGP (calico-node runs BIRD); omitted otherwise.
	BGP     string               `yaml:"bgp,omitempty"`
	IPPools []InstallationIPPool `yaml:"ipPools"`
	// NodeAddressAutodetectionV4 makes calico-node pick the underlay interface: on a kind node
	// behind the switch, the first-found address would be docker's eth0.
	NodeAddressAutodetectionV4 *NodeAddressAutodetection `yaml:"nodeAddressAutodetectionV4,omitempty"`
}

// InstallationIPPool is one pool the operator creates.
type InstallationIPPool struct {
	Name             string `yaml:"name"`
	CIDR             string `yaml:"cidr"`
	BlockSize        int    `yaml:"blockSize"`
	Encapsulation    string `yaml:"encapsulation"`
	NATOutgoing      string `yaml:"natOutgoing"`
	NodeSelector     string `yaml:"nodeSelector"`
	DisableBGPExport bool   `yaml:"disableBGPExport"`
}

// NodeAddressAutodetection is autodetection by CIDR.
type NodeAddressAutodetection struct {
	CIDRs []string `yaml:"cidrs"`
}

// APIServer is the operator.tigera.io/v1 APIServer; its presence makes the operator run the
// Calico API server, so projectcalico.org/v3 objects can be read with kubectl.
type APIServer struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   ObjectMeta `yaml:"metadata"`
	Spec       struct{}   `yaml:"spec"`
}

// BuildInstallation is the lab's Calico Installation.
func BuildInstallation(l *lab.Lab) Installation {
	in := Installation{
		APIVersion: "operator.tigera.io/v1",
		Kind:       "Installation",
		Metadata:   ObjectMeta{Name: "default"},
	}
	if l.BGP != nil {
		in.Spec.CalicoNetwork.BGP = "Enabled"
	}
	for _, p := range l.CNI.Pools {
		nat := "Disabled"
		if p.NATOutgoing {
			nat = "Enabled"
		}
		in.Spec.CalicoNetwork.IPPools = append(in.Spec.CalicoNetwork.IPPools, InstallationIPPool{
			Name:             p.Name,
			CIDR:             p.CIDR.String(),
			BlockSize:        p.BlockSize,
			Encapsulation:    p.Encapsulation(),
			NATOutgoing:      nat,
			NodeSelector:     p.NodeSelector,
			DisableBGPExport: p.DisableBGPExport,
		})
	}
	if ad := l.CNI.Calico.NodeAddressAutodetectionV4; ad != nil {
		auto := &NodeAddressAutodetection{}
		for _, c := range ad.CIDRs {
			auto.CIDRs = append(auto.CIDRs, c.String())
		}
		in.Spec.CalicoNetwork.NodeAddressAutodetectionV4 = auto
	}
	return in
}

// CalicoResources renders the operator resources: the Installation and the APIServer.
func CalicoResources(l *lab.Lab) ([]byte, error) {
	manifests, err := CalicoOperatorManifests(l.CNI.Calico.Version)
	if err != nil {
		return nil, err
	}
	head := header(l, "#", "Calico "+l.CNI.Calico.Version+" operator resources") +
		"# Apply after the operator CRDs and the operator itself:\n"
	for _, m := range manifests {
		head += "#   kubectl create -f " + m + "\n"
	}
	api := APIServer{APIVersion: "operator.tigera.io/v1", Kind: "APIServer", Metadata: ObjectMeta{Name: "default"}}
	return encodeYAML(head, BuildInstallation(l), api)
}
