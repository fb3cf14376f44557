package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// PodExec runs commands in pods through the API server's pods/exec subresource, as
// `kubectl exec` does: the command runs in the pod's container, with the container's own
// binaries, in the pod's network namespace.
type PodExec struct {
	// REST is the core/v1 REST client (CoreV1().RESTClient()); it builds the request URL.
	REST rest.Interface
	// Config is the REST config the streams authenticate with.
	Config *rest.Config
	// NewExecutor opens the exec stream; nil means StreamExecutor (WebSocket, falling back to
	// SPDY). Tests put a recorded exchange here.
	NewExecutor func(cfg *rest.Config, method string, u *url.URL) (remotecommand.Executor, error)
}

// StreamExecutor is remotecommand's executor as kubectl builds it: WebSocket (the API server's
// default since Kubernetes 1.30), SPDY when the server or a proxy does not upgrade to it.
func StreamExecutor(cfg *rest.Config, method string, u *url.URL) (remotecommand.Executor, error) {
	ws, err := remotecommand.NewWebSocketExecutor(cfg, method, u.String())
	if err != nil {
		return nil, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, method, u)
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// ExecRequest is the URL of one exec: the pod, the container ("" is the pod's only one) and
// argv, with stdout and stderr attached and no stdin or TTY.
func (e *PodExec) ExecRequest(namespace, pod, container string, argv []string) *url.URL {
	return e.REST.Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: argv, Stdout: true, Stderr: true},
			scheme.ParameterCodec).URL()
}

// Exec runs argv in the pod and returns its stdout. A non-zero exit is an error naming the
// code and carrying stderr.
func (e *PodExec) Exec(ctx context.Context, namespace, pod, container string, argv []string) ([]byte, error) {
	u := e.ExecRequest(namespace, pod, container, argv)
	newExec := e.NewExecutor
	if newExec == nil {
		newExec = StreamExecutor
	}
	ex, err := newExec(e.Config, "POST", u)
	if err != nil {
		return nil, fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	var stdout, stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	var exit utilexec.ExitError
	switch {
	case errors.As(err, &exit):
		return nil, fmt.Errorf("%s in pod %s/%s exited %d: %s", argv[0], namespace, pod, exit.ExitStatus(),
			strings.TrimSpace(stderr.String()))
	case err != nil:
		return nil, fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
	}
	return stdout.Bytes(), nil
}
