// Package labprocess lists the processes a lab runs the knetlab binary as, besides its command
// line: the CNI plugin (executed by a runtime under the name knetlab-cni, through the link a
// netns deploy places in the lab's CNI_PATH or the copy the agent installs on a kind node), the
// lab's datastore daemon, a netns lab's BGP route reflector, and the node agent, which is
// exactly `knetlab agent`. The knetlab
// binary dispatches through Registry before its command line runs; test binaries that deploy
// labs do the same, so their labs run real daemons without a knetlab build.
package labprocess

import (
	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/cli"
	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/reexec"
	"github.com/knetlab/knetlab/internal/ui"
)

// Registry is every lab process the knetlab binary can be started as.
func Registry() *reexec.Registry {
	r := reexec.New()
	// The runtime gives the plugin the CNI_* environment and the network config on stdin;
	// the plugin writes its result and exits itself.
	r.Register(cni.PluginType, func([]string) int { cni.Main(); return 0 })
	r.Register(datastore.DaemonCommand, datastore.DaemonMain)
	// A netns lab's route reflector: embedded GoBGP reading the lab's rendered rr.conf.
	r.Register(netnslab.ReflectorCommand, netnslab.ReflectorMain)
	// The agent's command line is the CLI's: a test binary runs the same flags and exit codes.
	r.Register(agent.Command, func(args []string) int {
		// The agent needs no lab provider: it runs inside a node that a provider built.
		return cli.Main(append([]string{agent.Command}, args...), ui.StdStreams(), provider.NewRegistry())
	})
	return r
}
