// Package daemon is the process side of a netns lab: the datastore and node agents that deploy
// starts as daemons of the lab, and the CNI plugin the runtime (knetlab pod add) executes. They
// all live in the one knetlab binary, so a lab needs nothing installed but knetlab itself:
//
//	knetlab daemon datastore --lab L --listen http://172.18.0.2:2379 --data DIR --log FILE
//	knetlab daemon agent --lab L --node N --datastore URL --autodetect CIDR,... --log FILE
//	knetlab-cni (a symlink to knetlab: argv[0] picks the plugin)
//
// Main parses the daemon command lines; DatastoreArgs and AgentArgs write them, so the format
// lives in one place. Test binaries dispatch to Main and CNIMain themselves, which is how the
// netns tests start real daemons without building knetlab first.
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore"
)

// Command is the subcommand of the knetlab binary that runs the lab daemons.
const Command = "daemon"

// PluginName is the name the CNI plugin is executed under; knetlab run as knetlab-cni is the
// plugin.
const PluginName = cni.PluginType

// Datastore configures the lab's datastore daemon.
type Datastore struct {
	Lab    string
	Listen string // client URL, e.g. http://172.18.0.2:2379
	Data   string // etcd data directory
	Log    string // etcd's log file
	// UnsafeNoFsync is for throwaway labs (tests, benchmarks).
	UnsafeNoFsync bool
}

// Agent configures one node's agent daemon.
type Agent struct {
	Lab        string
	Node       string
	Datastore  string // etcd client URL
	Autodetect []netip.Prefix
	Log        string // JSON log file; "" means stderr
}

// DatastoreArgs is the command line (after the executable) that runs d.
func DatastoreArgs(d Datastore) []string {
	args := []string{Command, "datastore", "--lab", d.Lab, "--listen", d.Listen, "--data", d.Data, "--log", d.Log}
	if d.UnsafeNoFsync {
		args = append(args, "--unsafe-no-fsync")
	}
	return args
}

// AgentArgs is the command line (after the executable) that runs a.
func AgentArgs(a Agent) []string {
	var cidrs []string
	for _, c := range a.Autodetect {
		cidrs = append(cidrs, c.String())
	}
	return []string{Command, "agent", "--lab", a.Lab, "--node", a.Node, "--datastore", a.Datastore,
		"--autodetect", strings.Join(cidrs, ","), "--log", a.Log}
}

// Main runs the daemon args name ("datastore" or "agent", then its flags) until SIGTERM or
// SIGINT, and returns the process exit code: 0 on a clean stop, 1 when the daemon failed,
// 2 for a bad command line.
func Main(args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err := Run(ctx, args, stderr)
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "knetlab daemon: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "knetlab daemon: %v\n", err)
		return 1
	}
}

type usageError struct{ error }

// Run parses args and runs the daemon until ctx ends.
func Run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{fmt.Errorf("which daemon? datastore or agent")}
	}
	switch args[0] {
	case "datastore":
		d, err := parseDatastore(args[1:], stderr)
		if err != nil {
			return usageError{err}
		}
		return RunDatastore(ctx, d)
	case "agent":
		a, err := parseAgent(args[1:], stderr)
		if err != nil {
			return usageError{err}
		}
		return RunAgent(ctx, a)
	}
	return usageError{fmt.Errorf("unknown daemon %q (datastore or agent)", args[0])}
}

