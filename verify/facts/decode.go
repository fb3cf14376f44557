package facts

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/internal/exitcode"
)

// The Calico API groups. crd.projectcalico.org/v1 is what the CRDs store (and what
// `kubectl get ippools.crd.projectcalico.org -o yaml` prints); projectcalico.org/v3 is what the
// Calico API server and calicoctl serve. Both carry the same spec fields.
const (
	calicoCRD = "crd.projectcalico.org/v1"
	calicoV3  = "projectcalico.org/v3"
)

// The annotations calico-node writes on the Kubernetes Node.
const (
	annotationIPv4Address = "projectcalico.org/IPv4Address"
	annotationVXLANAddr   = "projectcalico.org/IPv4VXLANTunnelAddr"
	annotationVXLANMAC    = "projectcalico.org/VXLANTunnelMACAddr"
)

// defaultBlockSize is Calico's IPv4 block size when a pool does not say.
const defaultBlockSize = 26

// Decode reads Kubernetes objects as `kubectl get -o yaml` (or `calicoctl get -o yaml`) prints
// them: several YAML documents and/or a List (`kind: List`, `IPPoolList`, ...) with items.
// IPPool, BlockAffinity, IPAMBlock, Node (Kubernetes v1 with Calico's annotations, or a Calico
// Node) and Pod are understood; other kinds are ignored. A v1 Node and
// a Calico Node of the same name become one node.
//
// Malformed YAML or a bad field value is a usage error (exit 2) naming file, line and field.
// Only IPv4 is read: IPv6 pools and blocks are skipped, as verify checks IPv4 dataplanes.
func Decode(file string, data []byte) (*Facts, error) {
	f := &Facts{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, exitcode.NewUsage(yamlError(file, err))
		}
		root := &doc
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		if err := decodeNode(file, root, f); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// yamlLine matches the position yaml.v3 puts in its messages.
var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	typeErrorLine = regexp.MustCompile(`^line (\d+): (.*)$`)
)

func yamlError(file string, err error) error {
	const fix = "fix the file or export the objects again with kubectl get ... -o yaml"
	// yaml.v3 reports the line where the broken construct starts, which can be a line or two
	// before the character at fault.
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if m := typeErrorLine.FindStringSubmatch(te.Errors[0]); m != nil {
			return fmt.Errorf("%s:%s: not valid YAML: %s; %s", file, m[1], m[2], fix)
		}
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: not valid YAML (at or after this line): %s; %s", file, m[1], m[2], fix)
	}
	return fmt.Errorf("%s: not valid YAML: %v; %s", file, strings.TrimPrefix(err.Error(), "yaml: "), fix)
}

// decodeNode decodes one object, or the items of a List, keeping yaml line numbers for errors.
func decodeNode(file string, n *yaml.Node, into *Facts) error {
	switch {
	case n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null"):
		return nil // an empty document, as a trailing "---" makes
	case n.Kind != yaml.MappingNode:
		return exitcode.Usagef("%s:%d: expected a Kubernetes object (apiVersion, kind, metadata, ...), found a %s", file, n.Line, nodeKindName(n))
	}
	kind := scalarField(n, "kind")
	if items := field(n, "items"); items != nil && strings.HasSuffix(kind, "List") {
		if items.Kind != yaml.SequenceNode {
			if items.Tag == "!!null" {
				return nil
			}
			return exitcode.Usagef("%s:%d: %s items must be a list of objects", file, items.Line, kind)
		}
		for _, item := range items.Content {
			if err := decodeNode(file, item, into); err != nil {
				return err
			}
		}
		return nil
	}
	var obj map[string]any
	if err := n.Decode(&obj); err != nil {
		return exitcode.NewUsage(yamlError(file, err))
	}
	err := DecodeObject(obj, into)
	var fe *FieldError
	if errors.As(err, &fe) {
		return exitcode.Usagef("%s:%d: %v", file, lineOf(n, fe.Path), fe)
	}
	if err != nil {
		return exitcode.Usagef("%s:%d: %v", file, n.Line, err)
	}
	return nil
}

func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return fmt.Sprintf("value %q", n.Value)
	}
	return "YAML node"
}

