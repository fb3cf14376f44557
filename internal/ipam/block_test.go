package ipam

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/datastore"
)

func TestBlockAtIsAlignedAndInsideThePool(t *testing.T) {
	cases := []struct {
		pool      string
		blockSize int
		index     int
		want      string
	}{
		{"192.168.0.0/16", 26, 0, "192.168.0.0/26"},
		{"192.168.0.0/16", 26, 1, "192.168.0.64/26"},
		{"192.168.0.0/16", 26, 5, "192.168.1.64/26"},
		{"192.168.0.0/16", 26, 1023, "192.168.255.192/26"},
		{"10.244.0.0/16", 24, 17, "10.244.17.0/24"},
		{"192.168.0.0/24", 24, 0, "192.168.0.0/24"},
		{"192.168.0.0/24", 32, 255, "192.168.0.255/32"},
	}
	for _, tc := range cases {
		pool := netip.MustParsePrefix(tc.pool)
		got := blockAt(pool, tc.blockSize, tc.index)
		if got.String() != tc.want {
			t.Errorf("blockAt(%s, /%d, %d) = %s, want %s", tc.pool, tc.blockSize, tc.index, got, tc.want)
		}
		if got.Masked() != got || !pool.Contains(got.Addr()) || got.Bits() != tc.blockSize {
			t.Errorf("blockAt(%s, /%d, %d) = %s: not an aligned /%d inside the pool", tc.pool, tc.blockSize, tc.index, got, tc.blockSize)
		}
	}
	if n := blocksOf(netip.MustParsePrefix("192.168.0.0/16"), 26); n != 1024 {
		t.Errorf("blocksOf(/16, 26) = %d, want 1024", n)
	}
}

func TestStartBlockSpreadsNodes(t *testing.T) {
	nodes := []string{"k01-control-plane", "k01-worker", "k01-worker2", "k01-worker3"}
	seen := make(map[int]string)
	for _, n := range nodes {
		start := startBlock(n, 1024)
		if start < 0 || start >= 1024 {
			t.Fatalf("startBlock(%s) = %d, outside the pool's 1024 blocks", n, start)
		}
		if again := startBlock(n, 1024); again != start {
			t.Fatalf("startBlock(%s) not stable: %d then %d", n, start, again)
		}
		seen[start] = n
	}
	if len(seen) < 3 {
		t.Errorf("four lab nodes start on only %d distinct blocks: the hash does not spread them", len(seen))
	}
}

// nodeStartingAt finds a node name whose start block is want, so tests can place the start
// where wrapping matters.
func nodeStartingAt(t *testing.T, want, blocks int) string {
	for i := range 10000 {
		name := fmt.Sprintf("node-%d", i)
		if startBlock(name, blocks) == want {
			return name
		}
	}
	t.Fatalf("no node name starts at block %d of %d", want, blocks)
	return ""
}

func TestNextFreeBlock(t *testing.T) {
	pool := netip.MustParsePrefix("192.168.0.0/24") // four /26 blocks
	b := func(i int) netip.Prefix { return blockAt(pool, 26, i) }
	lastNode := nodeStartingAt(t, 3, 4)
	firstNode := nodeStartingAt(t, 0, 4)
	cases := []struct {
		name  string
		node  string
		taken []int
		want  int // -1: exhausted
	}{
		{"start block free", lastNode, nil, 3},
		{"start block taken: wrap to the first", lastNode, []int{3}, 0},
		{"wrap and skip taken blocks", lastNode, []int{3, 0, 1}, 2},
		{"next after start", firstNode, []int{0}, 1},
		{"skip a run of taken blocks", firstNode, []int{0, 1, 2}, 3},
		{"earlier blocks are free but come later", firstNode, []int{0, 2}, 1},
		{"exhausted pool", firstNode, []int{0, 1, 2, 3}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			taken := make(map[netip.Prefix]bool)
			for _, i := range tc.taken {
				taken[b(i)] = true
			}
			got, ok := nextFreeBlock(pool, 26, tc.node, taken)
			if tc.want < 0 {
				if ok {
					t.Fatalf("got %s from an exhausted pool", got)
				}
				return
			}
			if !ok || got != b(tc.want) {
				t.Fatalf("got %s (ok %v), want %s", got, ok, b(tc.want))
			}
		})
	}
}

func TestCheckPool(t *testing.T) {
	cases := []struct {
		cidr      string
		blockSize int
		want      string // "" valid
	}{
		{"192.168.0.0/16", 26, ""},
		{"192.168.0.0/16", 16, ""},
		{"192.168.0.0/16", 32, ""},
		{"192.168.0.0/16", 15, "between the pool's prefix length 16 and 32"},
		{"192.168.0.0/16", 33, "between"},
		{"192.168.1.0/16", 26, "host bits set; use 192.168.0.0/16"},
		{"fd00::/48", 122, "IPv4 only"},
	}
	for _, tc := range cases {
		p := &datastore.IPPool{Metadata: datastore.ObjectMeta{Name: "p"},
			Spec: datastore.IPPoolSpec{CIDR: netip.MustParsePrefix(tc.cidr), BlockSize: tc.blockSize}}
		err := checkPool(p)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s /%d: %v, want valid", tc.cidr, tc.blockSize, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s /%d: error %v, want one saying %q", tc.cidr, tc.blockSize, err, tc.want)
		}
	}
}

