// Package kubestoretest is an in-memory stand-in for the Kubernetes API server, serving the
// datastore.knetlab.dev/v1 custom resources over HTTP on loopback, for tests of the kubernetes
// datastore and of what runs on it (IPAM, the agent's install step).
//
// Why not k8s.io/client-go/dynamic/fake: its object tracker neither assigns resourceVersions nor
// checks them on update, and its Delete drops the DeleteOptions, so a reactor could not even see
// the precondition a compare-and-swap delete sends. This double instead answers the real REST
// client (the same requests, JSON and watch stream a cluster gets) and implements the API
// server's optimistic concurrency itself: one resourceVersion counter shared by every resource
// (as etcd's revision is), incremented on every write; a PUT or a DELETE whose resourceVersion
// precondition is not the object's current one is rejected with 409 Conflict; a watch from a
// resourceVersion replays every later change, and one older than the last compaction gets
// 410 Gone. What it does not model: admission, schema pruning, field selectors, pagination
// beyond the limit parameter, and watch timeouts.
package kubestoretest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
)

// APIServer is the in-memory API server.
type APIServer struct {
	srv *httptest.Server

	mu        sync.Mutex
	rev       int64
	compacted int64
	objects   map[string]map[string]map[string]any // resource → name → object
	history   []change
	watchers  map[*watcher]struct{}
	failWith  int // HTTP status every request gets while set (0: none)
	requests  []string
}

type change struct {
	resource string
	typ      string // ADDED, MODIFIED, DELETED
	object   map[string]any
	rev      int64
}

type watcher struct {
	resource string
	events   chan change
}

// Start runs an API server on 127.0.0.1 serving every datastore kind, stopped when the test ends.
func Start(tb testing.TB) *APIServer {
	tb.Helper()
	a := &APIServer{
		objects:  make(map[string]map[string]map[string]any),
		watchers: make(map[*watcher]struct{}),
	}
	for _, k := range datastore.Kinds {
		a.objects[string(k)] = make(map[string]map[string]any)
	}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	tb.Cleanup(a.Close)
	return a
}

// Close ends every watch and stops the server.
func (a *APIServer) Close() {
	a.mu.Lock()
	for w := range a.watchers {
		close(w.events)
		delete(a.watchers, w)
	}
	a.mu.Unlock()
	a.srv.Close()
}

// Config is a REST config for the server, as a kubeconfig would give.
func (a *APIServer) Config() *rest.Config {
	return &rest.Config{Host: a.srv.URL, QPS: -1} // QPS -1: no client-side rate limit in tests
}

// URL is the server's address.
func (a *APIServer) URL() string { return a.srv.URL }

// Store returns a kubernetes datastore talking to the server.
func (a *APIServer) Store(tb testing.TB) *kubestore.Store {
	tb.Helper()
	s, err := kubestore.NewForConfig(a.Config())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// Dynamic returns a dynamic client of the server, for tests that write custom resources the
// way kubectl or a deploy would.
func (a *APIServer) Dynamic(tb testing.TB) dynamic.Interface {
	tb.Helper()
	c, err := dynamic.NewForConfig(a.Config())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// FailWith makes every later request fail with the HTTP status code (0 heals the server).
func (a *APIServer) FailWith(code int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failWith = code
}

// Compact forgets the history up to the current resourceVersion: a watch from an older one
// then gets 410 Gone, as after etcd's compaction.
func (a *APIServer) Compact() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.compacted = a.rev
	a.history = nil
}

// CloseWatches ends every open watch, as the API server does when a watch times out.
func (a *APIServer) CloseWatches() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for w := range a.watchers {
		close(w.events)
		delete(a.watchers, w)
	}
}

// Requests lists the requests served so far as "VERB path?query", in order.
func (a *APIServer) Requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.requests)
}

// failureReasons are the reasons the API server gives with the status codes FailWith injects.
var failureReasons = map[int]metav1.StatusReason{
	http.StatusServiceUnavailable:  metav1.StatusReasonServiceUnavailable,
	http.StatusTooManyRequests:     metav1.StatusReasonTooManyRequests,
	http.StatusInternalServerError: metav1.StatusReasonInternalError,
	http.StatusGatewayTimeout:      metav1.StatusReasonTimeout,
	http.StatusForbidden:           metav1.StatusReasonForbidden,
	http.StatusUnauthorized:        metav1.StatusReasonUnauthorized,
}

const prefix = "/apis/" + kubestore.Group + "/" + kubestore.Version + "/"

