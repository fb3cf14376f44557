// Package dockertest is a stand-in Docker Engine for tests: an httptest server that speaks the
// Engine API endpoints knetlab's Docker client calls make (ping and version negotiation,
// container list with filters, container remove, exec create/start/inspect with the
// multiplexed stream, image inspect, network list/inspect/remove), with the JSON shapes and
// the error statuses of the real daemon (API v1.47, Docker Engine 27). A real
// github.com/docker/docker/client pointed at it exercises the SDK on the wire.
//
// It is written from the Engine API reference (docs.docker.com/reference/api/engine) and the
// daemon's behaviour, never kinder than the daemon: an unknown container is 404, exec in a
// stopped container is 409, an unknown route is 404 "page not found", an exec whose command
// the container lacks writes the runtime's error on the stdout stream and exits 127.
package dockertest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// APIVersion is the newest Engine API version the double speaks (Docker Engine 27.x); the
// client negotiates down to it.
const APIVersion = "1.47"

// minAPIVersion is the oldest version the daemon accepts.
const minAPIVersion = "1.24"

// Result is what a command run by exec prints and exits with.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
	// NotFound: the container has no such executable. The runtime's error goes to the stdout
	// stream and the exit code is 127, as with the real daemon.
	NotFound bool
}

// Container is one container of the engine.
type Container struct {
	ID     string // 64 hex digits are not required; unique is
	Name   string // without the leading slash
	Image  string
	Labels map[string]string
	State  string // running, exited, created
	Status string // "Up 3 minutes"
	// Networks maps a network name to the container's IPv4 address on it.
	Networks map[string]string
	// Exec runs a command in the container with what the client sent on stdin (read to the
	// client's half-close when the exec attached stdin, else nil); nil answers every command as
	// not found.
	Exec func(argv []string, stdin []byte) Result
}

// Network is one docker network.
type Network struct {
	Name       string
	Subnet     string
	Containers []string // IDs of attached containers
}

// Request is one API call the engine received.
type Request struct {
	Method  string
	Version string // the API version of the path prefix; "" for an unversioned path (/_ping)
	Path    string // without the /vX.Y prefix
	Query   url.Values
	Body    []byte
}

// Engine is the double. Its fields may be set before the first request.
type Engine struct {
	Containers []Container
	Images     map[string]string // ref → image ID
	Networks   []Network
	// BuildError, when set, fails every build at its first RUN instruction the way the daemon
	// reports it: HTTP 200 and an error message in the JSON stream.
	BuildError string

	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	requests []Request
	execs    map[string]*execInstance
	nextExec int
}

type execInstance struct {
	id, container string
	cmd           []string
	stdin         bool
	stdout        bool
	stderr        bool
	running       bool
	exitCode      *int
}

// New starts an engine with these containers; it stops when the test ends.
func New(t testing.TB, containers ...Container) *Engine {
	e := &Engine{t: t, Containers: containers, Images: map[string]string{}, execs: map[string]*execInstance{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

// Host is the engine's address as DOCKER_HOST or client.WithHost take it.
func (e *Engine) Host() string {
	return "tcp://" + strings.TrimPrefix(e.srv.URL, "http://")
}

// Requests returns the calls received so far, in order.
func (e *Engine) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.requests...)
}

var versioned = regexp.MustCompile(`^/v(\d+\.\d+)(/.*)$`)

func (e *Engine) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p, version := r.URL.Path, ""
	if m := versioned.FindStringSubmatch(p); m != nil {
		if versionLess(APIVersion, m[1]) {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", m[1], APIVersion))
			return
		}
		if versionLess(m[1], minAPIVersion) {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", m[1], minAPIVersion))
			return
		}
		p, version = m[2], m[1]
	}
	e.mu.Lock()
	e.requests = append(e.requests, Request{Method: r.Method, Version: version, Path: p, Query: r.URL.Query(), Body: body})
	e.mu.Unlock()
	w.Header().Set("Api-Version", APIVersion)
	w.Header().Set("Server", "Docker/27.5.1 (linux)")
	w.Header().Set("Ostype", "linux")
	w.Header().Set("Docker-Experimental", "false")

	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case p == "/_ping" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		w.Header().Set("Builder-Version", "2")
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "OK")
		}
	case p == "/containers/json" && r.Method == http.MethodGet:
		e.listContainers(w, r)
	case len(parts) == 3 && parts[0] == "containers" && parts[2] == "exec" && r.Method == http.MethodPost:
		e.execCreate(w, parts[1], body)
	case len(parts) == 2 && parts[0] == "containers" && r.Method == http.MethodDelete:
		e.removeContainer(w, parts[1])
	case len(parts) == 3 && parts[0] == "exec" && parts[2] == "start" && r.Method == http.MethodPost:
		e.execStart(w, r, parts[1], body)
	case len(parts) == 3 && parts[0] == "exec" && parts[2] == "json" && r.Method == http.MethodGet:
		e.execInspect(w, parts[1])
	case len(parts) >= 3 && parts[0] == "images" && parts[len(parts)-1] == "json" && r.Method == http.MethodGet:
		e.imageInspect(w, strings.Join(parts[1:len(parts)-1], "/"))
	case p == "/build" && r.Method == http.MethodPost:
		e.build(w, r, body)
	case p == "/images/get" && r.Method == http.MethodGet:
		e.imageSave(w, r.URL.Query()["names"])
	case p == "/networks" && r.Method == http.MethodGet:
		e.listNetworks(w)
	case len(parts) == 2 && parts[0] == "networks" && r.Method == http.MethodGet:
		e.inspectNetwork(w, parts[1])
	case len(parts) == 2 && parts[0] == "networks" && r.Method == http.MethodDelete:
		e.removeNetwork(w, parts[1])
	default:
		apiError(w, http.StatusNotFound, "page not found")
	}
}

