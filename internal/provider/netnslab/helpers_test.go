package netnslab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
)

// The helper process of TestKilledDeployIsCleanedUp: it deploys a lab and is SIGKILLed by the
// KNETLAB_TEST_KILL_AFTER hook half way.
func TestMain(m *testing.M) {
	if os.Getenv("KNETLAB_TEST_HELPER") == "deploy" {
		l, err := lab.Load(os.Getenv("KNETLAB_TEST_CATALOGUE_LAB"))
		if err == nil {
			l.Name = os.Getenv("KNETLAB_TEST_LAB_NAME")
			err = New().Deploy(context.Background(), l, provider.DeployOptions{})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testPrefix starts every lab name these tests use, so their namespaces never meet those of
// another test run or of a lab a person deployed on the same host.
var testPrefix = fmt.Sprintf("t%d-", os.Getpid()%100000)

var labSeq atomic.Int32

// uniqueLab loads a catalogue lab under a name of its own.
func uniqueLab(t testing.TB, catalogue string) *lab.Lab {
	t.Helper()
	l, err := lab.Load(catalogue)
	if err != nil {
		t.Fatal(err)
	}
	l.Name = fmt.Sprintf("%s%d-%s", testPrefix, labSeq.Add(1), catalogue)
	return l
}

// newTestProvider keeps lab state in a temporary directory, so destroy --all sees only this
// test's labs.
func newTestProvider(t testing.TB) *Provider {
	return New(WithStateRoot(t.TempDir()))
}

// deployed deploys l and destroys it when the test ends, also when it fails.
func deployed(t testing.TB, p *Provider, l *lab.Lab) *recorder {
	t.Helper()
	rec := &recorder{}
	t.Cleanup(func() {
		_ = p.Destroy(context.Background(), l.Name, provider.DestroyOptions{Lab: l})
		removeTestNamespaces(l.Name)
	})
	if err := p.Deploy(context.Background(), l, provider.DeployOptions{Progress: rec}); err != nil {
		t.Fatalf("deploy %s: %v\n%s", l.Name, err, rec)
	}
	return rec
}

// removeTestNamespaces is the last line of cleanup: whatever a failed test left of a lab.
func removeTestNamespaces(labName string) {
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), labNamespacePrefix(labName)) {
			_ = deleteNamespace(e.Name())
		}
	}
}

// recorder is a provider.Progress that keeps the lines.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Step(format string, args ...any) { r.add("• "+format, args...) }
func (r *recorder) Done(format string, args ...any) { r.add("✓ "+format, args...) }
func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// hostSnapshot is what the host's root namespace and this process hold that a lab could leak.
type hostSnapshot struct {
	namespaces []string // /run/netns entries of this test run
	mounts     int      // mounts of this test run's namespaces
	rootLinks  []string // interface names in the root namespace
	fds        int
}

func snapshot(t testing.TB) hostSnapshot {
	t.Helper()
	var s hostSnapshot
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), namespacePrefix+testPrefix) {
			s.namespaces = append(s.namespaces, e.Name())
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	s.mounts = strings.Count(string(mi), filepath.Join(netnsDir, namespacePrefix+testPrefix))
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		s.rootLinks = append(s.rootLinks, l.Attrs().Name)
	}
	slices.Sort(s.rootLinks)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	s.fds = len(fds)
	return s
}

// leaks lists what after holds that before did not.
func (before hostSnapshot) leaks(after hostSnapshot) []string {
	var out []string
	for _, n := range after.namespaces {
		if !slices.Contains(before.namespaces, n) {
			out = append(out, "namespace "+n)
		}
	}
	if after.mounts > before.mounts {
		out = append(out, fmt.Sprintf("%d namespace mounts", after.mounts-before.mounts))
	}
	for _, n := range after.rootLinks {
		// Only names a lab uses count: other programs on a shared host may add their own links.
		if !slices.Contains(before.rootLinks, n) && labLinkName.MatchString(n) {
			out = append(out, "root-namespace link "+n)
		}
	}
	if after.fds > before.fds {
		out = append(out, fmt.Sprintf("%d file descriptors", after.fds-before.fds))
	}
	return out
}

// labLinkName matches every interface name a netns lab creates.
var labLinkName = regexp.MustCompile(`^(eth[0-9]+|Vlan[0-9]+|kind|br0|veth[0-9a-f]{7})$`)

// labSubnets are the addresses that must never appear in the host's root namespace.
var labSubnets = []netip.Prefix{
	netip.MustParsePrefix("10.10.0.0/16"),
	netip.MustParsePrefix("172.18.0.0/16"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

// assertRootClean fails when a lab address is configured or routed in the root namespace.
func assertRootClean(t testing.TB) {
	t.Helper()
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP.To4())
		for _, s := range labSubnets {
			if s.Contains(ip) {
				t.Errorf("lab address %s is configured in the root namespace", a.IPNet)
			}
		}
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ip, _ := netip.AddrFromSlice(r.Dst.IP.To4())
		for _, s := range labSubnets {
			if s.Contains(ip) {
				t.Errorf("lab subnet %s is routed in the root namespace", r.Dst)
			}
		}
	}
}

// ping runs one ping inside a lab node and returns its output on failure.
func ping(p *Provider, labName, node string, dst netip.Addr) error {
	var out bytes.Buffer
	err := p.Exec(context.Background(), labName, node, []string{"ping", "-c1", "-W2", "-n", dst.String()}, provider.Stdio{Out: &out, Err: &out})
	if err != nil {
		return fmt.Errorf("%s → %s: %v\n%s", node, dst, err, out.String())
	}
	return nil
}
