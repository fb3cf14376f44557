package render_test

import (
	"bytes"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/knetlab/knetlab/internal/render"
)

// TestKindConfigDecodesStrictly decodes the rendered kind config into kind's own v1alpha4 type,
// rejecting unknown fields, and checks the lab facts of docs/labs/calico-overlay.md on what kind itself would read.
func TestKindConfigDecodesStrictly(t *testing.T) {
	for _, tc := range []struct {
		lab     string
		cluster string
		roles   []v1alpha4.NodeRole
		// patches is the kubeadm kind and node-ip per node; empty for nodes kind addresses itself.
		patches [][2]string
	}{
		{"calico-overlay", "k01",
			[]v1alpha4.NodeRole{v1alpha4.ControlPlaneRole, v1alpha4.WorkerRole, v1alpha4.WorkerRole, v1alpha4.WorkerRole},
			[][2]string{
				{"InitConfiguration", "10.10.10.10"},
				{"JoinConfiguration", "10.10.10.11"},
				{"JoinConfiguration", "10.10.10.12"},
				{"JoinConfiguration", "10.10.20.20"},
			}},
		{"pod-network", "pod-network",
			[]v1alpha4.NodeRole{v1alpha4.ControlPlaneRole, v1alpha4.WorkerRole, v1alpha4.WorkerRole},
			[][2]string{{}, {}, {}}},
	} {
		t.Run(tc.lab, func(t *testing.T) {
			data := fileOf(t, mustLoad(t, tc.lab), render.KindConfigPath(tc.lab))
			c, err := decodeKindStrict(data)
			if err != nil {
				t.Fatalf("kind would not read %s: %v", render.KindConfigPath(tc.lab), err)
			}
			if c.APIVersion != "kind.x-k8s.io/v1alpha4" || c.Kind != "Cluster" || c.Name != tc.cluster {
				t.Errorf("type/name = %s %s %s", c.APIVersion, c.Kind, c.Name)
			}
			net := c.Networking
			if !net.DisableDefaultCNI || net.PodSubnet != "192.168.0.0/16" || net.ServiceSubnet != "10.96.0.0/16" {
				t.Errorf("networking = %+v", net)
			}
			var roles []v1alpha4.NodeRole
			for _, n := range c.Nodes {
				roles = append(roles, n.Role)
				if n.Image != "kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f" {
					t.Errorf("%s node image %q, want the pinned kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f", n.Role, n.Image)
				}
			}
			if !reflect.DeepEqual(roles, tc.roles) {
				t.Fatalf("roles %v, want %v", roles, tc.roles)
			}
			for i, n := range c.Nodes {
				want := tc.patches[i]
				if want[0] == "" {
					if len(n.KubeadmConfigPatches) != 0 {
						t.Errorf("node %d: patches %q, want none", i, n.KubeadmConfigPatches)
					}
					continue
				}
				if len(n.KubeadmConfigPatches) != 1 {
					t.Fatalf("node %d: %d patches, want the node-ip patch", i, len(n.KubeadmConfigPatches))
				}
				var patch struct {
					Kind             string `yaml:"kind"`
					NodeRegistration struct {
						KubeletExtraArgs map[string]string `yaml:"kubeletExtraArgs"`
					} `yaml:"nodeRegistration"`
				}
				if err := yaml.Unmarshal([]byte(n.KubeadmConfigPatches[0]), &patch); err != nil {
					t.Fatalf("node %d patch: %v", i, err)
				}
				got := [2]string{patch.Kind, patch.NodeRegistration.KubeletExtraArgs["node-ip"]}
				if got != want {
					t.Errorf("node %d patch = %v, want %v", i, got, want)
				}
			}
		})
	}
}

// decodeKindStrict decodes a kind config the way kind does (sigs.k8s.io/yaml, unknown fields
// rejected), and again with yaml.v3 against kind's yaml tags, which also rejects a field whose
// name only differs in case (encoding/json, under sigs.k8s.io/yaml, would accept it).
func decodeKindStrict(data []byte) (v1alpha4.Cluster, error) {
	var c v1alpha4.Cluster
	if err := sigsyaml.UnmarshalStrict(data, &c); err != nil {
		return c, err
	}
	var exact v1alpha4.Cluster
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&exact); err != nil {
		return c, err
	}
	return c, nil
}

// TestKindStrictDecodeCatchesTypos guards the guard: a misspelt field must fail the strict decode.
func TestKindStrictDecodeCatchesTypos(t *testing.T) {
	for _, bad := range []string{
		"apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nnetworking:\n  disableDefaultCni: true\n",
		"apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nnetworking:\n  podSubnets: 192.168.0.0/16\n",
		"apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nnodes:\n  - role: worker\n    kubeadmConfigPatch: []\n",
	} {
		if _, err := decodeKindStrict([]byte(bad)); err == nil {
			t.Errorf("decoded without error:\n%s", bad)
		}
	}
}