// apiError is the daemon's error body: {"message": "..."}.
func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// versionLess compares API versions "1.47" numerically.
func versionLess(a, b string) bool {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	ai, _ := strconv.Atoi(am)
	bi, _ := strconv.Atoi(bm)
	if ai != bi {
		return ai < bi
	}
	aj, _ := strconv.Atoi(an)
	bj, _ := strconv.Atoi(bn)
	return aj < bj
}

// find resolves a container reference the way the daemon does: full ID, name (with or without
// the leading slash), or a unique ID prefix.
func (e *Engine) find(ref string) (*Container, bool) {
	ref = strings.TrimPrefix(ref, "/")
	for i := range e.Containers {
		if c := &e.Containers[i]; c.ID == ref || c.Name == ref {
			return c, true
		}
	}
	var found *Container
	for i := range e.Containers {
		if c := &e.Containers[i]; ref != "" && strings.HasPrefix(c.ID, ref) {
			if found != nil {
				return nil, false
			}
			found = c
		}
	}
	return found, found != nil
}

// parseFilters reads the filters query parameter: {"label":{"k=v":true}}, or the older
// {"label":["k=v"]} the daemon still accepts.
func parseFilters(raw string) (map[string][]string, error) {
	out := map[string][]string{}
	if raw == "" {
		return out, nil
	}
	var cur map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &cur); err == nil {
		for k, set := range cur {
			for v := range set {
				out[k] = append(out[k], v)
			}
		}
		return out, nil
	}
	var old map[string][]string
	if err := json.Unmarshal([]byte(raw), &old); err != nil {
		return nil, fmt.Errorf("invalid filter: %v", err)
	}
	return old, nil
}

// containerFilters are the filter keys the daemon accepts for a container list; others are 400.
var containerFilters = map[string]bool{
	"ancestor": true, "before": true, "expose": true, "exited": true, "health": true, "id": true,
	"isolation": true, "is-task": true, "label": true, "name": true, "network": true,
	"publish": true, "since": true, "status": true, "volume": true,
}