// field returns the value node of key in mapping n.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalarField(n *yaml.Node, key string) string {
	if v := field(n, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// lineOf returns the line of the field at path in object n, or of its nearest present parent
// when the field is missing.
func lineOf(n *yaml.Node, path []string) int {
	line := n.Line
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			break
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

// FieldError is a bad or missing field of one object. Decode turns it into file:line.
type FieldError struct {
	Object string   // e.g. "IPPool default-ipv4-ippool"
	Path   []string // e.g. ["spec", "cidr"]
	Err    error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Object, fieldPath(e.Path), e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// fieldPath prints a path as kubectl explain does, quoting keys that contain dots.
func fieldPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		switch {
		case strings.ContainsAny(p, "./"):
			fmt.Fprintf(&b, "[%q]", p)
		case i > 0:
			b.WriteString("." + p)
		default:
			b.WriteString(p)
		}
	}
	return b.String()
}

// DecodeObject adds one Kubernetes object to into: a map as yaml or JSON decoding gives it, or
// the content of an unstructured object from client-go. Kinds verify does not read are ignored.
// A bad field is a *FieldError naming the object and the field.
func DecodeObject(obj map[string]any, into *Facts) error {
	o := object{m: obj}
	apiVersion, _ := o.str("apiVersion")
	kind, _ := o.str("kind")
	name, _ := o.str("metadata", "name")
	o.name = kind + " " + name
	if ns, _ := o.str("metadata", "namespace"); ns != "" && kind == "Pod" {
		o.name = kind + " " + ns + "/" + name
	}
	calico := apiVersion == calicoCRD || apiVersion == calicoV3
	switch {
	case kind == "IPPool" && calico:
		return decodePool(o, name, into)
	case kind == "BlockAffinity" && calico:
		return decodeAffinity(o, into)
	case kind == "IPAMBlock" && calico:
		return decodeIPAMBlock(o, into)
	case kind == "Node" && apiVersion == "v1":
		return decodeKubeNode(o, name, into)
	case kind == "Node" && calico:
		return decodeCalicoNode(o, name, into)
	case kind == "Pod" && apiVersion == "v1":
		return decodePod(o, name, into)
	}
	return nil
}

func decodePool(o object, name string, into *Facts) error {
	cidr, err := o.prefix(true, "spec", "cidr")
	if err != nil || !cidr.Addr().Is4() {
		return err
	}
	p := Pool{Name: name, CIDR: cidr.Masked(), BlockSize: defaultBlockSize, VXLANMode: calico.EncapNever, IPIPMode: calico.EncapNever}
	if n, ok, err := o.integer("spec", "blockSize"); err != nil {
		return err
	} else if ok {
		if n < cidr.Bits() || n > 32 {
			return o.fail(fmt.Errorf("%d is outside %d..32 (a block must fit in the pool %s)", n, cidr.Bits(), cidr), "spec", "blockSize")
		}
		p.BlockSize = n
	}
	for _, m := range []struct {
		key  string
		into *calico.EncapMode
	}{{"vxlanMode", &p.VXLANMode}, {"ipipMode", &p.IPIPMode}} {
		s, err := o.str("spec", m.key)
		if err != nil {
			return err
		}
		switch mode := calico.EncapMode(s); {
		case mode == "":
		case mode.Valid():
			*m.into = mode
		default:
			return o.fail(fmt.Errorf("%q is not a mode (want Never, Always or CrossSubnet)", mode), "spec", m.key)
		}
	}
	if p.NATOutgoing, err = o.boolean("spec", "natOutgoing"); err != nil {
		return err
	}
	if p.Disabled, err = o.boolean("spec", "disabled"); err != nil {
		return err
	}
	into.Pools = append(into.Pools, p)
	return nil
}

func decodeAffinity(o object, into *Facts) error {
	cidr, err := o.prefix(true, "spec", "cidr")
	if err != nil || !cidr.Addr().Is4() {
		return err
	}
	a := BlockAffinity{CIDR: cidr.Masked()}
	if a.Node, err = o.str("spec", "node"); err != nil {
		return err
	}
	if a.Node == "" {
		return o.fail(errors.New("missing: an affinity names the node that owns the block"), "spec", "node")
	}
	if a.State, err = o.str("spec", "state"); err != nil {
		return err
	}
	// crd.projectcalico.org/v1 stores deleted as the string "false"/"true"; v3 as a boolean.
	if a.Deleted, err = o.boolean("spec", "deleted"); err != nil {
		return err
	}
	into.Affinities = append(into.Affinities, a)
	return nil
}

// decodeIPAMBlock reads a block's CIDR, its host affinity and, when the object carries them,
// its allocations with their attributes (docs/capture.md, "IPAMBlock").
func decodeIPAMBlock(o object, into *Facts) error {
	cidr, err := o.prefix(true, "spec", "cidr")
	if err != nil || !cidr.Addr().Is4() {
		return err
	}
	if cidr != cidr.Masked() {
		return o.fail(fmt.Errorf("%s is not a block: its host bits are set (want %s)", cidr, cidr.Masked()), "spec", "cidr")
	}
	b := IPAMBlock{CIDR: cidr}
	affinity, err := o.str("spec", "affinity")
	if err != nil {
		return err
	}
	// "host:<node>" for a node's block; other forms (e.g. "virtual:...") are affine to no node.
	if host, ok := strings.CutPrefix(affinity, "host:"); ok {
		if host == "" {
			return o.fail(errors.New(`"host:" names no node (want host:<node name>)`), "spec", "affinity")
		}
		b.Node = host
	}
	if b.Deleted, err = o.boolean("spec", "deleted"); err != nil {
		return err
	}
	if b.Allocations, b.AllocationsKnown, err = o.allocations(cidr); err != nil {
		return err
	}
	if b.Contradiction, err = o.unallocated(b); err != nil {
		return err
	}
	if b.Contradiction != "" {
		b.AllocationsKnown = false
	}
	into.Blocks = append(into.Blocks, b)
	return nil
}

// allocations reads spec.allocations, where entry i is null for a free address and otherwise
// the index in spec.attributes of what holds the block's i-th address.
func (o object) allocations(cidr netip.Prefix) ([]Allocation, bool, error) {
	v, present := o.get("spec", "allocations")
	if !present {
		return nil, false, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false, o.fail(fmt.Errorf("found %s, want a list (null or an attribute index per address)", valueKind(v)), "spec", "allocations")
	}
	size := 1 << (32 - cidr.Bits())
	if len(list) > size {
		return nil, false, o.fail(fmt.Errorf("%d entries for the %d addresses of %s", len(list), size, cidr), "spec", "allocations")
	}
	var attrs []any
	if a, ok := o.get("spec", "attributes"); ok {
		if attrs, ok = a.([]any); !ok {
			return nil, false, o.fail(fmt.Errorf("found %s, want a list of {handle_id, secondary}", valueKind(a)), "spec", "attributes")
		}
	}
	var out []Allocation
	ip := cidr.Addr()
	for i, entry := range list {
		if i > 0 {
			ip = ip.Next()
		}
		if entry == nil {
			continue
		}
		idx, ok := wholeNumber(entry)
		if !ok || idx < 0 || idx >= len(attrs) {
			return nil, false, o.fail(fmt.Errorf("entry %d (%s) is %#v: want null or the index of one of the %d attributes", i, ip, entry, len(attrs)), "spec", "allocations")
		}
		a := Allocation{IP: ip}
		attr, _ := attrs[idx].(map[string]any)
		a.Handle, _ = attr["handle_id"].(string)
		secondary, _ := attr["secondary"].(map[string]any)
		a.Namespace, _ = secondary["namespace"].(string)
		a.Pod, _ = secondary["pod"].(string)
		a.Node, _ = secondary["node"].(string)
		a.Type, _ = secondary["type"].(string)
		out = append(out, a)
	}
	return out, true, nil
}

// unallocated reads spec.unallocated, the ordinals Calico holds free, and says where they
// contradict the allocations: an address listed free that an allocation holds.
func (o object) unallocated(b IPAMBlock) (string, error) {
	v, present := o.get("spec", "unallocated")
	if !present {
		return "", nil
	}
	list, ok := v.([]any)
	if !ok {
		return "", o.fail(fmt.Errorf("found %s, want a list of free ordinals", valueKind(v)), "spec", "unallocated")
	}
	size := 1 << (32 - b.CIDR.Bits())
	held := make(map[netip.Addr]bool, len(b.Allocations))
	for _, a := range b.Allocations {
		held[a.IP] = true
	}
	var both []string
	for _, entry := range list {
		n, ok := wholeNumber(entry)
		if !ok || n < 0 || n >= size {
			return "", o.fail(fmt.Errorf("%#v is not an ordinal of the %d addresses of %s", entry, size, b.CIDR), "spec", "unallocated")
		}
		if ip := nthAddr(b.CIDR, n); held[ip] {
			both = append(both, ip.String())
		}
	}
	if len(both) == 0 {
		return "", nil
	}
	return fmt.Sprintf("%s listed free in spec.unallocated and in use in spec.allocations", strings.Join(both, ", ")), nil
}

// nthAddr is the n-th address of an IPv4 block.
func nthAddr(block netip.Prefix, n int) netip.Addr {
	b := block.Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) + uint32(n)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func decodeKubeNode(o object, name string, into *Facts) error {
	n := Node{Name: name}
	var err error
	if n.Address, err = o.prefix(false, "metadata", "annotations", annotationIPv4Address); err != nil {
		return err
	}
	if n.VXLANTunnelAddr, err = o.addr("metadata", "annotations", annotationVXLANAddr); err != nil {
		return err
	}
	if n.VXLANTunnelMAC, err = o.mac("metadata", "annotations", annotationVXLANMAC); err != nil {
		return err
	}
	conditions, _ := o.get("status", "conditions")
	list, _ := conditions.([]any)
	for _, c := range list {
		cond, _ := c.(map[string]any)
		if t, _ := cond["type"].(string); t == "Ready" {
			n.Ready, _ = cond["status"].(string)
		}
	}
	into.addNode(n)
	return nil
}

func decodeCalicoNode(o object, name string, into *Facts) error {
	n := Node{Name: name}
	var err error
	if n.Address, err = o.prefix(false, "spec", "bgp", "ipv4Address"); err != nil {
		return err
	}
	if n.VXLANTunnelAddr, err = o.addr("spec", "ipv4VXLANTunnelAddr"); err != nil {
		return err
	}
	if n.VXLANTunnelMAC, err = o.mac("spec", "vxlanTunnelMACAddr"); err != nil {
		return err
	}
	into.addNode(n)
	return nil
}

// addNode merges n into the node of the same name, so that a cluster.yaml holding both
// `kubectl get nodes` and `kubectl get nodes.crd.projectcalico.org` gives one node per name.
// The first value seen for a field wins.
func (f *Facts) addNode(n Node) {
	for i := range f.Nodes {
		have := &f.Nodes[i]
		if have.Name != n.Name {
			continue
		}
		if !have.Address.IsValid() {
			have.Address = n.Address
		}
		if !have.VXLANTunnelAddr.IsValid() {
			have.VXLANTunnelAddr = n.VXLANTunnelAddr
		}
		if have.VXLANTunnelMAC == "" {
			have.VXLANTunnelMAC = n.VXLANTunnelMAC
		}
		if have.Ready == "" {
			have.Ready = n.Ready
		}
		return
	}
	f.Nodes = append(f.Nodes, n)
}

// decodePod keeps pods that have a pod-network IPv4 address: host-network pods share the node's
// address and have no Calico wiring, and a pod without an IP has no dataplane yet.
func decodePod(o object, name string, into *Facts) error {
	hostNetwork, err := o.boolean("spec", "hostNetwork")
	if err != nil || hostNetwork {
		return err
	}
	p := Pod{Name: name}
	if p.Namespace, err = o.str("metadata", "namespace"); err != nil {
		return err
	}
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	if p.Node, err = o.str("spec", "nodeName"); err != nil {
		return err
	}
	if p.IP, err = o.addr("status", "podIP"); err != nil {
		return err
	}
	if !p.IP.Is4() {
		p.IP = netip.Addr{}
		ips, _ := o.get("status", "podIPs")
		list, _ := ips.([]any)
		for _, item := range list {
			entry, _ := item.(map[string]any)
			s, _ := entry["ip"].(string)
			if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
				p.IP = a
				break
			}
		}
	}
	if !p.IP.IsValid() {
		return nil
	}
	into.Pods = append(into.Pods, p)
	return nil
}

