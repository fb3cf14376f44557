// Command knetlab brings up Kubernetes networking labs and verifies their pod network.
package main

import (
	"os"

	"github.com/knetlab/knetlab/internal/cli"
	"github.com/knetlab/knetlab/internal/provider/netns/daemon"
	"github.com/knetlab/knetlab/internal/ui"
)

func main() {
	// Run under the name knetlab-cni (the symlink deploy puts in the lab's CNI_PATH), knetlab is
	// the CNI plugin, so a netns lab needs no second binary.
	if daemon.IsPlugin(os.Args[0]) {
		daemon.PluginMain()
		return
	}
	os.Exit(cli.Main(os.Args[1:], ui.StdStreams()))
}
