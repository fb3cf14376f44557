package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/labrecord"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/capture"
	"github.com/knetlab/knetlab/verify/checkid"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/source"
)

type verifyFlags struct {
	lab       labFlag
	from      string
	checks    []string
	output    string
	junitFile string
	wait      time.Duration
	provider  string
	strict    bool
	failed    bool
}

// The --output formats.
var verifyOutputs = []string{"text", "json", "junit"}

func newVerifyCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &verifyFlags{}
	c := &cobra.Command{
		Use:   "verify <lab> | --from DIR",
		Short: "Check every node's routes, vxlan.calico, neighbours and FDB against the block affinities",
		Long: `verify computes, from the cluster's IP pools, nodes, block affinities and pods, what every
node's dataplane must hold (docs/dataplane.md) and compares it with what is there, table by table:
missing, unexpected and different entries are reported separately, each with why it must be so.

  knetlab verify <lab>        the deployed lab, read live through its provider
  knetlab verify --from DIR   a capture (cluster.yaml and nodes/<node>/*.txt) of any Calico cluster;
                              add <lab> or --lab-file to also check the switch and pools against the lab

Verdicts (docs/verify.md, "Verdicts"): a live lab must yield every input its checks need, so a
node, table, datastore or switch that is not there FAILS them (the lab is broken or half-built).
In a capture an absent file was not captured: what needs it is skipped with the reason, never
passed. A check that judged some nodes and skipped others is PART (partial), not PASS.
The text report fits the terminal (80 columns on a pipe; COLUMNS overrides): lines break at
spaces only, never inside an address or a name.
Checks (docs/verify.md says what each compares):
` + wrapList(checkid.All, "  ", 96) + `

Exit codes: 0 all checks passed (skips allowed, unless --strict) · 1 a check failed, or with
--strict anything was skipped · 2 bad usage or input (an unknown --check, a malformed
cluster.yaml, a capture with nothing to judge against: no cluster.yaml, or no pools or nodes in
it) · 3 the environment is missing something.`,
		Example: `  knetlab verify --from ./capture
  knetlab verify --from ./capture --check routes.blocks,vxlan.fdb --output json
  knetlab verify calico-overlay --from ./capture --junit-file verify.xml
  knetlab verify --from ./capture --strict     # CI: what was not captured is not a pass
  knetlab verify --from ./capture --failed-only # only the findings; COLUMNS=120 widens the text
  sudo knetlab verify calico-overlay --wait 2m`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), s, reg, f, argOr(args, 0))
		},
	}
	f.lab.register(c)
	c.Flags().StringVar(&f.from, "from", "", "verify a capture directory (the layout of docs/capture.md) instead of a live lab")
	c.Flags().StringSliceVar(&f.checks, "check", nil, "run only these check IDs (comma-separated; default: the lab's checks, or all)")
	c.Flags().StringVarP(&f.output, "output", "o", "text", "report format: text, json or junit")
	c.Flags().StringVar(&f.junitFile, "junit-file", "", "also write a JUnit report to this file (atomically)")
	c.Flags().DurationVar(&f.wait, "wait", 0, "re-run failing checks until they pass or this much time has passed (e.g. 2m)")
	c.Flags().BoolVar(&f.strict, "strict", false, "exit 1 when any check or node was skipped (for CI over captures: what was not judged is not passed)")
	c.Flags().BoolVar(&f.failed, "failed-only", false, "text output: show only the checks that failed (the summary still counts every check)")
	registerProviderFlag(c, &f.provider, reg)
	_ = c.RegisterFlagCompletionFunc("check", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return checkid.All, cobra.ShellCompDirectiveNoFileComp
	})
	_ = c.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return verifyOutputs, cobra.ShellCompDirectiveNoFileComp
	})
	return c
}

