package netnslab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/verify/facts"
)

// publishedCommand is one command of the course's page and its published output.
type publishedCommand struct {
	node, command string
	output        []string
}

// readPublished reads testdata/calico-3.30-routes.txt: "root@<node>:/# <command>" lines, each
// followed by its output; '#' lines are comments.
func readPublished(t *testing.T) []publishedCommand {
	t.Helper()
	data, err := os.ReadFile("testdata/calico-3.30-routes.txt")
	if err != nil {
		t.Fatal(err)
	}
	prompt := regexp.MustCompile(`^root@([a-z0-9-]+):/# (.*)$`)
	var out []publishedCommand
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		switch m := prompt.FindStringSubmatch(line); {
		case strings.HasPrefix(line, "#"):
		case m != nil:
			out = append(out, publishedCommand{node: m[1], command: m[2]})
		case len(out) == 0:
			t.Fatalf("testdata/calico-3.30-routes.txt:%d: output before any command", i+1)
		default:
			out[len(out)-1].output = append(out[len(out)-1].output, line)
		}
	}
	return out
}

// The published course's block affinities and tunnel addresses (the page's
// `kubectl get blockaffinities` table; each tunnel address is its block's first address).
var publishedBlocks = map[string]string{
	"k01-control-plane": "192.168.23.64/26",
	"k01-worker":        "192.168.81.64/26",
	"k01-worker2":       "192.168.164.128/26",
	"k01-worker3":       "192.168.209.64/26",
}

// The netns lab's node tables have the shapes real Calico 3.30 writes on the course's lab:
// each published command (routes, the vxlan.calico device and address, neighbours, FDB), its
// addresses renamed to the lab's (block for block, tunnel address for tunnel address, by owner),
// prints the published lines, and only those. The VTEP MACs need no renaming: they derive from
// the node names, which the lab shares with the course.
func TestRoutesHaveCalico330Shapes(t *testing.T) {
	testenv.RequireLab(t, "ip", "sh", "grep")
	published := readPublished(t)
	p := newTestProvider(t)
	l := uniqueLab(t, "calico-overlay")
	deployed(t, p, l)
	src, err := p.Source(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}

	var f *facts.Facts
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, err = src.Facts(context.Background())
		if err == nil && len(f.Affinities) == len(publishedBlocks) && allTunnels(f) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lab's datastore never held four affinities and tunnel addresses: %+v, %v", f, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rename := map[string]string{} // course address or prefix → the lab's
	for _, a := range f.Affinities {
		course, ok := publishedBlocks[a.Node]
		if !ok {
			t.Fatalf("affinity of unknown node %s", a.Node)
		}
		rename[course] = a.CIDR.String()
	}
	for _, n := range f.Nodes {
		course := strings.TrimSuffix(publishedBlocks[n.Name], "/26")
		rename[course] = n.VXLANTunnelAddr.String()
	}
	address := regexp.MustCompile(`\d+\.\d+\.\d+\.\d+(/\d+)?`)
	inLab := func(s string) string {
		return address.ReplaceAllStringFunc(s, func(a string) string {
			if r, ok := rename[a]; ok {
				return r
			}
			// A tunnel address with its length (inet 192.168.81.64/32): rename the address.
			if addr, bits, ok := strings.Cut(a, "/"); ok && bits == "32" {
				if r, ok := rename[addr]; ok {
					return r + "/32"
				}
			}
			return a
		})
	}

	for _, c := range published {
		command := inLab(c.command)
		want := normalisedLines(inLab(strings.Join(c.output, "\n")))
		var got []string
		deadline := time.Now().Add(20 * time.Second)
		for {
			var out bytes.Buffer
			err := p.Exec(context.Background(), l.Name, c.node, []string{"sh", "-c", command}, provider.Stdio{Out: &out, Err: &out})
			got = normalisedLines(out.String())
			if err == nil && slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: %s (published: %s)\n got %s\nwant %s", c.node, command, c.command, quoteLines(got), quoteLines(want))
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func allTunnels(f *facts.Facts) bool {
	for _, n := range f.Nodes {
		if !n.VXLANTunnelAddr.IsValid() {
			return false
		}
	}
	return len(f.Nodes) > 0
}

// ifindex is the interface index `ip link` and `ip addr` start a device's line with; it
// depends on the order devices were made in, not on Calico.
var ifindex = regexp.MustCompile(`^[0-9]+: `)

// normalisedLines are a command's output lines, trailing blanks (which `ip route` prints)
// trimmed, interface indexes replaced by N, sorted: the kernel lists entries in its own order.
func normalisedLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimRight(line, " "); line != "" {
			out = append(out, ifindex.ReplaceAllString(line, "N: "))
		}
	}
	slices.Sort(out)
	return out
}

func quoteLines(lines []string) string {
	return fmt.Sprintf("\n  %s", strings.Join(lines, "\n  "))
}