func TestAssignReleaseReuse(t *testing.T) {
	b := newBlock(netip.MustParsePrefix("192.168.16.0/30"), "k01-worker")
	step := func(what string) {
		t.Helper()
		if err := CheckBlock(b); err != nil {
			t.Fatalf("after %s: %v", what, err)
		}
		if used := inUse(&b.Spec); len(b.Spec.Attributes) != used {
			t.Fatalf("after %s: %d attributes for %d allocations: unused attributes kept", what, len(b.Spec.Attributes), used)
		}
	}
	for i, want := range []string{"192.168.16.0", "192.168.16.1", "192.168.16.2", "192.168.16.3"} {
		got, ok := assign(&b.Spec, fmt.Sprintf("h%d", i), map[string]string{"pod": fmt.Sprint(i)})
		if !ok || got.String() != want {
			t.Fatalf("assign %d = %s (ok %v), want %s: addresses go out in order", i, got, ok, want)
		}
		step("assign")
	}
	if got, ok := assign(&b.Spec, "h4", nil); ok {
		t.Fatalf("assign on a full block returned %s", got)
	}
	if addr, ok := handleAddr(&b.Spec, "h2"); !ok || addr.String() != "192.168.16.2" {
		t.Fatalf("handleAddr(h2) = %s, %v", addr, ok)
	}
	if n := release(&b.Spec, "h1"); n != 1 {
		t.Fatalf("release(h1) freed %d, want 1", n)
	}
	step("release")
	if n := release(&b.Spec, "h1"); n != 0 {
		t.Fatalf("second release(h1) freed %d, want 0", n)
	}
	if _, ok := handleAddr(&b.Spec, "h1"); ok {
		t.Fatal("h1 still holds an address after release")
	}
	// The survivors keep their addresses and attributes through the compaction.
	for h, want := range map[string]string{"h0": "192.168.16.0", "h2": "192.168.16.2", "h3": "192.168.16.3"} {
		if addr, ok := handleAddr(&b.Spec, h); !ok || addr.String() != want {
			t.Fatalf("after release, %s = %s (ok %v), want %s", h, addr, ok, want)
		}
	}
	got, ok := assign(&b.Spec, "h5", nil)
	if !ok || got.String() != "192.168.16.1" {
		t.Fatalf("assign after release = %s (ok %v), want the freed 192.168.16.1", got, ok)
	}
	step("reuse")
}

func TestReleasedAddressIsReusedLast(t *testing.T) {
	b := newBlock(netip.MustParsePrefix("192.168.16.0/29"), "k01-worker")
	assign(&b.Spec, "a", nil) // .0
	assign(&b.Spec, "b", nil) // .1
	release(&b.Spec, "a")
	got, _ := assign(&b.Spec, "c", nil)
	if got.String() != "192.168.16.2" {
		t.Fatalf("after freeing .0 the next address is %s, want 192.168.16.2 (never-used addresses first)", got)
	}
}

func TestCheckBlockFindsInconsistencies(t *testing.T) {
	zero := 0
	five := 5
	cases := []struct {
		name   string
		mutate func(*datastore.IPAMBlockSpec)
		want   string
	}{
		{"allocated and free", func(s *datastore.IPAMBlockSpec) {
			assign(s, "h", nil)
			s.Unallocated = append(s.Unallocated, 0)
		}, "allocated and also listed free"},
		{"lost ordinal", func(s *datastore.IPAMBlockSpec) { s.Unallocated = s.Unallocated[1:] }, "neither allocated nor free"},
		{"free twice", func(s *datastore.IPAMBlockSpec) {
			s.Allocations[0] = &zero
			s.Attributes = []datastore.AllocationAttribute{{HandleID: "h"}}
			s.Unallocated = []int{1, 2, 3, 3}
		}, "listed free 2 times"},
		{"dangling attribute", func(s *datastore.IPAMBlockSpec) {
			s.Allocations[0] = &five
			s.Unallocated = s.Unallocated[1:]
		}, "points at attribute 5"},
		{"wrong size", func(s *datastore.IPAMBlockSpec) {
			s.Allocations = s.Allocations[:3]
			s.Unallocated = []int{0, 1, 2}
		}, "3 allocation slots"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBlock(netip.MustParsePrefix("192.168.16.0/30"), "n")
			if err := CheckBlock(b); err != nil {
				t.Fatalf("fresh block: %v", err)
			}
			tc.mutate(&b.Spec)
			err := CheckBlock(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckBlock = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
