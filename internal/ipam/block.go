package ipam

import (
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net/netip"
	"slices"

	"github.com/knetlab/knetlab/internal/datastore"
)

// blocksOf is the number of blockSize blocks a pool holds.
func blocksOf(pool netip.Prefix, blockSize int) int {
	return 1 << (blockSize - pool.Bits())
}

// blockAt is the index-th block of the pool. Blocks are aligned to blockSize because the pool
// is aligned to its own, shorter, prefix.
func blockAt(pool netip.Prefix, blockSize, index int) netip.Prefix {
	base := ipv4Uint(pool.Masked().Addr())
	return netip.PrefixFrom(uint32Addr(base+uint32(index)<<(32-blockSize)), blockSize)
}

// startBlock is where a node starts looking for a free block. Hashing the name spreads nodes
// over the pool, so a node that restarts tends to reclaim the same block and nodes rarely
// race for the same one.
func startBlock(node string, blocks int) int {
	h := fnv.New64a()
	h.Write([]byte(node))
	return int(h.Sum64() % uint64(blocks))
}

// nextFreeBlock walks the pool from the node's start block, wrapping once, and returns the
// first block not in taken.
func nextFreeBlock(pool netip.Prefix, blockSize int, node string, taken map[netip.Prefix]bool) (netip.Prefix, bool) {
	n := blocksOf(pool, blockSize)
	start := startBlock(node, n)
	for i := range n {
		b := blockAt(pool, blockSize, (start+i)%n)
		if !taken[b] {
			return b, true
		}
	}
	return netip.Prefix{}, false
}

// checkPool says why a pool cannot hand out blocks, or nil.
func checkPool(p *datastore.IPPool) error {
	cidr := p.Spec.CIDR
	switch {
	case !cidr.IsValid() || !cidr.Addr().Is4():
		return fmt.Errorf("IP pool %s: cidr %q is not an IPv4 prefix (knetlab's IPAM is IPv4 only)", p.Metadata.Name, cidr)
	case cidr.Masked() != cidr:
		return fmt.Errorf("IP pool %s: cidr %s has host bits set; use %s", p.Metadata.Name, cidr, cidr.Masked())
	case p.Spec.BlockSize < cidr.Bits() || p.Spec.BlockSize > 32:
		return fmt.Errorf("IP pool %s: blockSize %d must be between the pool's prefix length %d and 32",
			p.Metadata.Name, p.Spec.BlockSize, cidr.Bits())
	}
	return nil
}

// newBlock is an empty IPAMBlock affine to node, handing out its addresses in order, so the
// node's first allocation (its tunnel address) is the block's first address.
func newBlock(cidr netip.Prefix, node string) *datastore.IPAMBlock {
	size := 1 << (32 - cidr.Bits())
	b := &datastore.IPAMBlock{
		Metadata: datastore.ObjectMeta{Name: datastore.BlockName(cidr)},
		Spec: datastore.IPAMBlockSpec{
			CIDR:        cidr,
			Affinity:    datastore.HostAffinity(node),
			Allocations: make([]*int, size),
			Unallocated: make([]int, size),
			Attributes:  []datastore.AllocationAttribute{},
		},
	}
	for i := range size {
		b.Spec.Unallocated[i] = i
	}
	return b
}

func ordinalAddr(cidr netip.Prefix, ordinal int) netip.Addr {
	return uint32Addr(ipv4Uint(cidr.Addr()) + uint32(ordinal))
}

// handleAddr returns the address handle holds in the block, if any.
func handleAddr(b *datastore.IPAMBlockSpec, handle string) (netip.Addr, bool) {
	for ord, attr := range b.Allocations {
		if attr != nil && b.Attributes[*attr].HandleID == handle {
			return ordinalAddr(b.CIDR, ord), true
		}
	}
	return netip.Addr{}, false
}

