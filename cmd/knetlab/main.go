// Command knetlab brings up Kubernetes networking labs and verifies their pod network.
package main

import (
	"os"

	"github.com/knetlab/knetlab/internal/cli"
	"github.com/knetlab/knetlab/internal/labprocess"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/clab"
	"github.com/knetlab/knetlab/internal/provider/netnslab"
	"github.com/knetlab/knetlab/internal/ui"
)

func main() {
	// Run as knetlab-cni (by a runtime) or as a lab daemon (by deploy), knetlab is the lab's CNI
	// plugin, datastore or agent, so a lab needs no second binary.
	labprocess.Registry().Dispatch(os.Args)
	// The providers this binary carries.
	providers := provider.NewRegistry()
	netnslab.Register(providers)
	clab.Register(providers)
	os.Exit(cli.Main(os.Args[1:], ui.StdStreams(), providers))
}
