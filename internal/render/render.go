// Package render turns a lab into the files a student can hand to containerlab, kind and
// Calico directly: the containerlab topology, the kind config, the Calico operator resources,
// the test pods and the cEOS startup config.
//
// Every file is a pure function of the lab: no timestamps, no map iteration order, so the
// checked-in copies under topologies/ and configs/ stay byte-stable and a test can insist that
// they equal what Render produces.
package render

import (
	"bytes"
	"fmt"
	"path"

	"gopkg.in/yaml.v3"

	"github.com/knetlab/knetlab/internal/lab"
)

// File is one rendered file, with its path relative to the repository root.
type File struct {
	Path string // e.g. topologies/calico-overlay.clab.yaml, configs/calico-overlay/kind.yaml
	Data []byte
}

// TopologyPath is where the lab's containerlab topology lives, relative to the repository root.
func TopologyPath(labName string) string { return path.Join("topologies", labName+".clab.yaml") }

// KindConfigPath is where the lab's kind cluster config lives.
func KindConfigPath(labName string) string { return path.Join("configs", labName, "kind.yaml") }

// CalicoPath is where the lab's Calico operator resources (Installation, APIServer) live.
func CalicoPath(labName string) string { return path.Join("configs", labName, "calico.yaml") }

// PodsPath is where the lab's test pods and their services live.
func PodsPath(labName string) string { return path.Join("configs", labName, "pods.yaml") }

// SwitchConfigPath is where the startup config of the lab's switch lives.
func SwitchConfigPath(labName, switchName string) string {
	return path.Join("configs", labName, switchName+".cfg")
}

// Render returns every file of the lab, in a fixed order: topology, kind config, Calico
// resources, the Calico BGP resources when the lab speaks BGP, test pods, the switch config when
// the lab has a switch, then each route reflector's rr.conf and image Dockerfile.
func Render(l *lab.Lab) ([]File, error) {
	type renderer struct {
		path   string
		render func(*lab.Lab) ([]byte, error)
	}
	renderers := []renderer{
		{TopologyPath(l.Name), Topology},
		{KindConfigPath(l.Name), KindConfig},
		{CalicoPath(l.Name), CalicoResources},
	}
	if l.BGP != nil {
		renderers = append(renderers, renderer{BGPPath(l.Name), BGPResources})
	}
	renderers = append(renderers, renderer{PodsPath(l.Name), TestPods})
	if l.Switch != nil {
		renderers = append(renderers, renderer{SwitchConfigPath(l.Name, l.Switch.Name), SwitchConfig})
	}
	for _, rr := range l.RouteReflectors() {
		renderers = append(renderers,
			renderer{ReflectorConfigPath(l.Name, rr.Name), func(l *lab.Lab) ([]byte, error) { return ReflectorConfig(l, rr), nil }},
			renderer{ReflectorDockerfilePath(l.Name, rr.Name), func(l *lab.Lab) ([]byte, error) { return ReflectorDockerfile(l, rr), nil }})
	}
	files := make([]File, 0, len(renderers))
	for _, r := range renderers {
		data, err := r.render(l)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.path, err)
		}
		files = append(files, File{Path: r.path, Data: data})
	}
	return files, nil
}

// header is the first comment of every rendered file: where it comes from and how to refresh it.
func header(l *lab.Lab, comment, what string) string {
	return fmt.Sprintf("%[1]s %[2]s for lab %[3]s.\n"+
		"%[1]s Generated from %[4]s by `knetlab render %[3]s` (make generate); do not edit by hand.\n",
		comment, what, l.Name, l.Source)
}

// encodeYAML writes docs as one YAML stream (documents separated by ---) under a header
// comment, indented by two spaces as Kubernetes manifests usually are. Field order is the
// declaration order of the structs, which is what makes the output stable and readable.
func encodeYAML(head string, docs ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(head)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encode YAML: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	return b.Bytes(), nil
}

// relPath is the slash path from the directory of file `from` to file `to`, both relative to
// the repository root: containerlab resolves startup-config paths against the topology's directory.
func relPath(from, to string) string {
	fromDir := path.Dir(from)
	up := ""
	for dir := fromDir; dir != "." && dir != "/"; dir = path.Dir(dir) {
		up += "../"
	}
	return up + to
}
