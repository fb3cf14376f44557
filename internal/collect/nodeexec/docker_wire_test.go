package nodeexec

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/docker/docker/errdefs"

	"github.com/knetlab/knetlab/internal/collect/nodeexec/dockertest"
)

// kindNodeShell answers like a kind node: ip prints JSON, a failing ip prints on stderr and
// exits non-zero, ping does not exist in the image.
func kindNodeShell(argv []string, _ []byte) dockertest.Result {
	switch strings.Join(argv, " ") {
	case "ip -j route show":
		return dockertest.Result{Stdout: `[{"dst":"default"}]`, Stderr: "Warning: something\n"}
	case "ip -j netns list":
		return dockertest.Result{Stderr: "Object \"netns\" is unknown, try \"ip help\".\n", ExitCode: 255}
	}
	return dockertest.Result{NotFound: true}
}

// TestDockerExecerOnTheWire runs DockerExecer through the real Docker SDK client against the
// Engine API double: exec create, the hijacked multiplexed stream, exec inspect.
func TestDockerExecerOnTheWire(t *testing.T) {
	eng := dockertest.New(t,
		dockertest.Container{ID: "a1b2c3", Name: "k01-worker", State: "running", Exec: kindNodeShell},
		dockertest.Container{ID: "d4e5f6", Name: "clab-lab-ceos01", State: "running", Exec: kindNodeShell},
		dockertest.Container{ID: "0f0f0f", Name: "k01-worker2", State: "exited", Status: "Exited (137) 2 minutes ago"},
	)
	x := DockerExecer{Client: eng.Client(t)}
	ctx := context.Background()

	out, err := x.Exec(ctx, "k01-worker", RouteCmd)
	if err != nil || string(out) != `[{"dst":"default"}]` {
		t.Errorf("route: out %q, err %v: want stdout only", out, err)
	}
	// The exec request carried the command and asked for both streams.
	var created struct {
		Cmd                        []string
		AttachStdout, AttachStderr bool
	}
	for _, r := range eng.Requests() {
		if r.Method == "POST" && r.Path == "/containers/k01-worker/exec" {
			_ = json.Unmarshal(r.Body, &created)
		}
	}
	if strings.Join(created.Cmd, " ") != "ip -j route show" || !created.AttachStdout || !created.AttachStderr {
		t.Errorf("exec create body = %+v, want Cmd ip -j route show with stdout and stderr attached", created)
	}

	// A non-zero exit is only known from exec inspect: the stream carries no exit code.
	_, err = DockerExecer{Client: eng.Client(t), Container: func(n string) string { return "clab-lab-" + n }}.
		Exec(ctx, "ceos01", NetnsListCmd)
	if err == nil || !strings.Contains(err.Error(), "exited 255") || !strings.Contains(err.Error(), `Object "netns" is unknown`) ||
		!strings.Contains(err.Error(), "clab-lab-ceos01") {
		t.Errorf("failed exec: err = %v, want the exit code, stderr and container", err)
	}

	// A command the image lacks: the daemon puts the runtime's error on the stdout stream and
	// exec inspect says 127. The error must say why, not only "exited 127".
	_, err = x.Exec(ctx, "k01-worker", []string{"ping", "-c", "1", "10.0.0.1"})
	if err == nil || !strings.Contains(err.Error(), "exited 127") || !strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("missing command: err = %v, want exit 127 and the runtime's reason", err)
	}

	// An unknown container is the daemon's 404, a stopped one its 409.
	_, err = x.Exec(ctx, "k01-worker9", RouteCmd)
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such container: k01-worker9") {
		t.Errorf("unknown container: err = %v, want the daemon's 404", err)
	}
	_, err = x.Exec(ctx, "k01-worker2", RouteCmd)
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "is not running") {
		t.Errorf("stopped container: err = %v, want the daemon's 409", err)
	}

	// The client negotiated the engine's version (it speaks a newer one) and used it.
	for _, r := range eng.Requests() {
		if r.Path != "/_ping" && r.Version != dockertest.APIVersion {
			t.Errorf("%s %s used API version %q, want the negotiated %s", r.Method, r.Path, r.Version, dockertest.APIVersion)
		}
	}
}
