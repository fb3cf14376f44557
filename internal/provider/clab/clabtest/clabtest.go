// Package clabtest puts a containerlab double first on PATH for tests: a small shell script
// that records its arguments and answers `version`, `inspect`, `deploy` and `destroy` the way
// the real CLI does at a given version. The shapes come from containerlab's source:
//
//   - `version` prints the logo, then "    version: X" and the commit, date, source and
//     release-notes lines (cmd/version.go, unchanged from v0.60 to v0.79).
//   - `inspect --format json` prints {"containers": [...]} up to v0.67 (types.LabData) and an
//     object keyed by lab name from v0.68 (cmd/inspect: groupedLabs), whose entries add
//     absLabPath and status. With no containers v0.60–v0.67 print nothing on stdout (the
//     "no containers found" log line goes to stderr) and v0.68+ print {}.
//   - Unknown flags and commands fail the way cobra does: "Error: unknown flag: --x", exit 1.
//   - -t names a topology file that must exist (containerlab parses it first).
package clabtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Node is one container containerlab lists for a lab.
type Node struct {
	Lab, Name, ContainerID, Image, Kind, State string
	// Status is docker's status ("Up 3 minutes"); v0.68+ print it, shortened to the health
	// state when there is one.
	Status     string
	IPv4, IPv6 string // "172.20.20.2/24"; "N/A" when containerlab gave none
	AbsLabPath string // the topology file
	LabPath    string // the topology file as printed: relative to the working directory when shorter
	Owner      string
}

// details has the JSON names of containerlab's types.ContainerDetails (all omitempty).
type details struct {
	LabName     string `json:"lab_name,omitempty"`
	LabPath     string `json:"labPath,omitempty"`
	AbsLabPath  string `json:"absLabPath,omitempty"`
	Name        string `json:"name,omitempty"`
	ContainerID string `json:"container_id,omitempty"`
	Image       string `json:"image,omitempty"`
	Kind        string `json:"kind,omitempty"`
	State       string `json:"state,omitempty"`
	Status      string `json:"status,omitempty"`
	IPv4Address string `json:"ipv4_address,omitempty"`
	IPv6Address string `json:"ipv6_address,omitempty"`
	Owner       string `json:"owner,omitempty"`
}

// Containerlab is an installed double.
type Containerlab struct {
	Version string
	Dir     string // holds the script, its outputs and its call log
}

// Grouped reports whether a version prints inspect output keyed by lab name (v0.68 and later).
func Grouped(version string) bool {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return true
	}
	maj, _ := strconv.Atoi(parts[0])
	min, _ := strconv.Atoi(parts[1])
	return maj > 0 || min >= 68
}

// InspectJSON is what `containerlab inspect --format json` prints at that version for these
// containers ("" for nothing at all).
func InspectJSON(version string, nodes []Node) string {
	grouped := Grouped(version)
	if len(nodes) == 0 {
		if grouped {
			return "{}\n"
		}
		return ""
	}
	var list []details
	for _, n := range nodes {
		d := details{LabName: n.Lab, Name: n.Name, ContainerID: n.ContainerID, Image: n.Image, Kind: n.Kind,
			State: n.State, IPv4Address: n.IPv4, IPv6Address: n.IPv6, Owner: n.Owner}
		d.LabPath = n.LabPath
		if d.LabPath == "" {
			d.LabPath = n.AbsLabPath
		}
		if grouped {
			d.AbsLabPath, d.Status = n.AbsLabPath, shortStatus(n.Status)
		}
		list = append(list, d)
	}
	var v any = map[string][]details{"containers": list}
	if grouped {
		byLab := map[string][]details{}
		for _, d := range list {
			byLab[d.LabName] = append(byLab[d.LabName], d)
		}
		v = byLab
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b) + "\n"
}

// shortStatus is containerlab's parseStatus: the health state when docker reports one.
func shortStatus(s string) string {
	switch {
	case strings.Contains(s, "healthy") && !strings.Contains(s, "unhealthy"):
		return "healthy"
	case strings.Contains(s, "health: starting"):
		return "health: starting"
	case strings.Contains(s, "unhealthy"):
		return "unhealthy"
	}
	return s
}

// VersionOutput is what `containerlab version` prints.
func VersionOutput(version string) string {
	v := strings.TrimPrefix(version, "v")
	slug := ""
	if p := strings.SplitN(v, ".", 3); len(p) == 3 {
		slug = p[0] + "." + p[1] + "/"
		if p[2] != "0" {
			slug += "#" + p[0] + p[1] + p[2]
		}
	}
	return "                           _                   _       _     \n" +
		"                 _        (_)                 | |     | |    \n" +
		" ____ ___  ____ | |_  ____ _ ____   ____  ____| | ____| | _  \n\n" +
		"    version: " + v + "\n" +
		"     commit: 0123abcd\n" +
		"       date: 2026-11-01T00:00:00Z\n" +
		"     source: https://github.com/srl-labs/containerlab\n" +
		" rel. notes: https://containerlab.dev/rn/" + slug + "\n"
}