// object reads typed fields out of a decoded Kubernetes object.
type object struct {
	m    map[string]any
	name string // "Kind name", for errors
}

func (o object) fail(err error, path ...string) error {
	return &FieldError{Object: o.name, Path: path, Err: err}
}

func (o object) get(path ...string) (any, bool) {
	var cur any = o.m
	for _, key := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[key]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// str returns a string field; "" when absent.
func (o object) str(path ...string) (string, error) {
	v, ok := o.get(path...)
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", o.fail(fmt.Errorf("found %s, want a string", valueKind(v)), path...)
	}
	return s, nil
}

// valueKind names a decoded value's type the way a YAML author thinks of it.
func valueKind(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64, json.Number:
		return fmt.Sprintf("the number %v", v)
	}
	return fmt.Sprintf("%T", v)
}

// boolean accepts a boolean or the strings "true"/"false", as CRD v1 stores some flags.
func (o object) boolean(path ...string) (bool, error) {
	v, ok := o.get(path...)
	if !ok {
		return false, nil
	}
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		if parsed, err := strconv.ParseBool(b); err == nil {
			return parsed, nil
		}
	}
	return false, o.fail(fmt.Errorf("%#v is not true or false", v), path...)
}

// integer accepts the number types yaml, encoding/json and client-go produce.
func (o object) integer(path ...string) (int, bool, error) {
	v, ok := o.get(path...)
	if !ok {
		return 0, false, nil
	}
	if n, ok := wholeNumber(v); ok {
		return n, true, nil
	}
	return 0, false, o.fail(fmt.Errorf("%#v is not a whole number", v), path...)
}