func runVerify(ctx context.Context, s *ui.Streams, reg *provider.Registry, f *verifyFlags, labName string) error {
	// Everything a user can get wrong is checked before anything is read.
	if !slices.Contains(verifyOutputs, f.output) {
		return exitcode.Usagef("unknown --output %q: use %s", f.output, strings.Join(verifyOutputs, ", "))
	}
	if f.failed && f.output != "text" {
		return exitcode.Usagef("--failed-only is for the text report; the %s report always holds every check", f.output)
	}
	if f.wait < 0 {
		return exitcode.Usagef("--wait %s is negative", f.wait)
	}
	if f.from == "" && labName == "" && f.lab.file == "" {
		return exitcode.Usagef("name a lab to verify live (%s), or give --from DIR to verify a capture", strings.Join(lab.Names(), ", "))
	}
	l, rec, err := optionalLab(labName, f.lab.file)
	if err != nil {
		return err
	}
	ids := f.checks
	if len(ids) == 0 && l != nil {
		ids = l.Checks
	}
	if _, err := verify.SelectChecks(ids); err != nil {
		return err
	}

	src, err := verifySource(ctx, reg, f, l, rec)
	if err != nil {
		return err
	}
	opts := verify.Options{Checks: ids, Lab: l.VerifySpec(), Wait: f.wait}
	if f.wait > 0 {
		progress := ui.NewProgress(s)
		opts.Retrying = func(failing []string, waited time.Duration) {
			progress.Step("waiting for %s (%s of %s)", strings.Join(failing, ", "), waited.Round(time.Second), f.wait)
		}
	}
	rep, err := verify.Run(ctx, src, opts)
	if err != nil {
		return err
	}

	switch f.output {
	case "json":
		err = report.WriteJSON(s.Out, rep)
	case "junit":
		err = report.WriteJUnit(s.Out, rep)
	default:
		report.WriteTextWith(s, rep, report.TextOptions{FailedOnly: f.failed})
	}
	if err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if f.junitFile != "" {
		if err := report.WriteJUnitFile(f.junitFile, rep); err != nil {
			return exitcode.NewEnvironment(err, "write the JUnit file to a directory that exists and is writable")
		}
	}
	if n := rep.Failed(); n > 0 {
		return &exitcode.CheckError{Failed: n}
	}
	if checks, nodes := rep.Skips(); f.strict && checks+nodes > 0 {
		// The report is printed; say why it does not count as a pass, and exit 1.
		fmt.Fprintf(s.Err, "verify --strict: %s; a skip is not a pass\n", skipWords(checks, nodes))
		return &exitcode.CheckError{}
	}
	return nil
}

// skipWords says "2 checks skipped, 1 node skipped" for --strict, leaving out what is zero.
func skipWords(checks, nodes int) string {
	var parts []string
	for _, p := range []struct {
		n    int
		noun string
	}{{checks, "check"}, {nodes, "node"}} {
		switch {
		case p.n == 1:
			parts = append(parts, "1 "+p.noun+" skipped")
		case p.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss skipped", p.n, p.noun))
		}
	}
	return strings.Join(parts, ", ")
}

// wrapList joins items with commas into lines of at most width characters.
func wrapList(items []string, indent string, width int) string {
	var b strings.Builder
	line := indent
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		if len(line)+1+len(it) > width && line != indent {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = indent
		}
		line += it + " "
	}
	b.WriteString(strings.TrimRight(line, " "))
	return b.String()
}

// verifySource is the capture with --from, else the lab's live source from its provider.
func verifySource(ctx context.Context, reg *provider.Registry, f *verifyFlags, l *lab.Lab, rec *labrecord.Record) (source.Source, error) {
	if f.from != "" {
		src, err := capture.Open(ctx, f.from)
		if err != nil {
			return nil, err
		}
		if src == nil {
			return nil, exitcode.NewEnvironment(fmt.Errorf("capture %s: this knetlab cannot read captures", f.from), "use a knetlab build with verify/capture")
		}
		return src, nil
	}
	name := f.provider
	if reg.Has(name) || name == "" {
		var err error
		if name, err = labrecord.Provider(rec, l.Name, f.provider, provider.Default); err != nil {
			return nil, err
		}
	}
	if !reg.Has(name) {
		if name == provider.Default {
			return nil, exitcode.NewEnvironment(fmt.Errorf("provider %s not registered", name),
				"verify a capture with --from DIR, or use a knetlab build that includes the netns provider")
		}
		return nil, exitcode.Usagef("unknown provider %q (providers: %s)", name, strings.Join(reg.Names(), ", "))
	}
	p, err := reg.Get(name)
	if err != nil {
		return nil, err
	}
	src, err := p.Source(ctx, l)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", l.Name, err)
	}
	return src, nil
}
