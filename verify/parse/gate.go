package parse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// The format gate. A node file is taken as the whole table it names, so a file that holds
// something else — net-tools' `route -n`, `arp -n`, bridge-utils' `brctl showmacs`, another
// iproute2 command, or bytes that are no text at all — must be refused, never read as far as it
// happens to parse: `route -n` once came out as a table of /32 routes. Each text parser
// classifies every line as an entry, a line iproute2 prints that the table does not keep (IPv6,
// other tables, a shell prompt pasted with the output, grep's "--"), or foreign; the first
// foreign line refuses the file with its line number, what it looks like and the command to run.

// command is the iproute2 command a table is saved from, in text and JSON.
type command struct{ text, json string }

var (
	cmdRoute = command{"ip route", "ip -j route"}
	cmdNeigh = command{"ip neigh", "ip -j neigh"}
	cmdFDB   = command{"bridge fdb show", "bridge -j fdb show"}
	cmdLink  = command{"ip -d link show", "ip -j -d link show"}
	cmdAddr  = command{"ip addr", "ip -j addr"}
)

func (c command) fix() string {
	if c.json == "" {
		return fmt.Sprintf("save the output of `%s` there instead", c.text)
	}
	return fmt.Sprintf("save the output of `%s` (or `%s`) there instead", c.text, c.json)
}

// textLines calls fn with each line's 1-based number, byte offset, text and fields. A line that
// is not text (NUL or other control bytes, invalid UTF-8) refuses the file for c: no iproute2
// command prints one. fn's error stops the scan.
func textLines(data []byte, c command, fn func(no int, off int64, line string, f []string) error) error {
	no, off := 0, int64(0)
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		no++
		start := off
		off += int64(len(line)) + 1
		if !isText(line) {
			return &Error{Line: no, Offset: start, Err: fmt.Errorf("binary data, not `%s` output; %s", c.text, c.fix())}
		}
		f := strings.Fields(string(line))
		if len(f) == 0 {
			if err := fn(no, start, "", nil); err != nil {
				return err
			}
			continue
		}
		if err := fn(no, start, string(line), f); err != nil {
			return err
		}
	}
	return nil
}

