package facts

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// The objects that state a block's owner.
const (
	SourceAffinity  = "BlockAffinity"
	SourceIPAMBlock = "IPAMBlock"
)

// BlockOwner is a block and the one node the facts make it affine to.
type BlockOwner struct {
	CIDR netip.Prefix
	Node string
	// Sources names the objects that say so: BlockAffinity, IPAMBlock or both.
	Sources []string
}

// OwnershipConflict is a block whose owner the facts do not settle: affine to two nodes, or
// BlockAffinity and IPAMBlock disagreeing — or, with InProgress, a claim Calico has not finished.
type OwnershipConflict struct {
	CIDR netip.Prefix
	// Claims are what each source says, e.g. "BlockAffinity: k01-worker2".
	Claims []string
	// Nodes are the nodes claiming the block.
	Nodes  []string
	Reason string
	// InProgress is true for a block whose IPAMBlock is affine to the node its BlockAffinity is
	// still pending (or pendingDeletion) for: Calico is claiming or releasing it. That is no
	// fault, but no route to the block can be expected either.
	InProgress bool
}

// Ownership settles which node owns each block, from BlockAffinity objects (confirmed and
// not deleted) and IPAMBlock objects (affinity host:<node>, not deleted), whichever the facts
// hold. Where both state a block they must agree, and a block has one owner: anything else is
// a conflict, and the block has no owner. Both lists are in address order.
func (f *Facts) Ownership() ([]BlockOwner, []OwnershipConflict) {
	type claims struct {
		affinity, block []string // distinct nodes, in the facts' order
		unconfirmed     []string // nodes of affinities neither confirmed nor deleted
		blockSeen       bool     // an IPAMBlock object (not deleted) states the block
	}
	byCIDR := map[netip.Prefix]*claims{}
	get := func(p netip.Prefix) *claims {
		c, ok := byCIDR[p]
		if !ok {
			c = &claims{}
			byCIDR[p] = c
		}
		return c
	}
	for _, a := range f.Affinities {
		if a.Deleted || !a.CIDR.IsValid() {
			continue
		}
		c := get(a.CIDR.Masked())
		if a.State == "confirmed" {
			c.affinity = addDistinct(c.affinity, a.Node)
		} else {
			c.unconfirmed = addDistinct(c.unconfirmed, a.Node)
		}
	}
	for _, b := range f.Blocks {
		if b.Deleted || !b.CIDR.IsValid() {
			continue
		}
		c := get(b.CIDR.Masked())
		c.blockSeen = true
		if b.Node != "" {
			c.block = addDistinct(c.block, b.Node)
		}
	}

	var owners []BlockOwner
	var conflicts []OwnershipConflict
	for cidr, c := range byCIDR {
		var claimText []string
		for _, n := range c.affinity {
			claimText = append(claimText, SourceAffinity+": "+n)
		}
		for _, n := range c.block {
			claimText = append(claimText, SourceIPAMBlock+": host:"+n)
		}
		conflict := func(reason string) {
			nodes := append([]string(nil), c.affinity...)
			for _, n := range c.block {
				nodes = addDistinct(nodes, n)
			}
			conflicts = append(conflicts, OwnershipConflict{CIDR: cidr, Claims: claimText, Nodes: nodes, Reason: reason})
		}
		switch {
		case len(c.affinity) > 1 || len(c.block) > 1:
			conflict("a block is affine to one node only")
		case len(c.affinity) == 1 && len(c.block) == 1 && c.affinity[0] != c.block[0]:
			conflict(fmt.Sprintf("the BlockAffinity and the IPAMBlock of %s must name the same node", cidr))
		case len(c.affinity) == 1 && c.blockSeen && len(c.block) == 0:
			claimText = append(claimText, SourceIPAMBlock+": no host affinity")
			conflict(fmt.Sprintf("a confirmed BlockAffinity gives %s to %s, but its IPAMBlock is affine to no host", cidr, c.affinity[0]))
		case len(c.affinity) == 1 && len(c.block) == 1:
			owners = append(owners, BlockOwner{CIDR: cidr, Node: c.affinity[0], Sources: []string{SourceAffinity, SourceIPAMBlock}})
		case len(c.affinity) == 1:
			owners = append(owners, BlockOwner{CIDR: cidr, Node: c.affinity[0], Sources: []string{SourceAffinity}})
		case len(c.block) == 1 && len(c.unconfirmed) > 0:
			claimText = append(claimText, SourceAffinity+": "+strings.Join(c.unconfirmed, ", ")+" (not confirmed)")
			conflicts = append(conflicts, OwnershipConflict{CIDR: cidr, Claims: claimText, Nodes: c.block, InProgress: true,
				Reason: fmt.Sprintf("the BlockAffinity of %s is not confirmed: Calico is claiming or releasing it", cidr)})
		case len(c.block) == 1:
			owners = append(owners, BlockOwner{CIDR: cidr, Node: c.block[0], Sources: []string{SourceIPAMBlock}})
		}
	}
	sort.Slice(owners, func(i, j int) bool { return prefixLess(owners[i].CIDR, owners[j].CIDR) })
	sort.Slice(conflicts, func(i, j int) bool { return prefixLess(conflicts[i].CIDR, conflicts[j].CIDR) })
	return owners, conflicts
}

// StatesOwnership reports whether the facts hold any object that states block ownership
// (BlockAffinity or IPAMBlock), in whatever state.
func (f *Facts) StatesOwnership() bool { return len(f.Affinities) > 0 || len(f.Blocks) > 0 }

// BlockOf returns the IPAMBlock object (not deleted) that holds ip, when the facts have one.
func (f *Facts) BlockOf(ip netip.Addr) (*IPAMBlock, bool) {
	for i := range f.Blocks {
		if !f.Blocks[i].Deleted && f.Blocks[i].CIDR.Contains(ip) {
			return &f.Blocks[i], true
		}
	}
	return nil, false
}

// Allocation returns what holds ip in the block, when anything does.
func (b *IPAMBlock) Allocation(ip netip.Addr) (Allocation, bool) {
	for _, a := range b.Allocations {
		if a.IP == ip {
			return a, true
		}
	}
	return Allocation{}, false
}

// Holder names what holds an allocated address, for a report.
func (a Allocation) Holder() string {
	switch {
	case a.IsPod():
		return "pod " + a.Namespace + "/" + a.Pod
	case a.Type != "":
		return strings.TrimSpace(a.Type + " of " + a.Node)
	case a.Handle != "":
		return "handle " + a.Handle
	}
	return "an allocation with no attributes"
}

func addDistinct(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func prefixLess(a, b netip.Prefix) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Bits() < b.Bits()
}
