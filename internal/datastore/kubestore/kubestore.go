// Package kubestore is the Kubernetes backend of knetlab's datastore: a datastore.Store whose
// objects are custom resources of group datastore.knetlab.dev/v1 (deploy/manifests/crds.yaml),
// read and written with client-go's dynamic client. It is what the agent and the CNI plugin use
// on a kind cluster deployed with `--cni knetlab`, where the API server is the only shared
// state every node can reach.
//
// # Objects
//
// A datastore value is Calico-shaped JSON: {"metadata": {"name": …}, "spec": {…}}. The custom
// resource carries the same spec; its name is the datastore name (so it must be a DNS-1123
// subdomain, as every name the lab derives from Kubernetes node names and CIDRs is) and it is
// cluster-scoped, as Calico's CRDs are. Only metadata.name and spec are stored: the CRDs prune everything else.
//
// # Revisions
//
// A Record's Revision is the object's metadata.resourceVersion parsed as an int64. Kubernetes
// documents resourceVersions as opaque strings that clients may compare only for equality;
// knetlab relies on no more than that:
//
//   - Update and Delete send the caller's revision back as a precondition (metadata.resourceVersion
//     on update, DeleteOptions.Preconditions on delete); the API server compares it for equality
//     and answers 409 Conflict, which becomes datastore.ErrConflict.
//   - List returns the list's resourceVersion, and Watch(afterRev) asks the API server for a watch
//     "from resourceVersion afterRev", which by the API's contract delivers exactly the changes
//     after the state the list showed. knetlab never orders two revisions itself.
//
// Parsing them as integers is an assumption about every API server backed by etcd (they hand
// out etcd's revision in decimal); an API server that does not is reported as such, not guessed at.
package kubestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/knetlab/knetlab/internal/datastore"
)

// Group and Version of the datastore's custom resources.
const (
	Group   = "datastore.knetlab.dev"
	Version = "v1"
)

// kindNames are the CRDs' kinds; the datastore kinds are already their plurals.
var kindNames = map[datastore.Kind]string{
	datastore.KindIPPool:        "IPPool",
	datastore.KindBlockAffinity: "BlockAffinity",
	datastore.KindIPAMBlock:     "IPAMBlock",
	datastore.KindNode:          "Node",
}

// Verbs are the API verbs the Store issues on its resources: what the agent's RBAC must grant
// on every GVR (deploy/manifests/rbac.yaml; a test holds the two together).
var Verbs = []string{"get", "list", "watch", "create", "update", "delete"}

// GVR is the resource a datastore kind is stored as, e.g. ippools.datastore.knetlab.dev/v1.
func GVR(kind datastore.Kind) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: Group, Version: Version, Resource: string(kind)}
}

// GVK is the custom resource kind of a datastore kind, e.g. IPPool.datastore.knetlab.dev/v1.
func GVK(kind datastore.Kind) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: Group, Version: Version, Kind: kindNames[kind]}
}

// Store is the datastore on the Kubernetes API.
type Store struct {
	client dynamic.Interface
}

var _ datastore.Store = (*Store)(nil)

// New returns a Store that talks through client.
func New(client dynamic.Interface) *Store { return &Store{client: client} }

// NewForConfig returns a Store for a REST config.
func NewForConfig(cfg *rest.Config) (*Store, error) {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes datastore client for %s: %w", cfg.Host, err)
	}
	return New(client), nil
}

// Config loads the REST config from a kubeconfig file, or from the pod's service account when
// kubeconfig is "" (the agent in its DaemonSet).
func Config(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster kubernetes config: %w (outside a pod, give --kubeconfig)", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

// Open is NewForConfig(Config(kubeconfig)).
func Open(kubeconfig string) (*Store, error) {
	cfg, err := Config(kubeconfig)
	if err != nil {
		return nil, err
	}
	return NewForConfig(cfg)
}

func (s *Store) resource(kind datastore.Kind) dynamic.ResourceInterface {
	return s.client.Resource(GVR(kind))
}

// Object is the custom resource holding value under name: what Create sends, and what a
// deploy applies to seed the datastore (the lab's IPPools).
func Object(kind datastore.Kind, name string, value []byte) (*unstructured.Unstructured, error) {
	if err := checkName(kind, name); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(value, &fields); err != nil {
		return nil, fmt.Errorf("%s %q: the value is not a JSON object: %w", kind, name, err)
	}
	var extra []string
	for k := range fields {
		if k != "metadata" && k != "spec" {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return nil, fmt.Errorf("%s %q: fields %v cannot be stored: the custom resource keeps metadata.name and spec only", kind, name, extra)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{}}
	obj.SetGroupVersionKind(GVK(kind))
	obj.SetName(name)
	if raw, ok := fields["spec"]; ok {
		var spec any
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, fmt.Errorf("%s %q: spec: %w", kind, name, err)
		}
		obj.Object["spec"] = spec
	}
	return obj, nil
}

// record turns a custom resource back into the datastore's name, value and revision.
func record(kind datastore.Kind, obj *unstructured.Unstructured) (datastore.Record, error) {
	rev, err := revision(obj.GetResourceVersion())
	if err != nil {
		return datastore.Record{}, fmt.Errorf("%s %q: %w", kind, obj.GetName(), err)
	}
	value := map[string]any{"metadata": map[string]any{"name": obj.GetName()}}
	if spec, ok := obj.Object["spec"]; ok {
		value["spec"] = spec
	}
	data, err := json.Marshal(value)
	if err != nil {
		return datastore.Record{}, fmt.Errorf("%s %q: %w", kind, obj.GetName(), err)
	}
	return datastore.Record{Name: obj.GetName(), Value: data, Revision: rev}, nil
}

func revision(rv string) (int64, error) {
	rev, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || rev <= 0 {
		return 0, fmt.Errorf("resourceVersion %q is not a positive integer: knetlab's kubernetes datastore needs an etcd-backed API server", rv)
	}
	return rev, nil
}

// Get implements datastore.Store.
func (s *Store) Get(ctx context.Context, kind datastore.Kind, name string) (datastore.Record, error) {
	if err := checkName(kind, name); err != nil {
		return datastore.Record{}, err
	}
	obj, err := s.resource(kind).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return datastore.Record{}, requestError("get", kind, name, 0, err)
	}
	return record(kind, obj)
}

