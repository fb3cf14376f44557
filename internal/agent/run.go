package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/exitcode"
)

// Command is the knetlab command that runs the agent: `knetlab agent`, which Args writes.
const Command = "agent"

// The datastores the agent works on.
const (
	DatastoreKubernetes = cni.DatastoreKubernetes // the datastore.knetlab.dev custom resources (a kind cluster)
	DatastoreEtcd       = cni.DatastoreEtcd       // the lab's etcd (a netns lab)
)

// Where InstallCNI puts the plugin and its network config when Options leaves them empty: the
// directories kubelet's runtime reads.
const (
	DefaultCNIBinDir  = "/opt/cni/bin"
	DefaultCNIConfDir = "/etc/cni/net.d"
)

const (
	// KubeconfigRefresh is how often the agent rewrites the plugin's kubeconfig, so that a
	// rotated service account token reaches the plugin long before the old one expires.
	KubeconfigRefresh = 10 * time.Minute
	// DatastoreWait bounds the wait for the etcd datastore to answer when the agent starts
	// (a lab starts its datastore and agents together).
	DatastoreWait = 30 * time.Second
)

// Options are what `knetlab agent` runs: which node, over which datastore, and whether the
// agent installs the CNI plugin on its node first.
type Options struct {
	Datastore     string   // DatastoreKubernetes or DatastoreEtcd
	Node          string   // the node's Kubernetes name
	Kubeconfig    string   // kubernetes datastore; "": the pod's service account
	EtcdEndpoints []string // etcd datastore: client URLs
	// EtcdCert, EtcdKey and EtcdCA are the agent's client certificate, its key and the CA of
	// an https etcd (a netns lab's datastore requires a client certificate signed by the lab CA).
	EtcdCert string
	EtcdKey  string
	EtcdCA   string
	// Autodetect are the CIDRs the node's underlay address is chosen from (Calico's
	// nodeAddressAutodetectionV4).
	Autodetect []netip.Prefix
	// InstallCNI installs the plugin (a copy of this executable) into CNIBinDir and its network
	// config (with the kubernetes datastore, a kubeconfig kept fresh) into CNIConfDir before the
	// agent starts: the agent's DaemonSet on a kind node does; a netns lab links the plugin itself.
	InstallCNI bool
	CNIBinDir  string // "": DefaultCNIBinDir
	CNIConfDir string // "": DefaultCNIConfDir
	MTU        int    // pod interface MTU; 0: the MTU of vxlan.calico
	LogFile    string // JSON log file; "": Stderr
	Stderr     io.Writer
	// BGPAS, when not 0, is the BGP mode (a lab whose pools are routed by BGP): the node's AS.
	// The agent then runs BIRD, as calico-node does, peering with BGPPeers: it announces the
	// node's confirmed blocks and routes other nodes' blocks of pools without encapsulation
	// as it learned them (proto bird).
	BGPAS    uint32
	BGPPeers []BGPPeer
	// BGPDir holds BIRD's configuration and control socket (bird.conf, bird.ctl).
	BGPDir string
	// BGPNoExport are owned blocks BIRD does not announce (the block-not-exported fault).
	BGPNoExport []netip.Prefix
}