func (a *APIServer) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.requests = append(a.requests, r.Method+" "+r.URL.RequestURI())
	fail := a.failWith
	a.mu.Unlock()
	if fail != 0 {
		writeStatus(w, fail, failureReasons[fail], "", "", "injected failure")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "", "", "the server could not find the requested resource")
		return
	}
	resource, name, _ := strings.Cut(rest, "/")
	if _, ok := a.objects[resource]; !ok {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "", "", "the server could not find the requested resource")
		return
	}
	switch {
	case name == "" && r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		a.watch(w, r, resource)
	case name == "" && r.Method == http.MethodGet:
		a.list(w, r, resource)
	case name == "" && r.Method == http.MethodPost:
		a.create(w, r, resource)
	case name != "" && r.Method == http.MethodGet:
		a.get(w, resource, name)
	case name != "" && r.Method == http.MethodPut:
		a.update(w, r, resource, name)
	case name != "" && r.Method == http.MethodDelete:
		a.delete(w, r, resource, name)
	default:
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, resource, name, r.Method+" is not supported")
	}
}

func (a *APIServer) get(w http.ResponseWriter, resource, name string) {
	a.mu.Lock()
	obj, ok := a.objects[resource][name]
	a.mu.Unlock()
	if !ok {
		writeNotFound(w, resource, name)
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

func (a *APIServer) list(w http.ResponseWriter, r *http.Request, resource string) {
	a.mu.Lock()
	names := make([]string, 0, len(a.objects[resource]))
	for n := range a.objects[resource] {
		names = append(names, n)
	}
	slices.Sort(names)
	if limit, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && limit > 0 && limit < len(names) {
		names = names[:limit]
	}
	items := make([]any, 0, len(names))
	for _, n := range names {
		items = append(items, a.objects[resource][n])
	}
	rev := a.rev
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"apiVersion": kubestore.Group + "/" + kubestore.Version,
		"kind":       listKind(resource),
		"metadata":   map[string]any{"resourceVersion": strconv.FormatInt(max(rev, 1), 10)},
		"items":      items,
	})
}