// List implements datastore.Store. The revision is the list's resourceVersion, the point a
// Watch continues from.
func (s *Store) List(ctx context.Context, kind datastore.Kind) ([]datastore.Record, int64, error) {
	if err := checkKind(kind); err != nil {
		return nil, 0, err
	}
	list, err := s.resource(kind).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, 0, requestError("list", kind, "", 0, err)
	}
	rev, err := revision(list.GetResourceVersion())
	if err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", kind, err)
	}
	out := make([]datastore.Record, 0, len(list.Items))
	for i := range list.Items {
		r, err := record(kind, &list.Items[i])
		if err != nil {
			return nil, 0, fmt.Errorf("list %s: %w", kind, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b datastore.Record) int { return strings.Compare(a.Name, b.Name) })
	return out, rev, nil
}

// Create implements datastore.Store.
func (s *Store) Create(ctx context.Context, kind datastore.Kind, name string, value []byte) (int64, error) {
	obj, err := Object(kind, name, value)
	if err != nil {
		return 0, err
	}
	created, err := s.resource(kind).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return 0, requestError("create", kind, name, 0, err)
	}
	rev, err := revision(created.GetResourceVersion())
	if err != nil {
		return 0, fmt.Errorf("create %s %q: %w", kind, name, err)
	}
	return rev, nil
}

// Update implements datastore.Store: a PUT carrying the caller's revision as
// metadata.resourceVersion, which the API server accepts only if it is still the object's.
func (s *Store) Update(ctx context.Context, kind datastore.Kind, name string, value []byte, rev int64) (int64, error) {
	obj, err := Object(kind, name, value)
	if err != nil {
		return 0, err
	}
	if rev <= 0 {
		// An empty resourceVersion would make the PUT unconditional.
		return 0, fmt.Errorf("update %s %q at revision %d: %w (read the object first)", kind, name, rev, datastore.ErrConflict)
	}
	obj.SetResourceVersion(strconv.FormatInt(rev, 10))
	updated, err := s.resource(kind).Update(ctx, obj, metav1.UpdateOptions{})
	if err != nil {
		return 0, requestError("update", kind, name, rev, err)
	}
	newRev, err := revision(updated.GetResourceVersion())
	if err != nil {
		return 0, fmt.Errorf("update %s %q: %w", kind, name, err)
	}
	return newRev, nil
}

// Delete implements datastore.Store with a resourceVersion precondition.
func (s *Store) Delete(ctx context.Context, kind datastore.Kind, name string, rev int64) error {
	if err := checkName(kind, name); err != nil {
		return err
	}
	if rev <= 0 {
		return fmt.Errorf("delete %s %q at revision %d: %w (read the object first)", kind, name, rev, datastore.ErrConflict)
	}
	rv := strconv.FormatInt(rev, 10)
	err := s.resource(kind).Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	if err != nil {
		return requestError("delete", kind, name, rev, err)
	}
	return nil
}

