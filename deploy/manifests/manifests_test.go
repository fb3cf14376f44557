package manifests_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/knetlab/knetlab/deploy/manifests"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
)

// documents splits a manifest into its YAML documents, each decoded strictly into a fresh T
// when its kind is kind.
func documents[T any](t *testing.T, file, kind string) []*T {
	t.Helper()
	data, err := manifests.Manifests.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*T
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if head.Kind != kind {
			continue
		}
		obj := new(T)
		unmarshal := yaml.UnmarshalStrict
		if _, partial := any(obj).(*crd); partial {
			unmarshal = yaml.Unmarshal
		}
		if err := unmarshal(doc, obj); err != nil {
			t.Fatalf("%s: %s: %v", file, kind, err)
		}
		out = append(out, obj)
	}
}

// Every kind the kubernetes datastore stores has its CRD, exactly as kubestore addresses it.
func TestCRDForEveryDatastoreKind(t *testing.T) {
	crds := documents[crd](t, "crds.yaml", "CustomResourceDefinition")
	byPlural := map[string]*crd{}
	for _, c := range crds {
		byPlural[c.Spec.Names.Plural] = c
	}
	for _, kind := range datastore.Kinds {
		gvr, gvk := kubestore.GVR(kind), kubestore.GVK(kind)
		c, ok := byPlural[gvr.Resource]
		if !ok {
			t.Errorf("no CRD for %s", gvr.GroupResource())
			continue
		}
		if c.Metadata.Name != gvr.Resource+"."+gvr.Group || c.Spec.Group != gvr.Group || c.Spec.Names.Kind != gvk.Kind {
			t.Errorf("CRD %s: group %s kind %s, kubestore uses %s", c.Metadata.Name, c.Spec.Group, c.Spec.Names.Kind, gvk)
		}
		if c.Spec.Scope != "Cluster" {
			t.Errorf("CRD %s is %s; kubestore's objects are cluster-scoped", c.Metadata.Name, c.Spec.Scope)
		}
		served := false
		for _, v := range c.Spec.Versions {
			if v.Name == gvr.Version && v.Served && v.Storage {
				served = true
				if p := v.Schema.OpenAPIV3Schema.Properties["spec"].PreserveUnknown; p == nil || !*p {
					t.Errorf("CRD %s %s: spec must keep unknown fields (the datastore owns its field set)", c.Metadata.Name, v.Name)
				}
			}
		}
		if !served {
			t.Errorf("CRD %s does not serve and store %s", c.Metadata.Name, gvr.Version)
		}
	}
	if len(crds) != len(datastore.Kinds) {
		t.Errorf("%d CRDs for %d datastore kinds", len(crds), len(datastore.Kinds))
	}
}

// The agent's ClusterRole grants what kubestore does on every datastore resource, reading
// core nodes, and no other write.
func TestRBACCoversTheDatastore(t *testing.T) {
	roles := documents[rbacv1.ClusterRole](t, "rbac.yaml", "ClusterRole")
	if len(roles) != 1 {
		t.Fatalf("%d ClusterRoles, want the agent's", len(roles))
	}
	role := roles[0]
	allows := func(group, resource, verb string) bool {
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	for _, kind := range datastore.Kinds {
		gvr := kubestore.GVR(kind)
		for _, verb := range kubestore.Verbs {
			if !allows(gvr.Group, gvr.Resource, verb) {
				t.Errorf("ClusterRole %s does not allow %s on %s", role.Name, verb, gvr.GroupResource())
			}
		}
	}
	for _, verb := range []string{"get", "list", "watch"} {
		if !allows("", "nodes", verb) {
			t.Errorf("ClusterRole %s does not allow %s on nodes", role.Name, verb)
		}
	}
	for _, r := range role.Rules {
		if !slices.Equal(r.APIGroups, []string{kubestore.Group}) {
			for _, v := range r.Verbs {
				if !slices.Contains([]string{"get", "list", "watch"}, v) {
					t.Errorf("ClusterRole %s grants %s on %v %v: the agent writes only the datastore", role.Name, v, r.APIGroups, r.Resources)
				}
			}
		}
	}

	bindings := documents[rbacv1.ClusterRoleBinding](t, "rbac.yaml", "ClusterRoleBinding")
	if len(bindings) != 1 || bindings[0].RoleRef.Name != role.Name || len(bindings[0].Subjects) != 1 ||
		bindings[0].Subjects[0].Kind != "ServiceAccount" || bindings[0].Subjects[0].Namespace != manifests.Namespace ||
		bindings[0].Subjects[0].Name != manifests.DaemonSet {
		t.Errorf("the ClusterRole must be bound to ServiceAccount %s/%s, the DaemonSet's", manifests.Namespace, manifests.DaemonSet)
	}
}

// The clab provider applies the lab's ConfigMap and IPPools just before the last manifest,
// which must therefore be the DaemonSet that reads them.
func TestDaemonSetIsAppliedLast(t *testing.T) {
	if len(manifests.Order) == 0 || manifests.Order[len(manifests.Order)-1] != "daemonset.yaml" || manifests.Order[0] != "crds.yaml" {
		t.Fatalf("Order = %v, want crds.yaml first and daemonset.yaml last", manifests.Order)
	}
}

// crd is the part of a CustomResourceDefinition the datastore depends on (the apiextensions
// types are not among this module's dependencies).
type crd struct {
	Metadata struct{ Name string }
	Spec     struct {
		Group string
		Scope string
		Names struct{ Kind, Plural string }
		// Versions of the CRD.
		Versions []struct {
			Name    string
			Served  bool
			Storage bool
			Schema  struct {
				OpenAPIV3Schema struct {
					Properties map[string]struct {
						PreserveUnknown *bool `json:"x-kubernetes-preserve-unknown-fields"`
					}
				}
			}
		}
	}
}
