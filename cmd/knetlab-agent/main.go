// Command knetlab-agent is the node agent of knetlab's CNI as a binary of its own, for node
// images (the kind lab): it registers the node in the lab's datastore and keeps the node's
// Calico-compatible dataplane programmed. In a netns lab, knetlab itself runs the same agent
// (knetlab daemon agent ...).
//
//	knetlab-agent --node k01-worker --datastore http://172.18.0.2:2379 --autodetect 10.10.0.0/16 [--log FILE]
package main

import (
	"os"

	"github.com/knetlab/knetlab/internal/provider/netnslab/daemon"
)

func main() {
	os.Exit(daemon.Main(append([]string{"agent"}, os.Args[1:]...), os.Stderr))
}
