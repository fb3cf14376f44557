package clab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/knetlab/knetlab/internal/collect/nodeexec"
)

// dockerAPI is the part of the Docker Engine API the provider uses (*client.Client has it).
type dockerAPI interface {
	Ping(ctx context.Context) (types.Ping, error)
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageBuild(ctx context.Context, buildContext io.Reader, options build.ImageBuildOptions) (build.ImageBuildResponse, error)
	ImageSave(ctx context.Context, refs []string, opts ...client.ImageSaveOption) (io.ReadCloser, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerRemove(ctx context.Context, id string, options container.RemoveOptions) error
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkInspect(ctx context.Context, id string, options network.InspectOptions) (network.Inspect, error)
	NetworkRemove(ctx context.Context, id string) error
	nodeexec.DockerAPI
}

// kindAPI is the part of the kind library the provider uses (*cluster.Provider has it). kind
// itself drives the docker CLI, which is why preflight also wants `docker` on PATH.
type kindAPI interface {
	List() ([]string, error)
	KubeConfig(name string, internal bool) (string, error)
	Delete(name, explicitKubeconfigPath string) error
	ListNodes(name string) ([]nodes.Node, error)
}

// host is everything outside the process the provider touches. The real one talks to Docker,
// containerlab, kind, the API server and /proc; tests replace the parts they exercise.
type host struct {
	docker   func() (dockerAPI, error)
	kind     func() kindAPI
	lookPath func(file string) (string, error)
	// output runs a command to completion and returns its stdout (containerlab version/inspect).
	output func(ctx context.Context, dir string, argv []string) ([]byte, error)
	// stream runs a long command and hands every output line to line as it comes.
	stream   func(ctx context.Context, dir string, argv []string, line func(string)) error
	readFile func(path string) ([]byte, error)
	fetch    func(ctx context.Context, url string) ([]byte, error)
	euid     func() int
	// userGroups is the user knetlab runs as and the names of its groups.
	userGroups func() (name string, groups []string, err error)
	// nodeExec runs commands in the lab's node containers; nil is docker exec through docker().
	nodeExec nodeexec.Execer
}

func realHost() *host {
	var (
		once   sync.Once
		docker *client.Client
		errDkr error
	)
	return &host{
		docker: func() (dockerAPI, error) {
			once.Do(func() {
				// FromEnv honours DOCKER_HOST (rootless Docker, a remote engine); negotiation lets
				// one knetlab binary talk to older and newer engines.
				docker, errDkr = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
			})
			if errDkr != nil {
				return nil, errDkr
			}
			return docker, nil
		},
		kind:     func() kindAPI { return cluster.NewProvider(cluster.ProviderWithDocker()) },
		lookPath: exec.LookPath,
		output: func(ctx context.Context, dir string, argv []string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Dir = dir
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
			}
			return out, nil
		},
		stream:     streamCommand,
		readFile:   os.ReadFile,
		fetch:      fetchHTTPS,
		euid:       os.Geteuid,
		userGroups: currentUserGroups,
	}
}

// currentUserGroups names the user and the groups /etc/group lists it in, which is what
// containerlab checks (not the process's groups, which a new membership reaches only at login).
func currentUserGroups() (string, []string, error) {
	u, err := user.Current()
	if err != nil {
		return "", nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		return u.Username, nil, err
	}
	var names []string
	for _, id := range ids {
		if g, err := user.LookupGroupId(id); err == nil {
			names = append(names, g.Name)
		}
	}
	return u.Username, names, nil
}

// streamCommand runs argv with stdout and stderr merged and calls line for every line, so that
// containerlab's progress shows while it works instead of after it is done.
func streamCommand(ctx context.Context, dir string, argv []string, line func(string)) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	var last []string // the tail of the output explains a failure better than the exit code
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			l := sc.Text()
			line(l)
			last = append(last, l)
			if len(last) > 5 {
				last = last[1:]
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	if err != nil {
		return fmt.Errorf("%s: %w; last output:\n  %s", strings.Join(argv, " "), err, strings.Join(last, "\n  "))
	}
	return nil
}

// fetchHTTPS downloads a pinned manifest. Only https URLs are accepted: these manifests install
// cluster-admin software.
func fetchHTTPS(ctx context.Context, url string) ([]byte, error) {
	if !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("refusing to fetch %s: not https", url)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w (the real lab needs HTTPS access to raw.githubusercontent.com)", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	const limit = 64 << 20 // the operator CRDs are a few MB; anything far larger is not them
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("fetch %s: larger than %d bytes", url, limit)
	}
	return data, nil
}
