package e2e

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/cli"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/testenv"
	"github.com/knetlab/knetlab/internal/ui"
)

// The docs test: every block of a docs page that shows knetlab commands and their output is
// marked, and a real run of the lab prints what the block shows. How it works, and how to
// regenerate the pages (`make docs`), is in docs/architecture.md ("Docs outputs").

var update = flag.Bool("update", false, "TestDocs: rewrite the outputs of the docs pages from this run")

// docPages are the pages whose command outputs are kept true, relative to docs/.
var docPages = []string{
	"labs/pod-network.md",
	"labs/calico-overlay.md",
	"labs/calico-bgp.md",
	"break-fix.md",
	"trace.md",
}

// docColumns is the terminal width the documented outputs are taken at.
const docColumns = 100

// docBlock is one fenced block of a page and its marker.
type docBlock struct {
	marker int    // line of the marker, from 1
	open   int    // index of the opening fence line
	close  int    // index of the closing fence line
	indent string // the fence's indentation, which every line of the block has
	attrs  map[string]string
	cmds   []docCmd
}

// docCmd is one "$ knetlab …" line of a block and the output lines below it.
type docCmd struct {
	line       int // line of the command, from 1
	text       string
	argv       []string // after "knetlab"
	background bool     // "# the other terminal": runs while the next command runs
	output     []string // as the page shows it
	outLine    int      // line of the first output line, from 1
}

var (
	markerRE = regexp.MustCompile(`^\s*<!-- run: (.*?)\s*-->\s*$`)
	fenceRE  = regexp.MustCompile("^(\\s*)```")
	// shownRE is a line that shows a knetlab command, or a shell prompt, inside a block.
	shownRE = regexp.MustCompile(`^\s*(\$ |# )?(sudo )?knetlab |^\s*\$ `)
	attrRE  = regexp.MustCompile(`(\w+)(?:=("[^"]*"|\S+))?`)
)

// parsePage splits a page into its lines and marked blocks. It fails on a marker that is not
// right above a fence, an unknown attribute, a run block without a command, and on a block
// that shows a command and has no marker.
func parsePage(page string, data []byte) (lines []string, blocks []docBlock, err error) {
	lines = strings.Split(string(data), "\n")
	var unmarked []error
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent := m[1]
		end := i + 1
		for end < len(lines) && !(strings.HasPrefix(lines[end], indent+"```") && strings.TrimSpace(lines[end]) == "```") {
			end++
		}
		if end == len(lines) {
			return nil, nil, fmt.Errorf("%s:%d: a fenced block that never closes", page, i+1)
		}
		var marker string
		if i > 0 {
			if mm := markerRE.FindStringSubmatch(lines[i-1]); mm != nil {
				marker = mm[1]
			}
		}
		if marker == "" {
			for _, l := range lines[i+1 : end] {
				if shownRE.MatchString(l) {
					unmarked = append(unmarked, fmt.Errorf("%s:%d: a block that shows a command (%q) has no marker: add <!-- run: lab=… --> or <!-- run: skip reason=\"…\" --> above it", page, i+1, strings.TrimSpace(l)))
					break
				}
			}
			i = end
			continue
		}
		b := docBlock{marker: i, open: i, close: end, indent: indent, attrs: map[string]string{}}
		for _, a := range attrRE.FindAllStringSubmatch(marker, -1) {
			b.attrs[a[1]] = strings.Trim(a[2], `"`)
		}
		for k := range b.attrs {
			if !slices.Contains([]string{"lab", "skip", "reason", "fresh", "after", "head", "tail", "blocks"}, k) {
				return nil, nil, fmt.Errorf("%s:%d: marker attribute %q unknown (lab, fresh, after, head, tail; skip reason)", page, i, k)
			}
		}
		if _, skip := b.attrs["skip"]; skip {
			if b.attrs["reason"] == "" {
				return nil, nil, fmt.Errorf("%s:%d: a skip marker needs reason=\"…\"", page, i)
			}
			i = end
			continue
		}
		if b.attrs["lab"] == "" {
			return nil, nil, fmt.Errorf("%s:%d: a run marker needs lab=<lab>", page, i)
		}
		for k := i + 1; k < end; k++ {
			l := strings.TrimPrefix(lines[k], indent)
			if strings.HasPrefix(l, "$ ") {
				c, err := parseCmd(strings.TrimPrefix(l, "$ "))
				if err != nil {
					return nil, nil, fmt.Errorf("%s:%d: %v", page, k+1, err)
				}
				c.line, c.outLine = k+1, k+2
				b.cmds = append(b.cmds, c)
				continue
			}
			if len(b.cmds) == 0 {
				return nil, nil, fmt.Errorf("%s:%d: output before the block's first \"$ knetlab …\" line", page, k+1)
			}
			c := &b.cmds[len(b.cmds)-1]
			c.output = append(c.output, l)
		}
		if len(b.cmds) == 0 {
			return nil, nil, fmt.Errorf("%s:%d: a run block without a \"$ knetlab …\" line", page, i+1)
		}
		blocks = append(blocks, b)
		i = end
	}
	return lines, blocks, errors.Join(unmarked...)
}

