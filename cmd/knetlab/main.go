// Command knetlab brings up Kubernetes networking labs and verifies their pod network.
package main

import (
	"os"

	"github.com/knetlab/knetlab/internal/cli"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/clab"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/daemon"
	"github.com/knetlab/knetlab/internal/ui"
)

func main() {
	// Run as knetlab-cni (the symlink deploy puts in the lab's CNI_PATH) or as `knetlab daemon`,
	// knetlab is the lab's CNI plugin or daemon, so a netns lab needs no second binary.
	daemon.RunAs(os.Args)
	// The providers this binary carries.
	providers := provider.NewRegistry()
	netnslab.Register(providers)
	clab.Register(providers)
	os.Exit(cli.Main(os.Args[1:], ui.StdStreams(), providers))
}
