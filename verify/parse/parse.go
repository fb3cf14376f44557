// Package parse turns the output of `ip` and `bridge` — JSON from `ip -j`/`bridge -j`, or the
// text a person pasted — into the normalised node state of package state.
//
// Text parsers are tolerant by design: captures are grep-filtered, carry trailing spaces or CRLF,
// extra `ip -d` attributes and lines for other devices. A line that cannot be understood is
// skipped, never fatal. Only malformed JSON is an error, because JSON is machine output and a
// broken document means the capture itself is broken.
package parse

import (
	"github.com/knetlab/knetlab/verify/state"
)

// Routes parses `ip route` or `ip -j route`.
func Routes(data []byte) ([]state.Route, error) { return nil, nil }

// Neighs parses `ip neigh` or `ip -j neigh`.
func Neighs(data []byte) ([]state.Neigh, error) { return nil, nil }

// FDB parses `bridge fdb show` or `bridge -j fdb show`.
func FDB(data []byte) ([]state.FDBEntry, error) { return nil, nil }

// Links parses `ip -d link show`, `ip link show type vxlan` or `ip -j -d link show`.
func Links(data []byte) ([]state.Link, error) { return nil, nil }

// Addrs parses `ip addr` or `ip -j addr`: links with their IPv4 addresses.
func Addrs(data []byte) ([]state.Link, error) { return nil, nil }

// MergeAddrs adds the addresses of addrLinks to the links of the same name.
func MergeAddrs(links, addrLinks []state.Link) []state.Link { return links }