func (e *Engine) listContainers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := parseFilters(q.Get("filters"))
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	for k := range f {
		if !containerFilters[k] {
			apiError(w, http.StatusBadRequest, "invalid filter '"+k+"'")
			return
		}
		if k != "label" && k != "name" && k != "id" && k != "status" {
			apiError(w, http.StatusNotImplemented, "dockertest: filter "+k+" is not implemented")
			return
		}
	}
	all := q.Get("all") == "1" || q.Get("all") == "true"
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []containerJSON{}
	for _, c := range e.Containers {
		if !all && c.State != "running" && len(f["status"]) == 0 {
			continue
		}
		if !matchContainer(c, f) {
			continue
		}
		out = append(out, toJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// matchContainer applies the filters as the daemon does: values of one key are alternatives,
// keys all apply; a label filter is "key" (present) or "key=value"; name is a regular
// expression matched against the name with its slash.
func matchContainer(c Container, f map[string][]string) bool {
	anyOf := func(vals []string, match func(string) bool) bool {
		if len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if match(v) {
				return true
			}
		}
		return false
	}
	for _, l := range f["label"] { // every label filter must hold
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := c.Labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return anyOf(f["name"], func(v string) bool {
		re, err := regexp.Compile(v)
		return err == nil && re.MatchString("/"+c.Name)
	}) && anyOf(f["id"], func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		anyOf(f["status"], func(v string) bool { return c.State == v })
}

// containerJSON is one entry of GET /containers/json (ContainerSummary in the API reference).
type containerJSON struct {
	ID              string            `json:"Id"`
	Names           []string          `json:"Names"`
	Image           string            `json:"Image"`
	ImageID         string            `json:"ImageID"`
	Command         string            `json:"Command"`
	Created         int64             `json:"Created"`
	Ports           []any             `json:"Ports"`
	Labels          map[string]string `json:"Labels"`
	State           string            `json:"State"`
	Status          string            `json:"Status"`
	HostConfig      map[string]string `json:"HostConfig"`
	NetworkSettings struct {
		Networks map[string]endpointJSON `json:"Networks"`
	} `json:"NetworkSettings"`
	Mounts []any `json:"Mounts"`
}

type endpointJSON struct {
	NetworkID   string `json:"NetworkID"`
	EndpointID  string `json:"EndpointID"`
	Gateway     string `json:"Gateway"`
	IPAddress   string `json:"IPAddress"`
	IPPrefixLen int    `json:"IPPrefixLen"`
	MacAddress  string `json:"MacAddress"`
}

func toJSON(c Container) containerJSON {
	j := containerJSON{ID: c.ID, Names: []string{"/" + c.Name}, Image: c.Image, ImageID: "sha256:" + c.ID,
		Command: "/usr/local/bin/entrypoint /sbin/init", Created: 1733040000, Ports: []any{},
		Labels: c.Labels, State: c.State, Status: c.Status,
		HostConfig: map[string]string{"NetworkMode": "bridge"}, Mounts: []any{}}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	j.NetworkSettings.Networks = map[string]endpointJSON{}
	for n, ip := range c.Networks {
		j.NetworkSettings.Networks[n] = endpointJSON{NetworkID: "net-" + n, EndpointID: "ep-" + c.ID, IPAddress: ip, IPPrefixLen: 24}
	}
	return j
}

func (e *Engine) removeContainer(w http.ResponseWriter, ref string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.find(ref)
	if !ok {
		apiError(w, http.StatusNotFound, "No such container: "+ref)
		return
	}
	id := c.ID
	for i := range e.Containers {
		if e.Containers[i].ID == id {
			e.Containers = append(e.Containers[:i], e.Containers[i+1:]...)
			break
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// execConfig is the body of POST /containers/{id}/exec.
type execConfig struct {
	AttachStdin  bool     `json:"AttachStdin"`
	AttachStdout bool     `json:"AttachStdout"`
	AttachStderr bool     `json:"AttachStderr"`
	Tty          bool     `json:"Tty"`
	Cmd          []string `json:"Cmd"`
}

func (e *Engine) execCreate(w http.ResponseWriter, ref string, body []byte) {
	var cfg execConfig
	if err := json.Unmarshal(body, &cfg); err != nil {
		apiError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.find(ref)
	switch {
	case !ok:
		apiError(w, http.StatusNotFound, "No such container: "+ref)
		return
	case c.State != "running":
		apiError(w, http.StatusConflict, "container "+c.ID+" is not running")
		return
	case len(cfg.Cmd) == 0:
		apiError(w, http.StatusBadRequest, "No exec command specified")
		return
	}
	e.nextExec++
	id := fmt.Sprintf("%064x", e.nextExec)
	e.execs[id] = &execInstance{id: id, container: c.ID, cmd: cfg.Cmd, stdin: cfg.AttachStdin, stdout: cfg.AttachStdout, stderr: cfg.AttachStderr}
	writeJSON(w, http.StatusCreated, map[string]string{"Id": id})
}

// execStart hijacks the connection like the daemon: 101 UPGRADED when the client asked for an
// upgrade (else 200), then the multiplexed stream (API ≥ 1.42 names it so in Content-Type).
func (e *Engine) execStart(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	var start struct {
		Detach bool `json:"Detach"`
		Tty    bool `json:"Tty"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &start); err != nil {
			apiError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
			return
		}
	}
	e.mu.Lock()
	ex, ok := e.execs[id]
	var c *Container
	if ok {
		c, _ = e.find(ex.container)
	}
	switch {
	case !ok:
		e.mu.Unlock()
		apiError(w, http.StatusNotFound, "No such exec instance: "+id)
		return
	case ex.running || ex.exitCode != nil:
		e.mu.Unlock()
		apiError(w, http.StatusConflict, "Error: Exec command "+id+" has already run")
		return
	case c == nil || c.State != "running":
		e.mu.Unlock()
		apiError(w, http.StatusConflict, "container "+ex.container+" is not running")
		return
	}
	ex.running = true
	run := c.Exec
	e.mu.Unlock()

	hj, ok := w.(http.Hijacker)
	if !ok {
		apiError(w, http.StatusInternalServerError, "dockertest: cannot hijack")
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	contentType := "application/vnd.docker.raw-stream"
	if _, upgrade := r.Header["Upgrade"]; upgrade {
		if !start.Tty && !versionLess(requestVersion(r), "1.42") {
			contentType = "application/vnd.docker.multiplexed-stream"
		}
		fmt.Fprintf(buf, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", contentType)
	} else {
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n", contentType)
	}
	_ = buf.Flush()
	var stdin []byte
	if ex.stdin {
		// The command reads stdin until the client half-closes its side; a client that never
		// does would hang a real command, so a stuck test fails after the deadline.
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		stdin, err = io.ReadAll(buf)
		if err != nil {
			e.t.Errorf("dockertest: exec %v: stdin not closed by the client (%v): a real command would wait forever", ex.cmd, err)
			return // the exec never exits
		}
		_ = conn.SetReadDeadline(time.Time{})
	}
	res := Result{NotFound: true}
	if run != nil {
		res = run(ex.cmd, stdin)
	}
	if res.NotFound {
		res.Stdout = fmt.Sprintf("OCI runtime exec failed: exec failed: unable to start container process: exec: %q: executable file not found in $PATH: unknown\r\n", ex.cmd[0])
		res.Stderr, res.ExitCode = "", 127
		ex.stdout = true // the daemon writes a start error to the stdout stream regardless
	}
	if ex.stdout && res.Stdout != "" {
		writeFrame(buf, 1, res.Stdout)
	}
	if ex.stderr && res.Stderr != "" {
		writeFrame(buf, 2, res.Stderr)
	}
	_ = buf.Flush()
	code := res.ExitCode
	e.mu.Lock()
	ex.running, ex.exitCode = false, &code
	e.mu.Unlock()
}

// requestVersion is the API version in the request path ("" means the newest).
func requestVersion(r *http.Request) string {
	if m := versioned.FindStringSubmatch(r.URL.Path); m != nil {
		return m[1]
	}
	return APIVersion
}

// writeFrame writes one frame of the multiplexed stream: a header of the stream (1 stdout,
// 2 stderr), three zero bytes and the big-endian payload length, then the payload.
func writeFrame(w *bufio.ReadWriter, stream byte, payload string) {
	n := len(payload)
	_, _ = w.Write([]byte{stream, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	_, _ = w.WriteString(payload)
}

// execInspect is GET /exec/{id}/json; ExitCode is null until the command has exited.
func (e *Engine) execInspect(w http.ResponseWriter, id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ex, ok := e.execs[id]
	if !ok {
		apiError(w, http.StatusNotFound, "No such exec instance: "+id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"CanRemove": false, "ContainerID": ex.container, "DetachKeys": "", "ExitCode": ex.exitCode,
		"ID": ex.id, "OpenStderr": ex.stderr, "OpenStdin": false, "OpenStdout": ex.stdout,
		"ProcessConfig": map[string]any{"arguments": ex.cmd[1:], "entrypoint": ex.cmd[0], "privileged": false, "tty": false, "user": ""},
		"Running":       ex.running, "Pid": 4242,
	})
}

func (e *Engine) imageInspect(w http.ResponseWriter, ref string) {
	e.mu.Lock()
	id, ok := e.Images[ref]
	e.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, "No such image: "+ref)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Id": id, "RepoTags": []string{ref}, "RepoDigests": []string{}, "Created": "2026-11-30T10:00:00Z",
		"Architecture": "amd64", "Os": "linux", "Size": 1 << 30,
		"Config":   map[string]any{"Cmd": []string{"/sbin/init"}},
		"RootFS":   map[string]any{"Type": "layers", "Layers": []string{id}},
		"Metadata": map[string]any{"LastTagTime": "0001-01-01T00:00:00Z"},
	})
}

func (e *Engine) networkJSON(n Network) map[string]any {
	containers := map[string]any{}
	for _, id := range n.Containers {
		containers[id] = map[string]string{"Name": id, "EndpointID": "ep-" + id}
	}
	var cfg []map[string]string
	if n.Subnet != "" {
		cfg = []map[string]string{{"Subnet": n.Subnet}}
	}
	return map[string]any{
		"Name": n.Name, "Id": "net-" + n.Name, "Created": "2026-11-30T10:00:00Z", "Scope": "local",
		"Driver": "bridge", "EnableIPv6": false, "Internal": false, "Attachable": false,
		"IPAM":       map[string]any{"Driver": "default", "Options": map[string]string{}, "Config": cfg},
		"Containers": containers, "Options": map[string]string{}, "Labels": map[string]string{},
	}
}

func (e *Engine) listNetworks(w http.ResponseWriter) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	nets := append([]Network(nil), e.Networks...)
	sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
	for _, n := range nets {
		j := e.networkJSON(n)
		j["Containers"] = map[string]any{} // the list leaves them out; inspect has them
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Engine) inspectNetwork(w http.ResponseWriter, ref string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.Networks {
		if n.Name == ref || "net-"+n.Name == ref {
			writeJSON(w, http.StatusOK, e.networkJSON(n))
			return
		}
	}
	apiError(w, http.StatusNotFound, "network "+ref+" not found")
}

func (e *Engine) removeNetwork(w http.ResponseWriter, ref string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, n := range e.Networks {
		if n.Name == ref || "net-"+n.Name == ref {
			if len(n.Containers) > 0 {
				apiError(w, http.StatusForbidden, "error while removing network: network "+n.Name+" id net-"+n.Name+" has active endpoints")
				return
			}
			e.Networks = append(e.Networks[:i], e.Networks[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	apiError(w, http.StatusNotFound, "network "+ref+" not found")
}

// Client is a real Docker SDK client for the engine, negotiating the API version as knetlab's
// own client does.
func (e *Engine) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.WithHost(e.Host()), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client for %s: %v", e.Host(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// build is POST /build with the classic builder: the body is the context as a tar, the
// Dockerfile is named by the dockerfile parameter (default Dockerfile). Progress is a stream of
// JSON messages; a failing step is an error message in that stream with status 200.
func (e *Engine) build(w http.ResponseWriter, r *http.Request, body []byte) {
	q := r.URL.Query()
	name := q.Get("dockerfile")
	if name == "" {
		name = "Dockerfile"
	}
	var dockerfile []byte
	tr := tar.NewReader(bytes.NewReader(body))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			apiError(w, http.StatusBadRequest, "failed to read the build context: "+err.Error())
			return
		}
		if path.Clean(hdr.Name) == path.Clean(name) {
			dockerfile, _ = io.ReadAll(tr)
		}
	}
	if dockerfile == nil {
		apiError(w, http.StatusInternalServerError, "Cannot locate specified Dockerfile: "+name)
		return
	}
	var steps []string
	for _, l := range strings.Split(string(dockerfile), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			steps = append(steps, l)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	for i, step := range steps {
		_ = enc.Encode(map[string]string{"stream": fmt.Sprintf("Step %d/%d : %s\n", i+1, len(steps), step)})
		if e.BuildError != "" && strings.HasPrefix(strings.ToUpper(step), "RUN ") {
			msg := fmt.Sprintf("The command '/bin/sh -c %s' returned a non-zero code: 1", strings.TrimSpace(step[4:]))
			_ = enc.Encode(map[string]string{"stream": e.BuildError + "\n"})
			_ = enc.Encode(map[string]any{"errorDetail": map[string]any{"code": 1, "message": msg}, "error": msg})
			return
		}
	}
	id := fmt.Sprintf("%012x", len(body))
	_ = enc.Encode(map[string]any{"aux": map[string]string{"ID": "sha256:" + id}})
	_ = enc.Encode(map[string]string{"stream": "Successfully built " + id + "\n"})
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range q["t"] {
		e.Images[t] = "sha256:" + id
		_ = enc.Encode(map[string]string{"stream": "Successfully tagged " + t + "\n"})
	}
}

// imageSave is GET /images/get: a tar of the named images; an unknown name is a 404.
func (e *Engine) imageSave(w http.ResponseWriter, names []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range names {
		if _, ok := e.Images[n]; !ok {
			apiError(w, http.StatusNotFound, "reference does not exist")
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	tw := tar.NewWriter(w)
	repos := map[string]map[string]string{}
	for _, n := range names {
		repo, tag, _ := strings.Cut(n, ":")
		repos[repo] = map[string]string{tag: strings.TrimPrefix(e.Images[n], "sha256:")}
	}
	data, _ := json.Marshal(repos)
	_ = tw.WriteHeader(&tar.Header{Name: "repositories", Mode: 0o644, Size: int64(len(data))})
	_, _ = tw.Write(data)
	_ = tw.Close()
}