func (a *APIServer) create(w http.ResponseWriter, r *http.Request, resource string) {
	obj, ok := readObject(w, r)
	if !ok {
		return
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		writeStatus(w, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, resource, "", "metadata.name: Required value")
		return
	}
	if rv, _ := meta["resourceVersion"].(string); rv != "" {
		writeStatus(w, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, resource, name, "resourceVersion should not be set on objects to be created")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, exists := a.objects[resource][name]; exists {
		writeStatus(w, http.StatusConflict, metav1.StatusReasonAlreadyExists, resource, name, fmt.Sprintf("%s %q already exists", resource, name))
		return
	}
	meta["uid"] = fmt.Sprintf("uid-%s-%d", name, a.rev+1)
	meta["creationTimestamp"] = time.Now().UTC().Format(time.RFC3339)
	stored := a.commit(resource, name, "ADDED", obj)
	writeJSON(w, http.StatusCreated, stored)
}

func (a *APIServer) update(w http.ResponseWriter, r *http.Request, resource, name string) {
	obj, ok := readObject(w, r)
	if !ok {
		return
	}
	meta, _ := obj["metadata"].(map[string]any)
	rv, _ := meta["resourceVersion"].(string)
	a.mu.Lock()
	defer a.mu.Unlock()
	cur, exists := a.objects[resource][name]
	if !exists {
		// CRDs do not allow create-on-update.
		writeNotFound(w, resource, name)
		return
	}
	if rv == "" {
		writeStatus(w, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, resource, name, "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update")
		return
	}
	curMeta := cur["metadata"].(map[string]any)
	if rv != curMeta["resourceVersion"] {
		writeStatus(w, http.StatusConflict, metav1.StatusReasonConflict, resource, name,
			fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", resource, name))
		return
	}
	meta["uid"], meta["creationTimestamp"] = curMeta["uid"], curMeta["creationTimestamp"]
	stored := a.commit(resource, name, "MODIFIED", obj)
	writeJSON(w, http.StatusOK, stored)
}

func (a *APIServer) delete(w http.ResponseWriter, r *http.Request, resource, name string) {
	var opts metav1.DeleteOptions
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&opts); err != nil {
			writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, resource, name, "delete options: "+err.Error())
			return
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cur, exists := a.objects[resource][name]
	if !exists {
		writeNotFound(w, resource, name)
		return
	}
	if p := opts.Preconditions; p != nil && p.ResourceVersion != nil && *p.ResourceVersion != cur["metadata"].(map[string]any)["resourceVersion"] {
		writeStatus(w, http.StatusConflict, metav1.StatusReasonConflict, resource, name,
			fmt.Sprintf("Operation cannot be fulfilled on %s %q: Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %v",
				resource, name, *p.ResourceVersion, cur["metadata"].(map[string]any)["resourceVersion"]))
		return
	}
	// The deleted object goes out once more, stamped with the delete's resourceVersion.
	last := a.commit(resource, name, "DELETED", cur)
	writeJSON(w, http.StatusOK, last)
}

// commit stores (or removes) an object at the next resourceVersion and tells the watchers.
// The caller holds a.mu.
func (a *APIServer) commit(resource, name, typ string, obj map[string]any) map[string]any {
	a.rev++
	obj = deepCopy(obj)
	obj["metadata"].(map[string]any)["resourceVersion"] = strconv.FormatInt(a.rev, 10)
	if typ == "DELETED" {
		delete(a.objects[resource], name)
	} else {
		a.objects[resource][name] = obj
	}
	c := change{resource: resource, typ: typ, object: obj, rev: a.rev}
	a.history = append(a.history, c)
	for w := range a.watchers {
		if w.resource != resource {
			continue
		}
		select {
		case w.events <- c:
		default:
			// A watcher that cannot keep up is ended, as the API server ends one; its client
			// lists again.
			close(w.events)
			delete(a.watchers, w)
		}
	}
	return deepCopy(obj)
}

func (a *APIServer) watch(w http.ResponseWriter, r *http.Request, resource string) {
	from := int64(0)
	if rv := r.URL.Query().Get("resourceVersion"); rv != "" && rv != "0" {
		var err error
		if from, err = strconv.ParseInt(rv, 10, 64); err != nil {
			writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, resource, "", "invalid resourceVersion "+rv)
			return
		}
	}
	a.mu.Lock()
	var backlog []change
	gone := false
	switch {
	case from == 0:
		// No resourceVersion: the API server starts with every existing object as ADDED.
		names := make([]string, 0, len(a.objects[resource]))
		for n := range a.objects[resource] {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			backlog = append(backlog, change{resource: resource, typ: "ADDED", object: a.objects[resource][n]})
		}
	case from < a.compacted:
		gone = true
	default:
		for _, c := range a.history {
			if c.resource == resource && c.rev > from {
				backlog = append(backlog, c)
			}
		}
	}
	// Buffered: commit sends while holding the lock and never waits for a slow reader.
	wt := &watcher{resource: resource, events: make(chan change, 4096)}
	compacted := a.compacted
	if !gone {
		a.watchers[wt] = struct{}{}
	}
	a.mu.Unlock()
	defer a.forget(wt)

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	emit := func(typ string, obj any) bool {
		if err := enc.Encode(map[string]any{"type": typ, "object": obj}); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	if gone {
		emit("ERROR", status(http.StatusGone, metav1.StatusReasonExpired, resource, "",
			fmt.Sprintf("too old resource version: %d (%d)", from, compacted)))
		return
	}
	if flusher != nil {
		flusher.Flush()
	}
	for _, c := range backlog {
		if !emit(c.typ, c.object) {
			return
		}
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case c, ok := <-wt.events:
			if !ok {
				return
			}
			if !emit(c.typ, c.object) {
				return
			}
		}
	}
}

func (a *APIServer) forget(wt *watcher) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.watchers[wt]; ok {
		delete(a.watchers, wt)
		close(wt.events)
	}
}

func listKind(resource string) string {
	for _, k := range datastore.Kinds {
		if string(k) == resource {
			return kubestore.GVK(k).Kind + "List"
		}
	}
	return ""
}

func readObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var obj map[string]any
	if err := json.NewDecoder(r.Body).Decode(&obj); err != nil {
		writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "", "", "body: "+err.Error())
		return nil, false
	}
	if _, ok := obj["metadata"].(map[string]any); !ok {
		obj["metadata"] = map[string]any{}
	}
	return obj, true
}

func deepCopy(obj map[string]any) map[string]any {
	data, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		panic(err)
	}
	return out
}

func status(code int, reason metav1.StatusReason, resource, name, msg string) *metav1.Status {
	s := &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code),
	}
	if resource != "" {
		s.Details = &metav1.StatusDetails{Name: name, Group: kubestore.Group, Kind: resource}
	}
	return s
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, resource, name, msg string) {
	writeJSON(w, code, status(code, reason, resource, name, msg))
}

func writeNotFound(w http.ResponseWriter, resource, name string) {
	writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, resource, name,
		fmt.Sprintf("%s.%s %q not found", resource, kubestore.Group, name))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
