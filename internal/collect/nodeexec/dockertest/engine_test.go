package dockertest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/errdefs"
)

// TestEngineIsNoKinderThanTheDaemon pins the daemon behaviours the double reproduces, through
// the real SDK client where it can.
func TestEngineIsNoKinderThanTheDaemon(t *testing.T) {
	eng := New(t,
		Container{ID: "aaa111", Name: "clab-lab-ceos01", State: "running", Labels: map[string]string{"containerlab": "lab"}},
		Container{ID: "bbb222", Name: "k01-worker", State: "exited", Labels: map[string]string{"io.x-k8s.kind.cluster": "k01"}},
	)
	cli := eng.Client(t)
	ctx := context.Background()

	// Without All only running containers are listed; a key-only label filter means "has it".
	list, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "io.x-k8s.kind.cluster"))})
	if err != nil || len(list) != 0 {
		t.Errorf("running kind nodes = %v, %v; want none (the node is exited)", list, err)
	}
	list, err = cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "io.x-k8s.kind.cluster"))})
	if err != nil || len(list) != 1 || list[0].Names[0] != "/k01-worker" || list[0].State != "exited" {
		t.Errorf("all kind nodes = %+v, %v", list, err)
	}
	// The daemon's name filter is a regular expression on the name with its slash.
	list, err = cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", "^/k01-"))})
	if err != nil || len(list) != 1 {
		t.Errorf("name ^/k01- = %+v, %v", list, err)
	}
	// An unknown filter is a 400, not an empty list.
	if _, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("lable", "x"))}); !errdefs.IsInvalidParameter(err) {
		t.Errorf("unknown filter: err = %v, want 400", err)
	}

	// Exec inspect before start: ExitCode is null (the SDK reads 0) and the exec is not running.
	created, err := cli.ContainerExecCreate(ctx, "clab-lab-ceos01", container.ExecOptions{Cmd: []string{"true"}, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	res := getRaw(t, eng, "/v"+APIVersion+"/exec/"+created.ID+"/json")
	if !strings.Contains(res, `"ExitCode":null`) || !strings.Contains(res, `"Running":false`) {
		t.Errorf("exec inspect before start = %s", res)
	}
	if _, err := cli.ContainerExecInspect(ctx, "nope"); !errdefs.IsNotFound(err) {
		t.Errorf("unknown exec: %v, want 404", err)
	}

	// An unknown route is the daemon's 404 "page not found"; a too-new API version is a 400.
	if got := getRaw(t, eng, "/v"+APIVersion+"/containers/aaa111/top"); !strings.Contains(got, "page not found") {
		t.Errorf("unknown route = %s", got)
	}
	if got := getRaw(t, eng, "/v1.99/containers/json"); !strings.Contains(got, "client version 1.99 is too new") {
		t.Errorf("too new a version = %s", got)
	}
}

func getRaw(t *testing.T, eng *Engine, path string) string {
	t.Helper()
	resp, err := http.Get(eng.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + string(b)
}
