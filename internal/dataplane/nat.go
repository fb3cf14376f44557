package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// natOutgoing lives in a table of its own, so that the agent can rebuild or remove it in one
// transaction without looking at anybody else's rules. The sets play the part of Calico's
// ipsets cali40masq-ipam-pools and cali40all-ipam-pools.
const (
	NATTable      = "knetlab"
	NATChain      = "nat-outgoing"
	NATMasqSet    = "masq-ipam-pools"
	NATAllPoolSet = "all-ipam-pools"
)

// NATState is what the natOutgoing table holds, read back from the kernel.
type NATState struct {
	Present      bool           // the table exists
	Masquerade   []netip.Prefix // source pools that are masqueraded
	AllPools     []netip.Prefix // destinations that are never masqueraded
	Rules        int            // rules in the nat-outgoing chain (1 when programmed)
	FullyRandom  bool           // the masquerade uses random-fully port selection
	ChainPresent bool
}

// ReadNAT reads the natOutgoing table of the namespace at nsPath ("" for the caller's own),
// for verify's nat.outgoing check and for tests.
func ReadNAT(nsPath string) (NATState, error) {
	target, err := openNetNS(nsPath)
	if err != nil {
		return NATState{}, err
	}
	defer target.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(target.Fd())))
	if err != nil {
		return NATState{}, fmt.Errorf("nftables in %s: %w", target.Path(), err)
	}
	return readNAT(conn)
}

func natTable() *nftables.Table {
	return &nftables.Table{Name: NATTable, Family: nftables.TableFamilyIPv4}
}

func readNAT(conn *nftables.Conn) (NATState, error) {
	var st NATState
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return st, fmt.Errorf("list nftables tables: %w", err)
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == NATTable }) {
		return st, nil
	}
	st.Present = true
	table := natTable()
	for name, into := range map[string]*[]netip.Prefix{NATMasqSet: &st.Masquerade, NATAllPoolSet: &st.AllPools} {
		set, err := conn.GetSetByName(table, name)
		if err != nil {
			continue // a missing set reads as empty; the next Apply rebuilds the table
		}
		elems, err := conn.GetSetElements(set)
		if err != nil {
			return st, fmt.Errorf("read set %s: %w", name, err)
		}
		*into = intervalsToPrefixes(elems)
	}
	chain, err := conn.ListChain(table, NATChain)
	if err != nil {
		return st, nil
	}
	st.ChainPresent = true
	rules, err := conn.GetRules(table, chain)
	if err != nil {
		return st, fmt.Errorf("read chain %s: %w", NATChain, err)
	}
	st.Rules = len(rules)
	for _, r := range rules {
		for _, e := range r.Exprs {
			if m, ok := e.(*expr.Masq); ok && m.FullyRandom {
				st.FullyRandom = true
			}
		}
	}
	return st, nil
}

// applyNAT keeps the table equal to want: absent when no pool is natOutgoing, otherwise the
// two sets and one masquerade rule. Any difference rebuilds the whole table atomically, which
// is simpler to read than patching sets and cannot leave a half-written rule behind.
func (p *Programmer) applyNAT(want NATPlan, ch *Changes) error {
	conn, err := nftables.New(nftables.WithNetNSFd(int(p.netNS.Fd())))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", p.netNS.Path(), err)
	}
	have, err := readNAT(conn)
	if err != nil {
		return err
	}
	if len(want.Masquerade) == 0 {
		if have.Present {
			conn.DelTable(natTable())
			if err := conn.Flush(); err != nil {
				return fmt.Errorf("remove nftables table ip %s: %w", NATTable, err)
			}
			*ch = append(*ch, "remove nat table ip "+NATTable)
		}
		return nil
	}
	if have.ChainPresent && have.Rules == 1 && slices.Equal(have.Masquerade, want.Masquerade) && slices.Equal(have.AllPools, want.AllPools) {
		return nil
	}
	// random-fully avoids source-port clashes between pods behind one node address; kernels
	// before 5.0 lack it, and then plain masquerade is still correct.
	err = writeNAT(conn, want, have.Present, true)
	if err != nil {
		err = writeNAT(conn, want, have.Present, false)
	}
	if err != nil {
		return fmt.Errorf("program natOutgoing (nftables table ip %s): %w", NATTable, err)
	}
	*ch = append(*ch, fmt.Sprintf("nat masquerade from %v to outside %v", want.Masquerade, want.AllPools))
	return nil
}

