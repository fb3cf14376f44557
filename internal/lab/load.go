package lab

import (
	"bytes"
	"context"
	"encoding"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/safeio"
	"github.com/knetlab/knetlab/labs"
)

// Problem is one thing wrong with a lab file, located by line and field path.
type Problem struct {
	Line  int    // 1-based; 0 when the field is absent from the file
	Field string // e.g. nodes[3].address
	Msg   string
}

// ValidationError lists every problem of one lab file at once.
type ValidationError struct {
	File     string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem", e.File, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		fmt.Fprintf(&b, ": %s: %s", p.Field, p.Msg)
	}
	return b.String()
}

// Names lists the labs of the built-in catalogue, sorted.
func Names() []string {
	entries, err := fs.ReadDir(labs.FS, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// Load reads a lab of the built-in catalogue.
func Load(name string) (*Lab, error) {
	data, err := fs.ReadFile(labs.FS, path.Join(name, "lab.yaml"))
	if err != nil {
		return nil, exitcode.Usagef("no lab %q in the catalogue (labs: %s); use --lab-file PATH for a lab on disk",
			name, strings.Join(Names(), ", "))
	}
	return Parse(path.Join("labs", name, "lab.yaml"), data)
}

// MaxFileSize is the largest lab file knetlab reads. A lab of 2,000 nodes is ~300 KiB of YAML,
// so a larger file is not a lab, and refusing it from its size costs nothing, where parsing
// 50 MB of YAML took seconds and hundreds of MiB.
const MaxFileSize int64 = 4 << 20

// LoadFile reads a lab file from disk through internal/safeio: a regular file (a link to one is
// followed wherever it leads, since the user named it), at most MaxFileSize bytes. A FIFO, a
// device or a larger file is a usage error naming the file, read no further than its metadata.
func LoadFile(file string) (*Lab, error) {
	// No context: MaxFileSize bytes are read in milliseconds, and a read the kernel never
	// finishes is ended by the command line's signal handling (internal/cli).
	data, err := safeio.ReadFile(context.Background(), "", file, MaxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, exitcode.Usagef("lab file %s does not exist", file)
	}
	if err != nil {
		return nil, fmt.Errorf("lab file: %w", err)
	}
	return Parse(file, data)
}

// Resolve is what every command that takes a lab does: the lab file when one is given
// (its name must agree with the argument, if any), else the catalogue entry.
func Resolve(name, file string) (*Lab, error) {
	if file == "" {
		if name == "" {
			return nil, exitcode.Usagef("name a lab (%s) or give --lab-file PATH", strings.Join(Names(), ", "))
		}
		return Load(name)
	}
	l, err := LoadFile(file)
	if err != nil {
		return nil, err
	}
	if name != "" && name != l.Name {
		return nil, exitcode.Usagef("%s defines lab %q, not %q", file, l.Name, name)
	}
	return l, nil
}

// All loads every lab of the catalogue.
func All() ([]*Lab, error) {
	var out []*Lab
	for _, n := range Names() {
		l, err := Load(n)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Parse decodes a lab strictly (unknown fields are errors) and validates it completely.
// source names the file in every problem.
func Parse(source string, data []byte) (*Lab, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, exitcode.NewUsage(&ValidationError{File: source, Problems: []Problem{yamlProblem(err)}})
	}
	if root.Kind == 0 {
		return nil, exitcode.NewUsage(&ValidationError{File: source, Problems: []Problem{{Line: 1, Field: "(file)", Msg: "empty lab file"}}})
	}
	lines := indexLines(&root)

	// netip's text decoding stops yaml.v3 at the first bad address and without a line, so
	// addresses are checked on the node tree first, where every one has its line.
	problems := addressProblems(&root, "")
	// yaml.v3 truncates a float into an int field (vlan: 10.5 becomes 10); whole-number fields
	// are checked on the node tree too, where the tag says what the value was written as.
	problems = append(problems, numberProblems(&root, reflect.TypeFor[Lab](), "")...)
	var l Lab
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) || len(problems) == 0 {
			problems = append(problems, newLines(problems, decodeProblems(err, lines))...)
		}
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, exitcode.NewUsage(&ValidationError{File: source, Problems: problems})
	}
	l.Source = source

	problems = validate(&l)
	for i := range problems {
		problems[i].Line = lines.lookup(problems[i].Field)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return nil, exitcode.NewUsage(&ValidationError{File: source, Problems: problems})
	}
	return &l, nil
}

// lineIndex maps a field path (nodes[3].address) to the line of its value.
type lineIndex map[string]int

func indexLines(root *yaml.Node) lineIndex {
	idx := lineIndex{}
	var walk func(n *yaml.Node, p string)
	walk = func(n *yaml.Node, p string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, p)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				child := k.Value
				if p != "" {
					child = p + "." + k.Value
				}
				idx[child] = k.Line
				walk(v, child)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				child := p + "[" + strconv.Itoa(i) + "]"
				idx[child] = c.Line
				walk(c, child)
			}
		}
		if _, ok := idx[p]; !ok {
			idx[p] = n.Line
		}
	}
	walk(root, "")
	return idx
}