// Install writes the double for this containerlab version into a temporary directory and puts
// it first on PATH for the rest of the test. nodes are what inspect lists.
func Install(t testing.TB, version string, nodes ...Node) *Containerlab {
	t.Helper()
	dir := t.TempDir()
	c := &Containerlab{Version: version, Dir: dir}
	write := func(name, data string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("version.out", VersionOutput(version), 0o644)
	write("inspect.out", InspectJSON(version, nodes), 0o644)
	write("calls", "", 0o644)
	write("containerlab", script(dir, Grouped(version)), 0o755)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return c
}

// Calls is every invocation so far, each as its argument list.
func (c *Containerlab) Calls(t testing.TB) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.Dir, "calls"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, rec := range strings.Split(string(data), "\x1e\n") {
		if rec == "" {
			continue
		}
		out = append(out, strings.Split(strings.TrimSuffix(rec, "\x1f"), "\x1f"))
	}
	return out
}

// script is the double. Arguments are logged separated by US (0x1f), calls by RS (0x1e).
func script(dir string, grouped bool) string {
	empty := `echo "INFO no containers found" >&2`
	if grouped {
		empty = `echo "{}"`
	}
	return fmt.Sprintf(`#!/bin/sh
# containerlab double (knetlab tests): see internal/provider/clab/clabtest.
D=%q
for a in "$@"; do printf '%%s\037' "$a" >> "$D/calls"; done
printf '\036\n' >> "$D/calls"
fail() { echo "Error: $*" >&2; exit 1; }
cmd=""; topo=""; name=""; format="table"; all=""
while [ $# -gt 0 ]; do
  case "$1" in
    -t|--topo) [ $# -ge 2 ] || fail "flag needs an argument: $1"; topo="$2"; shift ;;
    --topo=*) topo="${1#--topo=}" ;;
    --name) [ $# -ge 2 ] || fail "flag needs an argument: $1"; name="$2"; shift ;;
    --log-level|--runtime|-r|--timeout|--vars|--max-workers|--node-filter|--network|--export-template)
      [ $# -ge 2 ] || fail "flag needs an argument: $1"; shift ;;
    -d|--debug) ;;
    -f|--format) [ $# -ge 2 ] || fail "flag needs an argument: $1"; format="$2"; shift ;;
    -c|--cleanup|--reconfigure|-a|--all|--graceful|--keep-mgmt-net|--details|--wide|--skip-post-deploy)
      case "$cmd:$1" in
        deploy:-c|deploy:--reconfigure|destroy:-c|destroy:--cleanup|destroy:--graceful|destroy:--keep-mgmt-net|deploy:--skip-post-deploy) ;;
        destroy:-a|destroy:--all|inspect:-a|inspect:--all) all=1 ;;
        inspect:--details|inspect:--wide) ;;
        *) fail "unknown flag: $1" ;;
      esac ;;
    -*) fail "unknown flag: $1" ;;
    *) [ -z "$cmd" ] || fail "unknown command \"$1\" for \"containerlab $cmd\""; cmd="$1" ;;
  esac
  shift
done
if [ -n "$topo" ] && [ ! -f "$topo" ]; then
  fail "failed to read topology file: open $topo: no such file or directory"
fi
case "$cmd" in
  version) cat "$D/version.out" ;;
  inspect)
    case "$format" in json|table) ;; *) fail "output format $format is not supported, use 'table' or 'json'" ;; esac
    [ -n "$topo$name$all" ] || fail "provide either a lab name (--name) or a topology file path (--topo) or the --all flag"
    if [ "$format" = json ]; then
      if [ -s "$D/inspect.out" ]; then cat "$D/inspect.out"; else %s; fi
    else
      echo "(table output is not part of the double)"
    fi ;;
  deploy)
    [ -n "$topo" ] || fail "topology file is required"
    echo "INFO Containerlab started version=double" >&2
    echo "INFO Parsing & checking topology file=$topo" >&2 ;;
  destroy)
    [ -n "$topo$name$all" ] || fail "provide either a lab name (--name) or a topology file path (--topo) or the --all flag"
    echo "INFO Parsing & checking topology file=$topo" >&2
    echo "INFO Destroying lab" >&2 ;;
  "") echo "Usage: containerlab [command]" ;;
  *) fail "unknown command \"$cmd\" for \"containerlab\"" ;;
esac
`, dir, empty)
}
