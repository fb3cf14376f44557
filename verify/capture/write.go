package capture

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/parse/eosjson"
)

// Write saves f and the nodes' tables in the capture layout, in the formats people capture by
// hand: cluster.yaml as `kubectl get -o yaml` prints a List (IPPool and BlockAffinity in
// crd.projectcalico.org/v1, Node and Pod in v1), and each collected table as the `ip`/`bridge`
// text command prints it, and the natOutgoing state as `nft list table ip knetlab` shows the
// agent's table. Tables a node does not have are not written, so that Open leaves them
// unmarked again. f may be nil (no cluster.yaml).
func Write(dir string, f *facts.Facts, nodes []*observed.Node) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	if f != nil {
		data, err := MarshalCluster(f)
		if err != nil {
			return fmt.Errorf("write capture %s: %w", ClusterFile, err)
		}
		if err := os.WriteFile(filepath.Join(dir, ClusterFile), data, 0o644); err != nil {
			return fmt.Errorf("write capture: %w", err)
		}
	}
	// The agent's all-ipam-pools set holds every pool; without the facts the masqueraded ones
	// are the only pools known.
	var allPools []netip.Prefix
	if f != nil {
		for _, p := range f.Pools {
			allPools = append(allPools, p.CIDR.Masked())
		}
	}
	for _, n := range nodes {
		pools := allPools
		if f == nil {
			pools = n.NATOutgoing
		}
		if err := writeNode(dir, n, pools); err != nil {
			return err
		}
	}
	return nil
}

// WriteSwitch saves sw under dir/switch/<name>/ as the `| json` outputs of the four EOS show
// commands that Open reads. A switch read from a netns lab is rendered from the normalised model
// (see eosjson.Format), so its capture reads like a cEOS one.
func WriteSwitch(dir string, sw *observed.Switch) error {
	if !safeName(sw.Name) {
		return fmt.Errorf("write capture: switch name %q cannot be a directory name", sw.Name)
	}
	swDir := filepath.Join(dir, SwitchDir, sw.Name)
	if err := os.MkdirAll(swDir, 0o755); err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	for _, f := range SwitchFiles {
		if err := os.WriteFile(filepath.Join(swDir, f.File), eosjson.Format(sw, f.Command), 0o644); err != nil {
			return fmt.Errorf("write capture of switch %s: %w", sw.Name, err)
		}
	}
	return nil
}

// writeNode writes n's tables; allPools fills the agent's all-ipam-pools set in nat.txt.
func writeNode(dir string, n *observed.Node, allPools []netip.Prefix) error {
	// A node name becomes a directory name; refuse anything that would leave nodes/.
	if !safeName(n.Name) {
		return fmt.Errorf("write capture: node name %q cannot be a directory name", n.Name)
	}
	nodeDir := filepath.Join(dir, NodesDir, n.Name)
	if err := os.MkdirAll(nodeDir, 0o755); err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	files := []struct {
		table observed.Table
		file  string
		data  func() []byte
	}{
		{observed.TableRoutes, RouteFile, func() []byte { return parse.FormatRoutes(n.Routes) }},
		{observed.TableNeigh, NeighFile, func() []byte { return parse.FormatNeighs(n.Neighs) }},
		{observed.TableFDB, FDBFile, func() []byte { return parse.FormatFDB(n.FDB) }},
		{observed.TableLinks, LinkFile, func() []byte { return parse.FormatLinks(n.Links) }},
		{observed.TableAddrs, AddrFile, func() []byte { return parse.FormatAddrs(n.Links) }},
		{observed.TableSysctls, SysctlFile, func() []byte { return parse.FormatSysctls(n.Sysctls) }},
		{observed.TableNAT, NATFile, func() []byte { return parse.FormatNAT(n.NATOutgoing, allPools) }},
		{observed.TableBGPSessions, sessionsFile(n), func() []byte { return formatSessions(n) }},
		{observed.TableBGPRoutes, routesFile(n), func() []byte { return formatRoutes(n) }},
	}
	for _, file := range files {
		if !n.Has(file.table) {
			continue
		}
		if err := os.WriteFile(filepath.Join(nodeDir, file.file), file.data(), 0o644); err != nil {
			return fmt.Errorf("write capture of %s: %w", n.Name, err)
		}
	}
	if n.Has(observed.TablePods) {
		return writePods(filepath.Join(nodeDir, PodsDir), n)
	}
	return nil
}