// assign takes the next unallocated ordinal for handle. It changes only the in-memory block;
// the caller writes it back with a compare-and-swap.
func assign(b *datastore.IPAMBlockSpec, handle string, attrs map[string]string) (netip.Addr, bool) {
	if len(b.Unallocated) == 0 {
		return netip.Addr{}, false
	}
	ord := b.Unallocated[0]
	b.Unallocated = b.Unallocated[1:]
	attr := len(b.Attributes)
	b.Attributes = append(b.Attributes, datastore.AllocationAttribute{HandleID: handle, Secondary: attrs})
	b.Allocations[ord] = &attr
	return ordinalAddr(b.CIDR, ord), true
}

// release frees every address handle holds in the block and reports how many. Freed ordinals go
// to the end of Unallocated, so an address is reused as late as possible (a stale route or
// conntrack entry for a deleted pod then rarely meets a new pod).
func release(b *datastore.IPAMBlockSpec, handle string) int {
	freed := 0
	for ord, attr := range b.Allocations {
		if attr != nil && b.Attributes[*attr].HandleID == handle {
			b.Allocations[ord] = nil
			b.Unallocated = append(b.Unallocated, ord)
			freed++
		}
	}
	if freed > 0 {
		compactAttributes(b)
	}
	return freed
}

// compactAttributes drops attributes no allocation refers to and renumbers the rest.
func compactAttributes(b *datastore.IPAMBlockSpec) {
	renumber := make(map[int]int)
	var kept []datastore.AllocationAttribute
	for _, attr := range b.Allocations {
		if attr == nil {
			continue
		}
		if _, ok := renumber[*attr]; !ok {
			renumber[*attr] = len(kept)
			kept = append(kept, b.Attributes[*attr])
		}
	}
	for ord, attr := range b.Allocations {
		if attr != nil {
			n := renumber[*attr]
			b.Allocations[ord] = &n
		}
	}
	if kept == nil {
		kept = []datastore.AllocationAttribute{}
	}
	b.Attributes = kept
}

func inUse(b *datastore.IPAMBlockSpec) int {
	return len(b.Allocations) - len(b.Unallocated)
}

// CheckBlock reports every way the block contradicts itself: an ordinal both allocated and
// free, free twice, or neither; an allocation pointing at no attribute; a size that does not
// match the CIDR.
func CheckBlock(b *datastore.IPAMBlock) error {
	s := &b.Spec
	var errs []error
	if size := 1 << (32 - s.CIDR.Bits()); len(s.Allocations) != size {
		errs = append(errs, fmt.Errorf("%d allocation slots for a /%d (want %d)", len(s.Allocations), s.CIDR.Bits(), size))
	}
	free := make(map[int]int)
	for _, ord := range s.Unallocated {
		free[ord]++
	}
	for ord, attr := range s.Allocations {
		switch {
		case attr != nil && free[ord] > 0:
			errs = append(errs, fmt.Errorf("ordinal %d (%s) is allocated and also listed free", ord, ordinalAddr(s.CIDR, ord)))
		case attr == nil && free[ord] == 0:
			errs = append(errs, fmt.Errorf("ordinal %d (%s) is neither allocated nor free", ord, ordinalAddr(s.CIDR, ord)))
		case attr != nil && (*attr < 0 || *attr >= len(s.Attributes)):
			errs = append(errs, fmt.Errorf("ordinal %d points at attribute %d of %d", ord, *attr, len(s.Attributes)))
		}
	}
	for _, ord := range slices.Sorted(maps.Keys(free)) {
		switch {
		case free[ord] > 1:
			errs = append(errs, fmt.Errorf("ordinal %d is listed free %d times", ord, free[ord]))
		case ord < 0 || ord >= len(s.Allocations):
			errs = append(errs, fmt.Errorf("free ordinal %d is outside the block", ord))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("IPAM block %s: %w", s.CIDR, errors.Join(errs...))
	}
	return nil
}

func ipv4Uint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uint32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