// Validate reports every problem of o at once, as a usage error naming the flags.
func (o Options) Validate() error {
	var problems []string
	switch o.Datastore {
	case DatastoreKubernetes:
		if len(o.EtcdEndpoints) > 0 {
			problems = append(problems, "--etcd-endpoints needs --datastore etcd")
		}
		if o.etcdTLS().IsSet() {
			problems = append(problems, "--etcd-cert, --etcd-key and --etcd-ca need --datastore etcd")
		}
	case DatastoreEtcd:
		if len(o.EtcdEndpoints) == 0 {
			problems = append(problems, "--datastore etcd needs --etcd-endpoints")
		}
		problems = append(problems, o.etcdTLSProblems()...)
		if o.Kubeconfig != "" {
			problems = append(problems, "--kubeconfig needs --datastore kubernetes")
		}
	default:
		problems = append(problems, fmt.Sprintf("--datastore %q: use kubernetes or etcd", o.Datastore))
	}
	if o.Node == "" {
		problems = append(problems, "--node is required: the Kubernetes name of this node")
	}
	if len(o.Autodetect) == 0 {
		problems = append(problems, "--autodetect is required: the CIDRs the underlay address lies in (e.g. 10.10.0.0/16)")
	}
	for _, p := range o.Autodetect {
		if !p.IsValid() || !p.Addr().Is4() {
			problems = append(problems, fmt.Sprintf("--autodetect %q is not an IPv4 CIDR", p))
		}
	}
	for _, dir := range []struct{ flag, path string }{{"--cni-bin-dir", o.CNIBinDir}, {"--cni-conf-dir", o.CNIConfDir}} {
		if dir.path != "" && !filepath.IsAbs(dir.path) {
			problems = append(problems, fmt.Sprintf("%s %q must be an absolute path", dir.flag, dir.path))
		}
	}
	if o.MTU < 0 || (o.MTU > 0 && o.MTU < 576) || o.MTU > 65535 {
		problems = append(problems, fmt.Sprintf("--mtu %d: give 0 (follow vxlan.calico) or 576..65535", o.MTU))
	}
	problems = append(problems, o.bgpProblems()...)
	if len(problems) > 0 {
		return exitcode.Usagef("knetlab %s: %s", Command, strings.Join(problems, "; "))
	}
	return nil
}

func (o Options) etcdTLS() datastore.ClientTLS {
	return datastore.ClientTLS{CertFile: o.EtcdCert, KeyFile: o.EtcdKey, CAFile: o.EtcdCA}
}

// etcdTLSProblems: the three TLS files go together, with https endpoints only.
func (o Options) etcdTLSProblems() []string {
	var problems []string
	tls := o.etcdTLS()
	if tls.IsSet() && (o.EtcdCert == "" || o.EtcdKey == "" || o.EtcdCA == "") {
		problems = append(problems, "--etcd-cert, --etcd-key and --etcd-ca go together")
	}
	for _, f := range []struct{ flag, path string }{{"--etcd-cert", o.EtcdCert}, {"--etcd-key", o.EtcdKey}, {"--etcd-ca", o.EtcdCA}} {
		if f.path != "" && !filepath.IsAbs(f.path) {
			problems = append(problems, fmt.Sprintf("%s %q must be an absolute path", f.flag, f.path))
		}
	}
	for _, ep := range o.EtcdEndpoints {
		switch https := strings.HasPrefix(ep, "https://"); {
		case https && !tls.IsSet():
			problems = append(problems, fmt.Sprintf("--etcd-endpoints %s is https: give --etcd-cert, --etcd-key and --etcd-ca", ep))
		case !https && tls.IsSet():
			problems = append(problems, fmt.Sprintf("--etcd-endpoints %s is not https but --etcd-cert/--etcd-key/--etcd-ca are given", ep))
		}
	}
	return problems
}

// Args is the command line, Command first, that runs o: what a netns lab starts in each node.
// `knetlab agent` parses it back to o.
func (o Options) Args() []string {
	args := []string{Command, "--datastore", o.Datastore}
	if len(o.EtcdEndpoints) > 0 {
		args = append(args, "--etcd-endpoints", strings.Join(o.EtcdEndpoints, ","))
	}
	for _, f := range []struct{ flag, value string }{{"--etcd-cert", o.EtcdCert}, {"--etcd-key", o.EtcdKey}, {"--etcd-ca", o.EtcdCA}} {
		if f.value != "" {
			args = append(args, f.flag, f.value)
		}
	}
	if o.Kubeconfig != "" {
		args = append(args, "--kubeconfig", o.Kubeconfig)
	}
	args = append(args, "--node", o.Node)
	if len(o.Autodetect) > 0 {
		var cidrs []string
		for _, p := range o.Autodetect {
			cidrs = append(cidrs, p.String())
		}
		args = append(args, "--autodetect", strings.Join(cidrs, ","))
	}
	if o.InstallCNI {
		args = append(args, "--install-cni")
	}
	for _, f := range []struct{ flag, value string }{{"--cni-bin-dir", o.CNIBinDir}, {"--cni-conf-dir", o.CNIConfDir}, {"--log", o.LogFile}} {
		if f.value != "" {
			args = append(args, f.flag, f.value)
		}
	}
	if o.MTU != 0 {
		args = append(args, "--mtu", strconv.Itoa(o.MTU))
	}
	return append(args, o.bgpArgs()...)
}

