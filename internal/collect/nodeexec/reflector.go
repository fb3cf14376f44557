package nodeexec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
)

// The commands a route reflector's container answers: gobgp, GoBGP's CLI, asks the gobgpd
// beside it (its API on 127.0.0.1:50051). With -j an error (gobgpd not answering) is printed on
// stdout as {"error": "..."} and gobgp exits 1.
var (
	GoBGPNeighborsCmd = []string{"gobgp", "neighbor", "-j"}
	GoBGPRIBCmd       = []string{"gobgp", "global", "rib", "-j"}
)

// Reflector reads a GoBGP route reflector's sessions and RIB by running gobgp in its container
// (name is the container's), both in parallel. It returns the reflector with the tables it
// could read marked, and an error naming those it could not (the caller names the reflector).
func (c *Collector) Reflector(ctx context.Context, name string) (*observed.Reflector, error) {
	r := &observed.Reflector{Name: name}
	reads := []struct {
		table observed.Table
		argv  []string
		apply func(out []byte) error
	}{
		{observed.TableBGPSessions, GoBGPNeighborsCmd, func(out []byte) (err error) {
			r.Sessions, err = parse.GoBGPNeighbors(out)
			return err
		}},
		{observed.TableBGPRoutes, GoBGPRIBCmd, func(out []byte) (err error) {
			r.RIB, err = parse.GoBGPRIB(out)
			return err
		}},
	}
	errs := make([]error, len(reads))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, rd := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := strings.Join(rd.argv, " ")
			out, err := c.Exec.Exec(ctx, name, rd.argv)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %s: %w", rd.table, cmd, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if err := rd.apply(out); err != nil {
				errs[i] = fmt.Errorf("%s: parse %s: %w", rd.table, cmd, err)
				return
			}
			r.Mark(rd.table)
		}()
	}
	wg.Wait()
	return r, errors.Join(errs...)
}
