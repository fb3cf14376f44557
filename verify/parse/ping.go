package parse

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)

// PingReceived reads how many echo replies came back from the summary line iputils and busybox
// ping print ("3 packets transmitted, 3 received, ..."); a missing summary is the error.
func PingReceived(out []byte) (int, error) {
	m := pingSummary.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no ping summary in %q", strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(string(m[2]))
}
