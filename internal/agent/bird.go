package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/dataplane"
)

// In BGP mode the node's BGP speaker is BIRD, as on calico-node: the agent writes BIRD's
// configuration the way calico-node's confd does (a static blackhole per own block, a kernel
// protocol that installs the blackholes and every learned route proto bird, one BGP protocol
// per peer), and asks BIRD to reconfigure when the node's blocks or the pools change. BIRD is
// either a process of its own that the agent finds answering on its control socket (a lab's,
// as calico-node runs BIRD beside Felix) or, when none answers, `bird -f` as the agent's child
// in the node's network namespace. BIRD, not the agent, then routes
// the blocks of pools without encapsulation.

// The files of the BGP directory (--bgp-dir).
const (
	BIRDConfigFile = "bird.conf"
	// BIRDSocketFile is BIRD's control socket, which birdcl talks to:
	// `birdcl -s <dir>/bird.ctl show protocols`.
	BIRDSocketFile = "bird.ctl"
)

// BGPRestartWait bounds how long a restarted BIRD (a restarted agent) leaves the node's
// routes as they are while its sessions come up, rather than withdrawing every learned route
// only to install it again a moment later. A peer that never comes up costs the node its
// learned routes after this long.
const BGPRestartWait = 4 * time.Second

// maxSocketPath is the longest path a unix socket may have (sun_path is 108 bytes with the NUL).
const maxSocketPath = 107

// BIRDPath finds a BIRD program (bird, birdcl) in PATH or, where PATH lacks the sbin
// directories, in /usr/sbin, where Debian's bird2 package puts it.
func BIRDPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join("/usr/sbin", name)
}

// birdConfig is what the agent tells BIRD: the node's identity, its peers, the blocks it owns
// (each blackholed) and which of them it must not announce, and the pools whose routes it
// takes from its peers.
type birdConfig struct {
	Node     string
	RouterID netip.Addr // the node's underlay address, its sessions' source too
	ASNumber uint32
	Peers    []BGPPeer // each with its AS (the node's own for iBGP)
	Blocks   []netip.Prefix
	NoExport []netip.Prefix
	Pools    []netip.Prefix
}

// peerProtocol is the name of the BGP protocol of a peer: calico-node's for a BGPPeer,
// Node_ followed by the address with underscores (Node_172_18_0_5).
func peerProtocol(addr netip.Addr) string {
	return "Node_" + strings.ReplaceAll(addr.String(), ".", "_")
}

// render writes BIRD 2's configuration for c.
func (c birdConfig) render() []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# BIRD configuration of node %s, written by knetlab's agent (as calico-node's confd writes", c.Node)
	p("# its own); the agent rewrites it and runs `birdcl configure` when the node's blocks change.")
	p("router id %s;", c.RouterID)
	p("# Started with -R (as calico-node starts it): the kernel keeps its routes until the sessions")
	p("# are back, or for this long at most when one is not (a misconfigured peer).")
	p("graceful restart wait %d;", int(BGPRestartWait/time.Second))
	p("")
	p("# Routes of the pools without encapsulation: the only ones taken from the peers.")
	p("filter calico_import_pools {")
	if len(c.Pools) > 0 {
		p("  if net ~ [ %s ] then accept;", joinPrefixes(c.Pools, "+"))
	}
	p("  reject;")
	p("}")
	p("")
	p("# The node's own blocks (the static blackholes) are announced, except the ones withheld.")
	p("filter calico_export_to_bgp_peers {")
	p("  if source != RTS_STATIC then reject;")
	for _, n := range c.NoExport {
		p("  if net = %s then reject;", n)
	}
	p("  accept;")
	p("}")
	p("")
	p("# The kernel gets the blackholes and what BGP learned, proto bird.")
	p("filter calico_kernel_programming {")
	p("  if source ~ [ RTS_STATIC, RTS_BGP ] then accept;")
	p("  reject;")
	p("}")
	p("")
	p("protocol device {")
	p("  scan time 2;")
	p("}")
	p("")
	p("# Connected networks, so that a peer's next hop resolves; never the pods' devices.")
	p("protocol direct {")
	p("  ipv4;")
	p("  interface -\"%s*\", \"*\";", dataplane.PodDevicePrefix)
	p("}")
	p("")
	p("protocol kernel {")
	p("  ipv4 {")
	p("    import none;")
	p("    export filter calico_kernel_programming;")
	p("  };")
	p("  persist;         # routes stay while BIRD restarts")
	p("  scan time 2;")
	p("  merge paths on;")
	p("  metric 0;        # calico-node's BIRD 1.6 sets none: `ip route` shows no metric")
	p("  graceful restart;")
	p("}")
	p("")
	p("# The node's blocks (IPAM affinities): blackholed here, announced to the peers.")
	p("protocol static {")
	p("  ipv4;")
	for _, blk := range c.Blocks {
		p("  route %s blackhole;", blk)
	}
	p("}")
	for _, peer := range c.Peers {
		p("")
		p("protocol bgp %s {", peerProtocol(peer.Address))
		p("  local %s as %d;", c.RouterID, c.ASNumber)
		p("  neighbor %s as %d;", peer.Address, peer.ASNumber)
		p("  ipv4 {")
		p("    import filter calico_import_pools;")
		p("    export filter calico_export_to_bgp_peers;")
		p("  };")
		p("  connect delay time 0;  # dial at once: the route reflector is passive")
		p("  connect retry time 1;")
		p("  error wait time 1, 5;")
		p("  hold time 9;")
		p("  keepalive time 3;")
		p("}")
	}
	return b.Bytes()
}

