package agenttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BIRDProcesses lists the running BIRD processes whose files (configuration, control socket)
// lie under dir, as "PID COMMAND LINE": what an agent in BGP mode, or a lab's destroy, must
// not leave behind.
func BIRDProcesses(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if filepath.Base(args[0]) == "bird" && strings.Contains(string(cmdline), dir+"/") {
			out = append(out, e.Name()+" "+strings.Join(args, " "))
		}
	}
	return out
}
