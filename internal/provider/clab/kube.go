package clab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// fieldManager owns every field knetlab applies (server-side apply).
const fieldManager = "knetlab"

// pollInterval is how often a wait re-reads its condition. Waits end on the condition or their
// deadline, never after a fixed sleep.
const pollInterval = 2 * time.Second

// The deadlines of the deploy's waits; the plan prints them.
const (
	apiServerTimeout = 3 * time.Minute
	crdTimeout       = 2 * time.Minute
	tigeraTimeout    = 10 * time.Minute
	nodesTimeout     = 5 * time.Minute
	podsTimeout      = 5 * time.Minute
	agentTimeout     = 5 * time.Minute
)

// TigeraStatuses is the operator's readiness resource.
var TigeraStatuses = schema.GroupVersionResource{Group: "operator.tigera.io", Version: "v1", Resource: "tigerastatuses"}

// kubeClients are the clients of one lab cluster.
type kubeClients struct {
	core   kubernetes.Interface
	dyn    dynamic.Interface
	disc   discovery.DiscoveryInterface
	mapper meta.ResettableRESTMapper
	cfg    *rest.Config // for the pods/exec streams of the connectivity probes
}

func newKubeClients(kubeconfig string) (*kubeClients, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.Timeout = 30 * time.Second // one request; the waits have their own deadlines
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &kubeClients{
		core: core, dyn: dyn, disc: disc, cfg: cfg,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
	}, nil
}

// decodeManifests reads a multi-document YAML (or JSON) stream into objects; empty documents
// are skipped and `kind: List` is expanded, as kubectl does.
func decodeManifests(data []byte) ([]*unstructured.Unstructured, error) {
	dec := yamlutil.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for i := 1; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", i, err)
			}
			for j := range list.Items {
				objs = append(objs, &list.Items[j])
			}
			continue
		}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d: no apiVersion/kind", i)
		}
		objs = append(objs, u)
	}
}

// apply server-side applies objects in order. A kind the RESTMapper does not know yet (a CRD
// applied a moment ago) resets the discovery cache once before it is an error.
func (k *kubeClients) apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		mapping, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			k.mapper.Reset()
			mapping, err = k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		var ri dynamic.ResourceInterface = k.dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ns := obj.GetNamespace()
			if ns == "" {
				ns = metav1.NamespaceDefault
			}
			ri = k.dyn.Resource(mapping.Resource).Namespace(ns)
		}
		if _, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return fmt.Errorf("apply %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
	}
	return nil
}

// waitFor polls cond until it reports done or timeout passes. cond returns what it saw, so
// that a timeout names what is not ready instead of just "timed out".
func waitFor(ctx context.Context, what string, timeout time.Duration, cond func(ctx context.Context) (done bool, status string, err error)) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		done, status, err := cond(ctx)
		if status != "" {
			last = status
		}
		return done, err
	})
	if err == nil {
		return nil
	}
	if wait.Interrupted(err) {
		if last == "" {
			last = "no answer yet"
		}
		return fmt.Errorf("%s: not ready after %s: %s", what, timeout, last)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// waitReadyz waits until the API server answers /readyz with ok.
func (k *kubeClients) waitReadyz(ctx context.Context) error {
	return waitFor(ctx, "API server /readyz", apiServerTimeout, func(ctx context.Context) (bool, string, error) {
		body, err := k.disc.RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return false, err.Error(), nil // not up yet is what we are waiting out
		}
		return strings.TrimSpace(string(body)) == "ok", string(body), nil
	})
}

// waitKinds waits until the API server serves the given kinds (their CRDs are established).
func (k *kubeClients) waitKinds(ctx context.Context, kinds []schema.GroupVersionKind) error {
	return waitFor(ctx, "CRDs established", crdTimeout, func(ctx context.Context) (bool, string, error) {
		k.mapper.Reset()
		var missing []string
		for _, gvk := range kinds {
			if _, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				missing = append(missing, gvk.Kind+"."+gvk.Group)
			}
		}
		return len(missing) == 0, "not served yet: " + strings.Join(missing, ", "), nil
	})
}

