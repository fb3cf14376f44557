package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify/source"
	"github.com/knetlab/knetlab/verify/trace"
)

type traceFlags struct {
	lab      labFlag
	from     string
	all      bool
	output   string
	provider string
}

var traceOutputs = []string{"text", "json"}

func newTraceCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &traceFlags{}
	c := &cobra.Command{
		Use:   "trace <lab> <from> <to> | --from DIR <from> <to> | --all <lab>",
		Short: "Follow a packet hop by hop: routes, proxy ARP, vxlan.calico's neighbour and FDB, the switch",
		Long: `trace follows one packet from <from> to <to> through the lab's tables, one line per hop: the
route that matched, the proxy ARP of the pod's host end, vxlan.calico's neighbour and FDB entry
and the outer header, the switch's VLANs and SVIs, the remote node and the destination pod. It
walks the tables verify expects with the same code and marks the first hop where the two paths
part, with the expectation's reason (docs/trace.md).

<from> and <to> are pods (namespace/name, or name), nodes, or IPv4 addresses.

  knetlab trace <lab> <from> <to>        the deployed lab; each node's kernel is asked for its
                                         route (ip route get fibmatch: netlink on netns, docker
                                         exec on kind), the netns switch's too
  knetlab trace --from DIR <from> <to>   a capture (docs/capture.md): the same walk over its files
  knetlab trace --all <lab>              every pair of the lab's test pods, one line each

Exit codes: 0 delivered along the expected path · 1 the path parts from the expected one, the
packet is dropped, or a table the walk needs was not captured (unknown is never a pass) · 2 bad
usage (an unknown pod, node or address) · 3 the environment is missing something.`,
		Example: `  sudo knetlab trace calico-overlay net-w1 net-w3
  sudo knetlab trace calico-overlay default/net-w1 10.10.20.20 --output json
  knetlab trace --from ./capture web-0 web-2
  sudo knetlab trace --all calico-overlay`,
		Args:              cobra.MaximumNArgs(3),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrace(cmd.Context(), s, reg, f, args)
		},
	}
	f.lab.register(c)
	c.Flags().StringVar(&f.from, "from", "", "trace through a capture directory (the layout of docs/capture.md) instead of a live lab")
	c.Flags().BoolVar(&f.all, "all", false, "trace every pair of the lab's test pods, one summary line each")
	c.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	registerProviderFlag(c, &f.provider, reg)
	_ = c.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return traceOutputs, cobra.ShellCompDirectiveNoFileComp
	})
	return c
}

func runTrace(ctx context.Context, s *ui.Streams, reg *provider.Registry, f *traceFlags, args []string) error {
	if !slices.Contains(traceOutputs, f.output) {
		return exitcode.Usagef("unknown --output %q: use %s", f.output, strings.Join(traceOutputs, ", "))
	}
	// The lab is the first argument when there are more than the endpoints.
	ends := 2
	if f.all {
		ends = 0
	}
	var labName string
	switch {
	case len(args) == ends+1:
		labName, args = args[0], args[1:]
	case len(args) == ends && (f.from != "" || f.lab.file != ""):
	case f.all:
		return exitcode.Usagef("trace --all takes a lab (%s), or --from DIR", strings.Join(lab.Names(), ", "))
	default:
		return exitcode.Usagef("trace takes <lab> <from> <to>, or --from DIR <from> <to>")
	}
	l, rec, err := optionalLab(labName, f.lab.file)
	if err != nil {
		return err
	}
	src, err := verifySource(ctx, reg, &verifyFlags{from: f.from, provider: f.provider, lab: f.lab}, l, rec)
	if err != nil {
		return err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	w, err := trace.FromSource(ctx, src, l.VerifySpec())
	switch {
	case err != nil && !source.IsLive(src):
		return exitcode.Usagef("trace %s: %v", src.Describe(), err) // a capture with nothing to trace over
	case err != nil:
		return fmt.Errorf("trace %s: %w", src.Describe(), err)
	}

	if f.all {
		pods := trace.TestPods(w.Facts, labPods(l), src)
		if len(pods) < 2 {
			return exitcode.Usagef("trace --all: %s has %d test pods; it takes two to make a pair", src.Describe(), len(pods))
		}
		results := w.All(ctx, pods)
		if f.output == "json" {
			err = trace.WriteJSON(s.Out, results)
		} else {
			trace.WriteSummary(s, results)
		}
		if err != nil {
			return fmt.Errorf("write the trace: %w", err)
		}
		failed := 0
		for _, r := range results {
			if r.Verdict != trace.VerdictOK {
				failed++
			}
		}
		if failed > 0 {
			return &exitcode.CheckError{Failed: failed}
		}
		return nil
	}

	from, err := w.Resolve(args[0])
	if err != nil {
		return exitcode.Usagef("trace: <from> %q: %v", args[0], err)
	}
	if from.Kind == "ip" {
		return exitcode.Usagef("trace: <from> %q: no pod or node holds it; a packet starts from a pod or a node", args[0])
	}
	to, err := w.Resolve(args[1])
	if err != nil {
		return exitcode.Usagef("trace: <to> %q: %v", args[1], err)
	}
	r := w.Trace(ctx, from, to)
	if f.output == "json" {
		if err := trace.WriteJSON(s.Out, r); err != nil {
			return fmt.Errorf("write the trace: %w", err)
		}
	} else {
		trace.WriteText(s, r)
	}
	if r.Verdict != trace.VerdictOK {
		return &exitcode.CheckError{Failed: 1}
	}
	return nil
}

// labPods are the lab's declared test pods as namespace/name (nil without a lab).
func labPods(l *lab.Lab) []string {
	if l == nil {
		return nil
	}
	var out []string
	for _, p := range l.Pods {
		ns := p.Namespace
		if ns == "" {
			ns = "default"
		}
		out = append(out, ns+"/"+p.Name)
	}
	return out
}
