package clab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	ktesting "k8s.io/client-go/testing"
)

// learningMapper is a RESTMapper that learns the kinds in pending on Reset, the way discovery
// learns a CRD's kind once the CRD is established.
type learningMapper struct {
	*meta.DefaultRESTMapper
	pending []schema.GroupVersionKind
	resets  int
}

func (m *learningMapper) Reset() {
	m.resets++
	for _, k := range m.pending {
		m.Add(k, meta.RESTScopeRoot)
	}
}

func newApplyFixture(t *testing.T) (*kubeClients, *learningMapper, *[]string) {
	m := &learningMapper{
		DefaultRESTMapper: meta.NewDefaultRESTMapper(nil),
		pending:           []schema.GroupVersionKind{{Group: "operator.tigera.io", Version: "v1", Kind: "Installation"}},
	}
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	dyn := dynfake.NewSimpleDynamicClient(runtime.NewScheme())
	var applied []string
	dyn.PrependReactor("patch", "*", func(a ktesting.Action) (bool, runtime.Object, error) {
		pa := a.(ktesting.PatchAction)
		applied = append(applied, fmt.Sprintf("%s %s/%s %s", pa.GetResource().Resource, pa.GetNamespace(), pa.GetName(), pa.GetPatchType()))
		return true, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Whatever", "metadata": map[string]any{"name": pa.GetName()}}}, nil
	})
	return &kubeClients{dyn: dyn, mapper: m}, m, &applied
}

func TestApplyIsServerSideAndMapsScopes(t *testing.T) {
	k, m, applied := newApplyFixture(t)
	objs, err := decodeManifests([]byte(`apiVersion: v1
kind: Namespace
metadata: {name: calico-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: no-namespace}
---
apiVersion: operator.tigera.io/v1
kind: Installation
metadata: {name: default}
spec: {calicoNetwork: {ipPools: [{cidr: 192.168.0.0/16}]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.apply(context.Background(), objs); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"namespaces /calico-system application/apply-patch+yaml",
		"configmaps default/no-namespace application/apply-patch+yaml", // kubectl's default namespace
		"installations /default application/apply-patch+yaml",          // learnt after one reset
	}
	if strings.Join(*applied, "\n") != strings.Join(want, "\n") {
		t.Errorf("applied:\n%s\nwant:\n%s", strings.Join(*applied, "\n"), strings.Join(want, "\n"))
	}
	if m.resets != 1 {
		t.Errorf("%d discovery resets, want 1 (only for the kind it did not know)", m.resets)
	}

	unknown, _ := decodeManifests([]byte("apiVersion: crd.projectcalico.org/v1\nkind: FelixConfiguration\nmetadata: {name: default}\n"))
	if err := k.apply(context.Background(), unknown); err == nil || !strings.Contains(err.Error(), "FelixConfiguration default") {
		t.Errorf("a kind the API server does not serve: err = %v", err)
	}
}

func TestWaitForNamesWhatIsNotReady(t *testing.T) {
	ctx := context.Background()
	err := waitFor(ctx, "TigeraStatus calico", 50*time.Millisecond, func(context.Context) (bool, string, error) {
		return false, "calico: Available=False, Progressing=True (calico-node not available)", nil
	})
	if err == nil || !strings.Contains(err.Error(), "TigeraStatus calico: not ready after 50ms: calico: Available=False") {
		t.Errorf("timeout error = %v", err)
	}
	if err := waitFor(ctx, "x", time.Minute, func(context.Context) (bool, string, error) { return true, "", nil }); err != nil {
		t.Errorf("a condition that holds at once: %v", err)
	}
	boom := errors.New("forbidden")
	if err := waitFor(ctx, "x", time.Minute, func(context.Context) (bool, string, error) { return false, "", boom }); !errors.Is(err, boom) {
		t.Errorf("a failing condition: err = %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := waitFor(cancelled, "x", time.Minute, func(context.Context) (bool, string, error) { return false, "waiting", nil }); err == nil {
		t.Errorf("a cancelled wait succeeded")
	}
}

func TestWaitTigeraStatus(t *testing.T) {
	status := func(name, available string) runtime.Object {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "operator.tigera.io/v1", "kind": "TigeraStatus", "metadata": map[string]any{"name": name},
			"status": map[string]any{"conditions": []any{map[string]any{"type": "Available", "status": available}}},
		}}
	}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{TigeraStatuses: "TigeraStatusList"}, status("calico", "True"), status("apiserver", "True"))
	k := &kubeClients{dyn: dyn}
	if err := k.waitTigeraStatus(context.Background(), []string{"calico", "apiserver"}); err != nil {
		t.Errorf("both Available: %v", err)
	}
}
