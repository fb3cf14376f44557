// Package gobgpnode is a test double of a lab's GoBGP route reflector container, the image the
// clab provider builds from the rendered Dockerfile (alpine with GoBGP v4.8.0's gobgpd and gobgp),
// as a dockertest container. Its gobgp answers `neighbor -j` and `global rib -j` with what its
// gobgpd holds, and, when gobgpd does not answer on its API, as GoBGP v4.8.0's CLI does: the
// error as {"error": "..."} on stdout (printError with -j) and exit 1. Only gobgp is answered;
// any other command is not found (exit 127 from the runtime), stricter than the image, so a
// collector that needs more fails here first.
package gobgpnode

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/collect/nodeexec/dockertest"
)

// Unavailable is what GoBGP v4.8.0's gobgp -j prints when gobgpd is not listening on its API
// (127.0.0.1:50051): gRPC's Unavailable status of the first call, as printError writes it.
const Unavailable = `{"error":"rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:50051: connect: connection refused\""}` + "\n"

// Reflector is the state of the container's gobgpd.
type Reflector struct {
	Neighbors string // what `gobgp neighbor -j` prints
	RIB       string // what `gobgp global rib -j` prints
	Down      bool   // gobgpd is not answering (not started, crashed): gobgp fails
}

// Exec answers a command run in the container (dockertest.Container.Exec).
func (r *Reflector) Exec(argv []string, _ []byte) dockertest.Result {
	if len(argv) == 0 || argv[0] != "gobgp" {
		return dockertest.Result{NotFound: true}
	}
	json := false
	var words []string
	for _, a := range argv[1:] {
		switch a {
		case "-j", "--json":
			json = true
		default:
			words = append(words, a)
		}
	}
	if !json {
		return dockertest.Result{Stderr: "gobgpnode: only gobgp's -j output is recorded\n", ExitCode: 2}
	}
	var out string
	switch strings.Join(words, " ") {
	case "neighbor":
		out = r.Neighbors
	case "global rib":
		out = r.RIB
	default:
		return dockertest.Result{Stderr: fmt.Sprintf("gobgpnode: gobgp %s is not recorded\n", strings.Join(words, " ")), ExitCode: 2}
	}
	if r.Down {
		return dockertest.Result{Stdout: Unavailable, ExitCode: 1}
	}
	return dockertest.Result{Stdout: out}
}

// Container is a running reflector container of this name, answering through r.
func Container(name string, r *Reflector) dockertest.Container {
	return dockertest.Container{ID: "rr-" + name, Name: name, Image: "knetlab-gobgp:v4.8.0", State: "running", Status: "Up 4 minutes",
		Labels: map[string]string{"containerlab": "calico-bgp", "clab-node-name": name, "clab-node-kind": "linux"},
		Exec:   r.Exec}
}

// Recorded is the calico-bgp lab's reflector with every node Established and every node's block
// reflected: the real output of GoBGP v4.8.0's gobgp recorded on loopback
// (verify/parse/testdata/bgp/gobgp-v4.8.0, rr-neighbor.json and rr-global-rib.json), with the
// reflector's own address 127.0.0.1 rewritten to rr, the node speakers' 127.0.0.2, .3 and .4 to
// nodes[0..2], and the configured
// neighbour 127.0.0.9 that never connected left out (the lab's rr.conf configures none).
func Recorded(t testing.TB, rr string, nodes [3]string) *Reflector {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(here), "..", "..", "..", "..", "verify", "parse", "testdata", "bgp", "gobgp-v4.8.0")
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	neighbors := read("rr-neighbor.json")
	// The array's first entry is 127.0.0.9's; the next starts at the second {"apply_policy".
	first := strings.Index(neighbors, `{"apply_policy"`)
	second := strings.Index(neighbors[first+1:], `{"apply_policy"`) + first + 1
	if first != 1 || second <= first || !strings.Contains(neighbors[first:second], `"neighbor_address":"127.0.0.9"`) {
		t.Fatalf("gobgpnode: %s/rr-neighbor.json does not start with 127.0.0.9's entry", dir)
	}
	neighbors = "[" + neighbors[second:]
	rib := read("rr-global-rib.json")
	rewrite := strings.NewReplacer(`"127.0.0.1"`, `"`+rr+`"`, `"127.0.0.2"`, `"`+nodes[0]+`"`, `"127.0.0.3"`, `"`+nodes[1]+`"`, `"127.0.0.4"`, `"`+nodes[2]+`"`)
	return &Reflector{Neighbors: rewrite.Replace(neighbors), RIB: rewrite.Replace(rib)}
}