// parseCmd reads one command line: shell words (single and double quotes), an optional
// "sudo", then "knetlab"; a " # comment" ends it.
func parseCmd(text string) (docCmd, error) {
	c := docCmd{text: text}
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for i, r := range text {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '#' && !inWord:
			comment := strings.TrimSpace(text[i+1:])
			c.background = comment == "the other terminal"
			goto done
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return c, fmt.Errorf("unterminated quote in %q", text)
	}
done:
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) > 0 && words[0] == "sudo" {
		words = words[1:]
	}
	if len(words) < 2 || words[0] != "knetlab" {
		return c, fmt.Errorf("%q is not a knetlab command (a run block runs knetlab only)", text)
	}
	c.argv = words[1:]
	return c, nil
}

// shown is the part of out a block shows: all of it, or its first head and last tail lines
// around a "..." line when it is longer.
func shown(out []string, head, tail int) []string {
	if head+tail == 0 || len(out) <= head+tail {
		return out
	}
	s := append([]string{}, out[:head]...)
	s = append(s, "...")
	return append(s, out[len(out)-tail:]...)
}

// lockedBuffer is one stream for stdout and stderr, in the order they were written, as a
// terminal shows them.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// runShown runs knetlab as a person does at a 100-column terminal whose output is read back
// (stdout and stderr interleaved), and returns the exit code and the output lines, trailing
// spaces trimmed.
func runShown(argv []string) (int, []string) {
	var buf lockedBuffer
	code := cli.Main(argv, &ui.Streams{In: strings.NewReader(""), Out: &buf, Err: &buf, Width: docColumns}, providers())
	text := strings.TrimRight(buf.b.String(), "\n")
	if text == "" {
		return code, nil
	}
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t")
	}
	return code, lines
}

// What legitimately differs between two runs of the same lab, and is normalised away before
// a documented output is compared with a run's. Everything else — block CIDRs, pod and tunnel
// addresses, veth names, VTEP MACs, interface indexes, counts, the wording — is the same run
// after run on the netns provider (blocks come from a hash of the node name), so it is
// compared as it is.
var (
	normalisers = []struct {
		re   *regexp.Regexp
		with string
	}{
		{regexp.MustCompile(`\d{4}-\d\d-\d\d[T\s]\d\d:\d\d:\d\d(\.\d+)?Z?`), "<time>"},
		{regexp.MustCompile(`\btime[= ]\d+(\.\d+)? ?ms\b`), "time=<dur>"},
		{regexp.MustCompile(`\bafter \d+ ms\b`), "after <dur>"},
		{regexp.MustCompile(`<?\b\d+(\.\d+)?(ns|µs|us|ms|s)\b`), "<dur>"},
		{regexp.MustCompile(`\bexpires \d+sec\b`), "expires <dur>"},
		{regexp.MustCompile(`\brtt min/avg/max/mdev = \S+ ms`), "rtt <dur>"},
		{regexp.MustCompile(`(\bpid|-CONT)(\s+)\d+`), "$1$2<pid>"},
		{regexp.MustCompile(`\bfe80::[0-9a-f:]+/64`), "<link-local>"},
		{regexp.MustCompile(` tentative\b`), ""},
		{regexp.MustCompile(`\b(REACHABLE|STALE|DELAY|PROBE)\b`), "<nud>"},
		{regexp.MustCompile(`\d+ NOTIFICATION messages sent, \d+ received`), "<n> NOTIFICATION messages sent, <n> received"},
		// A BGP session that is down is Idle, Connect or Active by turns as it retries.
		{regexp.MustCompile(`\b(Idle|Connect|Active|OpenSent|OpenConfirm)\b`), "<bgp-down>"},
	}
	macRE      = regexp.MustCompile(`\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b`)
	clockRE    = regexp.MustCompile(`\b\d\d:\d\d:\d\d\b`)
	numberRE   = regexp.MustCompile(`[+]?\b\d+\b`)
	progressRE = regexp.MustCompile(`agents: \d+/\d+ nodes registered$`)
	// Listings whose order is not the lab's: neighbours and FDB entries (the kernel's hash
	// order).
	unorderedCmd = regexp.MustCompile(`\bip (-\S+ )*neigh\b|\bbridge fdb\b`)
)

