// Package kindnode is a test double of a kind node container: an nodeexec.Execer that knows
// exactly the commands of kind's node image at the version knetlab pins (kind v0.27.0,
// kindest/node:v1.32.2) and answers any other command the way bash does, "command not found"
// with exit 127. Collectors' tests run through it, so a collector that calls a command the
// image lacks (ping, tcpdump, ss from a package kind does not install…) fails in CI instead of
// on a real lab.
package kindnode

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/knetlab/knetlab/internal/collect/nodeexec"
)

// Commands are the executables on the PATH of kindest/node built by kind v0.27.0
// (images/base/Dockerfile at tag v0.27.0): debian:bookworm-slim's base system, the packages the
// Dockerfile's clean-install adds (systemd conntrack iptables nftables iproute2 ethtool
// util-linux mount kmod libseccomp2 pigz fuse-overlayfs nfs-common open-iscsi bash
// ca-certificates curl jq procps), the binaries it copies in (containerd, ctr,
// containerd-shim-runc-v2, runc, crictl, containerd-fuse-overlayfs-grpc), its own scripts
// (clean-install, entrypoint) and the Kubernetes binaries of the node image (kubeadm, kubelet,
// kubectl). Not there: iputils (ping — kubernetes-sigs/kind#3710, closed as won't add),
// tcpdump, netcat, dnsutils, python.
var Commands = set(
	// debian:bookworm-slim: coreutils, dash, grep, sed, findutils, gzip, tar, util-linux's
	// essentials, hostname, login, mawk, diffutils.
	"sh", "dash", "cat", "echo", "printf", "true", "false", "test", "[", "ls", "cp", "mv", "rm",
	"mkdir", "rmdir", "ln", "chmod", "chown", "touch", "head", "tail", "cut", "sort", "uniq", "wc",
	"tr", "tee", "env", "id", "uname", "date", "sleep", "basename", "dirname", "readlink",
	"realpath", "stat", "df", "du", "sync", "timeout", "nproc", "seq", "yes", "base64",
	"sha256sum", "md5sum", "od", "stty", "grep", "egrep", "fgrep", "sed", "find", "xargs", "gzip",
	"gunzip", "zcat", "tar", "hostname", "awk", "mawk", "diff", "cmp", "which", "su", "login",
	// bash, ca-certificates, curl, jq
	"bash", "curl", "jq", "update-ca-certificates",
	// iproute2
	"ip", "bridge", "ss", "tc", "rtmon", "ctstat", "lnstat", "nstat", "routel", "devlink", "rdma",
	// iptables (nft and legacy back ends), nftables, conntrack, ethtool, kmod
	"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save",
	"ip6tables-restore", "iptables-nft", "iptables-nft-save", "iptables-nft-restore",
	"iptables-legacy", "iptables-legacy-save", "iptables-legacy-restore", "ip6tables-nft",
	"ip6tables-legacy", "xtables-nft-multi", "xtables-legacy-multi", "arptables", "ebtables",
	"nft", "conntrack", "ethtool", "kmod", "modprobe", "lsmod", "insmod", "rmmod", "modinfo",
	// procps
	"ps", "pgrep", "pkill", "pidof", "top", "free", "sysctl", "uptime", "vmstat", "watch", "kill",
	"pmap", "pwdx", "slabtop", "tload", "w",
	// util-linux, mount
	"nsenter", "unshare", "mount", "umount", "losetup", "lsblk", "findmnt", "blkid", "flock",
	"setsid", "logger", "more", "mountpoint", "lsns", "chroot",
	// systemd
	"systemctl", "journalctl", "systemd", "systemd-run", "loginctl", "hostnamectl",
	// pigz, fuse-overlayfs, nfs-common, open-iscsi
	"pigz", "unpigz", "fuse-overlayfs", "mount.nfs", "showmount", "iscsiadm",
	// copied in by the Dockerfile, and kind's own scripts
	"containerd", "ctr", "containerd-shim-runc-v2", "runc", "crictl",
	"containerd-fuse-overlayfs-grpc", "clean-install", "entrypoint",
	// the node image's Kubernetes binaries
	"kubeadm", "kubelet", "kubectl",
)