// Watch implements datastore.Store. afterRev > 0 watches from that resourceVersion (a List's
// revision: every later change, nothing twice). afterRev == 0 means "from now on": a watch
// without a resourceVersion would first replay every existing object as ADDED, so the current
// resourceVersion is read with a one-item list and the watch starts there.
func (s *Store) Watch(ctx context.Context, kind datastore.Kind, afterRev int64) (<-chan datastore.Event, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	if afterRev <= 0 {
		list, err := s.resource(kind).List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			return nil, requestError("watch", kind, "", 0, err)
		}
		if afterRev, err = revision(list.GetResourceVersion()); err != nil {
			return nil, fmt.Errorf("watch %s: %w", kind, err)
		}
	}
	w, err := s.resource(kind).Watch(ctx, metav1.ListOptions{
		ResourceVersion: strconv.FormatInt(afterRev, 10),
		// Bookmarks carry no change; asking for none keeps the stream to real events.
		AllowWatchBookmarks: false,
	})
	if err != nil {
		return nil, requestError("watch", kind, "", 0, err)
	}
	out := make(chan datastore.Event)
	go func() {
		defer close(out)
		defer w.Stop()
		send := func(ev datastore.Event) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			var ev watch.Event
			var ok bool
			select {
			case <-ctx.Done():
				return
			case ev, ok = <-w.ResultChan():
			}
			if !ok {
				if ctx.Err() == nil {
					// The API server ends watches after a few minutes by design.
					send(datastore.Event{Type: datastore.EventError, Err: fmt.Errorf("watch %s: the API server closed the watch (list again and watch from the new revision)", kind)})
				}
				return
			}
			event, err := translate(kind, ev)
			if err != nil {
				send(datastore.Event{Type: datastore.EventError, Err: err})
				return
			}
			if event.Type == 0 {
				continue
			}
			if !send(event) {
				return
			}
		}
	}()
	return out, nil
}

// translate turns one watch event into a datastore event; a zero Type means "nothing to pass on".
func translate(kind datastore.Kind, ev watch.Event) (datastore.Event, error) {
	switch ev.Type {
	case watch.Bookmark:
		return datastore.Event{}, nil
	case watch.Error:
		err := apierrors.FromObject(ev.Object)
		if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
			return datastore.Event{}, fmt.Errorf("watch %s: %w (the revision was compacted: list again and watch from the new revision)", kind, err)
		}
		return datastore.Event{}, fmt.Errorf("watch %s: %w (list again and watch from the new revision)", kind, err)
	}
	obj, ok := ev.Object.(*unstructured.Unstructured)
	if !ok {
		return datastore.Event{}, fmt.Errorf("watch %s: unexpected %T in a %s event", kind, ev.Object, ev.Type)
	}
	r, err := record(kind, obj)
	if err != nil {
		return datastore.Event{}, fmt.Errorf("watch %s: %w", kind, err)
	}
	out := datastore.Event{Name: r.Name, Value: r.Value, Revision: r.Revision}
	switch ev.Type {
	case watch.Added, watch.Modified:
		out.Type = datastore.EventPut
	case watch.Deleted:
		// The API server sends the object as it was, stamped with the delete's resourceVersion.
		out.Type = datastore.EventDelete
	default:
		return datastore.Event{}, fmt.Errorf("watch %s: unknown event type %q", kind, ev.Type)
	}
	return out, nil
}

// Close implements datastore.Store; the dynamic client holds no connection of its own.
func (s *Store) Close() error { return nil }

// requestError maps an API error onto the datastore's typed errors.
func requestError(op string, kind datastore.Kind, name string, rev int64, err error) error {
	what := fmt.Sprintf("%s %s", op, kind)
	if name != "" {
		what += fmt.Sprintf(" %q", name)
	}
	switch {
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("%s: %w", what, datastore.ErrExists)
	case apierrors.IsConflict(err):
		return fmt.Errorf("%s at revision %d: %w (re-read it and retry)", what, rev, datastore.ErrConflict)
	case objectNotFound(err, name):
		return fmt.Errorf("%s: %w", what, datastore.ErrNotFound)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s: the API server does not serve %s: %w (apply deploy/manifests/crds.yaml)", what, GVR(kind).GroupResource(), err)
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return fmt.Errorf("%s: %w (the agent's service account needs deploy/manifests/rbac.yaml)", what, err)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w (is the cluster's API server up? retry later)", what, datastore.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// objectNotFound tells "this object does not exist" from "this resource type does not exist":
// both are 404, but only the first names the object.
func objectNotFound(err error, name string) bool {
	if !apierrors.IsNotFound(err) || name == "" {
		return false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d != nil && d.Name == name
}

// unavailable reports failures a retry may cure: the API server overloaded, restarting,
// unreachable, or slow.
func unavailable(err error) bool {
	if apierrors.IsServiceUnavailable(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err) || apierrors.IsUnexpectedServerError(err) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

func checkName(kind datastore.Kind, name string) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid %s name %q: names are non-empty and contain no '/'", kind, name)
	}
	// Checked here so that the caller hears why, instead of the API server's 422.
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("invalid %s name %q for the kubernetes datastore: %s", kind, name, strings.Join(errs, "; "))
	}
	return nil
}

func checkKind(kind datastore.Kind) error {
	if _, ok := kindNames[kind]; !ok {
		return fmt.Errorf("unknown kind %q: use one of %v", kind, datastore.Kinds)
	}
	return nil
}
