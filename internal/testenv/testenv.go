// Package testenv says what a test needs from the host and skips the test, saying why, when
// the host does not offer it. Every test that creates network namespaces — a netns lab, a
// testbed of namespaces, a scratch namespace — starts with RequireLab, so that
// `go test -short ./...` creates no namespace even as root, and a non-root or ill-equipped
// host skips these tests with a reason instead of failing them.
package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// geteuid is os.Geteuid; a test of this package pretends to be someone else.
var geteuid = os.Geteuid

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if geteuid() != 0 {
		t.Skip("needs root (CI runs as root): run `sudo go test` to include it")
	}
}

// RequireLab skips a test that creates network namespaces: under -short (`make test-unit`
// runs nothing that touches the host's network), when not root, and when one of tools — the
// host programs the test runs inside the namespaces, e.g. "ip", "ping", "nft" — is not on
// PATH.
func RequireLab(t testing.TB, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: creates network namespaces; run `go test` without -short, as root, to include it")
	}
	if geteuid() != 0 {
		t.Skip("needs root: creates network namespaces (CI runs as root); run `sudo go test` without -short to include it")
	}
	if absent := missing(tools...); len(absent) > 0 {
		t.Skipf("needs %s on PATH, missing here (scripts/test-deps.sh installs them)", strings.Join(absent, ", "))
	}
}

// missing returns the tools that are not on PATH, in the order given.
func missing(tools ...string) []string {
	var absent []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			absent = append(absent, tool)
		}
	}
	return absent
}
