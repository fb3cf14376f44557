package parse

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
)

// linkKinds are the link kinds `ip -d link` names at the start of its detail line. Other first
// words there (addrgenmode, bridge_slave, ...) are attributes, not kinds.
var linkKinds = map[string]bool{
	"vxlan": true, "veth": true, "bridge": true, "vlan": true, "dummy": true, "ipip": true,
	"macvlan": true, "ipvlan": true, "tun": true, "gre": true, "gretap": true, "geneve": true,
	"wireguard": true, "bond": true, "vrf": true, "sit": true, "ip6tnl": true, "nlmon": true,
	"ifb": true, "macvtap": true, "netkit": true,
}

// Links parses `ip -d link show`, `ip link show type vxlan`, `ip -o link`, `ip -br link`,
// `ip -s -d link` or `ip -j -d link show`, and `ip addr` in any of its forms (a superset).
// Links parsed from `ip addr` output also carry their IPv4 addresses. A file that is not `ip
// link` or `ip addr` output is refused (see gate.go).
func Links(data []byte) ([]observed.Link, error) {
	return parseLinks(data, cmdLink)
}

// Addrs parses `ip addr`, `ip -o addr`, `ip -br addr` or `ip -j addr`: links with their IPv4
// addresses (IPv6 addresses are skipped). `ip link` in any form is refused: it shows no
// addresses, so it would read as links that have none.
func Addrs(data []byte) ([]observed.Link, error) {
	// `ip addr` is `ip link` with address lines added, so one parser reads both.
	return parseLinks(data, cmdAddr)
}

func parseLinks(data []byte, c command) ([]observed.Link, error) {
	if isJSON(data) {
		return linksJSON(data, c)
	}
	p := linkParser{cmd: c}
	if err := p.parse(data); err != nil {
		return nil, err
	}
	return p.links, nil
}

// MergeAddrs returns links with the addresses of the same-named links in addrLinks. A link that
// only addrLinks knows is appended, so that no address is lost when the link capture was
// filtered more narrowly than the address capture.
func MergeAddrs(links, addrLinks []observed.Link) []observed.Link {
	out := append([]observed.Link(nil), links...)
	byName := make(map[string]int, len(out))
	for i, l := range out {
		byName[l.Name] = i
	}
	for _, a := range addrLinks {
		i, ok := byName[a.Name]
		if !ok {
			out = append(out, a)
			byName[a.Name] = len(out) - 1
			continue
		}
		out[i].Addrs = append([]netip.Prefix(nil), a.Addrs...)
		fillLink(&out[i], a)
	}
	return out
}

// fillLink copies the attributes from that l lacks, so that `ip addr` (which shows MAC, MTU and
// flags too) completes a link seen in a grep-filtered `ip link` capture.
func fillLink(l *observed.Link, from observed.Link) {
	if l.Index == 0 {
		l.Index = from.Index
	}
	if l.MTU == 0 {
		l.MTU = from.MTU
	}
	if l.MAC == "" {
		l.MAC = from.MAC
	}
	if l.OperState == "" {
		l.OperState = from.OperState
		l.Up = from.Up
	}
	if l.Master == "" {
		l.Master = from.Master
	}
	if l.Parent == "" {
		l.Parent = from.Parent
	}
}

// linkParser reads the block format of `ip link`/`ip addr`: a header line "N: name[@parent]:
// <FLAGS> mtu ..." followed by indented detail lines. Detail lines are recognised by their first
// word, not by their indentation, because pasted captures often lose leading spaces; `ip -o`
// puts the detail lines on the header's line, separated by backslashes.
type linkParser struct {
	cmd    command // the command the file must hold: cmdLink or cmdAddr
	links  []observed.Link
	cur    int            // index into links of the block being read, -1 before the first
	byName map[string]int // `ip -o addr` repeats a link once per address
	stats  []string       // column names of the last RX:/TX: header, prefixed "rx"/"tx"
}