// sessionsFile is where a node's BGP sessions are saved: in the format of the speaker it runs,
// birdcl's table for calico-node's BIRD, `gobgp neighbor -j` for GoBGP.
func sessionsFile(n *observed.Node) string {
	if n.BGPSpeaker == observed.SpeakerBIRD {
		return BirdFile
	}
	return GoBGPNeighborsFile
}

// routesFile is where a node's BGP routes are saved, in the format of the speaker it runs.
func routesFile(n *observed.Node) string {
	if n.BGPSpeaker == observed.SpeakerBIRD {
		return BirdRoutesFile
	}
	return GoBGPRIBFile
}

func formatRoutes(n *observed.Node) []byte {
	if n.BGPSpeaker == observed.SpeakerBIRD {
		return parse.FormatBirdRoutes(n.BGPRoutes)
	}
	return parse.FormatGoBGPRIB(n.BGPRoutes)
}

func formatSessions(n *observed.Node) []byte {
	if n.BGPSpeaker == observed.SpeakerBIRD {
		return parse.FormatBirdProtocols(n.BGPSessions)
	}
	return parse.FormatGoBGPNeighbors(n.BGPSessions)
}

// WriteReflector saves a route reflector's collected tables under dir/rr/<name>/ as
// `gobgp neighbor -j` and `gobgp global rib -j` print them.
func WriteReflector(dir string, r *observed.Reflector) error {
	if !safeName(r.Name) {
		return fmt.Errorf("write capture: route reflector name %q cannot be a directory name", r.Name)
	}
	rrDir := filepath.Join(dir, RRDir, r.Name)
	if err := os.MkdirAll(rrDir, 0o755); err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	for _, f := range []struct {
		table observed.Table
		file  string
		data  func() []byte
	}{
		{observed.TableBGPSessions, GoBGPNeighborsFile, func() []byte { return parse.FormatGoBGPNeighbors(r.Sessions) }},
		{observed.TableBGPRoutes, GoBGPRIBFile, func() []byte { return parse.FormatGoBGPRIB(r.RIB) }},
	} {
		if !r.Has(f.table) {
			continue
		}
		if err := os.WriteFile(filepath.Join(rrDir, f.file), f.data(), 0o644); err != nil {
			return fmt.Errorf("write capture of route reflector %s: %w", r.Name, err)
		}
	}
	return nil
}

func writePods(dir string, n *observed.Node) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	for _, w := range n.Pods {
		if !safeName(w.Namespace) || !safeName(w.Name) {
			return fmt.Errorf("write capture of %s: pod %q/%q cannot be a directory name", n.Name, w.Namespace, w.Name)
		}
		podDir := filepath.Join(dir, w.Namespace, w.Name)
		if err := os.MkdirAll(podDir, 0o755); err != nil {
			return fmt.Errorf("write capture: %w", err)
		}
		eth0 := w.Eth0
		if eth0.Name == "" {
			eth0.Name = "eth0"
		}
		if err := os.WriteFile(filepath.Join(podDir, AddrFile), parse.FormatAddrs([]observed.Link{eth0}), 0o644); err != nil {
			return fmt.Errorf("write capture of pod %s/%s: %w", w.Namespace, w.Name, err)
		}
		if err := os.WriteFile(filepath.Join(podDir, RouteFile), parse.FormatRoutes(w.Routes), 0o644); err != nil {
			return fmt.Errorf("write capture of pod %s/%s: %w", w.Namespace, w.Name, err)
		}
	}
	return nil
}

// safeName reports whether name can be one directory level of the capture.
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`)
}

// The Kubernetes objects Write prints, with the fields in kubectl's (alphabetical) order.
type (
	kubeList struct {
		APIVersion string         `yaml:"apiVersion"`
		Kind       string         `yaml:"kind"`
		Items      []any          `yaml:"items"`
		Metadata   map[string]any `yaml:"metadata"`
	}
	objectMeta struct {
		Annotations map[string]string `yaml:"annotations,omitempty"`
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace,omitempty"`
	}
	poolObject struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
		Spec       struct {
			BlockSize   int              `yaml:"blockSize"`
			CIDR        string           `yaml:"cidr"`
			Disabled    bool             `yaml:"disabled,omitempty"`
			IPIPMode    calico.EncapMode `yaml:"ipipMode"`
			NATOutgoing bool             `yaml:"natOutgoing"`
			VXLANMode   calico.EncapMode `yaml:"vxlanMode"`
		} `yaml:"spec"`
	}
	affinityObject struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
		Spec       struct {
			CIDR    string `yaml:"cidr"`
			Deleted string `yaml:"deleted"` // a string in crd.projectcalico.org/v1
			Node    string `yaml:"node"`
			State   string `yaml:"state"`
		} `yaml:"spec"`
	}
	nodeObject struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
		Status     *struct {
			Conditions []condition `yaml:"conditions"`
		} `yaml:"status,omitempty"`
	}
	condition struct {
		Status string `yaml:"status"`
		Type   string `yaml:"type"`
	}
	podObject struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   objectMeta `yaml:"metadata"`
		Spec       struct {
			NodeName string `yaml:"nodeName"`
		} `yaml:"spec"`
		Status struct {
			PodIP  string              `yaml:"podIP"`
			PodIPs []map[string]string `yaml:"podIPs"`
		} `yaml:"status"`
	}
)