// lookup finds the line of a field, or of its nearest ancestor when the field is absent.
func (idx lineIndex) lookup(field string) int {
	for f := field; f != ""; {
		if l, ok := idx[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return 0
}

// decodeProblems turns yaml.v3's type errors ("line 12: field foo not found in type lab.Node")
// into problems, naming the field where the line tells which one it is.
func decodeProblems(err error, lines lineIndex) []Problem {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []Problem{yamlProblem(err)}
	}
	byLine := map[int]string{}
	for f, l := range lines {
		if cur, ok := byLine[l]; !ok || len(f) > len(cur) {
			byLine[l] = f
		}
	}
	var out []Problem
	for _, msg := range te.Errors {
		p := Problem{Field: "(file)", Msg: msg}
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if n, after, ok := strings.Cut(rest, ": "); ok {
				if line, err := strconv.Atoi(n); err == nil {
					p.Line, p.Msg = line, after
					if f, ok := byLine[line]; ok {
						p.Field = f
					}
				}
			}
		}
		p.Msg = strings.ReplaceAll(p.Msg, "in type lab.", "in ")
		out = append(out, p)
	}
	return out
}

func yamlProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{Field: "(file)", Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				p.Line, p.Msg = line, after
			}
		}
	}
	return p
}

// newLines keeps the problems of more that are on a line none of have: the decoder's word on a
// value already reported with a clearer message is left out.
func newLines(have, more []Problem) []Problem {
	seen := map[int]bool{}
	for _, p := range have {
		seen[p.Line] = true
	}
	var out []Problem
	for _, p := range more {
		if p.Line == 0 || !seen[p.Line] {
			out = append(out, p)
		}
	}
	return out
}

// numberProblems walks n along the Go type t that it decodes into and reports every
// whole-number field whose value is not a whole number in range: a float, a quoted number, any
// other scalar, or a number too large for the field.
func numberProblems(n *yaml.Node, t reflect.Type, p string) []Problem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Problem
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			out = append(out, numberProblems(c, t, p)...)
		}
	case n.Kind == yaml.AliasNode:
		return nil // the anchor's value is checked where it is defined
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode && !reflect.PointerTo(t).Implements(textUnmarshaler):
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := yamlField(t, k.Value)
			if !ok {
				continue // an unknown field: the decoder reports it
			}
			field := k.Value
			if p != "" {
				field = p + "." + k.Value
			}
			out = append(out, numberProblems(v, f.Type, field)...)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, numberProblems(c, t.Elem(), p+"["+strconv.Itoa(i)+"]")...)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, numberProblems(n.Content[i+1], t.Elem(), p+"."+n.Content[i].Value)...)
		}
	case isInteger(t.Kind()) && n.Kind == yaml.ScalarNode:
		if msg := wholeNumberProblem(n, t); msg != "" {
			out = append(out, Problem{Line: n.Line, Field: p, Msg: msg})
		}
	}
	return out
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// yamlField finds the field of struct t that the YAML key name decodes into.
func yamlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" && f.IsExported() {
			tag = strings.ToLower(f.Name) // yaml.v3's default key
		}
		if tag == name && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func isInteger(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uint64
}

// wholeNumberProblem says what is wrong with scalar n as a value of integer type t, or "".
func wholeNumberProblem(n *yaml.Node, t reflect.Type) string {
	v := n.Value
	switch n.ShortTag() {
	case "!!null":
		return "" // an empty value is the field's zero; validation says whether that is allowed
	case "!!int":
		var i int64
		var u uint64
		inRange := false
		if t.Kind() >= reflect.Uint {
			inRange = n.Decode(&u) == nil && !reflect.Zero(t).OverflowUint(u)
		} else {
			inRange = n.Decode(&i) == nil && !reflect.Zero(t).OverflowInt(i)
		}
		if !inRange {
			return fmt.Sprintf("%s is out of range for a whole number", v)
		}
		return ""
	case "!!float":
		if strings.Trim(v, "+-0123456789_") == "" {
			return fmt.Sprintf("%s is out of range for a whole number", v) // digits only: too large for an int
		}
		return fmt.Sprintf("%s is not a whole number (e.g. 10)", v)
	case "!!str":
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			probe := yaml.Node{Kind: yaml.ScalarNode, Value: v}
			if tag := probe.ShortTag(); tag == "!!int" || tag == "!!float" {
				return fmt.Sprintf("%q is quoted: write the number without quotes", v)
			}
		}
	}
	return fmt.Sprintf("%q is not a whole number (e.g. 10)", v)
}

// Fields that hold an address with prefix, or a bare address.
var (
	prefixFields = map[string]bool{"address": true, "management": true, "subnet": true, "cidr": true,
		"podSubnet": true, "serviceSubnet": true, "managementSubnet": true, "cidrs": true, "prefix": true}
	addrFields = map[string]bool{"gateway": true, "peerIP": true, "routerID": true, "clusterID": true}
)

func addressProblems(n *yaml.Node, p string) []Problem {
	var out []Problem
	check := func(key, field string, v *yaml.Node) {
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return
		}
		switch {
		case prefixFields[key]:
			if _, err := netip.ParsePrefix(v.Value); err != nil {
				out = append(out, Problem{Line: v.Line, Field: field, Msg: fmt.Sprintf("%q is not an address with prefix length, e.g. 10.10.10.11/24", v.Value)})
			}
		case addrFields[key]:
			if _, err := netip.ParseAddr(v.Value); err != nil {
				out = append(out, Problem{Line: v.Line, Field: field, Msg: fmt.Sprintf("%q is not an IP address, e.g. 10.10.10.1", v.Value)})
			}
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out = append(out, addressProblems(c, p)...)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			field := k.Value
			if p != "" {
				field = p + "." + k.Value
			}
			check(k.Value, field, v)
			if v.Kind == yaml.SequenceNode && prefixFields[k.Value] {
				for j, c := range v.Content {
					check(k.Value, field+"["+strconv.Itoa(j)+"]", c)
				}
				continue
			}
			out = append(out, addressProblems(v, field)...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, addressProblems(c, p+"["+strconv.Itoa(i)+"]")...)
		}
	}
	return out
}
