package parse

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Sysctls reads `sysctl -a` output: "key = value" lines. Other lines (errors sysctl printed for
// unreadable keys, comments) are skipped.
func Sysctls(data []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "sysctl:") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			continue
		}
		out[key] = strings.TrimSpace(value)
	}
	return out
}

// FormatSysctls prints sysctls as `sysctl -a` does, one "key = value" line each, sorted by key.
func FormatSysctls(sysctls map[string]string) []byte {
	keys := make([]string, 0, len(sysctls))
	for k := range sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, sysctls[k])
	}
	return []byte(b.String())
}

// ProcSys turns `grep -H . /proc/sys/...` output ("/proc/sys/net/ipv4/ip_forward:1") into
// sysctl keys ("net.ipv4.ip_forward" → "1"). Lines that are not under /proc/sys are ignored.
func ProcSys(out []byte) map[string]string {
	m := map[string]string{}
	for _, line := range bytes.Split(out, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		path, value, ok := strings.Cut(s, ":")
		if !ok || !strings.HasPrefix(path, "/proc/sys/") {
			continue
		}
		key := strings.ReplaceAll(strings.TrimPrefix(path, "/proc/sys/"), "/", ".")
		m[key] = strings.TrimSpace(value)
	}
	return m
}

// ProcSysPath turns a sysctl key ("net.ipv4.conf.eth0.forwarding") into its /proc/sys path, the
// opposite of ProcSys. Interface names may hold dots ("eth0.10"), which /proc/sys keeps as
// dots, so the key is split on the known prefixes.
func ProcSysPath(key string) string {
	for _, prefix := range []string{"net.ipv4.conf.", "net.ipv4.neigh.", "net.ipv6.conf.", "net.ipv6.neigh."} {
		if rest, ok := strings.CutPrefix(key, prefix); ok {
			if i := strings.LastIndexByte(rest, '.'); i > 0 {
				return filepath.Join("/proc/sys", strings.ReplaceAll(prefix, ".", "/"), rest[:i], rest[i+1:])
			}
		}
	}
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}