// entries reads a one-entry-per-line table of c: line parses the fields of a line into an
// entry, keep says whether the table holds it, why is set when the line is not c's output.
func entries[T any](data []byte, c command, line func(f []string) (e T, keep bool, why string)) ([]T, error) {
	var out []T
	err := textLines(data, c, func(no int, off int64, text string, f []string) error {
		if f == nil || pasteNoise(f) {
			return nil
		}
		e, keep, why := line(f)
		if why != "" {
			return foreign(c, no, off, text, why)
		}
		if keep {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// isText reports whether line is printable text: tabs, a CR before the newline and a leading
// byte-order mark are what editors and terminals add, anything else below space is binary.
func isText(line []byte) bool {
	line = bytes.TrimPrefix(line, []byte("\ufeff"))
	if !utf8.Valid(line) {
		return false
	}
	for _, b := range line {
		if b < ' ' && b != '\t' && b != '\r' || b == 0x7f {
			return false
		}
	}
	return true
}

// foreign refuses the file at line no: the line is not output of c.
func foreign(c command, no int, off int64, line, why string) error {
	shown := strings.TrimSpace(line)
	if len(shown) > 72 {
		shown = shown[:72] + "…"
	}
	what := lookalike(line)
	if strings.Contains(what, "`"+c.text+"`") {
		what = "" // the right command, used in a way that leaves out what the table needs
	}
	if what != "" {
		what = "; it looks like " + what + " output"
	}
	if why != "" {
		why = ": " + why
	}
	return &Error{Line: no, Offset: off, Err: fmt.Errorf("not `%s` output: %q%s%s; %s", c.text, shown, why, what, c.fix())}
}

// pasteNoise reports whether a line is what a person pastes around a command's output: grep's
// group separator, the shell prompt with the command typed, or kubectl exec's notes.
func pasteNoise(f []string) bool {
	if len(f) == 1 && f[0] == "--" {
		return true
	}
	// What `kubectl exec` says on stderr before the command's output.
	if len(f) > 2 && (f[0] == "Defaulted" && f[1] == "container" || f[0] == "Unable" && f[1] == "to" && f[2] == "use") {
		return true
	}
	for k := 0; k < len(f)-1 && k < 3; k++ {
		t := f[k]
		if strings.HasSuffix(t, "#") || strings.HasSuffix(t, "$") || strings.HasSuffix(t, "%") ||
			strings.HasSuffix(t, ">") && !strings.HasPrefix(t, "<") {
			return shellCommands[f[k+1]]
		}
	}
	return false
}

// shellCommands are what a pasted prompt runs to print a node table.
var shellCommands = map[string]bool{
	"ip": true, "bridge": true, "sudo": true, "docker": true, "podman": true, "nerdctl": true,
	"kubectl": true, "oc": true, "crictl": true, "nsenter": true, "ssh": true, "cat": true,
	"route": true, "netstat": true, "arp": true, "brctl": true, "grep": true, "calicoctl": true,
	"birdcl": true, "birdc": true, "gobgp": true,
}

// isWord reports whether s is a lower-case keyword: letters, digits, '_', '-', '.', starting
// with a letter (a command name, or an attribute of a newer iproute2).
func isWord(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// isUpper reports whether s is an upper-case word: a NUD state, or `route -n`'s flags.
func isUpper(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func isMAC(s string) bool {
	_, ok := parseMAC(s)
	return ok
}

// lookalike names the command a foreign line most likely comes from, for the refusal message;
// "" when it cannot tell.
func lookalike(line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	has := func(s string) bool { return strings.Contains(line, s) }
	switch {
	case has("Kernel IP routing table"):
		return "net-tools `route -n` or `netstat -rn`"
	case has("Genmask") && has("MSS") && has("irtt"):
		return "`netstat -rn`"
	case has("Genmask") && has("Iface"):
		return "net-tools `route -n`"
	case has("Routing tables") || f[0] == "Internet:" || f[0] == "Destination" && has("Netif"):
		return "BSD `netstat -rn`"
	case has("HWtype") && has("HWaddress"):
		return "net-tools `arp -n`"
	case has("port no") && has("mac addr"):
		return "bridge-utils `brctl showmacs`"
	case len(f) >= 8 && isAddr(f[0]) && isAddr(f[1]) && isAddr(f[2]) && isUpper(f[3]):
		return "net-tools `route -n` or `netstat -rn`"
	case len(f) >= 3 && isAddr(f[0]) && (f[1] == "ether" || f[1] == "(incomplete)" || f[1] == "infiniband"):
		return "net-tools `arp -n`"
	case f[0] == "?" || len(f) >= 4 && strings.HasPrefix(f[1], "(") && f[2] == "at":
		return "net-tools `arp -a`"
	case len(f) >= 3 && isNumber(f[0]) && isMAC(f[1]) && (f[2] == "yes" || f[2] == "no"):
		return "bridge-utils `brctl showmacs`"
	case isAddr(f[0]) && (contains(f, "lladdr") || len(f) > 1 && neighStates[f[len(f)-1]]):
		return "`ip neigh`"
	case len(f) == 3 && isAddr(f[0]) && isMAC(f[2]):
		return "`ip -br neigh`"
	case isMAC(f[0]):
		return "`bridge fdb show`"
	case len(f) >= 2 && strings.HasSuffix(f[0], ":") && isNumber(strings.TrimSuffix(f[0], ":")):
		if contains(f, "mode") {
			return "`ip link`"
		}
		return "`ip link` or `ip addr`"
	case len(f) >= 2 && operStates[f[1]] && len(f) >= 3 && isMAC(f[2]):
		return "`ip -br link`"
	case len(f) >= 2 && operStates[f[1]]:
		return "`ip -br addr`"
	case f[0] == "link/ether" || f[0] == "inet" || f[0] == "inet6":
		return "`ip link` or `ip addr`"
	}
	if _, ok := parseDst(f[0]); ok || routeTypes[f[0]] {
		if len(f) > 1 && (routeKeywords[f[1]] || routeFlags[f[1]] || len(f) > 2 && routeKeywords[f[2]]) {
			return "`ip route`"
		}
	}
	return ""
}

// jsonLookalike names the `-j` command whose entries carry these keys.
func jsonLookalike(keys map[string]json.RawMessage) string {
	has := func(k string) bool { _, ok := keys[k]; return ok }
	switch {
	case has("mac"):
		return "`bridge -j fdb show`"
	case has("ifname") && has("addr_info"):
		return "`ip -j addr`"
	case has("ifname"):
		return "`ip -j link`"
	case has("dst") && (has("lladdr") || has("state")):
		return "`ip -j neigh`"
	case has("dst"):
		return "`ip -j route`"
	}
	return ""
}

// foreignJSON refuses a JSON document whose entry i is not what c prints. It decodes the
// document again to see the entry's keys, which costs nothing on the way that accepts.
func foreignJSON(c command, data []byte, i int, why string) error {
	what := ""
	if entries, err := decodeJSON[map[string]json.RawMessage](data); err == nil && i < len(entries) {
		what = jsonLookalike(entries[i])
	}
	if what != "" {
		what = "; it looks like " + what + " output"
	}
	return &Error{Line: 1, Err: fmt.Errorf("not `%s` output: entry %d %s%s; %s", c.json, i+1, why, what, c.fix())}
}
