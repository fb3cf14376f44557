package nodeexec

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// DockerAPI is the part of the Docker client that docker exec needs (*client.Client has it).
type DockerAPI interface {
	ContainerExecCreate(ctx context.Context, containerID string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, config container.ExecAttachOptions) (types.HijackedResponse, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
}

// DockerExecer runs commands in containers with the Docker API: the kind node containers of a
// clab lab are named after their nodes, so the node name is the container name unless
// Container maps it.
type DockerExecer struct {
	Client DockerAPI
	// Container maps a node name to its container; nil means the same name.
	Container func(node string) string
}

// Exec runs argv in the node's container and returns its stdout; a non-zero exit is an error
// carrying stderr.
func (d DockerExecer) Exec(ctx context.Context, node string, argv []string) ([]byte, error) {
	name := node
	if d.Container != nil {
		name = d.Container(node)
	}
	created, err := d.Client.ContainerExecCreate(ctx, name, container.ExecOptions{
		Cmd: argv, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("docker exec in %s: %w", name, err)
	}
	attached, err := d.Client.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker exec in %s: attach: %w", name, err)
	}
	defer attached.Close()
	var stdout, stderr bytes.Buffer
	// Without a TTY Docker multiplexes both streams on one connection; stdcopy splits them.
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&stdout, &stderr, attached.Reader)
		done <- err
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("docker exec in %s: %w", name, ctx.Err())
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("docker exec in %s: read output: %w", name, err)
		}
	}
	inspected, err := d.Client.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return nil, fmt.Errorf("docker exec in %s: %w", name, err)
	}
	if inspected.ExitCode != 0 {
		why := strings.TrimSpace(stderr.String())
		if why == "" {
			// The daemon writes why a command could not start (not in the image: exit 127) on
			// the stdout stream.
			why = strings.TrimSpace(stdout.String())
		}
		return nil, fmt.Errorf("%s in %s exited %d: %s", argv[0], name, inspected.ExitCode, why)
	}
	return stdout.Bytes(), nil
}