// normaliser normalises the outputs of one lab.
type normaliser struct {
	fixedMACs map[string]bool // MACs that are the same every run: the VTEP MACs, ee:…
}

func newNormaliser(t *testing.T, labName string) normaliser {
	t.Helper()
	l, err := lab.Load(labName)
	if err != nil {
		t.Fatal(err)
	}
	n := normaliser{fixedMACs: map[string]bool{"ee:ee:ee:ee:ee:ee": true, "00:00:00:00:00:00": true, "ff:ff:ff:ff:ff:ff": true}}
	for _, node := range l.Nodes {
		// Calico's VXLAN MAC when none is configured: 0x66 and the first five bytes of SHA-1.
		sum := sha1.Sum([]byte(node.Name))
		n.fixedMACs[fmt.Sprintf("66:%02x:%02x:%02x:%02x:%02x", sum[0], sum[1], sum[2], sum[3], sum[4])] = true
	}
	return n
}

// lines normalises the output lines of argv: see normalisers, applied to the whole output so
// that a value wrapped onto the next line ("(pid" / "4321 exited)") is found too. Whitespace
// runs count as one space (a column widened by a longer duration is the same shape); watch's
// counters and clock are numbers; the listings of unorderedCmd are sorted. A progress line that depends on timing (how many agents had registered)
// is dropped.
func (n normaliser) lines(argv []string, out []string) []string {
	cmd := strings.Join(argv, " ")
	var kept []string
	for _, l := range out {
		if !progressRE.MatchString(l) {
			kept = append(kept, l)
		}
	}
	text := macRE.ReplaceAllStringFunc(strings.Join(kept, "\n"), func(m string) string {
		if n.fixedMACs[m] {
			return m
		}
		return "<mac>"
	})
	for _, r := range normalisers {
		text = r.re.ReplaceAllString(text, r.with)
	}
	if len(argv) > 0 && argv[0] == "watch" {
		text = clockRE.ReplaceAllString(text, "<clock>")
		text = numberRE.ReplaceAllString(text, "<n>")
	}
	var res []string
	for _, l := range strings.Split(text, "\n") {
		res = append(res, strings.Join(strings.Fields(l), " "))
	}
	if len(kept) == 0 {
		res = nil
	}
	if unorderedCmd.MatchString(cmd) {
		slices.Sort(res)
	}
	return res
}

// docLab is the deployed state of one lab while a page runs.
type docLab struct {
	deployed bool
}

// TestDocsMarkers: every block of the docs pages that shows a command has a marker, and every
// marker parses. Needs no lab.
func TestDocsMarkers(t *testing.T) {
	for _, page := range docPages {
		data, err := os.ReadFile(filepath.Join("..", "docs", page))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := parsePage(page, data); err != nil {
			t.Error(err)
		}
	}
}

// TestDocs runs every marked block of the docs pages on a netns lab, in page order, at 100
// columns, and fails where a documented output differs from what the lab prints, after
// normalising what differs from run to run. With -update it rewrites the outputs instead.
func TestDocs(t *testing.T) {
	testenv.RequireLab(t, "ip")
	t.Setenv("COLUMNS", strconv.Itoa(docColumns))
	for _, page := range docPages {
		t.Run(strings.TrimSuffix(filepath.Base(page), ".md"), func(t *testing.T) { runPage(t, page) })
	}
}

