package bgp

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	toml "github.com/pelletier/go-toml"
)

// FamilyIPv4Unicast is the only address family the lab's sessions carry.
const FamilyIPv4Unicast = "ipv4-unicast"

// ReflectorConfig is what a gobgpd route-reflector config (the lab's rr.conf) says: one AS, one
// peer group of route-reflector clients, and one dynamic-neighbour prefix whose addresses may
// open sessions into that group.
type ReflectorConfig struct {
	ASNumber uint32     // [global.config] as
	RouterID netip.Addr // [global.config] router-id
	// ClusterID is route-reflector-cluster-id; the router ID when rr.conf leaves it out.
	ClusterID netip.Addr
	Clients   netip.Prefix // [[dynamic-neighbors]] prefix
	PeerGroup string       // the peer group the dynamic neighbours join
	PeerAS    uint32       // the peer group's peer-as
	Passive   bool         // transport passive-mode: never connect, only accept
	// Families are the afi-safi-names of the peer group; only FamilyIPv4Unicast is supported.
	Families []string
}

// Validate reports every problem of c at once.
func (c ReflectorConfig) Validate() error {
	var problems []string
	if !validAS(c.ASNumber) {
		problems = append(problems, fmt.Sprintf("AS %d is not a usable AS number (1..4294967294, not 65535)", c.ASNumber))
	}
	if !c.RouterID.Is4() {
		problems = append(problems, "router ID must be an IPv4 address")
	}
	if c.ClusterID.IsValid() && !c.ClusterID.Is4() {
		problems = append(problems, "cluster ID must be an IPv4 address")
	}
	if !c.Clients.IsValid() || !c.Clients.Addr().Is4() {
		problems = append(problems, "clients prefix must be an IPv4 prefix")
	}
	if c.PeerGroup == "" {
		problems = append(problems, "no peer group")
	}
	if !validAS(c.PeerAS) {
		problems = append(problems, fmt.Sprintf("peer AS %d is not a usable AS number", c.PeerAS))
	}
	for _, f := range c.Families {
		if f != FamilyIPv4Unicast {
			problems = append(problems, fmt.Sprintf("address family %q is not supported (only %s)", f, FamilyIPv4Unicast))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("route reflector config: %s", strings.Join(problems, "; "))
	}
	return nil
}

func validAS(as uint32) bool { return as != 0 && as != 65535 && as != 4294967295 }

// ParseReflectorConfig reads the subset of gobgpd's TOML config a route reflector of the lab
// uses (see ReflectorConfig). Any other key is an error naming its line, as is a missing or
// malformed value; name is the file's name for those errors. Every problem is reported at once.
func ParseReflectorConfig(r io.Reader, name string) (ReflectorConfig, error) {
	tree, err := toml.LoadReader(r)
	if err != nil {
		return ReflectorConfig{}, fmt.Errorf("%s: %w", name, err)
	}
	p := &rrParser{name: name}
	cfg := p.parse(tree)
	if len(p.problems) > 0 {
		slices.SortStableFunc(p.problems, func(a, b problem) int { return a.line - b.line })
		var msgs []string
		for _, pr := range p.problems {
			msgs = append(msgs, fmt.Sprintf("%s:%d: %s", name, pr.line, pr.msg))
		}
		return ReflectorConfig{}, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return cfg, nil
}

type problem struct {
	line int
	msg  string
}

// rrParser walks the TOML tree against the known keys, collecting problems with their lines.
type rrParser struct {
	name     string
	problems []problem
}

func (p *rrParser) errorf(line int, format string, args ...any) {
	p.problems = append(p.problems, problem{line: line, msg: fmt.Sprintf(format, args...)})
}

// known checks that t holds only the given keys (path is t's dotted name for messages).
func (p *rrParser) known(t *toml.Tree, path string, keys ...string) {
	for _, k := range t.Keys() {
		if !slices.Contains(keys, k) {
			p.errorf(t.GetPosition(k).Line, "unknown key %s (this reflector reads only %s)", join(path, k), strings.Join(keys, ", "))
		}
	}
}

// table is the sub-table key of t; nil when absent (required: an error) or not a table.
func (p *rrParser) table(t *toml.Tree, path, key string, required bool) *toml.Tree {
	v := t.GetPath([]string{key})
	if v == nil {
		if required {
			p.errorf(t.Position().Line, "missing [%s]", join(path, key))
		}
		return nil
	}
	sub, ok := v.(*toml.Tree)
	if !ok {
		p.errorf(t.GetPosition(key).Line, "%s must be a table", join(path, key))
		return nil
	}
	return sub
}

// tables is the array of tables key of t ([[key]]).
func (p *rrParser) tables(t *toml.Tree, path, key string) []*toml.Tree {
	v := t.GetPath([]string{key})
	if v == nil {
		return nil
	}
	subs, ok := v.([]*toml.Tree)
	if !ok {
		p.errorf(t.GetPosition(key).Line, "%s must be an array of tables ([[%s]])", join(path, key), join(path, key))
		return nil
	}
	return subs
}

func (p *rrParser) str(t *toml.Tree, path, key string, required bool) (string, int, bool) {
	v := t.GetPath([]string{key})
	line := t.GetPosition(key).Line
	if v == nil {
		if required {
			p.errorf(t.Position().Line, "missing %s", join(path, key))
		}
		return "", t.Position().Line, false
	}
	s, ok := v.(string)
	if !ok {
		p.errorf(line, "%s must be a string", join(path, key))
		return "", line, false
	}
	return s, line, true
}

func (p *rrParser) addr(t *toml.Tree, path, key string, required bool) netip.Addr {
	s, line, ok := p.str(t, path, key, required)
	if !ok {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		p.errorf(line, "%s %q is not an IPv4 address", join(path, key), s)
		return netip.Addr{}
	}
	return a
}

func (p *rrParser) as(t *toml.Tree, path, key string) uint32 {
	v := t.GetPath([]string{key})
	if v == nil {
		p.errorf(t.Position().Line, "missing %s", join(path, key))
		return 0
	}
	line := t.GetPosition(key).Line
	n, ok := v.(int64)
	if !ok || n < 0 || n > 4294967295 || !validAS(uint32(n)) {
		p.errorf(line, "%s %v is not a usable AS number (1..4294967294, not 65535)", join(path, key), v)
		return 0
	}
	return uint32(n)
}

func (p *rrParser) boolean(t *toml.Tree, path, key string) (bool, bool) {
	v := t.GetPath([]string{key})
	if v == nil {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		p.errorf(t.GetPosition(key).Line, "%s must be true or false", join(path, key))
		return false, false
	}
	return b, true
}

func (p *rrParser) parse(root *toml.Tree) ReflectorConfig {
	var cfg ReflectorConfig
	p.known(root, "", "global", "dynamic-neighbors", "peer-groups")

	if g := p.table(root, "", "global", true); g != nil {
		p.known(g, "global", "config")
		if gc := p.table(g, "global", "config", true); gc != nil {
			p.known(gc, "global.config", "as", "router-id")
			cfg.ASNumber = p.as(gc, "global.config", "as")
			cfg.RouterID = p.addr(gc, "global.config", "router-id", true)
		}
	}

	dyn := p.tables(root, "", "dynamic-neighbors")
	switch {
	case len(dyn) == 0:
		p.errorf(root.Position().Line, "missing [[dynamic-neighbors]]: a route reflector of the lab accepts its clients by prefix")
	case len(dyn) > 1:
		p.errorf(dyn[1].Position().Line, "only one [[dynamic-neighbors]] entry is supported")
	}
	if len(dyn) > 0 {
		d := dyn[0]
		p.known(d, "dynamic-neighbors", "config")
		if dc := p.table(d, "dynamic-neighbors", "config", true); dc != nil {
			p.known(dc, "dynamic-neighbors.config", "prefix", "peer-group")
			if s, line, ok := p.str(dc, "dynamic-neighbors.config", "prefix", true); ok {
				pfx, err := netip.ParsePrefix(s)
				if err != nil || !pfx.Addr().Is4() || pfx != pfx.Masked() {
					p.errorf(line, "dynamic-neighbors.config.prefix %q is not an IPv4 network prefix", s)
				} else {
					cfg.Clients = pfx
				}
			}
			cfg.PeerGroup, _, _ = p.str(dc, "dynamic-neighbors.config", "peer-group", true)
		}
	}

	groups := p.tables(root, "", "peer-groups")
	switch {
	case len(groups) == 0:
		p.errorf(root.Position().Line, "missing [[peer-groups]]")
	case len(groups) > 1:
		p.errorf(groups[1].Position().Line, "only one [[peer-groups]] entry is supported")
	}
	if len(groups) > 0 {
		p.peerGroup(groups[0], &cfg)
	}
	if !cfg.ClusterID.IsValid() {
		cfg.ClusterID = cfg.RouterID
	}
	if len(cfg.Families) == 0 {
		cfg.Families = []string{FamilyIPv4Unicast}
	}
	return cfg
}

func (p *rrParser) peerGroup(g *toml.Tree, cfg *ReflectorConfig) {
	const path = "peer-groups"
	p.known(g, path, "config", "transport", "route-reflector", "afi-safis")
	if c := p.table(g, path, "config", true); c != nil {
		p.known(c, path+".config", "peer-group-name", "peer-as")
		name, line, ok := p.str(c, path+".config", "peer-group-name", true)
		if ok && cfg.PeerGroup != "" && name != cfg.PeerGroup {
			p.errorf(line, "peer group %q is not the one [[dynamic-neighbors]] names (%q)", name, cfg.PeerGroup)
		}
		cfg.PeerAS = p.as(c, path+".config", "peer-as")
	}
	if t := p.table(g, path, "transport", false); t != nil {
		p.known(t, path+".transport", "config")
		if tc := p.table(t, path+".transport", "config", true); tc != nil {
			p.known(tc, path+".transport.config", "passive-mode")
			cfg.Passive, _ = p.boolean(tc, path+".transport.config", "passive-mode")
		}
	}
	rr := p.table(g, path, "route-reflector", true)
	if rr != nil {
		p.known(rr, path+".route-reflector", "config")
		if rc := p.table(rr, path+".route-reflector", "config", true); rc != nil {
			const rcPath = path + ".route-reflector.config"
			p.known(rc, rcPath, "route-reflector-client", "route-reflector-cluster-id")
			if client, ok := p.boolean(rc, rcPath, "route-reflector-client"); !ok || !client {
				line := rc.Position().Line
				if rc.Has("route-reflector-client") {
					line = rc.GetPosition("route-reflector-client").Line
				}
				p.errorf(line, "%s.route-reflector-client must be true: the peer group's members are the reflector's clients", rcPath)
			}
			cfg.ClusterID = p.addr(rc, rcPath, "route-reflector-cluster-id", false)
		}
	}
	for _, af := range p.tables(g, path, "afi-safis") {
		p.known(af, path+".afi-safis", "config")
		if ac := p.table(af, path+".afi-safis", "config", true); ac != nil {
			p.known(ac, path+".afi-safis.config", "afi-safi-name")
			name, line, ok := p.str(ac, path+".afi-safis.config", "afi-safi-name", true)
			if !ok {
				continue
			}
			if name != FamilyIPv4Unicast {
				p.errorf(line, "afi-safi-name %q is not supported (only %s)", name, FamilyIPv4Unicast)
				continue
			}
			cfg.Families = append(cfg.Families, name)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