func joinPrefixes(ps []netip.Prefix, suffix string) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String() + suffix
	}
	return strings.Join(s, ", ")
}

// BIRDArgs is the command line, after the program, that runs the BIRD of the BGP directory
// dir as calico-node runs its own: in the foreground, graceful restart (-R), dir's
// configuration and control socket.
func BIRDArgs(dir string) []string {
	return []string{"-f", "-R", "-c", filepath.Join(dir, BIRDConfigFile), "-s", filepath.Join(dir, BIRDSocketFile)}
}

// BIRDAnswers says whether a BIRD answers on the control socket of the BGP directory dir.
func BIRDAnswers(dir string) bool {
	conn, err := net.DialTimeout("unix", filepath.Join(dir, BIRDSocketFile), time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	hello := make([]byte, 64)
	n, err := conn.Read(hello) // "0001 BIRD 2.0.12 ready."
	return err == nil && bytes.HasPrefix(hello[:n], []byte("0001 "))
}

// birdProcess is the node's running BIRD: the agent's child (cmd), or one it adopted (cmd nil),
// which it neither watches nor stops.
type birdProcess struct {
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the child exited
	conf []byte        // the configuration BIRD runs; nil for an adopted BIRD until configured
	log  *slog.Logger
}

// startBIRD writes conf into dir and starts BIRD on it in the network namespace nsPath (""
// the agent's own). BIRD dies with the agent (SIGTERM when the agent's thread that started it
// ends). It returns once BIRD's control socket answers.
func startBIRD(nsPath, dir string, conf []byte, log *slog.Logger) (*birdProcess, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("BIRD's directory: %w", err)
	}
	cfgPath, sock := filepath.Join(dir, BIRDConfigFile), filepath.Join(dir, BIRDSocketFile)
	if err := writeFileAtomic(cfgPath, conf); err != nil {
		return nil, err
	}
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove BIRD's old control socket: %w", err)
	}
	cmd := exec.Command(BIRDPath("bird"), BIRDArgs(dir)...)
	cmd.Stdout, cmd.Stderr = birdLog{log}, birdLog{log}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := inNamespace(nsPath, cmd.Start); err != nil {
		return nil, fmt.Errorf("start BIRD (%s): %w", cmd.Path, err)
	}
	b := &birdProcess{dir: dir, cmd: cmd, done: make(chan struct{}), conf: conf, log: log}
	go func() {
		err := cmd.Wait()
		log.Info("BIRD exited", "pid", cmd.Process.Pid, "status", fmt.Sprint(err))
		close(b.done)
	}()
	log.Info("BIRD started", "pid", cmd.Process.Pid, "config", cfgPath, "socket", sock)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return b, nil
		}
		select {
		case <-b.done:
			return nil, fmt.Errorf("BIRD exited at once (its log says why): %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("BIRD's control socket %s did not appear within 5 s", sock)
		}
	}
}

// exited says whether BIRD is gone.
func (b *birdProcess) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// configure makes conf BIRD's configuration: written, then `birdcl configure`.
func (b *birdProcess) configure(ctx context.Context, conf []byte) error {
	if bytes.Equal(conf, b.conf) {
		return nil
	}
	cfgPath := filepath.Join(b.dir, BIRDConfigFile)
	if err := writeFileAtomic(cfgPath, conf); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, BIRDPath("birdcl"), "-s", filepath.Join(b.dir, BIRDSocketFile), "configure").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Reconfigured")) && !bytes.Contains(out, []byte("Reconfiguration in progress")) {
		return fmt.Errorf("BIRD did not take %s: %v: %s", cfgPath, err, strings.TrimSpace(string(out)))
	}
	b.conf = conf
	return nil
}

// stop ends BIRD (SIGTERM, SIGKILL after 3 s) and waits for it. The kernel keeps its routes
// (persist), as calico-node's do while BIRD restarts.
func (b *birdProcess) stop() {
	if b.cmd == nil {
		return // adopted: it is not the agent's to stop
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(3 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

// inNamespace runs start on a thread inside the network namespace nsPath ("": as it is). A
// child started there lives in that namespace.
func inNamespace(nsPath string, start func() error) error {
	if nsPath == "" {
		return start()
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	return kernel.Do(ns, start)
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// birdLog writes BIRD's output into the agent's log, a record per line.
type birdLog struct{ log *slog.Logger }

func (w birdLog) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.log.Info("bird: " + line)
		}
	}
	return len(p), nil
}
