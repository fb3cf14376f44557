// Package nodeexec reads a node's dataplane tables by running iproute2 inside the node — docker
// exec into a kind node container, or a command in a netns lab node — and handing the output to
// verify/parse. It is the collector behind any provider that can run a command in a node, so the
// verify engine sees the same normalised observed.Node whichever way the command got there.
package nodeexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
)

// Execer runs argv inside a node and returns its standard output. An error means the command
// did not run or exited non-zero; the error should carry the command's stderr.
//
// The interface is one method on purpose: docker exec, the netns provider's exec and a test
// replaying recorded outputs all fit it without adapters.
type Execer interface {
	Exec(ctx context.Context, node string, argv []string) ([]byte, error)
}

// ExecFunc adapts a function to Execer.
type ExecFunc func(ctx context.Context, node string, argv []string) ([]byte, error)

// Exec calls f.
func (f ExecFunc) Exec(ctx context.Context, node string, argv []string) ([]byte, error) {
	return f(ctx, node, argv)
}

// The commands the collector runs. JSON output everywhere: it is machine output, so it is parsed
// with verify/parse's JSON path, never scraped.
var (
	RouteCmd = []string{"ip", "-j", "route", "show"}
	LinkCmd  = []string{"ip", "-j", "-d", "link", "show"}
	AddrCmd  = []string{"ip", "-j", "addr", "show"}
	NeighCmd = []string{"ip", "-j", "neigh", "show"}
	FDBCmd   = []string{"bridge", "-j", "fdb", "show"}
	// SysctlCmd prints "path:value" for the sysctls pods.wiring and nat.outgoing judge. grep -H
	// over /proc/sys is used instead of `sysctl` because every node image has grep and sh, not
	// every one has procps; /proc/sys/net shows the network namespace of the reading process.
	SysctlCmd = []string{"sh", "-c", "grep -H . /proc/sys/net/ipv4/ip_forward " +
		"/proc/sys/net/ipv4/conf/*/proxy_arp /proc/sys/net/ipv4/conf/*/forwarding " +
		"/proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv4/neigh/*/proxy_delay 2>/dev/null; true"}
)

// Collector reads node tables through an Execer.
type Collector struct {
	Exec Execer
}

// New returns a collector over e.
func New(e Execer) *Collector { return &Collector{Exec: e} }

// table is one table read: the command and how its output lands in the node.
type table struct {
	name  observed.Table
	argv  []string
	apply func(n *observed.Node, out []byte) error
}

// links and addrs are read by two commands and merged afterwards, so they go to scratch space
// first instead of racing on n.Links.
type scratch struct {
	links, addrs []observed.Link
}

func tables(s *scratch) []table {
	return []table{
		{observed.TableRoutes, RouteCmd, func(n *observed.Node, out []byte) (err error) {
			n.Routes, err = parse.Routes(out)
			return err
		}},
		{observed.TableLinks, LinkCmd, func(_ *observed.Node, out []byte) (err error) {
			s.links, err = parse.Links(out)
			return err
		}},
		{observed.TableAddrs, AddrCmd, func(_ *observed.Node, out []byte) (err error) {
			s.addrs, err = parse.Addrs(out)
			return err
		}},
		{observed.TableNeigh, NeighCmd, func(n *observed.Node, out []byte) (err error) {
			n.Neighs, err = parse.Neighs(out)
			return err
		}},
		{observed.TableFDB, FDBCmd, func(n *observed.Node, out []byte) (err error) {
			n.FDB, err = parse.FDB(out)
			return err
		}},
		{observed.TableSysctls, SysctlCmd, func(n *observed.Node, out []byte) error {
			n.Sysctls = parse.ProcSys(out)
			return nil
		}},
	}
}

// NodeState runs every table's command in parallel and returns the node with the tables that
// could be read marked. A table whose command failed stays unmarked, so the checks that need it
// are skipped with the reason rather than passed; the error lists those tables. When no table
// could be read at all the node is unreachable and the result is nil.
func (c *Collector) NodeState(ctx context.Context, node string) (*observed.Node, error) {
	var sc scratch
	tabs := tables(&sc)
	n := &observed.Node{Name: node}
	errs := make([]error, len(tabs))
	ok := make([]bool, len(tabs))
	var wg sync.WaitGroup
	var mu sync.Mutex // apply functions write distinct fields, but Mark writes the shared map
	for i, t := range tabs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.Exec.Exec(ctx, node, t.argv)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %s: %w", t.name, strings.Join(t.argv, " "), err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if err := t.apply(n, out); err != nil {
				errs[i] = fmt.Errorf("%s: parse %s: %w", t.name, strings.Join(t.argv, " "), err)
				return
			}
			ok[i] = true
		}()
	}
	wg.Wait()
	read := 0
	for i, t := range tabs {
		if ok[i] {
			n.Mark(t.name)
			read++
		}
	}
	switch {
	case n.Has(observed.TableLinks) && n.Has(observed.TableAddrs):
		n.Links = parse.MergeAddrs(sc.links, sc.addrs)
	case n.Has(observed.TableLinks):
		n.Links = sc.links
	case n.Has(observed.TableAddrs):
		n.Links = sc.addrs
	}
	err := errors.Join(errs...)
	if read == 0 {
		return nil, fmt.Errorf("node %s: no table could be read: %w", node, err)
	}
	if err != nil {
		return n, fmt.Errorf("node %s: some tables could not be read (their checks are skipped): %w", node, err)
	}
	return n, nil
}

// NodeStates reads every node in parallel. Nodes that could not be read at all are absent from
// the map and named in the error; partly read nodes are present.
func (c *Collector) NodeStates(ctx context.Context, nodes []string) (map[string]*observed.Node, error) {
	out := make(map[string]*observed.Node, len(nodes))
	errs := make([]error, len(nodes))
	var mu sync.Mutex
	var g errgroup.Group
	for i, name := range nodes {
		g.Go(func() error {
			n, err := c.NodeState(ctx, name)
			errs[i] = err
			if n != nil {
				mu.Lock()
				out[name] = n
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through errs, so that one slow node does not cancel the others
	return out, errors.Join(errs...)
}

// Runner is how a provider runs a command in a lab node (provider.Provider has this method).
type Runner interface {
	Exec(ctx context.Context, labName, target string, argv []string, stdio provider.Stdio) error
}

// ViaProvider is an Execer over a provider's exec: the netns provider runs the host's iproute2
// inside the node's namespace, so the same collector reads a netns lab and a kind lab.
func ViaProvider(r Runner, labName string) Execer {
	return ExecFunc(func(ctx context.Context, node string, argv []string) ([]byte, error) {
		var stdout, stderr bytes.Buffer
		if err := r.Exec(ctx, labName, node, argv, provider.Stdio{Out: &stdout, Err: &stderr}); err != nil {
			if msg := strings.TrimSpace(stderr.String()); msg != "" {
				return nil, fmt.Errorf("%w: %s", err, msg)
			}
			return nil, err
		}
		return stdout.Bytes(), nil
	})
}
