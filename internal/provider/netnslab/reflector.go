package netnslab

import (
	"context"
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

	"github.com/knetlab/knetlab/internal/bgp"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/render"
)

// A lab's BGP route reflector (calico-bgp's gobgp) runs as a lab process in a namespace of its
// own on the management network, as the gobgp container stands on kind's docker network. It is
// GoBGP, embedded, configured by the very rr.conf that knetlab render writes for the real lab:
// the deploy renders the lab, writes the reflector's rr.conf into the lab's state directory and
// starts
//
//	knetlab lab-bgp-reflector --config <state>/<lab>/rr/<name>/rr.conf --listen 172.18.0.5 --api 127.0.0.1:50051
//
// inside knl.<lab>.<name>. Its GoBGP API listens on the loopback of that namespace only, where
// the verify source (and a gobgp CLI run with knetlab exec) reaches it.

// ReflectorCommand is the name the knetlab binary runs a lab's route reflector under.
const ReflectorCommand = "lab-bgp-reflector"

// reflectorProcess names a reflector in the lab's record: "reflector gobgp".
const reflectorProcess = "reflector "

// reflectorAPI is where a netns lab's route reflector serves the GoBGP API: GoBGP's default
// address, on the loopback of the reflector's namespace.
const reflectorAPI = "127.0.0.1:50051"

// reflectorArgs is the command line, ReflectorCommand first, that runs a reflector with the
// rr.conf at config, its BGP listener on listen. Its log is its stderr, which the deploy sends
// to the lab's logs directory.
func reflectorArgs(config string, listen netip.Addr) []string {
	return []string{ReflectorCommand, "--config", config, "--listen", listen.String(), "--api", reflectorAPI}
}

// ReflectorMain runs the route reflector the args after ReflectorCommand describe until SIGTERM
// or SIGINT, and returns the process exit code: 0 on a clean stop, 1 when the reflector
// failed, 2 for a bad command line or configuration.
func ReflectorMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return reflectorMain(ctx, args, os.Stderr)
}

func reflectorMain(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(ReflectorCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "the reflector's rr.conf (GoBGP's TOML, as knetlab render writes it)")
	listen := fs.String("listen", "", "the address BGP listens on (port 179)")
	api := fs.String("api", reflectorAPI, "the GoBGP API's address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "knetlab %s: %v\n", ReflectorCommand, err)
		return code
	}
	addr, err := netip.ParseAddr(*listen)
	if err != nil || *config == "" {
		return fail(2, fmt.Errorf("needs --config FILE and --listen ADDRESS (given: --config %q --listen %q)", *config, *listen))
	}
	f, err := os.Open(*config)
	if err != nil {
		return fail(2, err)
	}
	cfg, err := bgp.ParseReflectorConfig(f, *config)
	f.Close()
	if err != nil {
		return fail(2, err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	rr, err := bgp.StartReflector(ctx, cfg, bgp.ReflectorOptions{Listen: netip.AddrPortFrom(addr, bgpPort), API: *api, Log: log})
	if err != nil {
		return fail(1, err)
	}
	<-ctx.Done()
	rr.Close()
	log.Info("route reflector stopped")
	return 0
}

// bgpPort is BGP's TCP port.
const bgpPort = 179

// reflectorConfig is the rendered rr.conf of reflector rr: the same bytes knetlab render writes
// for the real lab's gobgp container.
func reflectorConfig(l *lab.Lab, rr lab.RouteReflector) ([]byte, error) {
	files, err := render.Render(l)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", l.Name, err)
	}
	want := render.ReflectorConfigPath(l.Name, rr.Name)
	for _, f := range files {
		if f.Path == want {
			return f.Data, nil
		}
	}
	return nil, fmt.Errorf("render %s wrote no %s for route reflector %s", l.Name, want, rr.Name)
}

// reflectorConfigFile is where a deploy writes reflector rr's rr.conf.
func (d *deployer) reflectorConfigFile(rr string) string { return d.stateFile("rr", rr, "rr.conf") }

// ensureReflector writes reflector rr's rendered rr.conf and starts the reflector in its
// namespace, unless it runs already with that file unchanged.
func (d *deployer) ensureReflector(rr lab.RouteReflector) error {
	conf, err := reflectorConfig(d.topo.lab, rr)
	if err != nil {
		return err
	}
	path := d.reflectorConfigFile(rr.Name)
	old, _ := os.ReadFile(path)
	changed := string(old) != string(conf)
	if changed {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("route reflector %s: %w", rr.Name, err)
		}
		if err := os.WriteFile(path, conf, 0o644); err != nil {
			return fmt.Errorf("route reflector %s: %w", rr.Name, err)
		}
	}
	name := reflectorProcess + rr.Name
	pr, ok, err := runningProcess(d.store, name)
	if err != nil {
		return err
	}
	if ok && !changed {
		return nil
	}
	if ok { // its rr.conf changed: it reads it only when it starts
		stopProcesses([]journal.Process{pr})
		if err := d.store.RemoveProcess(pr.PID); err != nil {
			return err
		}
	}
	args := reflectorArgs(path, rr.Address.Addr())
	if err := d.startDaemon(NamespaceName(d.topo.lab.Name, rr.Name), name, args); err != nil {
		return err
	}
	d.did("processes", "started the route reflector %s", rr.Name)
	return nil
}

// reflectorStartTimeout bounds how long a deploy waits for a started reflector to listen.
const reflectorStartTimeout = 10 * time.Second

// waitReflectorListening waits until reflector rr's process listens for BGP (port 179 in its
// namespace's TCP table), so that each node's BIRD, which dials at once, finds it there rather
// than retrying a second later.
func (d *deployer) waitReflectorListening(rr lab.RouteReflector) error {
	name := reflectorProcess + rr.Name
	logFile := d.stateFile("logs", strings.ReplaceAll(name, " ", "-")+".stderr")
	deadline := time.Now().Add(reflectorStartTimeout)
	for {
		pr, ok, err := runningProcess(d.store, name)
		if err != nil {
			return err
		}
		if !ok {
			return exitcode.NewEnvironment(fmt.Errorf("the route reflector %s stopped; see %s", rr.Name, logFile), labBroken(d.topo.lab.Name))
		}
		if listensBGP(pr.PID) {
			return nil
		}
		if time.Now().After(deadline) {
			return exitcode.NewEnvironment(fmt.Errorf("the route reflector %s does not listen on port 179 after %s; see %s", rr.Name, reflectorStartTimeout, logFile), labBroken(d.topo.lab.Name))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listensBGP says whether the network namespace of process pid has a TCP socket listening on
// port 179 (/proc/<pid>/net/tcp: local address ending :00B3, state 0A).
func listensBGP(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], ":00B3") && f[3] == "0A" {
			return true
		}
	}
	return false
}
