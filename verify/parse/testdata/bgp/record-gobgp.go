// Command record-gobgp runs, on loopback only, a GoBGP v4.8.0 route reflector with passive
// dynamic neighbours (the calico-bgp lab's rr.conf semantics) and three node speakers that each
// announce one /24 with themselves as next hop, plus one configured neighbour that never
// answers, so that `gobgp neighbor -j` and `gobgp global rib -j` can be recorded from them.
package main

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func main() {
	ctx := context.Background()
	rr := server.NewBgpServer(server.GrpcListenAddress("127.0.0.1:50151"))
	go rr.Serve()
	must(rr.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: 64496, RouterId: "192.0.2.1", ListenPort: 10179, ListenAddresses: []string{"127.0.0.1"}}}))
	must(rr.AddPeerGroup(ctx, &api.AddPeerGroupRequest{PeerGroup: &api.PeerGroup{
		Conf:           &api.PeerGroupConf{PeerGroupName: "k8s-group", PeerAsn: 64496},
		RouteReflector: &api.RouteReflector{RouteReflectorClient: true, RouteReflectorClusterId: "192.0.2.1"},
		Transport:      &api.Transport{PassiveMode: true},
	}}))
	must(rr.AddDynamicNeighbor(ctx, &api.AddDynamicNeighborRequest{DynamicNeighbor: &api.DynamicNeighbor{Prefix: "127.0.0.0/29", PeerGroup: "k8s-group"}}))
	// A configured client that never connects: its session stays down.
	must(rr.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{Conf: &api.PeerConf{NeighborAddress: "127.0.0.9", PeerAsn: 64496},
		Transport: &api.Transport{PassiveMode: true}}}))
	for i, block := range []string{"10.244.236.0/24", "10.244.175.0/24", "10.244.190.0/24"} {
		addr := fmt.Sprintf("127.0.0.%d", i+2)
		n := server.NewBgpServer(server.GrpcListenAddress(fmt.Sprintf("127.0.0.1:%d", 50152+i)))
		go n.Serve()
		must(n.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: 64496, RouterId: addr, ListenPort: -1}}))
		must(n.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{Conf: &api.PeerConf{NeighborAddress: "127.0.0.1", PeerAsn: 64496},
			Transport: &api.Transport{LocalAddress: addr, RemotePort: 10179},
			Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 1}}}}))
		nlri, err := bgp.NewIPAddrPrefix(netip.MustParsePrefix(block))
		must(err)
		nh, err := bgp.NewPathAttributeNextHop(netip.MustParseAddr(addr))
		must(err)
		_, err = n.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{{Family: bgp.RF_IPv4_UC, Nlri: nlri,
			Attrs: []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(0), nh}}}})
		must(err)
	}
	fmt.Fprintln(os.Stderr, "running; APIs: rr 127.0.0.1:50151, nodes 50152-50154")
	time.Sleep(time.Hour)
}