// Run starts the agent o describes and runs it until ctx ends: it opens the datastore,
// installs the CNI plugin when asked, then registers the node and keeps its dataplane
// programmed. A clean stop returns nil; a problem of the environment (no datastore, no
// kubeconfig, CNI directories not writable, no underlay address) is an exitcode environment
// error that names the fix.
func Run(ctx context.Context, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	keepHeapSmall()
	base, closeLog, err := openLog(o)
	if err != nil {
		return err
	}
	defer closeLog()
	log := base.With("node", o.Node)
	early := startBIRDEarly(o, log)
	if early != nil {
		defer early.stop()
	}
	store, pluginKubeconfig, err := openStore(ctx, o, log)
	if err != nil || store == nil { // nil store: ctx ended while waiting for it
		return err
	}
	defer store.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.InstallCNI {
		inst, err := installCNI(o, pluginKubeconfig)
		if err != nil {
			return err
		}
		log.Info("CNI plugin installed", "plugin", filepath.Join(inst.BinDir, cni.PluginType),
			"config", filepath.Join(inst.ConfDir, cni.ConfListName), "datastore", o.Datastore)
		if pluginKubeconfig != nil {
			go refreshKubeconfig(ctx, log, inst, pluginKubeconfig, KubeconfigRefresh)
		}
	}
	log.Info("agent starting", "datastore", o.Datastore, "autodetect", fmt.Sprint(o.Autodetect), "bgpAS", o.BGPAS, "bgpPeers", fmt.Sprint(o.BGPPeers))
	a := New(store, Config{NodeName: o.Node, AutodetectCIDRs: o.Autodetect, Log: base, BGP: o.bgpConfig()})
	a.bird = early
	err = a.Run(ctx)
	if err != nil && ctx.Err() == nil {
		log.Error("agent stopped", "err", err)
		return exitcode.NewEnvironment(fmt.Errorf("agent on %s: %w", o.Node, err),
			"check that the node has an address in --autodetect and that the agent runs with NET_ADMIN in the host network namespace")
	}
	log.Info("agent stopped")
	return nil
}

// agentGCPercent is the agent's GOGC. A netns lab runs an agent per node, so each one's heap
// headroom counts N times: at 50 the agent of a 100-node lab holds 11.1 MiB private instead of
// 12.6 MiB (docs/benchmarks.md, "Memory per node and the node limit"), for a collection twice as
// often on a heap of a few MiB. GOGC in the environment wins.
const agentGCPercent = 50

func keepHeapSmall() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(agentGCPercent)
	}
}

// openLog opens the agent's JSON log: LogFile, else Stderr, else the process's stderr.
func openLog(o Options) (*slog.Logger, func(), error) {
	if o.LogFile == "" {
		w := o.Stderr
		if w == nil {
			w = os.Stderr
		}
		return slog.New(slog.NewJSONHandler(w, nil)), func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(o.LogFile), 0o755); err != nil {
		return nil, nil, exitcode.NewEnvironment(fmt.Errorf("log directory: %w", err), "give --log a writable path")
	}
	f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, exitcode.NewEnvironment(fmt.Errorf("open log: %w", err), "give --log a writable path")
	}
	return slog.New(slog.NewJSONHandler(f, nil)), func() { f.Close() }, nil
}

