package parse

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
)

// BIRD's `show protocols`, as calico-node's BIRD answers it. People save it in several ways, all
// read here:
//
//   - birdcl's table (`birdcl -s /var/run/calico/bird.ctl show protocols`), with the "BIRD …
//     ready." greeting and the header line;
//   - the same with `all`: each protocol row followed by indented details, of which the
//     neighbour address and AS are kept;
//   - the control socket's raw reply (`echo show protocols | nc -U …/bird.ctl`), every line led
//     by a reply code (0001, 2002-, 1002-) or a space;
//   - `calicoctl node status`, which prints the same sessions as a boxed table.
//
// Only BGP protocols are kept; kernel1, device1, direct1 and static1 are BIRD's own.

var cmdBird = command{text: "birdcl -s /var/run/calico/bird.ctl show protocols"}

// birdProtocols are BIRD's protocol types, as the proto column shows them.
var birdProtocols = map[string]bool{
	"BGP": true, "Kernel": true, "Device": true, "Direct": true, "Static": true, "Pipe": true,
	"BFD": true, "OSPF": true, "RIP": true, "Babel": true, "RAdv": true, "RPKI": true, "MRT": true,
	"Perf": true, "L3VPN": true, "Aggregator": true,
}

// birdStates are the protocol states of the state column.
var birdStates = map[string]bool{"up": true, "down": true, "start": true, "stop": true, "feed": true, "flush": true}

// bgpStates maps the words speakers print for a BGP session's state to its RFC 4271 name.
var bgpStates = map[string]string{
	"idle": observed.BGPIdle, "connect": observed.BGPConnect, "active": observed.BGPActive,
	"opensent": observed.BGPOpenSent, "openconfirm": observed.BGPOpenConfirm, "established": observed.BGPEstablished,
}

// calicoPeerName is Calico's name for a BGP protocol: Mesh_, Node_ or Global_ and the peer's
// address with its separators made '_', and a _port_N suffix for a peer on another port.
var calicoPeerName = regexp.MustCompile(`^(?:Mesh|Node|Global)_(.+?)(?:_port_\d+)?$`)

// calicoctlTypes are `calicoctl node status`'s peer types and the protocol name prefix of each.
var calicoctlTypes = map[string]string{"node-to-node mesh": "Mesh_", "node specific": "Node_", "global": "Global_"}

