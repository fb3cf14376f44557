package kube

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
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

// execServer is an API server's pods/exec endpoint as kubelet serves it over WebSocket
// (remotecommand v5/v4 channels: 1 stdout, 2 stderr, 3 the final metav1.Status), answering
// every exec with stdout and the exit code.
func execServer(t *testing.T, stdout string, exit int) (*httptest.Server, *[]string) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+" "+strings.Join(r.URL.Query()["command"], " "))
		if !wsstream.IsWebSocketRequest(r) {
			http.Error(w, "want a WebSocket upgrade", http.StatusBadRequest)
			return
		}
		channels := []wsstream.ChannelType{wsstream.ReadChannel, wsstream.WriteChannel, wsstream.WriteChannel, wsstream.WriteChannel, wsstream.ReadChannel}
		conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
			"v5.channel.k8s.io": {Binary: true, Channels: channels},
			"v4.channel.k8s.io": {Binary: true, Channels: channels},
		})
		_, ch, err := conn.Open(w, r)
		if err != nil {
			t.Errorf("open: %v", err)
			return
		}
		defer conn.Close()
		ch[1].Write([]byte(stdout))
		st := metav1.Status{Status: metav1.StatusSuccess}
		if exit != 0 {
			st = metav1.Status{Status: metav1.StatusFailure, Reason: "NonZeroExitCode", Message: "command terminated with non-zero exit code",
				Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(exit)}}}}
			ch[2].Write([]byte("ping: sendmsg: Operation not permitted\n"))
		}
		b, _ := json.Marshal(st)
		ch[3].Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// TestPodExecOnTheWire runs PodExec with remotecommand's own executor (no seam) against an
// exec endpoint speaking the WebSocket channel protocol.
func TestPodExecOnTheWire(t *testing.T) {
	for _, tt := range []struct {
		exit    int
		wantErr string
	}{{0, ""}, {2, "exited 2: ping: sendmsg: Operation not permitted"}} {
		srv, seen := execServer(t, "3 packets transmitted, 3 received, 0% packet loss, time 402ms\n", tt.exit)
		cfg := &rest.Config{Host: srv.URL}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e := &PodExec{REST: cs.CoreV1().RESTClient(), Config: cfg}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := e.Exec(ctx, "default", "net-w1", "", []string{"ping", "-c", "3", "192.168.1.2"})
		cancel()
		switch {
		case tt.wantErr == "" && (err != nil || !strings.Contains(string(out), "3 received")):
			t.Errorf("exec = %q, %v", out, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("exit %d: err = %v, want %q", tt.exit, err, tt.wantErr)
		}
		if len(*seen) == 0 || (*seen)[0] != "GET /api/v1/namespaces/default/pods/net-w1/exec ping -c 3 192.168.1.2" {
			t.Errorf("requests = %q", *seen)
		}
	}
}
