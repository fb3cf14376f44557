package cli

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/ui"
)

func newAgentCmd(s *ui.Streams) *cobra.Command {
	return agentCommand(func(ctx context.Context, o agent.Options) error {
		o.Stderr = s.Err
		return agent.Run(ctx, o)
	})
}

// agentCommand builds the command around run, so that tests can check what the flags parse to.
// The flags fill agent.Options field by field; agent.Options.Args writes the same command line.
func agentCommand(run func(context.Context, agent.Options) error) *cobra.Command {
	var o agent.Options
	c := &cobra.Command{
		Use:   "agent --datastore kubernetes|etcd --node NAME --autodetect CIDRS [--install-cni] [--bgp-as AS --bgp-peer ADDR[:AS]...]",
		Short: "Run knetlab's node agent (the knetlab-agent DaemonSet, or a netns lab's node process)",
		Long: `Registers the node in the datastore and keeps its routes, vxlan.calico device, neighbours
and FDB entries equal to what the block affinities say.

On every kind node of a lab deployed with --provider clab --cni knetlab it runs as the
knetlab-agent DaemonSet in the node's network namespace (deploy/manifests/daemonset.yaml), with
--install-cni: it first installs itself as the CNI plugin (<cni-bin-dir>/knetlab-cni) and writes
the plugin's network config (<cni-conf-dir>/10-knetlab.conflist, and for the kubernetes
datastore a kubeconfig with the service account's token, kept fresh). In a netns lab, deploy
starts it in each node's namespace over the lab's etcd.

With --datastore kubernetes (the default) the datastore is the datastore.knetlab.dev custom
resources, reached with the pod's service account, or --kubeconfig outside a pod. With
--datastore etcd it is the etcd at --etcd-endpoints; an https endpoint needs the client
certificate, key and CA (--etcd-cert, --etcd-key, --etcd-ca), which a netns lab makes at deploy.

With --bgp-as the agent runs in BGP mode, as calico-node does in a lab whose pools have no
encapsulation: it runs BIRD 2 (bird, from Debian's bird2) in the node's network namespace,
with a configuration it writes into --bgp-dir as calico-node's confd does, peering with every
--bgp-peer (a route reflector). BIRD announces the node's blocks with its address as next hop,
blackholes them (blackhole <block> proto bird) and routes the other nodes' blocks as it
learned them (<block> via <owner> dev <if> proto bird). Read its state with
birdcl -s <bgp-dir>/bird.ctl show protocols (or show route).

You do not normally run this yourself: knetlab deploy starts it.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{signalStops: "true"},
		RunE:        func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), o) },
	}
	fl := c.Flags()
	fl.StringVar(&o.Datastore, "datastore", agent.DatastoreKubernetes, "datastore backend: kubernetes or etcd")
	fl.StringVar(&o.Node, "node", "", "this node's Kubernetes name (the DaemonSet passes spec.nodeName)")
	fl.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig for the kubernetes datastore; empty: the pod's service account")
	fl.StringSliceVar(&o.EtcdEndpoints, "etcd-endpoints", nil, "etcd client URLs for the etcd datastore, comma-separated")
	fl.StringVar(&o.EtcdCert, "etcd-cert", "", "client certificate for an https etcd datastore")
	fl.StringVar(&o.EtcdKey, "etcd-key", "", "key of --etcd-cert")
	fl.StringVar(&o.EtcdCA, "etcd-ca", "", "CA certificate the https etcd datastore's certificate is signed by")
	fl.Var((*cidrList)(&o.Autodetect), "autodetect", "CIDRs the node's underlay address is chosen from, comma-separated (Calico's nodeAddressAutodetectionV4)")
	fl.BoolVar(&o.InstallCNI, "install-cni", false, "install the CNI plugin and its network config on the node before the agent starts")
	fl.StringVar(&o.CNIBinDir, "cni-bin-dir", "", "where --install-cni puts the plugin (default "+agent.DefaultCNIBinDir+")")
	fl.StringVar(&o.CNIConfDir, "cni-conf-dir", "", "where --install-cni writes the network config (default "+agent.DefaultCNIConfDir+")")
	fl.IntVar(&o.MTU, "mtu", 0, "pod interface MTU; 0: the MTU of vxlan.calico")
	fl.StringVar(&o.LogFile, "log", "", "JSON log file; empty: stderr")
	fl.Uint32Var(&o.BGPAS, "bgp-as", 0, "BGP mode: the node's AS; the agent runs BIRD, which routes plain (unencapsulated) pools as it learns them")
	fl.Var((*bgpPeerList)(&o.BGPPeers), "bgp-peer", "BGP mode: a peer as ADDR or ADDR:AS (AS defaults to --bgp-as); repeatable")
	fl.StringVar(&o.BGPDir, "bgp-dir", "", "BGP mode: absolute directory of BIRD's configuration (bird.conf) and control socket (bird.ctl)")
	fl.Var((*cidrList)(&o.BGPNoExport), "bgp-no-export", "BGP mode: owned blocks not to announce, comma-separated (a fault); repeatable")
	return c
}

// bgpPeerList is the --bgp-peer flag: ADDR or ADDR:AS, repeatable.
type bgpPeerList []agent.BGPPeer

func (l *bgpPeerList) String() string { return joinStrings(*l) }

func (l *bgpPeerList) Set(v string) error {
	p, err := agent.ParseBGPPeer(v)
	if err != nil {
		return err
	}
	*l = append(*l, p)
	return nil
}

func (l *bgpPeerList) Type() string { return "peer" }

// cidrList is the --autodetect flag: comma-separated CIDRs, repeatable.
type cidrList []netip.Prefix

func (l *cidrList) String() string { return joinStrings(*l) }

// joinStrings is a list flag's value: its items, comma-separated.
func joinStrings[T fmt.Stringer](items []T) string {
	var s []string
	for _, p := range items {
		s = append(s, p.String())
	}
	return strings.Join(s, ",")
}

func (l *cidrList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("%q is not an IPv4 CIDR", s)
		}
		*l = append(*l, p.Masked())
	}
	return nil
}

func (l *cidrList) Type() string { return "cidrs" }
