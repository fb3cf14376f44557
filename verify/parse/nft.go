package parse

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A rule of `nft list table` with a named counter:
// `... counter packets 10 bytes 840 comment "forwarded"`.
var nftCounter = regexp.MustCompile(`\bcounter packets (\d+) bytes \d+\b.*\bcomment "([^"]*)"`)

// NFTCounters reads the packet counts of the commented counters in `nft list table` output,
// by comment. No such counter at all is the error.
func NFTCounters(out []byte) (map[string]uint64, error) {
	counts := map[string]uint64{}
	for _, line := range strings.Split(string(out), "\n") {
		m := nftCounter.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("nft list table: %q: %w", strings.TrimSpace(line), err)
		}
		counts[m[2]] = n
	}
	if len(counts) == 0 {
		return nil, fmt.Errorf("no named counter in nft output %q", strings.TrimSpace(string(out)))
	}
	return counts, nil
}
