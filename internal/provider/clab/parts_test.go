package clab

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/knetlab/knetlab/deploy/manifests"
)

func TestParseInspect(t *testing.T) {
	for _, file := range []string{"by-lab.json", "containers.json"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "inspect", file))
			if err != nil {
				t.Fatal(err)
			}
			cs, err := ParseInspect(data)
			if err != nil {
				t.Fatal(err)
			}
			var sw *Container
			for i := range cs {
				if cs[i].Lab != "calico-overlay" {
					t.Errorf("%s: lab %q", cs[i].Name, cs[i].Lab)
				}
				if cs[i].NodeName("calico-overlay") == "ceos01" {
					sw = &cs[i]
				}
			}
			if sw == nil {
				t.Fatalf("no ceos01 in %+v", cs)
			}
			ip, ok := sw.MgmtIPv4()
			if !ok || ip != netip.MustParseAddr("172.20.20.2") || sw.State != "running" {
				t.Errorf("ceos01 = %+v (mgmt %v %v)", sw, ip, ok)
			}
		})
	}
	// A kind node behind an ext-container has no management address in inspect.
	data, _ := os.ReadFile(filepath.Join("testdata", "inspect", "by-lab.json"))
	cs, _ := ParseInspect(data)
	for _, c := range cs {
		if c.Name == "k01-worker3" {
			if _, ok := c.MgmtIPv4(); ok {
				t.Errorf("N/A parsed as an address")
			}
			if c.NodeName("calico-overlay") != "k01-worker3" {
				t.Errorf("kind node name = %q", c.NodeName("calico-overlay"))
			}
		}
	}
	// containerlab up to 0.67 prints nothing on stdout for a lab without containers (cmd/inspect.go
	// logs "no containers found" and exits 0): that is no containers, not malformed output.
	for _, none := range []string{"", "\n", "{}\n"} {
		if cs, err := ParseInspect([]byte(none)); err != nil || len(cs) != 0 {
			t.Errorf("ParseInspect(%q) = %v, %v; want no containers", none, cs, err)
		}
	}
	for _, bad := range []string{"[]", "+---+------+\n| # | Name |\n", `{"containers": {"name": "x"}}`} {
		if _, err := ParseInspect([]byte(bad)); err == nil {
			t.Errorf("ParseInspect(%q) accepted", bad)
		}
	}
}

func TestDecodeManifests(t *testing.T) {
	stream := `# leading comment
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: a}}
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: a}}
`
	objs, err := decodeManifests([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(objs); got != "Namespace a, ConfigMap a/b, ConfigMap a/c" {
		t.Errorf("decoded %q", got)
	}
	if _, err := decodeManifests([]byte("apiVersion: v1\nkind: ConfigMap\n---\nmetadata: {name: x}\n")); err == nil ||
		!strings.Contains(err.Error(), "document 2") {
		t.Errorf("a document without kind: err = %v, want one naming document 2", err)
	}
}

// TestEmbeddedManifestsDecode checks that what --cni knetlab applies is valid Kubernetes YAML
// with the CRDs the readiness wait expects.
func TestEmbeddedManifestsDecode(t *testing.T) {
	served := map[string]bool{}
	for _, f := range manifests.Order {
		data, err := manifests.Manifests.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeManifests(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" {
				kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
				group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
				served[kind+"."+group] = true
			}
			if o.GetKind() == "DaemonSet" {
				if o.GetNamespace() != manifests.Namespace || o.GetName() != manifests.DaemonSet {
					t.Errorf("DaemonSet %s/%s, the wait expects %s/%s", o.GetNamespace(), o.GetName(), manifests.Namespace, manifests.DaemonSet)
				}
				containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				if img := containers[0].(map[string]any)["image"]; img != manifests.Image {
					t.Errorf("DaemonSet image %v, the provider builds %s", img, manifests.Image)
				}
			}
		}
	}
	for _, k := range datastoreKinds {
		if !served[k.Kind+"."+k.Group] {
			t.Errorf("crds.yaml has no CRD for %s.%s", k.Kind, k.Group)
		}
	}
}

func TestTigeraAvailable(t *testing.T) {
	status := func(conds ...map[string]any) *unstructured.Unstructured {
		var list []any
		for _, c := range conds {
			list = append(list, c)
		}
		return &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": list}}}
	}
	tests := []struct {
		name string
		u    *unstructured.Unstructured
		ok   bool
		why  string
	}{
		{"available", status(map[string]any{"type": "Available", "status": "True"}, map[string]any{"type": "Degraded", "status": "False"}), true, ""},
		{"progressing", status(
			map[string]any{"type": "Available", "status": "False"},
			map[string]any{"type": "Progressing", "status": "True", "message": "DaemonSet \"calico-system/calico-node\" is not available (awaiting 1 nodes)"},
		), false, `Available=False, Progressing=True (DaemonSet "calico-system/calico-node" is not available (awaiting 1 nodes))`},
		{"no conditions", status(), false, "no conditions yet"},
	}
	for _, tt := range tests {
		ok, why := tigeraAvailable(tt.u)
		if ok != tt.ok || why != tt.why {
			t.Errorf("%s: tigeraAvailable = %v, %q; want %v, %q", tt.name, ok, why, tt.ok, tt.why)
		}
	}
}

func TestPodReady(t *testing.T) {
	pending := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
		{Name: "multitool", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
	}}}
	if ok, why := podReady(pending); ok || why != "Pending, multitool: ContainerCreating" {
		t.Errorf("pending pod: %v %q", ok, why)
	}
	ready := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue},
	}}}
	if ok, _ := podReady(ready); !ok {
		t.Errorf("ready pod not ready")
	}
}

func TestFollowBuild(t *testing.T) {
	var lines []string
	ok := `{"stream":"Step 1/9 : FROM golang:1.26 AS build\n"}
{"stream":"\n"}
{"stream":"Successfully tagged knetlab/agent:dev\n"}
`
	if err := followBuild(strings.NewReader(ok), func(l string) { lines = append(lines, l) }); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[1] != "Successfully tagged knetlab/agent:dev" {
		t.Errorf("lines = %q", lines)
	}
	failed := `{"stream":"Step 5/9 : RUN go build ./cmd/knetlab\n"}
{"errorDetail":{"code":1,"message":"exit 1"},"error":"The command '/bin/sh -c go build' returned a non-zero code: 1"}
`
	err := followBuild(strings.NewReader(failed), func(string) {})
	if err == nil || !strings.Contains(err.Error(), "returned a non-zero code: 1") {
		t.Errorf("failed build: err = %v", err)
	}
}

func TestStreamCommand(t *testing.T) {
	var lines []string
	err := streamCommand(context.Background(), t.TempDir(), []string{"sh", "-c", "echo one; echo two >&2; echo three"},
		func(l string) { lines = append(lines, l) })
	if err != nil || strings.Join(lines, ",") != "one,two,three" {
		t.Errorf("lines %q, err %v", lines, err)
	}
	err = streamCommand(context.Background(), t.TempDir(), []string{"sh", "-c", "echo starting; echo 'Error: no such image' >&2; exit 1"}, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "Error: no such image") {
		t.Errorf("a failing command's error lacks its last output: %v", err)
	}
	if err := streamCommand(context.Background(), t.TempDir(), []string{"knetlab-no-such-binary"}, func(string) {}); err == nil {
		t.Errorf("a missing binary streamed successfully")
	}
}