// BirdProtocols reads the BGP sessions of BIRD's `show protocols` in any of the forms above.
// A line that none of them prints refuses the file (exit 2 at the caller), naming the line.
func BirdProtocols(data []byte) ([]observed.BGPSession, error) {
	var out []observed.BGPSession
	// current is the session the detail lines of `show protocols all` belong to: -1 before any
	// protocol row, -2 in another protocol's details.
	current := -1
	ipv6 := false // inside calicoctl's "IPv6 BGP status" section
	err := textLines(data, cmdBird, func(no int, off int64, line string, f []string) error {
		line = strings.TrimPrefix(strings.TrimRight(line, "\r"), "\ufeff")
		if code, rest, ok := birdReplyCode(line); ok {
			if code == "0000" || code == "0001" || code == "2002" {
				return nil // end, greeting, header
			}
			line, f = rest, strings.Fields(rest)
		}
		switch {
		case birdChatter(f):
			return nil
		case strings.EqualFold(strings.Join(f, " "), "name proto table state since info"): // BIRD 2 capitalizes it
			return nil
		case len(f) >= 4 && birdProtocols[f[1]] && birdStates[f[3]]:
			current = -2
			if f[1] != "BGP" {
				return nil
			}
			out = append(out, birdSession(f))
			current = len(out) - 1
			return nil
		case line[0] == ' ' || line[0] == '\t':
			if current == -1 {
				return foreign(cmdBird, no, off, line, "a detail line before any protocol row")
			}
			if current >= 0 {
				birdDetail(&out[current], f)
			}
			return nil
		}
		// calicoctl node status.
		current = -1
		switch {
		case line[0] == '+' && strings.Trim(strings.TrimSpace(line), "+-") == "":
			return nil
		case strings.Join(f, " ") == "Calico process is running." || f[0] == "No" && len(f) == 4 && f[2] == "peers" ||
			len(f) == 3 && f[1] == "BGP" && f[2] == "status":
			ipv6 = f[0] == "IPv6" || ipv6 && f[0] != "IPv4"
			return nil
		case line[0] == '|':
			s, ok, why := calicoctlRow(line)
			if why != "" {
				return foreign(cmdBird, no, off, line, why)
			}
			if ok && !ipv6 {
				out = append(out, s)
			}
			return nil
		}
		return foreign(cmdBird, no, off, line, "")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// birdChatter reports whether a line around birdcl's answer is not part of it: what a person
// pastes around a command, the command typed at birdc's prompt or into the control socket, and
// birdcl's greeting.
func birdChatter(f []string) bool {
	return f == nil || pasteNoise(f) || f[0] == "show" || f[0] == "bird>" || f[0] == "birdc>" ||
		f[0] == "BIRD" && strings.HasSuffix(f[len(f)-1], "ready.")
}

// birdReplyCode splits a line of the control socket's raw reply: four digits and '-' or ' '.
func birdReplyCode(line string) (code, rest string, ok bool) {
	if strings.TrimSpace(line) == "0000" {
		return "0000", "", true
	}
	if len(line) < 5 || line[4] != '-' && line[4] != ' ' {
		return "", "", false
	}
	if _, err := strconv.Atoi(line[:4]); err != nil {
		return "", "", false
	}
	return line[:4], line[5:], true
}

// birdSession reads a BGP protocol row: name proto table state since info. The since column is
// a time or a date (BIRD 1), or a date and a time (BIRD 2).
func birdSession(f []string) observed.BGPSession {
	s := observed.BGPSession{Name: f[0], Peer: calicoPeer(f[0])}
	rest := f[4:]
	if len(rest) > 0 {
		rest = rest[1:] // since
	}
	if len(rest) > 0 && isClock(rest[0]) {
		rest = rest[1:]
	}
	switch state, ok := bgpStates[strings.ToLower(firstOr(rest, ""))]; {
	case ok:
		s.State, s.Info = state, strings.Join(rest[1:], " ")
	case len(rest) > 0:
		s.State, s.Info = rest[0], strings.Join(rest[1:], " ") // Passive, Close, Down, ...
	default:
		s.State = f[3] // no info: the protocol's own state (down)
	}
	return s
}

// birdDetail keeps what `show protocols all` says of the session's neighbour and state.
func birdDetail(s *observed.BGPSession, f []string) {
	line := strings.Join(f, " ")
	key, value, ok := strings.Cut(line, ":")
	if !ok {
		return
	}
	value = strings.TrimSpace(value)
	switch key {
	case "Neighbor address":
		if a, err := netip.ParseAddr(value); err == nil {
			s.Peer = a
		}
	case "Neighbor AS":
		if as, err := strconv.ParseUint(value, 10, 32); err == nil {
			s.PeerAS = uint32(as)
		}
	case "Last error":
		if s.Info == "" {
			s.Info = value
		}
	}
}

// calicoctlRow reads a row of `calicoctl node status`: | PEER ADDRESS | PEER TYPE | STATE |
// SINCE | INFO |. ok is false for the header; why says why a row is not one.
func calicoctlRow(line string) (s observed.BGPSession, ok bool, why string) {
	cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
	if len(cells) != 5 {
		return s, false, "not a row of `calicoctl node status` (five columns) nor of BIRD's protocols"
	}
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	if cells[0] == "PEER ADDRESS" {
		return s, false, ""
	}
	addr, err := netip.ParseAddr(cells[0])
	prefix, known := calicoctlTypes[cells[1]]
	if err != nil || !known {
		return s, false, "not a peer row of `calicoctl node status`"
	}
	s.Peer = addr
	s.Name = prefix + strings.NewReplacer(".", "_", ":", "_").Replace(addr.String())
	info := strings.Fields(cells[4])
	if state, ok := bgpStates[strings.ToLower(firstOr(info, ""))]; ok {
		s.State, s.Info = state, strings.Join(info[1:], " ")
	} else if len(info) > 0 {
		s.State, s.Info = info[0], strings.Join(info[1:], " ")
	} else {
		s.State = cells[2]
	}
	return s, true, ""
}

// calicoPeer is the peer address in a Calico protocol name; invalid for other names.
func calicoPeer(name string) netip.Addr {
	m := calicoPeerName.FindStringSubmatch(name)
	if m == nil {
		return netip.Addr{}
	}
	if a, err := netip.ParseAddr(strings.ReplaceAll(m[1], "_", ".")); err == nil && a.Is4() {
		return a
	}
	if a, err := netip.ParseAddr(strings.ReplaceAll(m[1], "_", ":")); err == nil {
		return a
	}
	return netip.Addr{}
}

// isClock reports whether s is a time of day, hh:mm:ss with optional fraction.
func isClock(s string) bool {
	h, rest, ok := strings.Cut(s, ":")
	return ok && len(h) == 2 && isNumber(h) && len(rest) >= 5 && rest[2] == ':' && isNumber(strings.ReplaceAll(rest, ":", ""))
}

func firstOr(f []string, def string) string {
	if len(f) == 0 {
		return def
	}
	return f[0]
}

// FormatBirdProtocols prints sessions as birdcl's `show protocols` table. The since column is
// not kept by verify, and is written as "-".
func FormatBirdProtocols(sessions []observed.BGPSession) []byte {
	var b strings.Builder
	b.WriteString("name     proto    table    state  since       info\n")
	for _, s := range sessions {
		state := "start"
		if s.Established() {
			state = "up"
		}
		info := strings.TrimSpace(s.State + " " + s.Info)
		b.WriteString(padRight(s.Name, 8) + " BGP      master   " + padRight(state, 6) + " -           " + info + "\n")
	}
	return []byte(b.String())
}

func padRight(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}
