package eos

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/scrapli/scrapligo/driver/network"
	"github.com/scrapli/scrapligo/driver/options"
	"github.com/scrapli/scrapligo/platform"
)

// Scrapli is a Commander over one SSH session to a cEOS switch (scrapligo, platform arista_eos).
// The session opens on the first command and stays open until Close.
type Scrapli struct {
	Host     string // the switch's management address (containerlab inspect)
	Username string
	Password string
	// Timeout bounds every operation; scrapligo has no context, so the context's deadline is
	// applied when it is shorter.
	Timeout time.Duration

	mu     sync.Mutex
	driver *network.Driver
}

func (s *Scrapli) open(ctx context.Context) (*network.Driver, error) {
	if s.driver != nil {
		return s.driver, nil
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	p, err := platform.NewPlatform("arista_eos", s.Host,
		options.WithAuthNoStrictKey(), // a lab switch gets a new host key on every deploy
		options.WithAuthUsername(s.Username),
		options.WithAuthPassword(s.Password),
		options.WithTimeoutOps(timeout),
	)
	if err != nil {
		return nil, fmt.Errorf("scrapligo arista_eos %s: %w", s.Host, err)
	}
	d, err := p.GetNetworkDriver()
	if err != nil {
		return nil, fmt.Errorf("scrapligo arista_eos %s: %w", s.Host, err)
	}
	if err := d.Open(); err != nil {
		return nil, fmt.Errorf("ssh %s@%s: %w (is the switch up and its admin user configured?)", s.Username, s.Host, err)
	}
	s.driver = d
	return d, nil
}

// Command sends cmd and returns its output.
func (s *Scrapli) Command(ctx context.Context, cmd string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	r, err := d.SendCommand(cmd)
	if err != nil {
		return nil, err
	}
	if r.Failed != nil {
		return nil, r.Failed
	}
	return r.RawResult, nil
}

// Close ends the session.
func (s *Scrapli) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.driver == nil {
		return nil
	}
	err := s.driver.Close()
	s.driver = nil
	return err
}
