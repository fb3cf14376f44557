package nodeexec

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// fakeEngine answers exec calls like the Docker daemon: a multiplexed stdout/stderr stream and
// an exit code.
type fakeEngine struct {
	stdout, stderr string
	exitCode       int
	gotContainer   string
	gotCmd         []string
}

func (f *fakeEngine) ContainerExecCreate(_ context.Context, name string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	f.gotContainer, f.gotCmd = name, o.Cmd
	return container.ExecCreateResponse{ID: "exec-1"}, nil
}

func (f *fakeEngine) ContainerExecAttach(context.Context, string, container.ExecAttachOptions) (types.HijackedResponse, error) {
	var stream bytes.Buffer
	_, _ = stdcopy.NewStdWriter(&stream, stdcopy.Stdout).Write([]byte(f.stdout))
	_, _ = stdcopy.NewStdWriter(&stream, stdcopy.Stderr).Write([]byte(f.stderr))
	client, server := net.Pipe()
	server.Close()
	return types.HijackedResponse{Conn: client, Reader: bufio.NewReader(&stream)}, nil
}

func (f *fakeEngine) ContainerExecInspect(context.Context, string) (container.ExecInspect, error) {
	return container.ExecInspect{ExitCode: f.exitCode}, nil
}

func TestDockerExecer(t *testing.T) {
	ok := &fakeEngine{stdout: `[{"dst":"default"}]`, stderr: "Warning: something\n"}
	out, err := DockerExecer{Client: ok}.Exec(context.Background(), "k01-worker", RouteCmd)
	if err != nil || string(out) != `[{"dst":"default"}]` {
		t.Errorf("out %q, err %v: want stdout only", out, err)
	}
	if ok.gotContainer != "k01-worker" || strings.Join(ok.gotCmd, " ") != "ip -j route show" {
		t.Errorf("exec'd %v in %s", ok.gotCmd, ok.gotContainer)
	}

	failed := &fakeEngine{stderr: "Object \"netns\" is unknown, try \"ip help\".\n", exitCode: 255}
	_, err = DockerExecer{Client: failed, Container: func(n string) string { return "clab-lab-" + n }}.
		Exec(context.Background(), "ceos01", NetnsListCmd)
	if err == nil || !strings.Contains(err.Error(), "exited 255") || !strings.Contains(err.Error(), `Object "netns" is unknown`) ||
		!strings.Contains(err.Error(), "clab-lab-ceos01") {
		t.Errorf("failed exec: err = %v, want the exit code, stderr and container", err)
	}
}
