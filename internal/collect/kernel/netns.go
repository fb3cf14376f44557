package kernel

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"

	"github.com/knetlab/knetlab/verify/parse"
)

// Do runs fn on an OS thread that has joined the network namespace ns, and puts the thread back
// afterwards. It exists for what netlink cannot reach through a per-namespace socket: /proc/sys/net
// (resolved against the opening thread's namespace) and forking a process into a namespace.
//
// If the thread cannot be put back it is never unlocked, so the Go runtime retires it instead of
// reusing a thread that sits in a lab namespace.
func Do(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("read this thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("leave network namespace: %w", err) // thread stays locked: retired
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// ReadSysctls reads keys inside ns. A key that does not exist is left out of the result.
func ReadSysctls(ns netns.NsHandle, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	err := Do(ns, func() error {
		for _, k := range keys {
			b, err := os.ReadFile(parse.ProcSysPath(k))
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read sysctl %s: %w", k, err)
			}
			out[k] = strings.TrimSpace(string(b))
		}
		return nil
	})
	return out, err
}

// WriteSysctls sets each key to its value inside ns.
func WriteSysctls(ns netns.NsHandle, values map[string]string) error {
	return Do(ns, func() error {
		for k, v := range values {
			if err := os.WriteFile(parse.ProcSysPath(k), []byte(v), 0o644); err != nil {
				return fmt.Errorf("write sysctl %s=%s: %w", k, v, err)
			}
		}
		return nil
	})
}
