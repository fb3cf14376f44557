package clab

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/knetlab/knetlab/deploy/manifests"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/lab"
)

// knetlabLabObjects are what the knetlab agent needs from the lab itself, applied before its
// DaemonSet: the ConfigMap with the underlay autodetection CIDRs (the DaemonSet passes them
// to --autodetect) and the lab's IPPools as datastore.knetlab.dev objects, encoded by the
// kubernetes datastore itself so that the agent reads them back exactly.
func knetlabLabObjects(l *lab.Lab) ([]*unstructured.Unstructured, error) {
	var cidrs []string
	for _, c := range agentAutodetect(l) {
		cidrs = append(cidrs, c.String())
	}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": manifests.ConfigMap, "namespace": manifests.Namespace},
		"data":       map[string]any{manifests.AutodetectKey: strings.Join(cidrs, ",")},
	}}
	objs := []*unstructured.Unstructured{cm}
	for _, p := range l.CNI.Pools {
		pool := datastore.IPPool{Metadata: datastore.ObjectMeta{Name: p.Name}, Spec: datastore.IPPoolSpec{
			CIDR: p.CIDR, BlockSize: p.BlockSize, VXLANMode: p.VXLANMode, IPIPMode: p.IPIPMode,
			NATOutgoing: p.NATOutgoing, NodeSelector: p.NodeSelector, DisableBGPExport: p.DisableBGPExport}}
		value, err := json.Marshal(&pool)
		if err != nil {
			return nil, fmt.Errorf("IPPool %s: %w", p.Name, err)
		}
		obj, err := kubestore.Object(datastore.KindIPPool, p.Name, value)
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// agentAutodetect are the CIDRs every node's agent picks its underlay address from: the lab's
// nodeAddressAutodetectionV4, as Calico reads it, else the subnets of the nodes' lab addresses
// (one DaemonSet serves every node, so it is their union).
func agentAutodetect(l *lab.Lab) []netip.Prefix {
	if ad := l.CNI.Calico.NodeAddressAutodetectionV4; ad != nil && len(ad.CIDRs) > 0 {
		return ad.CIDRs
	}
	var out []netip.Prefix
	for _, n := range l.Nodes {
		if p := n.Address.Masked(); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// describeLabObjects names the seed objects for the plan.
func describeLabObjects(objs []*unstructured.Unstructured) string {
	var parts []string
	for _, o := range objs {
		switch o.GetKind() {
		case "ConfigMap":
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			parts = append(parts, fmt.Sprintf("ConfigMap %s/%s (%s %s)", o.GetNamespace(), o.GetName(), manifests.AutodetectKey, data[manifests.AutodetectKey]))
		default:
			spec, _, _ := unstructured.NestedMap(o.Object, "spec")
			parts = append(parts, fmt.Sprintf("%s.%s %s (cidr %v, blockSize %v, vxlanMode %v, ipipMode %v, natOutgoing %v)",
				o.GetKind(), o.GroupVersionKind().Group, o.GetName(), spec["cidr"], spec["blockSize"], spec["vxlanMode"], spec["ipipMode"], spec["natOutgoing"] == true))
		}
	}
	return strings.Join(parts, ", ")
}
