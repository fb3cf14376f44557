package check

import (
	"strings"

	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
)

// formatExpected writes an expected route as `ip route` would show it, naming the underlay
// interface when the node state said which one it is.
func formatExpected(r *expect.Route, parent string) string {
	var b strings.Builder
	if r.Type == expect.TypeBlackhole {
		b.WriteString("blackhole ")
	}
	b.WriteString(r.Dst.String())
	if r.Gateway.IsValid() {
		b.WriteString(" via ")
		b.WriteString(r.Gateway.String())
	}
	if dev := expectedDev(r, parent); dev != "" {
		b.WriteString(" dev ")
		b.WriteString(dev)
	}
	if p := r.Protocols.Canonical(); p != "" {
		b.WriteString(" proto ")
		b.WriteString(p)
	}
	if r.Onlink {
		b.WriteString(" onlink")
	}
	return b.String()
}

func expectedDev(r *expect.Route, parent string) string {
	if r.Underlay {
		if parent == "" {
			return "<underlay>"
		}
		return parent
	}
	return r.Dev
}

// formatRoute writes a found route as `ip route` shows it, attributes verify ignores included.
func formatRoute(r *observed.Route) string { return parse.FormatRoute(*r) }

func protocolText(p string) string {
	if p == "" || p == "boot" {
		return "none (boot)"
	}
	return p
}

func expectedProtocols(r *expect.Route) string {
	parts := make([]string, 0, len(r.Protocols.List()))
	for _, p := range r.Protocols.List() {
		if p == "boot" {
			continue // said by "none (boot)"
		}
		parts = append(parts, protocolText(p))
	}
	return strings.Join(parts, " or ")
}

func onlinkText(b bool) string {
	if b {
		return "onlink"
	}
	return "not onlink"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
