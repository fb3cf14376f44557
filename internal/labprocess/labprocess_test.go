package labprocess

import (
	"slices"
	"testing"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/exitcode"
)

// Every process a lab starts the binary as is registered, under the name the lab uses.
func TestRegistryHasEveryLabProcess(t *testing.T) {
	r := Registry()
	if got, want := r.Names(), []string{agent.Command, cni.PluginType, datastore.DaemonCommand}; !slices.Equal(got, want) {
		t.Errorf("registered %v, want %v", got, want)
	}
	// What a netns deploy starts (agent.Options.Args, ServeConfig.DaemonArgs) finds its entry.
	for _, argv := range [][]string{
		append([]string{"/usr/local/bin/knetlab"}, agent.Options{Datastore: agent.DatastoreEtcd, Node: "n"}.Args()...),
		append([]string{"/usr/local/bin/knetlab"}, datastore.ServeConfig{ClientURL: "http://127.0.0.1:2379", DataDir: "/d"}.DaemonArgs()...),
		{"/run/knetlab/lab/cni/bin/" + cni.PluginType},
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