// keywords precede the command they run; builtins are the shell's own commands, never looked up
// on the PATH (their arguments are not commands either).
var (
	keywords = set("if", "then", "else", "elif", "while", "until", "do", "done", "fi", "!", "{",
		"}", "exec", "time")
	builtins = set("set", "trap", "exit", "cd", "export", "local", "return", "shift", "read",
		"wait", "eval", ".", ":", "unset", "break", "continue", "for", "case", "esac", "in")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// Node answers as a kind node: a command line that calls a command the image lacks fails as bash
// fails it; any other goes to Next (recorded outputs, a stub).
type Node struct {
	Next nodeexec.Execer
}

// ExitError is a command's non-zero exit inside the node.
type ExitError struct {
	Node   string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("in %s exited %d: %s", e.Node, e.Code, e.Stderr)
}

// Exec implements nodeexec.Execer.
func (n Node) Exec(ctx context.Context, node string, argv []string) ([]byte, error) {
	if missing := Missing(argv); missing != "" {
		return nil, &ExitError{Node: node, Code: 127, Stderr: "bash: line 1: " + missing + ": command not found"}
	}
	return n.Next.Exec(ctx, node, argv)
}

// Missing returns the first command argv would run that the image lacks, or "". It follows
// `ip netns exec NS cmd…`, `nsenter … -- cmd…` and the simple commands of `sh -c`/`bash -c`
// scripts (heredoc bodies and quoted strings are data, not commands).
func Missing(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	cmd := path.Base(argv[0])
	if !Commands[cmd] {
		return argv[0]
	}
	switch {
	case (cmd == "sh" || cmd == "bash" || cmd == "dash") && len(argv) >= 3 && argv[1] == "-c":
		return missingInScript(argv[2])
	case cmd == "ip" && len(argv) >= 5 && argv[1] == "netns" && argv[2] == "exec":
		return Missing(argv[4:])
	case cmd == "nsenter":
		for i, a := range argv {
			if a == "--" {
				return Missing(argv[i+1:])
			}
		}
	}
	return ""
}

// missingInScript scans a shell script's simple commands.
func missingInScript(script string) string {
	for _, words := range simpleCommands(script) {
		for len(words) > 0 && (keywords[words[0]] || strings.Contains(words[0], "=")) {
			words = words[1:]
		}
		if len(words) > 0 && words[0] == "command" { // command -v X asks; it runs nothing
			if len(words) > 1 && strings.HasPrefix(words[1], "-") {
				continue
			}
			words = words[1:]
		}
		if len(words) == 0 || builtins[words[0]] {
			continue
		}
		if m := Missing(words); m != "" {
			return m
		}
	}
	return ""
}

// simpleCommands splits a script into the words of its simple commands: at newlines, ; & | ( )
// and $(, skipping quoted strings' contents (kept as one word), comments and heredoc bodies.
func simpleCommands(script string) [][]string {
	var out [][]string
	var words []string
	var word strings.Builder
	var heredoc string // the delimiter of a heredoc that starts on the next line
	flushWord := func() {
		if word.Len() > 0 {
			words = append(words, word.String())
			word.Reset()
		}
	}
	flush := func() {
		flushWord()
		if len(words) > 0 {
			out = append(out, words)
		}
		words = nil
	}
	lines := strings.Split(script, "\n")
	for li := 0; li < len(lines); li++ {
		line := lines[li]
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case c == '\'' || c == '"':
				end := strings.IndexByte(line[i+1:], c)
				if end < 0 {
					end = len(line) - i - 1
				}
				word.WriteString(line[i+1 : i+1+end])
				i += end + 1
			case c == '#' && word.Len() == 0:
				i = len(line)
			case c == '<' && strings.HasPrefix(line[i:], "<<"):
				flushWord()
				j := i + 2
				for j < len(line) && (line[j] == '-' || line[j] == ' ') {
					j++
				}
				k := j
				for k < len(line) && line[k] != ' ' && line[k] != ';' {
					k++
				}
				heredoc = strings.Trim(line[j:k], `'"`)
				i = k - 1
			case c == '$' && i+1 < len(line) && line[i+1] == '(':
				flush()
				i++
			case c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '`':
				flush()
			case c == ' ' || c == '\t':
				flushWord()
			case c == '>' || c == '<':
				// a redirection: its target is not a command word
				flushWord()
				for i+1 < len(line) && (line[i+1] == '>' || line[i+1] == '&' || line[i+1] == ' ') {
					i++
				}
				for i+1 < len(line) && line[i+1] != ' ' && line[i+1] != ';' {
					i++
				}
			default:
				word.WriteByte(c)
			}
		}
		flush()
		if heredoc != "" {
			for li+1 < len(lines) && strings.TrimSpace(lines[li+1]) != heredoc {
				li++
			}
			li++ // the delimiter line
			heredoc = ""
		}
	}
	return out
}
