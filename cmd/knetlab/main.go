// Command knetlab brings up Kubernetes networking labs and verifies their pod network.
package main

import (
	"os"

	"github.com/knetlab/knetlab/internal/cli"
	"github.com/knetlab/knetlab/internal/ui"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], ui.StdStreams()))
}
