// Package eos reads an Arista cEOS switch into the normalised switch model: it sends the `| json`
// show commands of verify/parse/eosjson over SSH with scrapligo (platform arista_eos) and hands
// their output to that package's parsers.
package eos

import (
	"context"
	"fmt"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse/eosjson"
)

// Commander sends one EOS command and returns its output.
type Commander interface {
	Command(ctx context.Context, cmd string) ([]byte, error)
}

// Collect reads the switch named name through c.
func Collect(ctx context.Context, c Commander, name string) (*observed.Switch, error) {
	sw := &observed.Switch{Name: name}
	// One SSH session serves the commands one after another; four small commands on an open
	// session take well under a second, so they are not worth four logins in parallel.
	for _, cmd := range eosjson.Commands {
		out, err := c.Command(ctx, cmd)
		if err != nil {
			return nil, fmt.Errorf("switch %s: %s: %w", name, cmd, err)
		}
		if err := eosjson.Parse(sw, cmd, out); err != nil {
			return nil, fmt.Errorf("switch %s: %s: %w", name, cmd, err)
		}
	}
	return sw, nil
}
