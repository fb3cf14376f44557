// Package kube reads the verify facts (pools, nodes, block affinities, pods) and the nodes'
// readiness from a live cluster with client-go. Objects are handed to facts.DecodeObject as the
// same maps `kubectl get -o yaml` would give, so a live cluster and a capture are judged by one
// decoder.
package kube

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
)

// Calico's datastore resources as the Kubernetes backend stores them.
var (
	IPPools         = schema.GroupVersionResource{Group: "crd.projectcalico.org", Version: "v1", Resource: "ippools"}
	BlockAffinities = schema.GroupVersionResource{Group: "crd.projectcalico.org", Version: "v1", Resource: "blockaffinities"}
	IPAMBlocks      = schema.GroupVersionResource{Group: "crd.projectcalico.org", Version: "v1", Resource: "ipamblocks"}
)

// ListKinds maps Calico's resources to their list kinds, which a fake dynamic client needs.
var ListKinds = map[schema.GroupVersionResource]string{
	IPPools:         "IPPoolList",
	BlockAffinities: "BlockAffinityList",
	IPAMBlocks:      "IPAMBlockList",
}

// Collector reads facts from one cluster.
type Collector struct {
	Dynamic dynamic.Interface
	Core    kubernetes.Interface
	// Decode adds one object to the facts; nil means facts.DecodeObject.
	Decode func(obj map[string]any, into *facts.Facts) error
}

// Facts lists IPPools and BlockAffinities (dynamic client) and Nodes and Pods (core client) and
// decodes them. A missing Calico CRD is an error naming it: a cluster without Calico's datastore
// has no IPAM facts, and saying so beats judging an empty set.
func (c *Collector) Facts(ctx context.Context) (*facts.Facts, error) {
	decode := c.Decode
	if decode == nil {
		decode = facts.DecodeObject
	}
	f := &facts.Facts{}
	var objs []map[string]any
	for _, gvr := range []schema.GroupVersionResource{IPPools, BlockAffinities} {
		list, err := c.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("list %s: %w (is Calico installed? its CRDs are missing)", gvr.GroupResource(), err)
			}
			return nil, fmt.Errorf("list %s: %w", gvr.GroupResource(), err)
		}
		for i := range list.Items {
			objs = append(objs, list.Items[i].Object)
		}
	}
	nodes, err := c.Core.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	for i := range nodes.Items {
		obj, err := toMap(&nodes.Items[i], "Node")
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	pods, err := c.Core.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		// Host-network pods (kube-proxy, calico-node) carry the node's IP, not a pod IP from a
		// block; they are not Calico's to route.
		if p.Spec.HostNetwork {
			continue
		}
		obj, err := toMap(p, "Pod")
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	var errs []error
	for _, obj := range objs {
		if err := decode(obj, f); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("decode cluster objects: %w", err)
	}
	return f, nil
}

// toMap converts a typed object to the map form of `kubectl get -o yaml`. Typed lists leave
// apiVersion and kind empty, so they are set here for the decoder to dispatch on.
func toMap(obj runtime.Object, kind string) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", kind, err)
	}
	m["apiVersion"] = "v1"
	m["kind"] = kind
	return m, nil
}

// NodeStatuses reports every Kubernetes node's Ready condition: after the CNI is installed a
// kind node that is not Ready is a failed topology.nodes check.
func (c *Collector) NodeStatuses(ctx context.Context) ([]observed.NodeStatus, error) {
	nodes, err := c.Core.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := make([]observed.NodeStatus, 0, len(nodes.Items))
	for _, n := range nodes.Items {
		st := observed.NodeStatus{Name: n.Name, Kind: "node", Running: true, Detail: "no Ready condition yet"}
		for _, cond := range n.Status.Conditions {
			if cond.Type != corev1.NodeReady {
				continue
			}
			st.Ready = cond.Status == corev1.ConditionTrue
			st.Detail = fmt.Sprintf("Ready=%s", cond.Status)
			if !st.Ready && cond.Message != "" {
				st.Detail += ": " + cond.Message
			}
		}
		out = append(out, st)
	}
	return out, nil
}
