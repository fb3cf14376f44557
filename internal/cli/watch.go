package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type watchFlags struct {
	lab      labFlag
	provider string
	count    int
	interval time.Duration
}

// vxlanDevice is Calico's VXLAN device, the first one watch shows.
const vxlanDevice = "vxlan.calico"

func newWatchCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &watchFlags{}
	c := &cobra.Command{
		Use:   "watch <lab> <node>",
		Short: "Watch a node's vxlan.calico and underlay counters live: what is encapsulated, and what is not",
		Long: `watch reads the packet and byte counters of a node's vxlan.calico and of its underlay
interface (eth1) every --interval and prints what each sent and received since the last read:
ping a pod in the other subnet and vxlan.calico's TX rises with eth1's; ping one in the same
subnet and only eth1's does. A VXLAN packet counts twice: once on vxlan.calico (the inner packet),
once on eth1 (the outer UDP/4789 packet, 50 bytes more).

The first lines are the totals, marked "total"; then one line per device and read, as "+N". On a
terminal the table is redrawn in place; on a pipe the lines follow each other. Ctrl-C stops it;
--count N stops after N reads.`,
		Example: `  sudo knetlab watch calico-overlay k01-worker
  sudo knetlab watch calico-overlay k01-worker --count 5 | cat`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeLabNodes,
		// Ctrl-C is how watch is stopped: a clean exit, not an interruption.
		Annotations: map[string]string{signalStops: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.count < 0 {
				return exitcode.Usagef("--count %d is negative", f.count)
			}
			if f.interval < 10*time.Millisecond {
				return exitcode.Usagef("--interval %s is too short (10ms at least)", f.interval)
			}
			dl, err := resolveDeployed(args[0], f.lab.file)
			if err != nil {
				return err
			}
			p, err := labProvider(reg, dl.record, dl.lab.Name, f.provider)
			if err != nil {
				return err
			}
			lc, ok := p.(provider.LinkCounters)
			if !ok {
				return exitcode.Usagef("the %s provider cannot read counters live; use knetlab exec %s %s -- ip -s link show %s", p.Name(), dl.lab.Name, args[1], vxlanDevice)
			}
			devices := []string{vxlanDevice}
			for _, n := range dl.lab.Nodes {
				if n.Name == args[1] {
					devices = append(devices, n.Interface)
				}
			}
			if len(devices) == 1 {
				devices = nil // the switch, or the management network: every interface
			}
			return watchCounters(cmd.Context(), s, lc, dl.lab.Name, args[1], devices, f)
		},
	}
	f.lab.register(c)
	registerProviderFlag(c, &f.provider, reg)
	c.Flags().IntVar(&f.count, "count", 0, "stop after this many reads (0: until Ctrl-C)")
	c.Flags().DurationVar(&f.interval, "interval", time.Second, "time between reads")
	return c
}

// watchCounters prints the totals, then the change of every read, until ctx ends or f.count
// reads are done.
func watchCounters(ctx context.Context, s *ui.Streams, lc provider.LinkCounters, labName, node string, devices []string, f *watchFlags) error {
	read := func() ([]provider.LinkCounter, error) {
		all, err := lc.LinkCounters(ctx, labName, node)
		if err != nil {
			return nil, err
		}
		return pickDevices(all, devices), nil
	}
	prev, err := read()
	if err != nil {
		return err
	}
	if len(prev) == 0 {
		return exitcode.Usagef("%s has none of %s", node, strings.Join(devices, ", "))
	}
	var names []string
	for _, c := range prev {
		names = append(names, c.Name)
	}
	if devices != nil && len(names) < len(devices) {
		fmt.Fprintf(s.Err, "note: %s has no %s\n", node, strings.Join(slices.DeleteFunc(slices.Clone(devices), func(d string) bool { return slices.Contains(names, d) }), ", "))
	}
	fmt.Fprintf(s.Err, "watching %s on %s every %s (Ctrl-C stops)\n", strings.Join(names, " and "), node, f.interval)
	now := time.Now()
	lines := append([]string{counterHeader()}, counterRows(now, nil, prev)...)
	for _, l := range lines {
		fmt.Fprintln(s.Out, l)
	}
	totals := lines
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for i := 0; f.count == 0 || i < f.count; i++ {
		select {
		case <-ctx.Done():
			return nil
		case now = <-tick.C:
		}
		cur, err := read()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		rows := counterRows(now, prev, cur)
		if s.TTY {
			// Redraw in place: the totals, then the last change.
			fmt.Fprintf(s.Out, "\x1b[%dA\x1b[J", len(lines))
			lines = append(append([]string{}, totals[:1]...), counterRows(now, nil, cur)...)
			lines = append(lines, rows...)
		} else {
			lines = rows
		}
		for _, l := range lines {
			fmt.Fprintln(s.Out, l)
		}
		prev = cur
	}
	return nil
}

// pickDevices keeps the counters of devices, in that order (every one but lo when devices is nil).
func pickDevices(all []provider.LinkCounter, devices []string) []provider.LinkCounter {
	var out []provider.LinkCounter
	if devices == nil {
		for _, c := range all {
			if c.Name != "lo" {
				out = append(out, c)
			}
		}
		return out
	}
	for _, d := range devices {
		if i := slices.IndexFunc(all, func(c provider.LinkCounter) bool { return c.Name == d }); i >= 0 {
			out = append(out, all[i])
		}
	}
	return out
}

func counterHeader() string {
	return fmt.Sprintf("%-8s  %-14s  %9s  %9s  %11s  %11s", "TIME", "DEVICE", "RX PKTS", "TX PKTS", "RX BYTES", "TX BYTES")
}

// counterRows are one line per device: the totals when prev is nil, else the change since prev
// ("+N"; a counter that went back, as when a device is recreated, shows its new total).
func counterRows(at time.Time, prev, cur []provider.LinkCounter) []string {
	var out []string
	for _, c := range cur {
		vals := []uint64{c.RxPackets, c.TxPackets, c.RxBytes, c.TxBytes}
		cells := make([]string, len(vals))
		suffix := "  total"
		var before *provider.LinkCounter
		if prev != nil {
			if i := slices.IndexFunc(prev, func(p provider.LinkCounter) bool { return p.Name == c.Name }); i >= 0 {
				before = &prev[i]
			}
		}
		for i, v := range vals {
			cells[i] = fmt.Sprint(v)
			if before != nil {
				if b := []uint64{before.RxPackets, before.TxPackets, before.RxBytes, before.TxBytes}[i]; v >= b {
					cells[i] = fmt.Sprintf("+%d", v-b)
					suffix = ""
				}
			}
		}
		out = append(out, fmt.Sprintf("%-8s  %-14s  %9s  %9s  %11s  %11s%s", at.Format("15:04:05"), c.Name, cells[0], cells[1], cells[2], cells[3], suffix))
	}
	return out
}
