package parse

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// NATOutgoing reads what a person pastes to show a node's masquerading and returns the source
// prefixes that are masqueraded, sorted and without duplicates. It understands, mixed in one
// file and in any order:
//
//   - `nft list ruleset` or `nft list table ...`: named sets with their elements, and rules that
//     end in `masquerade` and match `ip saddr` against a named set (`@masq-ipam-pools` of
//     knetlab's agent, `@cali40masq-ipam-pools` of Calico's nftables dataplane), an anonymous
//     set `{ a, b }` or a literal prefix;
//   - `iptables-save -t nat`: `-j MASQUERADE` rules whose source is `-m set --match-set NAME src`
//     (Calico's cali-nat-outgoing) or `-s PREFIX`;
//   - `ipset save` (`add NAME member`) and `ipset list` (`Name:` ... `Members:`), which hold the
//     members of the sets the iptables rules name.
//
// A rule whose source is negated (`ip saddr != ...`, `! -s`, `! --match-set ... src`) or absent
// (`oifname eth0 masquerade`) masquerades no particular pool and is left out; so is a rule whose
// set has no elements in the paste (grep kept the rule but not the set). What the rule excludes
// as destination does not change which sources it masquerades, so it is not required: a
// filtered paste often has only the rule line. Lines that are not understood are skipped.
func NATOutgoing(data []byte) ([]netip.Prefix, error) {
	sc := natScanner{sets: map[string][]netip.Prefix{}}
	for _, line := range strings.Split(string(data), "\n") {
		sc.line(strings.TrimSpace(line))
	}
	var out []netip.Prefix
	for _, src := range sc.sources {
		if src.set != "" {
			out = append(out, sc.sets[src.set]...)
		} else {
			out = append(out, src.prefixes...)
		}
	}
	slices.SortFunc(out, comparePrefixes)
	return slices.Compact(out), nil
}

// natSource is the source side of one masquerade rule: a named set, or literal prefixes.
type natSource struct {
	set      string
	prefixes []netip.Prefix
}

// natScanner carries what spans lines: the nft set being read and the ipset list section.
type natScanner struct {
	sets    map[string][]netip.Prefix
	sources []natSource

	nftSet      string // inside `set NAME {`
	nftElements bool   // inside `elements = { ...` until its closing brace
	ipsetList   string // inside an `ipset list` section, after `Name: NAME`
	ipsetMember bool   // after that section's `Members:`
}

func (sc *natScanner) line(line string) {
	switch {
	case line == "":
		sc.ipsetMember = false // ipset list separates sets with a blank line
		return
	case strings.HasPrefix(line, "#"):
		return
	}
	fields := strings.Fields(line)
	if sc.nftElements {
		// A set cut by grep never closes its brace; the first line that starts something else
		// ends its elements, so the rule after it is still read.
		if !natStatementWords[fields[0]] {
			sc.nftSetElements(line)
			return
		}
		sc.nftElements = false
	}
	if sc.ipsetMember {
		// Members run to the blank line; a grep-filtered paste may lack it, so the first line
		// that is not an address ends them too.
		if p, ok := prefixOrAddr(fields[0]); ok {
			sc.sets[sc.ipsetList] = append(sc.sets[sc.ipsetList], p)
			return
		}
		sc.ipsetMember = false
	}
	switch {
	case fields[0] == "Name:" && len(fields) == 2:
		sc.ipsetList, sc.ipsetMember = fields[1], false
	case fields[0] == "Members:" && sc.ipsetList != "":
		sc.ipsetMember = true
	case fields[0] == "add" && len(fields) >= 3:
		sc.addMember(fields[1], fields[2])
	case fields[0] == "set" && len(fields) >= 2 && strings.HasSuffix(line, "{"):
		sc.nftSet = fields[1]
	case fields[0] == "elements" && sc.nftSet != "":
		_, rest, _ := strings.Cut(line, "=")
		sc.nftElements = true
		sc.nftSetElements(rest)
	case fields[0] == "-A" && slices.Contains(fields, "MASQUERADE"):
		sc.iptablesRule(fields)
	case slices.Contains(fields, "masquerade"):
		sc.nftRule(line)
	case line == "}":
		sc.nftSet = ""
	}
}

// natStatementWords start the lines of nft, iptables-save and ipset output that are not a
// set's elements.
var natStatementWords = map[string]bool{
	"table": true, "set": true, "map": true, "chain": true, "type": true, "flags": true, "ip": true,
	"elements": true, "-A": true, "add": true, "create": true, "Name:": true, "*nat": true, "COMMIT": true,
}

