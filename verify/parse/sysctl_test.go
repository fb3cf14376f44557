package parse

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSysctls(t *testing.T) {
	in := "net.ipv4.conf.cali33a6ed01365.proxy_arp = 1\r\n" +
		"net.ipv4.neigh.cali33a6ed01365.proxy_delay=0\n" +
		"   net.ipv4.ip_local_port_range = 32768\t60999  \n" +
		"kernel.domainname = (none)\n" +
		"# a comment = not a key\n" +
		"sysctl: permission denied on key \"fs.protected_regular\"\n" +
		"sysctl: reading key \"net.ipv6.conf.all.stable_secret\"\n" +
		"not a sysctl line\n" +
		"bad key = 1\n" +
		"net.ipv4.conf.all.rp_filter =\n"
	want := map[string]string{
		"net.ipv4.conf.cali33a6ed01365.proxy_arp":    "1",
		"net.ipv4.neigh.cali33a6ed01365.proxy_delay": "0",
		"net.ipv4.ip_local_port_range":               "32768\t60999",
		"kernel.domainname":                          "(none)",
		"net.ipv4.conf.all.rp_filter":                "",
	}
	got := Sysctls([]byte(in))
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if d := cmp.Diff(want, Sysctls(FormatSysctls(got))); d != "" {
		t.Errorf("printed and read again (-want +got)\n%s", d)
	}
}

func TestFormatSysctlsSortsByKey(t *testing.T) {
	got := string(FormatSysctls(map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0"}))
	want := "net.ipv4.conf.all.rp_filter = 0\nnet.ipv4.ip_forward = 1\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestProcSys(t *testing.T) {
	got := ProcSys([]byte("/proc/sys/net/ipv4/ip_forward:1\n" +
		"/proc/sys/net/ipv4/conf/cali0123456789a/proxy_arp:1\r\n" +
		"grep: /proc/sys/x: No such file\n\n" +
		"/proc/sys/net/ipv4/neigh/eth0/proxy_delay:80\n"))
	want := map[string]string{
		"net.ipv4.ip_forward":                     "1",
		"net.ipv4.conf.cali0123456789a.proxy_arp": "1",
		"net.ipv4.neigh.eth0.proxy_delay":         "80",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestProcSysPath(t *testing.T) {
	for key, want := range map[string]string{
		"net.ipv4.ip_forward":                        "/proc/sys/net/ipv4/ip_forward",
		"net.ipv4.conf.cali1234567890a.proxy_arp":    "/proc/sys/net/ipv4/conf/cali1234567890a/proxy_arp",
		"net.ipv4.neigh.cali1234567890a.proxy_delay": "/proc/sys/net/ipv4/neigh/cali1234567890a/proxy_delay",
		"net.ipv4.conf.eth0.10.forwarding":           "/proc/sys/net/ipv4/conf/eth0.10/forwarding",
	} {
		if got := ProcSysPath(key); got != want {
			t.Errorf("ProcSysPath(%q) = %q, want %q", key, got, want)
		}
		// ProcSys reads the path back as the key it came from.
		if back := ProcSys([]byte(want + ":1\n")); back[key] != "1" || len(back) != 1 {
			t.Errorf("ProcSys(%q) = %v, want key %q", want, back, key)
		}
	}
}
