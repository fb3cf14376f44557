package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/ui"
)

// kubeconfigRefresh is how often the agent rewrites the plugin's kubeconfig, so that a rotated
// service account token reaches the plugin long before the old one expires.
const kubeconfigRefresh = 10 * time.Minute

type agentFlags struct {
	datastore     string
	node          string
	kubeconfig    string
	etcdEndpoints []string
	autodetect    []string
	cniBinDir     string
	cniConfDir    string
	mtu           int
}

// agentSettings are the flags, checked and parsed.
type agentSettings struct {
	agentFlags
	cidrs []netip.Prefix
}

func newAgentCmd(s *ui.Streams) *cobra.Command {
	return agentCommand(func(ctx context.Context, settings *agentSettings) error { return runAgent(ctx, s, settings) })
}

// agentCommand builds the command around run, so that tests can check what the flags parse to.
func agentCommand(run func(context.Context, *agentSettings) error) *cobra.Command {
	f := &agentFlags{}
	c := &cobra.Command{
		Use:   "agent --node NAME --autodetect CIDRS [--datastore kubernetes|etcd]",
		Short: "Run knetlab's node agent and install its CNI plugin (in the knetlab-agent DaemonSet)",
		Long: `Runs on every kind node of a lab deployed with --provider clab --cni knetlab, as the
knetlab-agent DaemonSet in the node's network namespace (deploy/manifests/daemonset.yaml). It
installs itself as the CNI plugin (<cni-bin-dir>/knetlab-cni), writes the plugin's network config
(<cni-conf-dir>/10-knetlab.conflist, and for the kubernetes datastore a kubeconfig with the
service account's token), registers the node in the datastore and keeps its routes,
vxlan.calico device, neighbours and FDB entries equal to what the block affinities say.

With --datastore kubernetes (the default) the datastore is the datastore.knetlab.dev custom
resources, reached with the pod's service account, or --kubeconfig outside a pod. With
--datastore etcd it is the etcd at --etcd-endpoints.

You do not normally run this yourself: knetlab deploy starts it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			settings, err := f.check()
			if err != nil {
				return err
			}
			return run(cmd.Context(), settings)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.datastore, "datastore", cni.DatastoreKubernetes, "datastore backend: kubernetes or etcd")
	fl.StringVar(&f.node, "node", "", "this node's Kubernetes name (the DaemonSet passes spec.nodeName)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for the kubernetes datastore; empty: the pod's service account")
	fl.StringSliceVar(&f.etcdEndpoints, "etcd-endpoints", nil, "etcd client URLs for the etcd datastore, comma-separated")
	fl.StringSliceVar(&f.autodetect, "autodetect", nil, "CIDRs the node's underlay address is chosen from, comma-separated (Calico's nodeAddressAutodetectionV4)")
	fl.StringVar(&f.cniBinDir, "cni-bin-dir", "/opt/cni/bin", "where the CNI plugin is installed")
	fl.StringVar(&f.cniConfDir, "cni-conf-dir", "/etc/cni/net.d", "where the CNI network config is written")
	fl.IntVar(&f.mtu, "mtu", 0, "pod interface MTU; 0: the MTU of vxlan.calico")
	return c
}

// check validates every flag and reports every problem at once (exit 2).
func (f *agentFlags) check() (*agentSettings, error) {
	out := &agentSettings{agentFlags: *f}
	var problems []string
	switch f.datastore {
	case cni.DatastoreKubernetes:
		if len(f.etcdEndpoints) > 0 {
			problems = append(problems, "--etcd-endpoints needs --datastore etcd")
		}
	case cni.DatastoreEtcd:
		if len(f.etcdEndpoints) == 0 {
			problems = append(problems, "--datastore etcd needs --etcd-endpoints")
		}
		if f.kubeconfig != "" {
			problems = append(problems, "--kubeconfig needs --datastore kubernetes")
		}
	default:
		problems = append(problems, fmt.Sprintf("--datastore %q: use kubernetes or etcd", f.datastore))
	}
	if f.node == "" {
		problems = append(problems, "--node is required: the Kubernetes name of this node")
	}
	if len(f.autodetect) == 0 {
		problems = append(problems, "--autodetect is required: the CIDRs the underlay address lies in (e.g. 10.10.0.0/16)")
	}
	for _, c := range f.autodetect {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil || !p.Addr().Is4() {
			problems = append(problems, fmt.Sprintf("--autodetect %q is not an IPv4 CIDR", c))
			continue
		}
		out.cidrs = append(out.cidrs, p.Masked())
	}
	for name, dir := range map[string]string{"--cni-bin-dir": f.cniBinDir, "--cni-conf-dir": f.cniConfDir} {
		if !filepath.IsAbs(dir) {
			problems = append(problems, fmt.Sprintf("%s %q must be an absolute path", name, dir))
		}
	}
	if f.mtu < 0 || (f.mtu > 0 && f.mtu < 576) || f.mtu > 65535 {
		problems = append(problems, fmt.Sprintf("--mtu %d: give 0 (follow vxlan.calico) or 576..65535", f.mtu))
	}
	if len(problems) > 0 {
		return nil, exitcode.Usagef("knetlab agent: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

// runAgent opens the datastore, installs the CNI plugin and runs the agent until ctx ends.
func runAgent(ctx context.Context, s *ui.Streams, f *agentSettings) error {
	log := slog.New(slog.NewJSONHandler(s.Err, nil))
	store, pluginKubeconfig, err := openAgentStore(ctx, f)
	if err != nil {
		return err
	}
	defer store.Close()

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find knetlab's own executable to install as the CNI plugin: %w", err)
	}
	inst := cni.Installation{
		BinDir: f.cniBinDir, ConfDir: f.cniConfDir, Executable: exe, NodeName: f.node, MTU: f.mtu,
		Datastore: cni.DatastoreConf{Type: f.datastore}, DatastoreEndpoints: f.etcdEndpoints,
	}
	if pluginKubeconfig != nil {
		if inst.Kubeconfig, err = pluginKubeconfig(); err != nil {
			return exitcode.NewEnvironment(err, "run the agent in its DaemonSet (deploy/manifests/daemonset.yaml), or give --kubeconfig")
		}
	}
	if err := inst.Install(); err != nil {
		return exitcode.NewEnvironment(err, fmt.Sprintf("mount the node's %s and %s into the agent (see deploy/manifests/daemonset.yaml)", f.cniBinDir, f.cniConfDir))
	}
	log.Info("CNI plugin installed", "plugin", filepath.Join(f.cniBinDir, cni.PluginType),
		"config", filepath.Join(f.cniConfDir, cni.ConfListName), "datastore", f.datastore)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if pluginKubeconfig != nil {
		go refreshKubeconfig(ctx, log, inst, pluginKubeconfig, kubeconfigRefresh)
	}
	err = agent.New(store, agent.Config{NodeName: f.node, AutodetectCIDRs: f.cidrs, Log: log}).Run(ctx)
	if err != nil && ctx.Err() == nil {
		return exitcode.NewEnvironment(fmt.Errorf("agent on %s: %w", f.node, err),
			"check that the node has an address in --autodetect and that the agent runs with NET_ADMIN in the host network namespace")
	}
	return nil
}

// openAgentStore opens the datastore, and for the kubernetes one returns how to render the
// plugin's kubeconfig (read again at every refresh: the token rotates).
func openAgentStore(ctx context.Context, f *agentSettings) (datastore.Store, func() ([]byte, error), error) {
	if f.datastore == cni.DatastoreEtcd {
		store, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: f.etcdEndpoints})
		if err != nil {
			return nil, nil, exitcode.NewEnvironment(err, "check --etcd-endpoints and that the etcd there is running")
		}
		return store, nil, nil
	}
	cfg, err := kubestore.Config(f.kubeconfig)
	if err != nil {
		return nil, nil, exitcode.NewEnvironment(err, "run the agent in its DaemonSet (deploy/manifests/daemonset.yaml), or give --kubeconfig")
	}
	store, err := kubestore.NewForConfig(cfg)
	if err != nil {
		return nil, nil, exitcode.NewEnvironment(err, "check the kubeconfig")
	}
	return store, func() ([]byte, error) { return kubestore.Kubeconfig(cfg) }, nil
}

// refreshKubeconfig renders the plugin's kubeconfig every period and installs it again when it
// changed (a rotated token), until ctx ends.
func refreshKubeconfig(ctx context.Context, log *slog.Logger, inst cni.Installation, render func() ([]byte, error), period time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		data, err := render()
		if err == nil && bytes.Equal(data, inst.Kubeconfig) {
			continue
		}
		if err == nil {
			inst.Kubeconfig = data
			err = inst.Install()
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("CNI plugin kubeconfig not refreshed", "err", err)
			continue
		}
		log.Info("CNI plugin kubeconfig refreshed")
	}
}
