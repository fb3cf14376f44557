package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// `knetlab get <lab> blockaffinities` lists the lab's four affinities, and each node's
// `ip route` reflects them: its own block blackholed, every other node's block routed.
func TestGetBlockAffinitiesMatchRoutes(t *testing.T) {
	file, name := deployCNILab(t)
	code, out, stderr := run(t, "get", name, "blockaffinities", "-o", "wide", "--lab-file", file)
	if code != 0 {
		t.Fatalf("get blockaffinities: exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !regexp.MustCompile(`^NAME\s+AGE\s+CIDR\s+NODE\s+STATE$`).MatchString(lines[0]) {
		t.Fatalf("get blockaffinities -o wide:\n%s\nwant a header and four affinities", out)
	}
	owner := map[string]string{} // block → node
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 5 || f[4] != "confirmed" || f[0] != f[3]+"-"+strings.NewReplacer(".", "-", "/", "-").Replace(f[2]) {
			t.Fatalf("affinity line %q: want <node>-<cidr> <unknown> <cidr> <node> confirmed", line)
		}
		owner[f[2]] = f[3]
	}
	nodes := slices.Sorted(func(yield func(string) bool) {
		for _, n := range owner {
			if !yield(n) {
				return
			}
		}
	})
	if fmt.Sprint(nodes) != "[k01-control-plane k01-worker k01-worker2 k01-worker3]" {
		t.Fatalf("affinities of %v, want one per node", nodes)
	}

	// The pool as the lab file declares it, in calicoctl's wide layout.
	code, pools, _ := run(t, "get", name, "ippools", "-o", "wide", "--lab-file", file)
	if code != 0 || !regexp.MustCompile(`(?m)^default-ipv4-ippool\s+192\.168\.0\.0/16\s+true\s+Never\s+CrossSubnet\s+false\s+true\s+all\(\)\s*$`).MatchString(pools) {
		t.Errorf("get ippools -o wide: exit %d\n%s\nwant the lab's pool: NAT true, VXLAN CrossSubnet, DISABLEBGPEXPORT true", code, pools)
	}

	// The plain table names the same affinities.
	if code, plain, _ := run(t, "get", name, "blockaffinities", "--lab-file", file); code != 0 || strings.Count(plain, "<unknown>") != 4 {
		t.Errorf("get blockaffinities: exit %d\n%s", code, plain)
	}

	for _, node := range nodes {
		var routes string
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, routes, _ = run(t, "exec", name, node, "--", "ip", "route")
			if reflects(routes, node, owner) == "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if problem := reflects(routes, node, owner); problem != "" {
			t.Errorf("%s: %s\n%s", node, problem, routes)
		}
	}
}

// reflects says what of the affinities node's routes do not reflect ("" when all).
func reflects(routes, node string, owner map[string]string) string {
	for block, n := range owner {
		want := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(block) + ` via \S+ dev \S+`)
		if n == node {
			want = regexp.MustCompile(`(?m)^blackhole ` + regexp.QuoteMeta(block) + ` proto 80`)
		}
		if !want.MatchString(routes) {
			return fmt.Sprintf("no route matching %s for %s's block", want, n)
		}
	}
	return ""
}
