// Package parse is the one home of the node formats: it turns the output of `ip` and `bridge` —
// JSON from `ip -j`/`bridge -j`, or the text a person pasted — into the normalised node state of
// package observed, and prints that state back as the text commands do. It also reads the
// natOutgoing rules (nft, iptables with ipset), sysctls (`sysctl -a`, /proc/sys), ping's summary
// and `ip -j -s link` counters. Collectors only move bytes and call these functions; the Arista
// EOS `| json` shapes are in the sub-package eosjson.
//
// Text parsers are tolerant of what people paste: captures are grep-filtered, carry trailing
// spaces or CRLF, a shell prompt, extra `ip -d` attributes and attributes of newer iproute2
// versions, IPv6 lines and lines for other devices or tables. They are not tolerant of another
// format: every line must be one the command prints, or the file is refused with the line and
// the command to run (gate.go), because a file is taken as the whole table and a misread one
// (`route -n` as /32 routes) gives wrong verdicts. Malformed JSON is refused likewise.
package parse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// isJSON reports whether data is `ip -j` output rather than text: JSON output is always one
// array (or, from some wrappers, one object), and no `ip` text line starts with '[' or '{'.
func isJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff") // a byte-order mark from Windows editors too
	return len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{')
}

// decodeJSON unmarshals an `ip -j` array. A single object is accepted as a one-element
// array because `jq '.[]'`-style pastes of one entry are common. Errors carry the line and byte
// offset so that the user can find the break in the file.
func decodeJSON[T any](data []byte) ([]T, error) {
	body := bytes.TrimLeft(data, " \t\r\n\ufeff")
	lead := int64(len(data) - len(body)) // JSON offsets count from body; the file has lead more
	trimmed := bytes.TrimRight(body, " \t\r\n")
	var out []T
	var err error
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var one T
		err = json.Unmarshal(trimmed, &one)
		out = []T{one}
	} else {
		err = json.Unmarshal(trimmed, &out)
	}
	if err == nil {
		return out, nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return nil, jsonError(data, lead+syn.Offset, err)
	case errors.As(err, &typ):
		return nil, jsonError(data, lead+typ.Offset, err)
	}
	return nil, fmt.Errorf("malformed JSON: %w (%s)", err, jsonFix)
}

// jsonFix is what to do about broken JSON: it is machine output, so it was cut or edited.
const jsonFix = "save the command's whole -j output again, or its text form without -j"

func jsonError(data []byte, offset int64, err error) error {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	line := 1 + bytes.Count(data[:offset], []byte("\n"))
	return &Error{Line: line, Offset: offset, Err: fmt.Errorf("malformed JSON: %w (%s)", err, jsonFix)}
}

// Error is a parse error at a place in the input, so that callers can name the file and line.
type Error struct {
	Line   int   // 1-based
	Offset int64 // byte offset
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d (byte %d): %v", e.Line, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// parseIPv4 parses an IPv4 address; IPv6 and garbage give false.
func parseIPv4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// parseDst parses a route or neighbour destination: "default", a prefix, or a bare address
// (a host route, as `ip route` prints /32s).
func parseDst(s string) (netip.Prefix, bool) {
	if s == "default" || s == "0.0.0.0/0" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, ok := parseIPv4(s)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, 32), true
}

// parseMAC returns the lower-case colon form of a 6-byte MAC address.
func parseMAC(s string) (string, bool) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", false
	}
	return hw.String(), true
}

func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// numberOrText accepts a JSON string or number: iproute2 prints a routing protocol without a
// name in /etc/iproute2/rt_protos as a number in some versions and as text in others.
type numberOrText string

func (n *numberOrText) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = numberOrText(s)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return err
	}
	*n = numberOrText(num.String())
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// parsePrefixOrAddr parses a prefix or a bare address and returns its address.
func parsePrefixOrAddr(s string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr(), nil
	}
	return netip.ParseAddr(s)
}
