package labprocess

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
)

// Every process a lab starts the binary as is registered, under the name the lab uses.
func TestRegistryHasEveryLabProcess(t *testing.T) {
	r := Registry()
	if got, want := r.Names(), []string{agent.Command, cni.PluginType, netnslab.ReflectorCommand, datastore.DaemonCommand}; !slices.Equal(got, want) {
		t.Errorf("registered %v, want %v", got, want)
	}
	// What a netns deploy starts (agent.Options.Args, ServeConfig.DaemonArgs) finds its entry.
	for _, argv := range [][]string{
		append([]string{"/usr/local/bin/knetlab"}, agent.Options{Datastore: agent.DatastoreEtcd, Node: "n"}.Args()...),
		append([]string{"/usr/local/bin/knetlab"}, datastore.ServeConfig{ClientURL: "http://127.0.0.1:2379", DataDir: "/d"}.DaemonArgs()...),
		{"/run/knetlab/lab/cni/bin/" + cni.PluginType},
		{"/usr/local/bin/knetlab", netnslab.ReflectorCommand, "--config", "/run/knetlab/lab/rr/gobgp/rr.conf", "--listen", "172.18.0.5"},
	} {
		if _, _, ok := r.Lookup(argv); !ok {
			t.Errorf("%q finds no entry", argv)
		}
	}
}

// The agent entry is `knetlab agent`, exit codes and all: bad usage exits 2 before anything runs.
func TestAgentEntryIsTheAgentCommand(t *testing.T) {
	m, args, ok := Registry().Lookup([]string{"knetlab", agent.Command, "--datastore", "consul", "--node", "n"})
	if !ok {
		t.Fatal("no agent entry")
	}
	if code := m(args); code != exitcode.Usage {
		t.Errorf("agent with --datastore consul: exit %d, want %d", code, exitcode.Usage)
	}
}

// The route reflector entry refuses a command line without its rr.conf, and an rr.conf that is
// not one, with exit 2 before anything listens.
func TestReflectorEntryRefusesBadInput(t *testing.T) {
	m, args, ok := Registry().Lookup([]string{"knetlab", netnslab.ReflectorCommand, "--listen", "172.18.0.5"})
	if !ok {
		t.Fatal("no reflector entry")
	}
	if code := m(args); code != exitcode.Usage {
		t.Errorf("reflector without --config: exit %d, want %d", code, exitcode.Usage)
	}
	bad := filepath.Join(t.TempDir(), "rr.conf")
	if err := os.WriteFile(bad, []byte("[global.config]\n  as = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := m([]string{"--config", bad, "--listen", "172.18.0.5"}); code != exitcode.Usage {
		t.Errorf("reflector with AS 0: exit %d, want %d", code, exitcode.Usage)
	}
}
