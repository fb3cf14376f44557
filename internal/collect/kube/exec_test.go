package kube

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// recordedExec is one recorded pods/exec exchange: the request it expects and what the
// container answered.
type recordedExec struct {
	method string
	url    *url.URL
	stdout string
	stderr string
	exit   int
}

func (r *recordedExec) Stream(o remotecommand.StreamOptions) error {
	return r.StreamWithContext(context.Background(), o)
}

func (r *recordedExec) StreamWithContext(_ context.Context, o remotecommand.StreamOptions) error {
	if o.Stdin != nil || o.Tty {
		panic("exec with stdin or a TTY")
	}
	o.Stdout.Write([]byte(r.stdout))
	o.Stderr.Write([]byte(r.stderr))
	if r.exit != 0 {
		return utilexec.CodeExitError{Err: errorString("command terminated with non-zero exit code"), Code: r.exit}
	}
	return nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

func testPodExec(t *testing.T, rec *recordedExec) *PodExec {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443"}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &PodExec{REST: cs.CoreV1().RESTClient(), Config: cfg,
		NewExecutor: func(_ *rest.Config, method string, u *url.URL) (remotecommand.Executor, error) {
			rec.method, rec.url = method, u
			return rec, nil
		}}
}

func TestPodExecRequest(t *testing.T) {
	rec := &recordedExec{stdout: "3 packets transmitted, 3 received, 0% packet loss, time 402ms\n"}
	e := testPodExec(t, rec)
	out, err := e.Exec(context.Background(), "default", "net-w1", "", []string{"ping", "-c", "3", "192.168.1.2"})
	if err != nil || !strings.Contains(string(out), "3 received") {
		t.Fatalf("exec = %q, %v", out, err)
	}
	// The request kubectl exec makes: POST to the pod's exec subresource, the command one
	// argument per `command` parameter, stdout and stderr attached, no stdin, no TTY.
	if rec.method != "POST" || rec.url.Path != "/api/v1/namespaces/default/pods/net-w1/exec" {
		t.Errorf("request = %s %s", rec.method, rec.url.Path)
	}
	q := rec.url.Query()
	if got := strings.Join(q["command"], " "); got != "ping -c 3 192.168.1.2" {
		t.Errorf("command = %q", q["command"])
	}
	if q.Get("stdout") != "true" || q.Get("stderr") != "true" || q.Has("stdin") || q.Has("tty") {
		t.Errorf("streams = %v", q)
	}
}

func TestPodExecExitCode(t *testing.T) {
	rec := &recordedExec{stderr: "sh: ping: not found\n", exit: 127}
	_, err := testPodExec(t, rec).Exec(context.Background(), "default", "net-w1", "multitool", []string{"ping"})
	if err == nil || !strings.Contains(err.Error(), "exited 127") || !strings.Contains(err.Error(), "ping: not found") {
		t.Errorf("err = %v, want the exit code and stderr", err)
	}
	if rec.url.Query().Get("container") != "multitool" {
		t.Errorf("container = %q", rec.url.Query().Get("container"))
	}
}
