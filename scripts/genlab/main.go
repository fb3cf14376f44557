// Command genlab writes a generated calico-overlay-shaped lab file for benchmarks:
//
//	go run ./scripts/genlab -name big -nodes 100 -vlans 4 > /tmp/big.yaml
//	sudo knetlab deploy --lab-file /tmp/big.yaml
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/knetlab/knetlab/internal/lab/labgen"
)

func main() {
	name := flag.String("name", "big", "lab and kind cluster name")
	nodes := flag.Int("nodes", 100, "number of nodes (one control plane, the rest workers)")
	vlans := flag.Int("vlans", 4, "number of VLANs the nodes are spread over")
	flag.Parse()
	// Generate validates the lab as knetlab would load it; print only a lab that loads.
	if _, err := labgen.Generate(*name, *nodes, *vlans); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Stdout.Write(labgen.YAML(*name, *nodes, *vlans))
}
