package netnslab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns` keeps its named namespaces; knetlab's are visible to `ip netns`.
const netnsDir = "/run/netns"

func namespacePath(name string) string { return filepath.Join(netnsDir, name) }

// namespaceState says whether a named namespace is there: the file under /run/netns exists and
// is a mounted namespace (a deploy killed between creating the file and mounting the namespace
// leaves a plain empty file, which is "stale").
type namespaceState int

const (
	nsAbsent namespaceState = iota
	nsStale
	nsPresent
)

func inspectNamespace(name string) namespaceState {
	var st unix.Statfs_t
	if err := unix.Statfs(namespacePath(name), &st); err != nil {
		return nsAbsent
	}
	if st.Type != unix.NSFS_MAGIC {
		return nsStale
	}
	return nsPresent
}

// openNamespace returns a handle on a named namespace; the caller closes it.
func openNamespace(name string) (netns.NsHandle, error) {
	if inspectNamespace(name) != nsPresent {
		return netns.None(), fmt.Errorf("namespace %s does not exist", name)
	}
	h, err := netns.GetFromPath(namespacePath(name))
	if err != nil {
		return netns.None(), fmt.Errorf("open namespace %s: %w", name, err)
	}
	return h, nil
}

// prepareNetnsDir makes /run/netns a shared mount point, as `ip netns add` does, so that a
// namespace unmounted here is unmounted in every mount namespace that copied it (a service
// started with a private /run would otherwise keep a deleted lab namespace alive).
func prepareNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", netnsDir, err)
	}
	err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet: bind it onto itself first
		if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount %s: %w", netnsDir, err)
		}
		err = unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", netnsDir, err)
	}
	return nil
}

// createNamespace makes a named namespace as `ip netns add` does (a bind mount under /run/netns)
// and returns a handle on it.
func createNamespace(name string) (netns.NsHandle, error) {
	h, err := onFreshThread(func() (netns.NsHandle, error) { return netns.NewNamed(name) })
	if err != nil {
		return h, fmt.Errorf("create namespace %s: %w", name, err)
	}
	return h, nil
}

// onFreshThread runs create, which makes a namespace and moves the calling thread into it
// (netns.New, netns.NewNamed), on a locked thread that is moved back afterwards; a thread that
// cannot be moved back is retired with its goroutine, so no other goroutine ever runs in it.
func onFreshThread(create func() (netns.NsHandle, error)) (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{netns.None(), err}
			return
		}
		defer orig.Close()
		h, err := create()
		if serr := netns.Set(orig); serr != nil {
			done <- result{h, fmt.Errorf("return to the original namespace: %w", serr)}
			return // the thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		if err != nil {
			done <- result{netns.None(), err}
			return
		}
		done <- result{h, nil}
	}()
	r := <-done
	return r.h, r.err
}

// deleteNamespace unmounts and removes a named namespace; the kernel frees it once no process
// and no open handle holds it. An absent namespace is not an error.
func deleteNamespace(name string) error {
	p := namespacePath(name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount namespace %s: %w", name, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove namespace %s: %w", name, err)
	}
	return nil
}

// withScratchNamespace runs fn with a netlink-able namespace that has no name: it disappears
// when its last handle closes, so a probe leaves nothing behind even if knetlab is killed.
func withScratchNamespace(fn func(netns.NsHandle) error) error {
	h, err := onFreshThread(netns.New)
	if err != nil {
		if h.IsOpen() {
			h.Close()
		}
		return fmt.Errorf("scratch namespace: %w", err)
	}
	defer h.Close()
	return fn(h)
}
