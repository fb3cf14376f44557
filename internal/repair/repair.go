// Package repair brings a deployed lab back to health, whatever its provider: it undoes the
// faults the provider recorded breaking (when it can break labs), deploys the lab again, which
// repairs what is missing and restarts what stopped, and runs the lab's verify until it passes
// or the wait runs out. knetlab fix is this package behind a flag struct.
package repair

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/report"
)

// verifyInterval is how often a failing verify is run again while Run waits.
const verifyInterval = 250 * time.Millisecond

// Options steer a repair.
type Options struct {
	Wait     time.Duration // how long verify may take to pass after the redeploy
	Progress provider.Progress
}

// Run heals, redeploys and verifies l with p, and returns the last verify report: the lab is
// healthy when it has no failed check. Only then are the provider's recorded faults forgotten,
// so that a repair that did not work names them again next time.
func Run(ctx context.Context, p provider.Provider, l *lab.Lab, opts Options) (*report.Report, error) {
	progress := opts.Progress
	if progress == nil {
		progress = provider.NopProgress{}
	}
	faults, breakable := p.(provider.Faults)
	if breakable {
		did, err := faults.Heal(ctx, l)
		for _, d := range did {
			progress.Step("%s", d)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.Deploy(ctx, l, provider.DeployOptions{Progress: progress}); err != nil {
		return nil, fmt.Errorf("fix %s: %w", l.Name, err)
	}

	src, err := p.Source(ctx, l)
	if err != nil {
		return nil, err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	rep, err := verify.Run(ctx, src, verify.Options{Checks: l.Checks, Lab: l.VerifySpec(), Wait: opts.Wait, Interval: verifyInterval,
		Retrying: func(failing []string, waited time.Duration) {
			progress.Step("waiting for %s (%s of %s)", strings.Join(failing, ", "), waited.Round(time.Second), opts.Wait)
		}})
	if err != nil {
		return nil, err
	}
	if rep.Failed() > 0 || !breakable {
		return rep, nil
	}
	return rep, faults.ForgetFaults(ctx, l)
}