func (p *linkParser) parse(data []byte) error {
	p.cur = -1
	p.byName = map[string]int{}
	var brief [][]string // `ip -br` lines, read when the file has no block header at all
	err := textLines(data, p.cmd, func(no int, off int64, line string, _ []string) error {
		for k, seg := range strings.Split(line, `\`) {
			f := strings.Fields(seg)
			if len(f) == 0 {
				continue
			}
			if k == 0 {
				if pasteNoise(f) {
					return nil
				}
				if p.header(f) {
					if p.cmd == cmdAddr && contains(f, "mode") {
						return foreign(p.cmd, no, off, line, "`ip link` shows no addresses")
					}
					continue
				}
				if why, ok := p.outside(f, seg); !ok {
					return foreign(p.cmd, no, off, line, why)
				}
				if p.cur < 0 {
					if isBrief(f) {
						if p.cmd == cmdAddr && len(f) > 2 && isMAC(f[2]) {
							return foreign(p.cmd, no, off, line, "`ip -br link` shows no addresses")
						}
						brief = append(brief, f)
					}
					continue // a detail line grep kept without its link: nothing to attach it to
				}
			}
			if p.cur >= 0 {
				p.detail(f, seg)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if p.cur < 0 {
		// No header at all: perhaps `ip -br link` or `ip -br addr`, one link per line.
		for _, f := range brief {
			p.brief(f)
		}
	}
	return nil
}

// outside judges a line that is not a block header: before the first header only `ip -br`
// lines and detail lines (of a grep-filtered paste) belong to the command; after one, indented
// lines are details, and so are unindented ones (pastes lose the indentation) unless they start
// with what no detail line starts with.
func (p *linkParser) outside(f []string, seg string) (why string, ok bool) {
	indented := strings.HasPrefix(seg, " ") || strings.HasPrefix(seg, "\t")
	switch {
	case isBrief(f), detailWord(f[0]):
		return "", true
	case p.cur < 0:
		return "neither a link's header line (\"N: name: <FLAGS> mtu ...\") nor one of its detail lines", false
	case indented:
		return "", true
	case isAddr(f[0]) || isMAC(f[0]):
		return fmt.Sprintf("%q starts no line of a link", f[0]), false
	case isWord(f[0]) || allNumbers(f):
		return "", true
	}
	return fmt.Sprintf("%q starts no line of a link", f[0]), false
}

// isBrief reports whether f is a line of `ip -br link` or `ip -br addr`: a name and its state.
func isBrief(f []string) bool {
	return len(f) >= 2 && operStates[f[1]] && !strings.HasSuffix(f[0], ":")
}

// detailWord reports whether a detail line of `ip link`/`ip addr` (-d, -s) may start with w.
func detailWord(w string) bool {
	switch w {
	case "inet", "inet6", "valid_lft", "alias", "altname", "vxlan", "RX:", "TX:", "vf", "prog/xdp",
		"bridge_slave", "bond_slave", "team_slave", "openvswitch_slave", "vrf_slave", "addrgenmode":
		return true
	}
	return strings.HasPrefix(w, "link/") || linkKinds[w]
}

func allNumbers(f []string) bool {
	for _, v := range f {
		if !isNumber(v) {
			return false
		}
	}
	return true
}

// operStates are the states `ip -br` prints in its second column.
var operStates = map[string]bool{
	"UP": true, "DOWN": true, "UNKNOWN": true, "LOWERLAYERDOWN": true, "DORMANT": true,
	"NOTPRESENT": true, "TESTING": true,
}

// brief reads one line of `ip -br link` ("eth1@if7  UP  72:17:7d:f3:a5:06 <BROADCAST,...>") or
// `ip -br addr` ("eth1@if7  UP  10.10.10.11/24 fe80::.../64").
func (p *linkParser) brief(f []string) {
	if len(f) < 2 || !operStates[f[1]] || strings.HasSuffix(f[0], ":") {
		return
	}
	name, parent, _ := strings.Cut(f[0], "@")
	if name == "" {
		return
	}
	l := observed.Link{Name: name, Parent: parent, OperState: f[1]}
	if parent == "NONE" {
		l.Parent = ""
	}
	for _, v := range f[2:] {
		if mac, ok := parseMAC(v); ok {
			l.MAC = mac
		} else if strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">") {
			l.Up = contains(strings.Split(strings.Trim(v, "<>"), ","), "UP")
		} else if pfx, err := netip.ParsePrefix(v); err == nil && pfx.Addr().Is4() {
			l.Addrs = appendPrefix(l.Addrs, pfx)
		}
	}
	if i, ok := p.byName[name]; ok {
		p.links[i].Addrs = append(p.links[i].Addrs, l.Addrs...)
		return
	}
	p.byName[name] = len(p.links)
	p.links = append(p.links, l)
}

// header starts a new link if f is a header line, reporting whether it was.
func (p *linkParser) header(f []string) bool {
	if len(f) < 2 || !strings.HasSuffix(f[0], ":") {
		return false
	}
	index, err := strconv.Atoi(strings.TrimSuffix(f[0], ":"))
	if err != nil || index <= 0 {
		return false
	}
	name := f[1]
	oneLineAddr := !strings.HasSuffix(name, ":") // `ip -o addr`: "2: eth0    inet ..."
	name = strings.TrimSuffix(name, ":")
	parent := ""
	if at := strings.IndexByte(name, '@'); at >= 0 {
		name, parent = name[:at], name[at+1:]
		if parent == "NONE" {
			parent = ""
		}
	}
	if name == "" {
		return false
	}
	if i, ok := p.byName[name]; ok {
		p.cur = i
	} else {
		p.links = append(p.links, observed.Link{Name: name, Index: index, Parent: parent})
		p.cur = len(p.links) - 1
		p.byName[name] = p.cur
	}
	p.stats = nil
	if oneLineAddr {
		p.detail(f[2:], "")
		return true
	}
	l := &p.links[p.cur]
	for i := 2; i < len(f); i++ {
		val := ""
		if i+1 < len(f) {
			val = f[i+1]
		}
		switch {
		case strings.HasPrefix(f[i], "<") && strings.HasSuffix(f[i], ">"):
			l.Up = contains(strings.Split(strings.Trim(f[i], "<>"), ","), "UP")
		case f[i] == "mtu":
			if n, ok := atoi(val); ok {
				l.MTU = n
			}
			i++
		case f[i] == "state":
			l.OperState = val
			i++
		case f[i] == "master":
			l.Master = val
			i++
		case f[i] == "qdisc" || f[i] == "group" || f[i] == "qlen" || f[i] == "mode":
			i++
		}
	}
	return true
}

// detail applies one detail line (fields f, raw text seg) to the current link.
func (p *linkParser) detail(f []string, seg string) {
	if len(f) == 0 {
		return
	}
	l := &p.links[p.cur]
	switch {
	case strings.HasPrefix(f[0], "link/"):
		if len(f) > 1 {
			if mac, ok := parseMAC(f[1]); ok {
				l.MAC = mac
			}
		}
	case f[0] == "inet":
		if len(f) > 1 {
			if pfx, err := netip.ParsePrefix(f[1]); err == nil && pfx.Addr().Is4() {
				l.Addrs = appendPrefix(l.Addrs, pfx)
			} else if a, ok := parseIPv4(f[1]); ok {
				l.Addrs = appendPrefix(l.Addrs, netip.PrefixFrom(a, 32))
			}
		}
	case f[0] == "alias":
		l.Alias = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(seg), "alias"))
	case f[0] == "vxlan":
		l.Kind = "vxlan"
		l.VXLAN = vxlanAttrs(f[1:])
	case linkKinds[f[0]]:
		l.Kind = f[0]
	case f[0] == "RX:" || f[0] == "TX:":
		dir := strings.ToLower(strings.TrimSuffix(f[0], ":"))
		p.stats = p.stats[:0]
		for _, col := range f[1:] {
			p.stats = append(p.stats, dir+col)
		}
	case len(p.stats) > 0:
		p.statsLine(l, f)
	}
}

// statsLine reads the numbers under an RX:/TX: header of `ip -s link`.
func (p *linkParser) statsLine(l *observed.Link, f []string) {
	cols := p.stats
	p.stats = nil
	for i, v := range f {
		if i >= len(cols) {
			break
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return
		}
		switch cols[i] {
		case "rxpackets":
			if l.Stats == nil {
				l.Stats = &observed.LinkStats{}
			}
			l.Stats.RxPackets = n
		case "txpackets":
			if l.Stats == nil {
				l.Stats = &observed.LinkStats{}
			}
			l.Stats.TxPackets = n
		}
	}
}

func appendPrefix(list []netip.Prefix, p netip.Prefix) []netip.Prefix {
	for _, have := range list {
		if have == p {
			return list
		}
	}
	return append(list, p)
}

// vxlanAttrs reads the attributes after "vxlan" on an `ip -d link` detail line. The kernel
// learns by default; iproute2 prints only "nolearning".
func vxlanAttrs(f []string) *observed.VXLAN {
	v := &observed.VXLAN{Learning: true}
	for i := 0; i < len(f); i++ {
		val := ""
		if i+1 < len(f) {
			val = f[i+1]
		}
		switch f[i] {
		case "id":
			if n, ok := atoi(val); ok {
				v.VNI = n
			}
			i++
		case "local":
			if a, ok := parseIPv4(val); ok {
				v.Local = a
			}
			i++
		case "dev":
			v.Dev = val
			i++
		case "dstport":
			if n, ok := atoi(val); ok {
				v.Port = n
			}
			i++
		case "nolearning":
			v.Learning = false
		case "learning":
			v.Learning = true
		}
	}
	return v
}

type jsonLink struct {
	IfIndex   int      `json:"ifindex"`
	IfName    string   `json:"ifname"`
	Link      string   `json:"link"`
	LinkIndex int      `json:"link_index"`
	Flags     []string `json:"flags"`
	MTU       int      `json:"mtu"`
	OperState string   `json:"operstate"`
	Master    string   `json:"master"`
	Address   string   `json:"address"`
	IfAlias   string   `json:"ifalias"`
	LinkInfo  *struct {
		InfoKind string          `json:"info_kind"`
		InfoData json.RawMessage `json:"info_data"`
	} `json:"linkinfo"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
	Stats64 *struct {
		RX struct {
			Packets uint64 `json:"packets"`
		} `json:"rx"`
		TX struct {
			Packets uint64 `json:"packets"`
		} `json:"tx"`
	} `json:"stats64"`
}

type jsonVXLAN struct {
	ID       int    `json:"id"`
	Local    string `json:"local"`
	Link     string `json:"link"`
	Port     int    `json:"port"`
	Learning *bool  `json:"learning"`
}

func linksJSON(data []byte, c command) ([]observed.Link, error) {
	raw, err := decodeJSON[jsonLink](data)
	if err != nil {
		return nil, err
	}
	links := make([]observed.Link, 0, len(raw))
	for i, j := range raw {
		if j.IfName == "" {
			return nil, foreignJSON(c, data, i, "names no link")
		}
		if c == cmdAddr && j.AddrInfo == nil {
			return nil, foreignJSON(c, data, i, "has no addr_info: `ip -j link` shows no addresses")
		}
		l := observed.Link{
			Name:      j.IfName,
			Index:     j.IfIndex,
			MTU:       j.MTU,
			Up:        contains(j.Flags, "UP"),
			OperState: j.OperState,
			Master:    j.Master,
			Parent:    j.Link,
			Alias:     j.IfAlias,
		}
		if l.Parent == "" && j.LinkIndex > 0 {
			// A peer in another namespace is shown by index only, as text shows "@ifN".
			l.Parent = "if" + strconv.Itoa(j.LinkIndex)
		}
		if mac, ok := parseMAC(j.Address); ok {
			l.MAC = mac
		}
		if j.LinkInfo != nil {
			l.Kind = j.LinkInfo.InfoKind
			if l.Kind == "vxlan" && len(j.LinkInfo.InfoData) > 0 {
				var v jsonVXLAN
				// info_data of a vxlan device always has this shape; a mismatch means another
				// iproute2 dialect, and the device is still worth reporting without attributes.
				if json.Unmarshal(j.LinkInfo.InfoData, &v) == nil {
					l.VXLAN = &observed.VXLAN{VNI: v.ID, Port: v.Port, Dev: v.Link, Learning: v.Learning == nil || *v.Learning}
					if a, ok := parseIPv4(v.Local); ok {
						l.VXLAN.Local = a
					}
				}
			}
		}
		for _, a := range j.AddrInfo {
			if a.Family != "inet" {
				continue
			}
			if ip, ok := parseIPv4(a.Local); ok && a.PrefixLen >= 0 && a.PrefixLen <= 32 {
				l.Addrs = appendPrefix(l.Addrs, netip.PrefixFrom(ip, a.PrefixLen))
			}
		}
		if j.Stats64 != nil {
			l.Stats = &observed.LinkStats{RxPackets: j.Stats64.RX.Packets, TxPackets: j.Stats64.TX.Packets}
		}
		links = append(links, l)
	}
	return links, nil
}