// openStore opens the datastore, and for the kubernetes one returns how to render the
// plugin's kubeconfig (read again at every refresh: the token rotates). It returns a nil store
// when ctx ends while the etcd datastore does not answer yet.
func openStore(ctx context.Context, o Options, log *slog.Logger) (datastore.Store, func() ([]byte, error), error) {
	if o.Datastore == DatastoreEtcd {
		store, err := waitForEtcd(ctx, datastore.EtcdConfig{Endpoints: o.EtcdEndpoints, TLS: o.etcdTLS()}, log)
		if err != nil {
			return nil, nil, exitcode.NewEnvironment(err, "check --etcd-endpoints, the --etcd-cert/--etcd-key/--etcd-ca files, and that the etcd there is running")
		}
		if store == nil { // ctx ended; a nil *Etcd would be a non-nil Store
			return nil, nil, nil
		}
		return store, nil, nil
	}
	cfg, err := kubestore.Config(o.Kubeconfig)
	if err != nil {
		return nil, nil, exitcode.NewEnvironment(err, "run the agent in its DaemonSet (deploy/manifests/daemonset.yaml), or give --kubeconfig")
	}
	store, err := kubestore.NewForConfig(cfg)
	if err != nil {
		return nil, nil, exitcode.NewEnvironment(err, "check the kubeconfig")
	}
	return store, func() ([]byte, error) { return kubestore.Kubeconfig(cfg) }, nil
}

// waitForEtcd connects to etcd, retrying for DatastoreWait while it does not answer (it may be
// starting). It returns nil, nil when ctx ends first.
func waitForEtcd(ctx context.Context, cfg datastore.EtcdConfig, log *slog.Logger) (*datastore.Etcd, error) {
	deadline := time.Now().Add(DatastoreWait)
	for {
		store, err := datastore.NewEtcd(ctx, cfg)
		if err == nil {
			return store, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if !errors.Is(err, datastore.ErrUnavailable) || time.Now().After(deadline) {
			return nil, err
		}
		log.Warn("datastore not reachable yet", "endpoints", cfg.Endpoints, "err", err)
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(RegisterRetry):
		}
	}
}

// installCNI installs this executable as the CNI plugin, with its network config and, for the
// kubernetes datastore, its kubeconfig.
func installCNI(o Options, pluginKubeconfig func() ([]byte, error)) (cni.Installation, error) {
	exe, err := os.Executable()
	if err != nil {
		return cni.Installation{}, fmt.Errorf("find knetlab's own executable to install as the CNI plugin: %w", err)
	}
	inst := cni.Installation{
		BinDir: o.CNIBinDir, ConfDir: o.CNIConfDir, Executable: exe, NodeName: o.Node, MTU: o.MTU,
		Datastore:          cni.DatastoreConf{Type: o.Datastore, EtcdCertFile: o.EtcdCert, EtcdKeyFile: o.EtcdKey, EtcdCACertFile: o.EtcdCA},
		DatastoreEndpoints: o.EtcdEndpoints,
	}
	if inst.BinDir == "" {
		inst.BinDir = DefaultCNIBinDir
	}
	if inst.ConfDir == "" {
		inst.ConfDir = DefaultCNIConfDir
	}
	if pluginKubeconfig != nil {
		if inst.Kubeconfig, err = pluginKubeconfig(); err != nil {
			return inst, exitcode.NewEnvironment(err, "run the agent in its DaemonSet (deploy/manifests/daemonset.yaml), or give --kubeconfig")
		}
	}
	if err := inst.Install(); err != nil {
		return inst, exitcode.NewEnvironment(err, fmt.Sprintf("mount the node's %s and %s into the agent (see deploy/manifests/daemonset.yaml)", inst.BinDir, inst.ConfDir))
	}
	return inst, nil
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
