package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// `knetlab switch <lab> …` prints the netns lab's switch in EOS's words: the four ports in their
// VLANs with their descriptions, both SVIs up with the gateway addresses, both connected routes.
func TestSwitchShowsTheLabSwitch(t *testing.T) {
	file, name := deployCNILab(t)
	for _, tt := range []struct {
		cmd  []string
		want []string // regular expressions, one per line that must appear
	}{
		{[]string{"show", "vlan"}, []string{
			`(?m)^10\s+Calico-Network\s+active\s+Cpu, Et1, Et2, Et3$`,
			`(?m)^20\s+Calico-Network-2\s+active\s+Cpu, Et4$`,
		}},
		{[]string{"show", "interfaces", "status"}, []string{
			`(?m)^Port\s+Name\s+Status\s+Vlan\s+Duplex`,
			`(?m)^Et1\s+Connection to k01-control-plane connected\s+10$`,
			`(?m)^Et4\s+Connection to k01-worker3\s+connected\s+20$`,
		}},
		{[]string{"sh", "ip", "int", "br"}, []string{
			`(?m)^Vlan10\s+10\.10\.10\.1/24\s+up\s+up\s+1500$`,
			`(?m)^Vlan20\s+10\.10\.20\.1/24\s+up\s+up\s+1500$`,
		}},
		{[]string{"show", "ip", "route"}, []string{
			`(?m)^ C\s+10\.10\.10\.0/24\n\s+directly connected, Vlan10$`,
			`(?m)^ C\s+10\.10\.20\.0/24\n\s+directly connected, Vlan20$`,
		}},
	} {
		args := append([]string{"switch", name}, tt.cmd...)
		code, out, stderr := run(t, append(args, "--lab-file", file)...)
		if code != 0 {
			t.Errorf("%s: exit %d\n%s", strings.Join(tt.cmd, " "), code, stderr)
			continue
		}
		for _, re := range tt.want {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("%s: no line matching %s in\n%s", strings.Join(tt.cmd, " "), re, out)
			}
		}
	}
	if code, _, stderr := run(t, "switch", name, "show", "running-config", "--lab-file", file); code != 2 || !strings.Contains(stderr, "show vlan") {
		t.Errorf("show running-config: exit %d, want 2 naming the commands\n%s", code, stderr)
	}
}