// nftSetElements reads one line of a set's `elements = { a, b,` list, which nft wraps over
// several lines and closes with a brace.
func (sc *natScanner) nftSetElements(line string) {
	body, closed := strings.CutSuffix(strings.TrimSpace(line), "}")
	for _, tok := range strings.FieldsFunc(body, func(r rune) bool { return r == ',' || r == '{' || r == ' ' || r == '\t' }) {
		sc.addMember(sc.nftSet, tok)
	}
	if closed || strings.Contains(body, "}") {
		sc.nftElements = false
	}
}

func (sc *natScanner) addMember(set, member string) {
	if p, ok := prefixOrAddr(member); ok {
		sc.sets[set] = append(sc.sets[set], p)
	}
}

// nftRule reads the source match of an nft rule that masquerades: `ip saddr @set`,
// `ip saddr { a, b }` or `ip saddr a`.
func (sc *natScanner) nftRule(line string) {
	// Spacing braces and commas apart makes `{192.168.0.0/16,10.0.0.0/8}` read like nft's own
	// `{ 192.168.0.0/16, 10.0.0.0/8 }`.
	tokens := strings.Fields(strings.NewReplacer("{", " { ", "}", " } ", ",", " ").Replace(line))
	for i := 0; i+2 < len(tokens); i++ {
		if tokens[i] != "ip" || tokens[i+1] != "saddr" {
			continue
		}
		value := tokens[i+2:]
		switch {
		case value[0] == "!=":
			continue // negated: masquerades everything but these sources
		case strings.HasPrefix(value[0], "@"):
			sc.sources = append(sc.sources, natSource{set: value[0][1:]})
		case value[0] == "{":
			src := natSource{}
			for _, tok := range value[1:] {
				if tok == "}" {
					break
				}
				if p, ok := prefixOrAddr(tok); ok {
					src.prefixes = append(src.prefixes, p)
				}
			}
			sc.sources = append(sc.sources, src)
		default:
			if p, ok := prefixOrAddr(value[0]); ok {
				sc.sources = append(sc.sources, natSource{prefixes: []netip.Prefix{p}})
			}
		}
		return
	}
}

// iptablesRule reads the source match of an iptables-save rule that jumps to MASQUERADE.
func (sc *natScanner) iptablesRule(fields []string) {
	negated := func(i int) bool { return i > 0 && fields[i-1] == "!" }
	for i := 0; i+1 < len(fields); i++ {
		switch fields[i] {
		case "--match-set":
			if i+2 < len(fields) && strings.Contains(fields[i+2], "src") && !negated(i) {
				sc.sources = append(sc.sources, natSource{set: fields[i+1]})
				return
			}
		case "-s", "--source":
			if p, ok := prefixOrAddr(fields[i+1]); ok && !negated(i) {
				sc.sources = append(sc.sources, natSource{prefixes: []netip.Prefix{p}})
				return
			}
		}
	}
}

// prefixOrAddr reads a prefix or a bare address (a /32), as set members and rules print them.
func prefixOrAddr(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return netip.PrefixFrom(a, 32), true
	}
	return netip.Prefix{}, false
}

func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// The names knetlab's agent gives its natOutgoing table (see internal/dataplane): the verify
// side prints them without importing the agent.
const (
	natTable   = "knetlab"
	natChain   = "nat-outgoing"
	natMasqSet = "masq-ipam-pools"
	natAllSet  = "all-ipam-pools"
)

// FormatNAT prints the natOutgoing table as `nft list table ip knetlab` shows what knetlab's
// agent programs: traffic from masquerade to anything outside allPools is masqueraded. With no
// source to masquerade the agent removes the table, and the output is a comment saying so,
// which NATOutgoing reads as nothing masqueraded.
func FormatNAT(masquerade, allPools []netip.Prefix) []byte {
	if len(masquerade) == 0 {
		return []byte(fmt.Sprintf("# nft list table ip %s: no such table (no natOutgoing pool)\n", natTable))
	}
	elements := func(ps []netip.Prefix) string {
		ps = slices.Clone(ps)
		slices.SortFunc(ps, comparePrefixes)
		texts := make([]string, 0, len(ps))
		for _, p := range slices.Compact(ps) {
			texts = append(texts, p.Masked().String())
		}
		return strings.Join(texts, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", natTable)
	for i, set := range []struct {
		name     string
		prefixes []netip.Prefix
	}{{natMasqSet, masquerade}, {natAllSet, allPools}} {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype ipv4_addr\n\t\tflags interval\n", set.name)
		if len(set.prefixes) > 0 {
			fmt.Fprintf(&b, "\t\telements = { %s }\n", elements(set.prefixes))
		}
		b.WriteString("\t}\n")
	}
	fmt.Fprintf(&b, "\n\tchain %s {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n", natChain)
	fmt.Fprintf(&b, "\t\tip saddr @%s ip daddr != @%s masquerade fully-random\n\t}\n}\n", natMasqSet, natAllSet)
	return []byte(b.String())
}