// waitTigeraStatus waits until each named TigeraStatus is Available=True.
func (k *kubeClients) waitTigeraStatus(ctx context.Context, names []string) error {
	return waitFor(ctx, "TigeraStatus "+strings.Join(names, ", "), tigeraTimeout, func(ctx context.Context) (bool, string, error) {
		var notReady []string
		for _, name := range names {
			u, err := k.dyn.Resource(TigeraStatuses).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				notReady = append(notReady, fmt.Sprintf("%s: not reported yet (%v)", name, err))
				continue
			}
			if ok, why := tigeraAvailable(u); !ok {
				notReady = append(notReady, name+": "+why)
			}
		}
		return len(notReady) == 0, strings.Join(notReady, "; "), nil
	})
}

// tigeraAvailable reads a TigeraStatus's conditions: Available=True is ready; otherwise the
// Degraded or Progressing message says why not.
func tigeraAvailable(u *unstructured.Unstructured) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	byType := map[string]map[string]any{}
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			t, _ := m["type"].(string)
			byType[t] = m
		}
	}
	if a := byType["Available"]; a != nil && a["status"] == "True" {
		return true, ""
	}
	var why []string
	for _, t := range []string{"Available", "Progressing", "Degraded"} {
		c := byType[t]
		if c == nil {
			continue
		}
		s := fmt.Sprintf("%s=%v", t, c["status"])
		if msg, _ := c["message"].(string); msg != "" {
			s += " (" + msg + ")"
		}
		why = append(why, s)
	}
	if len(why) == 0 {
		return false, "no conditions yet"
	}
	return false, strings.Join(why, ", ")
}

// waitNodesReady waits until every node of the cluster is Ready (kubelet says so once a CNI
// config exists).
func (k *kubeClients) waitNodesReady(ctx context.Context, want int) error {
	return waitFor(ctx, "nodes Ready", nodesTimeout, func(ctx context.Context) (bool, string, error) {
		nodes, err := k.core.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		var notReady []string
		for _, n := range nodes.Items {
			if !nodeReady(n) {
				notReady = append(notReady, n.Name)
			}
		}
		if len(nodes.Items) < want {
			notReady = append(notReady, fmt.Sprintf("%d of %d nodes registered", len(nodes.Items), want))
		}
		sort.Strings(notReady)
		return len(notReady) == 0, "not Ready: " + strings.Join(notReady, ", "), nil
	})
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitPodsReady waits until each namespace/name pod is Ready.
func (k *kubeClients) waitPodsReady(ctx context.Context, pods []string) error {
	return waitFor(ctx, "test pods Ready", podsTimeout, func(ctx context.Context) (bool, string, error) {
		var notReady []string
		for _, id := range pods {
			ns, name, _ := strings.Cut(id, "/")
			p, err := k.core.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				notReady = append(notReady, fmt.Sprintf("%s (%v)", id, err))
				continue
			}
			if ok, why := podReady(p); !ok {
				notReady = append(notReady, id+" ("+why+")")
			}
		}
		return len(notReady) == 0, "not Ready: " + strings.Join(notReady, ", "), nil
	})
}

// podReady reports a pod's Ready condition, or why it is not ready (phase, waiting reason).
func podReady(p *corev1.Pod) (bool, string) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true, ""
		}
	}
	why := string(p.Status.Phase)
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			why += ", " + cs.Name + ": " + w.Reason
		}
	}
	if why == "" {
		why = "not scheduled yet"
	}
	return false, why
}

// waitDaemonSet waits until a DaemonSet has a ready pod on every node it schedules to.
func (k *kubeClients) waitDaemonSet(ctx context.Context, ns, name string) error {
	return waitFor(ctx, "DaemonSet "+ns+"/"+name, agentTimeout, func(ctx context.Context) (bool, string, error) {
		ds, err := k.core.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		s := ds.Status
		status := fmt.Sprintf("%d of %d pods ready", s.NumberReady, s.DesiredNumberScheduled)
		return s.DesiredNumberScheduled > 0 && s.NumberReady == s.DesiredNumberScheduled, status, nil
	})
}
