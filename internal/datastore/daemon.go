package datastore

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// DaemonCommand is the name the knetlab binary runs the lab's datastore daemon under, in the
// lab's control-plane namespace:
//
//	knetlab lab-datastore --listen https://172.18.0.2:2379 --cert FILE --key FILE --client-ca FILE \
//	    --data DIR --log FILE [--unsafe-no-fsync]
const DaemonCommand = "lab-datastore"

// DaemonArgs is the command line, DaemonCommand first, that serves cfg as a daemon: its data
// directory, client URL, TLS files, log file and fsync choice (the rest keeps its defaults). DaemonMain
// parses it, so the format lives here alone.
func (cfg ServeConfig) DaemonArgs() []string {
	args := []string{DaemonCommand, "--listen", cfg.ClientURL, "--data", cfg.DataDir, "--log", cfg.LogFile}
	for _, f := range []struct{ flag, value string }{{"--cert", cfg.TLS.CertFile}, {"--key", cfg.TLS.KeyFile}, {"--client-ca", cfg.TLS.ClientCA}} {
		if f.value != "" {
			args = append(args, f.flag, f.value)
		}
	}
	if cfg.UnsafeNoFsync {
		args = append(args, "--unsafe-no-fsync")
	}
	return args
}

// DaemonMain serves the datastore the args after DaemonCommand describe until SIGTERM or
// SIGINT, and returns the process exit code: 0 on a clean stop, 1 when etcd failed, 2 for a bad
// command line.
func DaemonMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return daemonMain(ctx, args, os.Stderr)
}

func daemonMain(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := parseDaemonArgs(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "knetlab %s: %v\n", DaemonCommand, err)
		return 2
	}
	if err := RunDaemon(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "knetlab %s: %v\n", DaemonCommand, err)
		return 1
	}
	return 0
}

func parseDaemonArgs(args []string, stderr io.Writer) (ServeConfig, error) {
	var cfg ServeConfig
	fs := flag.NewFlagSet(DaemonCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.ClientURL, "listen", "", "client URL to serve, e.g. https://172.18.0.2:2379")
	fs.StringVar(&cfg.DataDir, "data", "", "etcd data directory")
	fs.StringVar(&cfg.LogFile, "log", "", "etcd log file")
	fs.StringVar(&cfg.TLS.CertFile, "cert", "", "server certificate (https)")
	fs.StringVar(&cfg.TLS.KeyFile, "key", "", "server key (https)")
	fs.StringVar(&cfg.TLS.ClientCA, "client-ca", "", "CA that client certificates must be signed by (https)")
	fs.BoolVar(&cfg.UnsafeNoFsync, "unsafe-no-fsync", false, "skip fsync (throwaway labs only)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.ClientURL == "" || cfg.DataDir == "" {
		return cfg, errors.New("needs --listen and --data")
	}
	return cfg, nil
}
