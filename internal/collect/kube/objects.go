package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/knetlab/knetlab/internal/calicoview"
	"github.com/knetlab/knetlab/internal/cni"
)

// The annotations Calico keeps a Kubernetes node's Calico Node fields in.
const (
	annotationIPv4Address = "projectcalico.org/IPv4Address"
	annotationVXLANAddr   = "projectcalico.org/IPv4VXLANTunnelAddr"
	annotationVXLANMAC    = "projectcalico.org/VXLANTunnelMACAddr"
	annotationASNumber    = "projectcalico.org/ASNumber"
)

// Objects reads a Calico cluster's IPAM data as Calico's own objects, for knetlab get: the
// IPPool, BlockAffinity and IPAMBlock CRDs (pools shown as projectcalico.org/v3, as calicoctl
// does), the Calico Node of each Kubernetes node (from its projectcalico.org annotations, as
// Calico's Kubernetes datastore derives it), and a workload endpoint per pod with a pod IP.
func (c *Collector) Objects(ctx context.Context) (*calicoview.Objects, error) {
	o := &calicoview.Objects{}
	list := func(gvr schema.GroupVersionResource, each func(data []byte) error) error {
		l, err := c.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("list %s: %w (is Calico installed? its CRDs are missing)", gvr.GroupResource(), err)
			}
			return fmt.Errorf("list %s: %w", gvr.GroupResource(), err)
		}
		for i := range l.Items {
			data, err := json.Marshal(l.Items[i].Object)
			if err != nil {
				return err
			}
			if err := each(data); err != nil {
				return fmt.Errorf("%s %s: %w", gvr.GroupResource(), l.Items[i].GetName(), err)
			}
		}
		return nil
	}
	if err := list(IPPools, decodeInto(&o.Pools)); err != nil {
		return nil, err
	}
	for i := range o.Pools {
		o.Pools[i].APIVersion, o.Pools[i].Kind = calicoview.APIv3, "IPPool" // as calicoctl shows them
	}
	if err := list(BlockAffinities, decodeInto(&o.Affinities)); err != nil {
		return nil, err
	}
	if err := list(IPAMBlocks, decodeInto(&o.Blocks)); err != nil {
		return nil, err
	}

	nodes, err := c.Core.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		a := n.Annotations
		cn := calicoview.Node{APIVersion: calicoview.APIv3, Kind: "Node",
			Metadata: calicoview.Meta{Name: n.Name, CreationTimestamp: timestamp(n.CreationTimestamp)},
			Spec:     calicoview.NodeSpec{IPv4VXLANTunnelAddr: a[annotationVXLANAddr], VXLANTunnelMACAddr: a[annotationVXLANMAC]}}
		if a[annotationIPv4Address] != "" {
			cn.Spec.BGP = &calicoview.NodeBGPSpec{IPv4Address: a[annotationIPv4Address], ASNumber: a[annotationASNumber]}
		}
		o.Nodes = append(o.Nodes, cn)
	}
	pods, err := c.Core.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	for _, p := range pods.Items {
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if p.Spec.HostNetwork || err != nil {
			continue // a host-network pod has the node's address, not a workload endpoint
		}
		o.Endpoints = append(o.Endpoints, calicoview.PodEndpoint(p.Namespace, p.Name, p.Spec.NodeName, ip,
			cni.HostVethName(cni.PodID{Namespace: p.Namespace, Name: p.Name})))
	}
	o.Sort()
	return o, nil
}

// decodeInto appends each object, decoded from its JSON, to *into.
func decodeInto[T any](into *[]T) func(data []byte) error {
	return func(data []byte) error {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*into = append(*into, v)
		return nil
	}
}

func timestamp(t metav1.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}