func parseDatastore(args []string, stderr io.Writer) (Datastore, error) {
	var d Datastore
	fs := flag.NewFlagSet("datastore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&d.Lab, "lab", "", "lab name")
	fs.StringVar(&d.Listen, "listen", "", "client URL to serve, e.g. http://172.18.0.2:2379")
	fs.StringVar(&d.Data, "data", "", "etcd data directory")
	fs.StringVar(&d.Log, "log", "", "etcd log file")
	fs.BoolVar(&d.UnsafeNoFsync, "unsafe-no-fsync", false, "skip fsync (throwaway labs only)")
	if err := fs.Parse(args); err != nil {
		return d, err
	}
	if d.Listen == "" || d.Data == "" {
		return d, fmt.Errorf("datastore needs --listen and --data")
	}
	return d, nil
}

func parseAgent(args []string, stderr io.Writer) (Agent, error) {
	var a Agent
	var cidrs string
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&a.Lab, "lab", "", "lab name")
	fs.StringVar(&a.Node, "node", "", "the node this agent programs")
	fs.StringVar(&a.Datastore, "datastore", "", "etcd client URL of the lab's datastore")
	fs.StringVar(&cidrs, "autodetect", "", "comma-separated CIDRs the underlay address is chosen from")
	fs.StringVar(&a.Log, "log", "", "JSON log file (default stderr)")
	if err := fs.Parse(args); err != nil {
		return a, err
	}
	if a.Node == "" || a.Datastore == "" {
		return a, fmt.Errorf("agent needs --node and --datastore")
	}
	for _, s := range strings.Split(cidrs, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return a, fmt.Errorf("--autodetect: %w", err)
		}
		a.Autodetect = append(a.Autodetect, p)
	}
	if len(a.Autodetect) == 0 {
		return a, fmt.Errorf("agent needs --autodetect: the CIDRs its underlay address lies in")
	}
	return a, nil
}

// RunDatastore serves the lab's etcd until ctx ends.
func RunDatastore(ctx context.Context, d Datastore) error {
	return datastore.RunDaemon(ctx, datastore.ServeConfig{
		DataDir:       d.Data,
		ClientURL:     d.Listen,
		LogFile:       d.Log,
		UnsafeNoFsync: d.UnsafeNoFsync,
	})
}

// RunAgent connects to the datastore (retrying while it starts) and runs the node's agent in
// the process's own network namespace until ctx ends.
func RunAgent(ctx context.Context, a Agent) error {
	log, closeLog, err := jsonLog(a.Log)
	if err != nil {
		return err
	}
	defer closeLog()
	log = log.With("lab", a.Lab, "node", a.Node)
	var store *datastore.Etcd
	for {
		store, err = datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{a.Datastore}})
		if err == nil {
			break
		}
		log.Warn("datastore not reachable yet", "endpoint", a.Datastore, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(agent.RegisterRetry):
		}
	}
	defer store.Close()
	log.Info("agent starting", "datastore", a.Datastore, "autodetect", fmt.Sprint(a.Autodetect))
	err = agent.New(store, agent.Config{NodeName: a.Node, AutodetectCIDRs: a.Autodetect, Log: log}).Run(ctx)
	if err != nil && ctx.Err() == nil {
		log.Error("agent stopped", "err", err)
		return err
	}
	log.Info("agent stopped")
	return nil
}

func jsonLog(file string) (*slog.Logger, func(), error) {
	if file == "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil)), func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, nil, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open log: %w", err)
	}
	return slog.New(slog.NewJSONHandler(f, nil)), func() { f.Close() }, nil
}

// IsPlugin reports whether the process was executed as the CNI plugin (argv[0] is knetlab-cni,
// e.g. through the symlink deploy places in the lab's CNI_PATH).
func IsPlugin(argv0 string) bool { return filepath.Base(argv0) == PluginName }

// RunAs runs this process as what the lab started it to be, if it is one of those: the CNI
// plugin (invoked as knetlab-cni through the lab's CNI_PATH symlink) or a lab daemon
// (`<binary> daemon ...`). It then exits. The knetlab binary calls it first thing, and so do
// test binaries that stand in for knetlab when a test deploys a lab.
func RunAs(args []string) {
	switch {
	case IsPlugin(args[0]):
		PluginMain()
		os.Exit(0)
	case len(args) > 1 && args[1] == Command:
		os.Exit(Main(args[2:], os.Stderr))
	}
}

// PluginMain runs the CNI plugin as the runtime expects (CNI_* environment, config on stdin,
// result or CNI error on stdout) over whichever datastore the network config names: the lab's
// etcd here, the Kubernetes API on a kind node. It exits the process.
func PluginMain() { cni.Main() }