// MarshalCluster prints f as a Kubernetes List, the way `kubectl get -o yaml` prints several
// kinds at once.
func MarshalCluster(f *facts.Facts) ([]byte, error) {
	list := kubeList{APIVersion: "v1", Kind: "List", Items: []any{}, Metadata: map[string]any{"resourceVersion": ""}}
	for _, p := range f.Pools {
		o := poolObject{APIVersion: "crd.projectcalico.org/v1", Kind: "IPPool", Metadata: objectMeta{Name: p.Name}}
		o.Spec.BlockSize, o.Spec.CIDR, o.Spec.Disabled = p.BlockSize, p.CIDR.String(), p.Disabled
		o.Spec.IPIPMode, o.Spec.NATOutgoing, o.Spec.VXLANMode = p.IPIPMode.OrNever(), p.NATOutgoing, p.VXLANMode.OrNever()
		list.Items = append(list.Items, o)
	}
	for _, a := range f.Affinities {
		o := affinityObject{APIVersion: "crd.projectcalico.org/v1", Kind: "BlockAffinity", Metadata: objectMeta{Name: affinityName(a)}}
		o.Spec.CIDR, o.Spec.Deleted, o.Spec.Node, o.Spec.State = a.CIDR.String(), fmt.Sprint(a.Deleted), a.Node, a.State
		list.Items = append(list.Items, o)
	}
	for _, n := range f.Nodes {
		o := nodeObject{APIVersion: "v1", Kind: "Node", Metadata: objectMeta{Name: n.Name, Annotations: map[string]string{}}}
		if n.Address.IsValid() {
			o.Metadata.Annotations["projectcalico.org/IPv4Address"] = n.Address.String()
		}
		if n.VXLANTunnelAddr.IsValid() {
			o.Metadata.Annotations["projectcalico.org/IPv4VXLANTunnelAddr"] = n.VXLANTunnelAddr.String()
		}
		if n.VXLANTunnelMAC != "" {
			o.Metadata.Annotations["projectcalico.org/VXLANTunnelMACAddr"] = n.VXLANTunnelMAC
		}
		if n.Ready != "" {
			o.Status = &struct {
				Conditions []condition `yaml:"conditions"`
			}{Conditions: []condition{{Status: n.Ready, Type: "Ready"}}}
		}
		list.Items = append(list.Items, o)
	}
	for _, p := range f.Pods {
		o := podObject{APIVersion: "v1", Kind: "Pod", Metadata: objectMeta{Name: p.Name, Namespace: p.Namespace}}
		o.Spec.NodeName = p.Node
		o.Status.PodIP = p.IP.String()
		o.Status.PodIPs = []map[string]string{{"ip": p.IP.String()}}
		list.Items = append(list.Items, o)
	}
	return yaml.Marshal(list)
}

// affinityName is the object name Calico gives a BlockAffinity: node and block, dashed.
func affinityName(a facts.BlockAffinity) string {
	return a.Node + "-" + strings.NewReplacer(".", "-", "/", "-").Replace(a.CIDR.String())
}

// WriteExtra saves files a bundle carries beside the capture (versions.txt, deploy.log), each
// directly in dir. A name with a path separator, "." or "..", or a name of the layout itself
// (cluster.yaml, nodes, switch) is refused: an extra file never leaves dir nor replaces a
// capture file. Open ignores them.
func WriteExtra(dir string, files map[string][]byte) error {
	for name := range files {
		if !safeName(name) || name == ClusterFile || name == NodesDir || name == SwitchDir || name == RRDir {
			return fmt.Errorf("write capture: %q cannot be an extra file of the capture", name)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write capture: %w", err)
		}
	}
	return nil
}
