package clab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// fakeDocker answers the Docker API calls preflight, destroy and status make, from its fields.
// Calls it does not implement panic through the nil embedded interface, so a test fails loudly
// if the code under test reaches further than it should.
type fakeDocker struct {
	dockerAPI
	pingErr    error
	images     map[string]bool
	containers []container.Summary
	networks   []network.Summary

	mu      sync.Mutex
	removed []string
}

func (f *fakeDocker) Ping(context.Context) (types.Ping, error) { return types.Ping{}, f.pingErr }

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if f.images[ref] {
		return image.InspectResponse{ID: "sha256:" + ref}, nil
	}
	return image.InspectResponse{}, errdefs.NotFound(fmt.Errorf("No such image: %s", ref))
}

func (f *fakeDocker) ContainerList(_ context.Context, opts container.ListOptions) ([]container.Summary, error) {
	var out []container.Summary
	for _, c := range f.containers {
		if keepContainer(c, opts) {
			out = append(out, c)
		}
	}
	return out, nil
}

// keepContainer applies the name (substring) and label filters the way the daemon does.
func keepContainer(c container.Summary, opts container.ListOptions) bool {
	for _, name := range opts.Filters.Get("name") {
		match := false
		for _, n := range c.Names {
			match = match || strings.Contains(n, name)
		}
		if !match {
			return false
		}
	}
	for _, l := range opts.Filters.Get("label") {
		k, v, _ := strings.Cut(l, "=")
		if c.Labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeDocker) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, "container "+id)
	return nil
}

func (f *fakeDocker) NetworkList(context.Context, network.ListOptions) ([]network.Summary, error) {
	return f.networks, nil
}

func (f *fakeDocker) NetworkInspect(_ context.Context, id string, _ network.InspectOptions) (network.Inspect, error) {
	for _, n := range f.networks {
		if n.Name == id {
			return n, nil
		}
	}
	return network.Inspect{}, errdefs.NotFound(fmt.Errorf("network %s not found", id))
}

func (f *fakeDocker) NetworkRemove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, "network "+id)
	return nil
}

// fakeKind is the kind library's cluster list.
type fakeKind struct {
	clusters    []string
	deleted     []string
	kubeconfigs []string // the explicit kubeconfig path of each Delete ("" is kind's default: $KUBECONFIG or ~/.kube/config)
}

func (k *fakeKind) List() ([]string, error) { return k.clusters, nil }
func (k *fakeKind) KubeConfig(string, bool) (string, error) {
	return "", errors.New("fakeKind: no kubeconfig")
}
func (k *fakeKind) Delete(name, kubeconfig string) error {
	k.deleted = append(k.deleted, name)
	k.kubeconfigs = append(k.kubeconfigs, kubeconfig)
	return nil
}
func (k *fakeKind) ListNodes(string) ([]nodes.Node, error) {
	return nil, errors.New("fakeKind: no nodes")
}

// fakeHost builds a host from fakes; procSys maps /proc/sys paths to their contents and
// commands maps a command line to its output (absent commands fail).
func fakeHost(t *testing.T, d *fakeDocker, k *fakeKind, onPath []string, procSys map[string]string, commands map[string]string) *host {
	t.Helper()
	path := map[string]bool{}
	for _, p := range onPath {
		path[p] = true
	}
	return &host{
		docker: func() (dockerAPI, error) { return d, nil },
		kind:   func() kindAPI { return k },
		lookPath: func(file string) (string, error) {
			if path[file] {
				return "/usr/bin/" + file, nil
			}
			return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
		},
		output: func(_ context.Context, _ string, argv []string) ([]byte, error) {
			if out, ok := commands[strings.Join(argv, " ")]; ok {
				return []byte(out), nil
			}
			return nil, fmt.Errorf("fakeHost: unexpected command %q", strings.Join(argv, " "))
		},
		stream: func(_ context.Context, _ string, argv []string, line func(string)) error {
			out, ok := commands[strings.Join(argv, " ")]
			if !ok {
				return fmt.Errorf("fakeHost: unexpected command %q", strings.Join(argv, " "))
			}
			for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
				line(l)
			}
			return nil
		},
		readFile: func(p string) ([]byte, error) {
			if v, ok := procSys[p]; ok {
				return []byte(v), nil
			}
			return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrNotExist}
		},
		fetch: func(context.Context, string) ([]byte, error) {
			return nil, fmt.Errorf("fakeHost: no network (%d)", http.StatusServiceUnavailable)
		},
		euid:       func() int { return 0 },
		userGroups: func() (string, []string, error) { return "root", []string{"root"}, nil },
	}
}

// unusableHost fails the test on any contact with the outside: --dry-run must touch nothing.
func unusableHost(t *testing.T) *host {
	fail := func(what string) error { t.Errorf("--dry-run touched the host: %s", what); return errors.New(what) }
	return &host{
		docker:   func() (dockerAPI, error) { return nil, fail("docker") },
		kind:     func() kindAPI { _ = fail("kind"); return &fakeKind{} },
		lookPath: func(f string) (string, error) { return "", fail("lookPath " + f) },
		output: func(_ context.Context, _ string, argv []string) ([]byte, error) {
			return nil, fail(strings.Join(argv, " "))
		},
		stream: func(_ context.Context, _ string, argv []string, _ func(string)) error {
			return fail(strings.Join(argv, " "))
		},
		readFile: func(p string) ([]byte, error) { return nil, fail("read " + p) },
		fetch:    func(_ context.Context, u string) ([]byte, error) { return nil, fail("fetch " + u) },
		euid:     func() int { _ = fail("euid"); return -1 },
		userGroups: func() (string, []string, error) {
			return "", nil, fail("user groups")
		},
	}
}