// wholeNumber converts the number types yaml, encoding/json and client-go produce.
func wholeNumber(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return int(n), true
		}
	case uint64:
		if n <= math.MaxInt32 {
			return int(n), true
		}
	case float64:
		if n == math.Trunc(n) && math.Abs(n) <= math.MaxInt32 {
			return int(n), true
		}
	case json.Number:
		if i, err := n.Int64(); err == nil && i >= math.MinInt32 && i <= math.MaxInt32 {
			return int(i), true
		}
	}
	return 0, false
}

// prefix reads an address with its prefix length, e.g. 10.10.10.11/24 (the host bits are
// kept: a node's underlay address is an address, not a network).
func (o object) prefix(required bool, path ...string) (netip.Prefix, error) {
	s, err := o.str(path...)
	if err != nil {
		return netip.Prefix{}, err
	}
	if s == "" {
		if required {
			return netip.Prefix{}, o.fail(errors.New("missing (want a CIDR such as 192.168.0.0/16)"), path...)
		}
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if _, aerr := netip.ParseAddr(s); aerr == nil {
			return netip.Prefix{}, o.fail(fmt.Errorf("%q has no prefix length (want it as Calico writes it, e.g. 10.10.10.11/24)", s), path...)
		}
		return netip.Prefix{}, o.fail(fmt.Errorf("%q is not an address with a prefix length such as 10.10.10.11/24", s), path...)
	}
	return p, nil
}

func (o object) addr(path ...string) (netip.Addr, error) {
	s, err := o.str(path...)
	if err != nil || s == "" {
		return netip.Addr{}, err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, o.fail(fmt.Errorf("%q is not an IP address", s), path...)
	}
	return a, nil
}

// mac returns a MAC address in the lower-case colon form the node state uses.
func (o object) mac(path ...string) (string, error) {
	s, err := o.str(path...)
	if err != nil || s == "" {
		return "", err
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", o.fail(fmt.Errorf("%q is not a MAC address such as 66:fb:ad:98:aa:13", s), path...)
	}
	return hw.String(), nil
}