func writeNAT(conn *nftables.Conn, want NATPlan, replace, fullyRandom bool) error {
	if replace {
		conn.DelTable(natTable())
	}
	table := conn.AddTable(natTable())
	// Set IDs only have to be unique within one transaction. Giving them explicitly keeps the
	// library from drawing them from its unguarded global counter, which races when several
	// programmers (one per node, as in tests and a multi-node agent process) write at once.
	masq := &nftables.Set{Table: table, Name: NATMasqSet, ID: 1, KeyType: nftables.TypeIPAddr, Interval: true}
	all := &nftables.Set{Table: table, Name: NATAllPoolSet, ID: 2, KeyType: nftables.TypeIPAddr, Interval: true}
	if err := conn.AddSet(masq, prefixesToIntervals(want.Masquerade)); err != nil {
		return err
	}
	if err := conn.AddSet(all, prefixesToIntervals(want.AllPools)); err != nil {
		return err
	}
	chain := conn.AddChain(&nftables.Chain{
		Name: NATChain, Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	// ip saddr @masq-ipam-pools ip daddr != @all-ipam-pools masquerade random-fully
	conn.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: masq.Name, SetID: masq.ID},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: all.Name, SetID: all.ID, Invert: true},
		&expr.Masq{FullyRandom: fullyRandom},
	}})
	return conn.Flush()
}

func (p *Programmer) deleteNAT() error {
	conn, err := nftables.New(nftables.WithNetNSFd(int(p.netNS.Fd())))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", p.netNS.Path(), err)
	}
	have, err := readNAT(conn)
	if err != nil || !have.Present {
		return err
	}
	conn.DelTable(natTable())
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("remove nftables table ip %s: %w", NATTable, err)
	}
	return nil
}

// An nftables interval set stores a prefix as two elements: its first address, and the first
// address after it flagged as the interval's end.
func prefixesToIntervals(prefixes []netip.Prefix) []nftables.SetElement {
	var elems []nftables.SetElement
	for _, p := range prefixes {
		p = p.Masked()
		elems = append(elems, nftables.SetElement{Key: p.Addr().AsSlice()})
		if end, ok := afterPrefix(p); ok {
			elems = append(elems, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
		}
	}
	return elems
}

func intervalsToPrefixes(elems []nftables.SetElement) []netip.Prefix {
	slices.SortFunc(elems, func(a, b nftables.SetElement) int {
		ka, _ := netip.AddrFromSlice(a.Key)
		kb, _ := netip.AddrFromSlice(b.Key)
		if c := ka.Compare(kb); c != 0 {
			return c
		}
		// An end and the next start can share an address; the end closes the earlier range.
		if a.IntervalEnd == b.IntervalEnd {
			return 0
		}
		if a.IntervalEnd {
			return -1
		}
		return 1
	})
	var out []netip.Prefix
	for i := 0; i < len(elems); i++ {
		if elems[i].IntervalEnd {
			continue
		}
		start, ok := netip.AddrFromSlice(elems[i].Key)
		if !ok {
			continue
		}
		end := uint64(1) << 32 // an interval without end runs to the top of the space
		if i+1 < len(elems) && elems[i+1].IntervalEnd {
			end = uint64(binary.BigEndian.Uint32(elems[i+1].Key))
			i++
		}
		out = append(out, rangeToPrefixes(uint64(binary.BigEndian.Uint32(start.AsSlice())), end)...)
	}
	return out
}

// rangeToPrefixes splits [start, end) into the fewest aligned prefixes.
func rangeToPrefixes(start, end uint64) []netip.Prefix {
	var out []netip.Prefix
	for start < end {
		size := uint64(1)
		for bits := 32; bits > 0; bits-- {
			next := size << 1
			if start%next != 0 || start+next > end {
				break
			}
			size = next
		}
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], uint32(start))
		out = append(out, netip.PrefixFrom(netip.AddrFrom4(a), 32-log2(size)))
		start += size
	}
	return out
}

func log2(n uint64) int {
	b := 0
	for n > 1 {
		n >>= 1
		b++
	}
	return b
}

// afterPrefix is the first address after p; false when p runs to 255.255.255.255.
func afterPrefix(p netip.Prefix) (netip.Addr, bool) {
	start := uint64(binary.BigEndian.Uint32(p.Addr().AsSlice()))
	end := start + uint64(1)<<(32-p.Bits())
	if end > 0xffffffff {
		return netip.Addr{}, false
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], uint32(end))
	return netip.AddrFrom4(a), true
}
