package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
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

// sysctlPath turns "net.ipv4.conf.eth0.forwarding" into its /proc/sys path. Interface names may
// hold dots ("eth0.10"), which /proc/sys keeps as dots, so the key is split on the known prefixes.
func sysctlPath(key string) string {
	for _, prefix := range []string{"net.ipv4.conf.", "net.ipv4.neigh.", "net.ipv6.conf.", "net.ipv6.neigh."} {
		if rest, ok := strings.CutPrefix(key, prefix); ok {
			if i := strings.LastIndexByte(rest, '.'); i > 0 {
				return filepath.Join("/proc/sys", strings.ReplaceAll(prefix, ".", "/"), rest[:i], rest[i+1:])
			}
		}
	}
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// ReadSysctls reads keys inside ns. A key that does not exist is left out of the result.
func ReadSysctls(ns netns.NsHandle, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	err := Do(ns, func() error {
		for _, k := range keys {
			b, err := os.ReadFile(sysctlPath(k))
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
			if err := os.WriteFile(sysctlPath(k), []byte(v), 0o644); err != nil {
				return fmt.Errorf("write sysctl %s=%s: %w", k, v, err)
			}
		}
		return nil
	})
}