func runPage(t *testing.T, page string) {
	path, err := filepath.Abs(filepath.Join("..", "docs", page))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines, blocks, err := parsePage(page, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		return
	}
	root := t.TempDir()
	t.Setenv("KNETLAB_STATE_DIR", root)
	work := t.TempDir() // the working directory, where a page's ./capture directories go
	t.Chdir(work)
	labs := map[string]*docLab{}
	// wantBlocks: lab → the blocks its outputs show (a marker's blocks=), for a lab whose blocks
	// depend on the order its agents registered in.
	wantBlocks := map[string]string{}
	for _, b := range blocks {
		if v := b.attrs["blocks"]; v != "" {
			wantBlocks[b.attrs["lab"]] = v
		}
	}
	norms := map[string]normaliser{}
	for _, b := range blocks {
		name := b.attrs["lab"]
		if labs[name] != nil {
			continue
		}
		// The outputs show the lab's own name (in namespaces, in messages, in how lines wrap),
		// so the lab is deployed under it; a lab of that name already on this host would share
		// its namespaces.
		if ns := labNamespaces(t, name); len(ns) > 0 {
			t.Fatalf("a lab %s is deployed on this host (%s): the docs test deploys its own under that name; destroy it first", name, strings.Join(ns, ", "))
		}
		labs[name] = &docLab{}
		norms[name] = newNormaliser(t, name)
	}
	before := snapshotHost(t, root)
	t.Cleanup(func() {
		for name, l := range labs {
			if l.deployed {
				if code, out := runShown([]string{"destroy", name}); code != 0 {
					t.Errorf("destroy %s: exit %d\n%s", name, code, strings.Join(out, "\n"))
				}
			}
			if ns := labNamespaces(t, name); len(ns) > 0 {
				t.Errorf("namespaces of %s left behind: %v", name, ns)
			}
		}
		if leaks := snapshotHost(t, root).leaksSince(before); len(leaks) > 0 {
			t.Errorf("%s left: %v", page, leaks)
		}
	})

	silent := func(b docBlock, argv ...string) {
		t.Helper()
		if code, out := runShown(argv); code != 0 {
			t.Fatalf("%s:%d: knetlab %s (the marker's step): exit %d\n%s", page, b.marker, strings.Join(argv, " "), code, strings.Join(out, "\n"))
		}
	}
	var edits []struct {
		b   docBlock
		out [][]string
	}
	for _, b := range blocks {
		name := b.attrs["lab"]
		l := labs[name]
		if _, fresh := b.attrs["fresh"]; fresh && l.deployed {
			silent(b, "destroy", name)
			l.deployed = false
		}
		if !l.deployed && b.cmds[0].argv[0] != "deploy" {
			silent(b, "deploy", name)
			for i := 0; !blocksAsShown(t, name, wantBlocks[name]); i++ {
				if i == maxDeploys {
					t.Fatalf("%s: %d deploys of %s never gave the blocks the page shows (%s)", page, maxDeploys, name, wantBlocks[name])
				}
				silent(b, "destroy", name)
				silent(b, "deploy", name)
			}
			l.deployed = true
		}
		if after := b.attrs["after"]; after != "" {
			for _, step := range strings.Split(after, ";") {
				w := strings.Fields(step)
				if len(w) == 0 {
					continue
				}
				if w[0] == "sleep" { // what a person waits before the block: the agent's resync
					d, err := time.ParseDuration(strings.Join(w[1:], ""))
					if err != nil {
						t.Fatalf("%s:%d: step %q: %v", page, b.marker, step, err)
					}
					time.Sleep(d)
					continue
				}
				if w[0] == "rm" { // a file removed by hand, inside the working directory
					if len(w) != 2 || !filepath.IsLocal(w[1]) {
						t.Fatalf("%s:%d: step %q: rm takes one path inside the working directory", page, b.marker, step)
					}
					if err := os.Remove(filepath.Join(work, w[1])); err != nil {
						t.Fatalf("%s:%d: step %q: %v", page, b.marker, step, err)
					}
					continue
				}
				silent(b, append([]string{w[0], name}, w[1:]...)...)
			}
		}
		head, _ := strconv.Atoi(b.attrs["head"])
		tail, _ := strconv.Atoi(b.attrs["tail"])
		outs := make([][]string, len(b.cmds))
		var bg sync.WaitGroup
		for i, c := range b.cmds {
			if c.background {
				if len(c.output) > 0 {
					t.Errorf("%s:%d: a command of the other terminal shows no output here", page, c.line)
				}
				bg.Add(1)
				go func() {
					defer bg.Done()
					time.Sleep(500 * time.Millisecond) // the next command has started
					runShown(c.argv)
				}()
				continue
			}
			_, out := runShown(c.argv)
			bg.Wait()
			switch c.argv[0] {
			case "deploy":
				for i := 0; !blocksAsShown(t, name, wantBlocks[name]); i++ {
					if i == maxDeploys {
						t.Fatalf("%s:%d: %d deploys of %s never gave the blocks the page shows (%s)", page, c.line, maxDeploys, name, wantBlocks[name])
					}
					silent(b, "destroy", name)
					_, out = runShown(c.argv)
				}
				l.deployed = true
			case "destroy":
				l.deployed = false
			}
			out = shown(out, head, tail)
			outs[i] = out
			if *update {
				continue
			}
			compareOutput(t, page, c, norms[name].lines(c.argv, c.output), norms[name].lines(c.argv, out), out)
		}
		edits = append(edits, struct {
			b   docBlock
			out [][]string
		}{b, outs})
	}
	if !*update {
		return
	}
	// Rewrite from the last block up, so the line indexes of the blocks above stay right.
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		var body []string
		for k, c := range e.b.cmds {
			body = append(body, e.b.indent+"$ "+c.text)
			for _, o := range e.out[k] {
				body = append(body, strings.TrimRight(e.b.indent+o, " "))
			}
		}
		lines = slices.Concat(lines[:e.b.open+1], body, lines[e.b.close:])
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// maxDeploys is how often a lab is deployed for the blocks its page shows: each deploy gives
// them with a chance of one in (the nodes whose hashes collide)!, here one in two.
const maxDeploys = 8

// blocksAsShown reports whether the deployed lab name gives its nodes the blocks want lists
// ("node=cidr node=cidr"); an empty want holds for any blocks. On the netns provider a node's
// first block comes from a hash of its name; when two nodes' hashes meet, the one that
// registers first takes it, which a page cannot show both ways.
func blocksAsShown(t *testing.T, name, want string) bool {
	t.Helper()
	if want == "" {
		return true
	}
	code, out := runShown([]string{"get", name, "blockaffinities", "-o", "wide"})
	if code != 0 {
		t.Fatalf("get %s blockaffinities: exit %d\n%s", name, code, strings.Join(out, "\n"))
	}
	have := map[string]bool{}
	for _, l := range out {
		if f := strings.Fields(l); len(f) >= 4 {
			have[f[3]+"="+f[2]] = true // NAME AGE CIDR NODE STATE
		}
	}
	for _, w := range strings.Fields(want) {
		if !have[w] {
			return false
		}
	}
	return true
}

// compareOutput reports the first line where the page's output of c (normalised: doc) differs
// from the run's (normalised: got; as printed: raw), naming the page's line.
func compareOutput(t *testing.T, page string, c docCmd, doc, got, raw []string) {
	t.Helper()
	sorted := unorderedCmd.MatchString(strings.Join(c.argv, " "))
	// The same words wrapped at other places are the same output: a value of another width
	// (a PID, a BGP state: Active or OpenSent) moves where the terminal's width breaks a line.
	if !sorted && slices.Equal(strings.Fields(strings.Join(doc, " ")), strings.Fields(strings.Join(got, " "))) {
		return
	}
	for i := 0; i < max(len(doc), len(got)); i++ {
		var d, g string
		if i < len(doc) {
			d = doc[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if d == g && i < len(doc) && i < len(got) {
			continue
		}
		where := c.outLine + min(i, len(c.output))
		if sorted {
			where = c.line // the lines were sorted: the first differing one has no page line
		}
		switch {
		case i >= len(doc):
			t.Errorf("%s:%d: $ %s: the lab prints more than the page shows, from %q", page, where, c.text, g)
		case i >= len(got):
			t.Errorf("%s:%d: $ %s: the page shows %q, the lab's output ends before it", page, where, c.text, d)
		default:
			t.Errorf("%s:%d: $ %s: output differs\n  page: %s\n  lab:  %s", page, where, c.text, d, g)
		}
		t.Logf("%s:%d: what the lab printed:\n%s", page, c.line, strings.Join(raw, "\n"))
		return
	}
}
