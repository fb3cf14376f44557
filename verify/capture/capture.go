// Package capture reads and writes the capture layout of docs/capture.md, so that `verify --from DIR`
// judges files a person (or `knetlab capture`) saved instead of a live lab:
//
//	DIR/cluster.yaml                 Kubernetes objects (pools, affinities, nodes, pods)
//	DIR/nodes/<node>/ip-route.txt    `ip route` or `ip -j route`
//	DIR/nodes/<node>/ip-neigh.txt    `ip neigh`
//	DIR/nodes/<node>/bridge-fdb.txt  `bridge fdb show`
//	DIR/nodes/<node>/ip-link.txt     `ip -d link show` or `ip link show type vxlan`
//	DIR/nodes/<node>/ip-addr.txt     `ip addr`
//	DIR/nodes/<node>/sysctl.txt      `sysctl -a` (key = value), optional
//	DIR/nodes/<node>/nat.txt         the natOutgoing masquerade: `nft list ruleset` (knetlab's
//	                                 agent or Calico's nftables dataplane), or `iptables-save -t
//	                                 nat` with `ipset save` or `ipset list`, optional
//	DIR/nodes/<node>/pods/<ns>/<pod>/ip-addr.txt, ip-route.txt
//	                                 `ip addr` and `ip route` inside each local pod, optional
//	DIR/switch/<name>/show-*.json    the cEOS switch: `show interfaces status | json`,
//	                                 `show ip interface brief | json`, `show ip route | json`,
//	                                 `show vlan | json` (all four), optional; `knetlab capture`
//	                                 renders a netns lab's switch in the same shapes (WriteSwitch)
//	DIR/nodes/<node>/bird-protocols.txt   a node's BGP sessions, `birdcl show protocols` (BIRD)
//	DIR/nodes/<node>/bird-routes.txt      the routes a node's BIRD learned, `birdcl show route`
//	DIR/nodes/<node>/gobgp-neighbors.json a node's BGP sessions, `gobgp neighbor -j` (GoBGP)
//	DIR/nodes/<node>/gobgp-rib.json       the routes a node's GoBGP speaker holds
//	DIR/rr/<name>/gobgp-neighbors.json    a route reflector's sessions, `gobgp neighbor -j`
//	DIR/rr/<name>/gobgp-rib.json          a route reflector's RIB, `gobgp global rib -j`
//	                                      (the gobgp files: JSON or the text tables, by content)
//
// Every file is optional. A file that is present marks its table as collected, even when it is
// empty (an empty ip-neigh.txt says the node has no neighbours); a file that is absent leaves its
// table unmarked, so that the checks reading it are skipped for that node with the reason.
//
// What topology.nodes sees for a capture: a capture records tables, not processes, so run
// state comes only from evidence the capture holds. The evidence is the Kubernetes Node's Ready
// condition in cluster.yaml (as `kubectl get nodes -o yaml` saves it). Without any recorded
// condition, Topology returns ErrAbsent and topology.nodes is skipped with the reason, never
// passed. With conditions, every node the capture knows (cluster.yaml or a nodes/<node>
// directory) is reported running; it is Ready when its condition is True, or, lacking a
// condition of its own, when its tables were captured (it answered the commands). A switch or
// route reflector whose commands were captured is reported running. Every Detail
// starts with "from capture", so a report never passes this off as a live observation.
package capture

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/safeio"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse"
	"github.com/knetlab/knetlab/verify/parse/eosjson"
	"github.com/knetlab/knetlab/verify/source"
)

// The file names of the layout.
const (
	ClusterFile = "cluster.yaml"
	NodesDir    = "nodes"
	RouteFile   = "ip-route.txt"
	NeighFile   = "ip-neigh.txt"
	FDBFile     = "bridge-fdb.txt"
	LinkFile    = "ip-link.txt"
	AddrFile    = "ip-addr.txt"
	SysctlFile  = "sysctl.txt"
	NATFile     = "nat.txt" // nft list ruleset, or iptables-save -t nat with ipset save/list
	SwitchDir   = "switch"
	PodsDir     = "pods" // under a node: pods/<namespace>/<pod>/ip-addr.txt and ip-route.txt
	// BirdFile is a node's BGP sessions as calico-node's BIRD shows them (birdcl show protocols).
	BirdFile = "bird-protocols.txt"
	// BirdRoutesFile is the routes a node's BIRD holds (birdcl show route), of which the BGP
	// paths are read: the node's learned routes.
	BirdRoutesFile = "bird-routes.txt"
	// GoBGPNeighborsFile and GoBGPRIBFile are a GoBGP speaker's sessions (gobgp neighbor -j) and
	// RIB (gobgp global rib -j), under a node whose speaker is GoBGP or under rr/<name>/.
	GoBGPNeighborsFile = "gobgp-neighbors.json"
	GoBGPRIBFile       = "gobgp-rib.json"
	// RRDir holds one directory per BGP route reflector: rr/<name>/.
	RRDir = "rr"
)

// SwitchFiles names the file of DIR/switch/<name>/ that holds each EOS command's output, so
// that `knetlab capture` saves them where Open looks.
var SwitchFiles = []struct{ Command, File string }{
	{eosjson.InterfacesStatusCmd, "show-interfaces-status.json"},
	{eosjson.IPInterfaceBriefCmd, "show-ip-interface-brief.json"},
	{eosjson.IPRouteCmd, "show-ip-route.json"},
	{eosjson.VLANCmd, "show-vlan.json"},
}

// Capture is a capture directory read into memory. It is safe for concurrent use: Open parses
// everything, and the methods only read.
type Capture struct {
	dir   string
	facts *facts.Facts // nil when the capture has no cluster.yaml
	nodes map[string]*observed.Node
	names []string         // node directories, sorted
	sw    *observed.Switch // nil when the capture has no switch directory
	// rrs are the route reflectors under rr/, by name; rrNames in name order.
	rrs     map[string]*observed.Reflector
	rrNames []string
}

var (
	_ source.Source     = (*Capture)(nil)
	_ source.Reflectors = (*Capture)(nil)
)

// Open reads the capture directory dir, stopping when ctx is done. Every file is parsed now, so
// that a broken file is a usage error (exit 2) naming the file and line before any check runs.
// Every file is read through internal/safeio:
// regular files only, links only when relative and inside dir, at most safeio.MaxFileSize each;
// anything else is a usage error naming the file and why (docs/capture.md, "Input limits").
func Open(ctx context.Context, dir string) (source.Source, error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, exitcode.Usagef("capture directory %s does not exist; pass the directory `knetlab capture` wrote or one laid out as docs/verify.md describes", dir)
	case err != nil:
		return nil, exitcode.Usagef("capture directory %s: %v", dir, err)
	case !info.IsDir():
		return nil, exitcode.Usagef("capture %s is a file, not a directory; --from takes the directory that holds cluster.yaml and nodes/", dir)
	}
	c := &Capture{dir: dir, nodes: map[string]*observed.Node{}}
	in := files{ctx: ctx, root: dir}

	clusterPath := filepath.Join(dir, ClusterFile)
	if data, ok, err := in.optional(clusterPath); err != nil {
		return nil, err
	} else if ok {
		if c.facts, err = facts.Decode(clusterPath, data); err != nil {
			return nil, err
		}
	}

	entries, _, err := in.list(filepath.Join(dir, NodesDir))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		n, err := readNode(in, filepath.Join(dir, NodesDir, e.Name()), e.Name())
		if err != nil {
			return nil, err
		}
		c.nodes[n.Name] = n
		c.names = append(c.names, n.Name)
	}
	sort.Strings(c.names)
	if c.sw, err = readSwitch(in, filepath.Join(dir, SwitchDir)); err != nil {
		return nil, err
	}
	if c.rrs, c.rrNames, err = readReflectors(in, filepath.Join(dir, RRDir)); err != nil {
		return nil, err
	}
	if c.facts == nil && len(c.names) == 0 {
		return nil, exitcode.Usagef("%s holds neither %s nor a %s/ directory: nothing to verify (is it the right directory?)", dir, ClusterFile, NodesDir)
	}
	return c, nil
}

// Describe names the source for reports.
func (c *Capture) Describe() string { return "capture " + c.dir }

// Live implements source.Live: a capture is files someone chose to collect, so what it lacks
// was not captured (skipped), not missing from the cluster.
func (c *Capture) Live() bool { return false }

// Facts returns what cluster.yaml says, or an ErrAbsent error when the capture has none.
func (c *Capture) Facts(context.Context) (*facts.Facts, error) {
	if c.facts == nil {
		return nil, fmt.Errorf("%s has no %s (save it with kubectl get ippools,blockaffinities,nodes,pods -A -o yaml): %w",
			c.dir, ClusterFile, source.ErrAbsent)
	}
	f := *c.facts
	return &f, nil
}

// Topology infers each node's run state from the capture (see the package comment).
func (c *Capture) Topology(context.Context) ([]observed.NodeStatus, error) {
	recorded := false
	if c.facts != nil {
		for _, n := range c.facts.Nodes {
			recorded = recorded || n.Ready != ""
		}
	}
	if !recorded {
		return nil, fmt.Errorf("%s records no node Ready condition (add kubectl get nodes -o yaml to %s): %w",
			c.dir, ClusterFile, source.ErrAbsent)
	}
	var out []observed.NodeStatus
	seen := map[string]bool{}
	for _, n := range c.facts.Nodes {
		seen[n.Name] = true
		out = append(out, c.status(n.Name, n.Ready))
	}
	for _, name := range c.names {
		if !seen[name] {
			out = append(out, c.status(name, ""))
		}
	}
	if c.sw != nil {
		// It answered the show commands when captured; a switch has no Ready condition.
		out = append(out, observed.NodeStatus{Name: c.sw.Name, Kind: "switch", Running: true, Ready: true,
			Detail: "from capture: the switch's show commands were captured"})
	}
	for _, name := range c.rrNames {
		// It answered gobgp when captured: both files parse, so gobgpd ran.
		if r := c.rrs[name]; r.Has(observed.TableBGPSessions) || r.Has(observed.TableBGPRoutes) {
			out = append(out, observed.NodeStatus{Name: name, Kind: "reflector", Running: true, Ready: true,
				Detail: "from capture: the route reflector's gobgp answers were captured"})
		}
	}
	return out, nil
}

func (c *Capture) status(name, ready string) observed.NodeStatus {
	_, captured := c.nodes[name]
	st := observed.NodeStatus{Name: name, Kind: "node", Running: true}
	switch {
	case ready == "True":
		st.Ready = true
		st.Detail = "from capture: Ready condition True in " + ClusterFile
	case ready != "":
		st.Detail = fmt.Sprintf("from capture: Ready condition %s in %s", ready, ClusterFile)
	case captured:
		st.Ready = true
		st.Detail = "from capture: no Ready condition recorded; the node's tables were captured"
	default:
		st.Detail = fmt.Sprintf("from capture: no Ready condition in %s and no %s/%s directory", ClusterFile, NodesDir, name)
	}
	return st
}

// NodeState returns a node's tables, or an ErrAbsent error when the capture has no directory
// for it.
func (c *Capture) NodeState(_ context.Context, node string) (*observed.Node, error) {
	n, ok := c.nodes[node]
	if !ok {
		return nil, fmt.Errorf("%s has no %s/%s directory: %w", c.dir, NodesDir, node, source.ErrAbsent)
	}
	cp := *n
	return &cp, nil
}

// Switch returns the switch captured under DIR/switch/<name>/, or an ErrAbsent error.
func (c *Capture) Switch(context.Context) (*observed.Switch, error) {
	if c.sw == nil {
		return nil, fmt.Errorf("%s has no %s/<name>/ directory with the switch's show commands: %w", c.dir, SwitchDir, source.ErrAbsent)
	}
	sw := *c.sw
	return &sw, nil
}

// ReflectorNames names the route reflectors under rr/, in name order.
func (c *Capture) ReflectorNames() []string { return append([]string(nil), c.rrNames...) }

// Reflector returns the route reflector captured under DIR/rr/<name>/, or an ErrAbsent error.
func (c *Capture) Reflector(_ context.Context, name string) (*observed.Reflector, error) {
	r, ok := c.rrs[name]
	if !ok {
		return nil, fmt.Errorf("%s has no %s/%s directory with the route reflector's %s and %s: %w",
			c.dir, RRDir, name, GoBGPNeighborsFile, GoBGPRIBFile, source.ErrAbsent)
	}
	cp := *r
	return &cp, nil
}

// readReflectors reads DIR/rr/<name>/{gobgp-neighbors.json,gobgp-rib.json}, each optional: a
// file that is absent leaves its table unmarked, and what needs it is skipped.
func readReflectors(in files, dir string) (map[string]*observed.Reflector, []string, error) {
	entries, ok, err := in.list(dir)
	if err != nil || !ok {
		return nil, nil, err
	}
	rrs := map[string]*observed.Reflector{}
	var names []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		r := &observed.Reflector{Name: e.Name()}
		for _, t := range []struct {
			file  string
			table observed.Table
			read  func(data []byte) error
		}{
			{GoBGPNeighborsFile, observed.TableBGPSessions, func(data []byte) (err error) {
				r.Sessions, err = parse.GoBGPNeighbors(data)
				return err
			}},
			{GoBGPRIBFile, observed.TableBGPRoutes, func(data []byte) (err error) {
				r.RIB, err = parse.GoBGPRIB(data)
				return err
			}},
		} {
			path := filepath.Join(dir, e.Name(), t.file)
			data, ok, err := in.optional(path)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue
			}
			if err := t.read(data); err != nil {
				return nil, nil, parseError(path, err)
			}
			r.Mark(t.table)
		}
		rrs[r.Name] = r
		names = append(names, r.Name)
	}
	sort.Strings(names)
	return rrs, names, nil
}

// readSwitch reads the one switch directory under dir. The four files are all required: the
// switch checks read ports, SVIs, routes and VLANs together, and an absent file would read as a
// switch with no routes rather than as a capture that lacks them.
func readSwitch(in files, dir string) (*observed.Switch, error) {
	entries, ok, err := in.list(dir)
	if err != nil || !ok {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	switch len(names) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, exitcode.Usagef("%s holds %d switches (%s); a lab has one switch, keep only its directory", dir, len(names), strings.Join(names, ", "))
	}
	sw := &observed.Switch{Name: names[0]}
	for _, f := range SwitchFiles {
		path := filepath.Join(dir, sw.Name, f.File)
		data, ok, err := in.optional(path)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, exitcode.Usagef("switch capture %s: %s does not exist (save `%s` there)", filepath.Join(dir, sw.Name), f.File, f.Command)
		}
		if err := eosjson.Parse(sw, f.Command, data); err != nil {
			return nil, exitcode.Usagef("%s: %v (want the output of `%s`)", path, err, f.Command)
		}
	}
	return sw, nil
}

// nodeTables binds each file of a node directory to its table and parser.
var nodeTables = []struct {
	file  string
	table observed.Table
	read  func(n *observed.Node, data []byte) error
}{
	{RouteFile, observed.TableRoutes, func(n *observed.Node, data []byte) (err error) {
		n.Routes, err = parse.Routes(data)
		return err
	}},
	{NeighFile, observed.TableNeigh, func(n *observed.Node, data []byte) (err error) {
		n.Neighs, err = parse.Neighs(data)
		return err
	}},
	{FDBFile, observed.TableFDB, func(n *observed.Node, data []byte) (err error) {
		n.FDB, err = parse.FDB(data)
		return err
	}},
	{LinkFile, observed.TableLinks, func(n *observed.Node, data []byte) error {
		links, err := parse.Links(data)
		n.Links = parse.MergeAddrs(links, n.Links) // ip-addr.txt may have been read first
		return err
	}},
	{AddrFile, observed.TableAddrs, func(n *observed.Node, data []byte) error {
		addrs, err := parse.Addrs(data)
		n.Links = parse.MergeAddrs(n.Links, addrs)
		return err
	}},
	{SysctlFile, observed.TableSysctls, func(n *observed.Node, data []byte) error {
		n.Sysctls = parse.Sysctls(data)
		return nil
	}},
	{NATFile, observed.TableNAT, func(n *observed.Node, data []byte) (err error) {
		n.NATOutgoing, err = parse.NATOutgoing(data)
		return err
	}},
	{BirdFile, observed.TableBGPSessions, func(n *observed.Node, data []byte) (err error) {
		n.BGPSpeaker = observed.SpeakerBIRD
		n.BGPSessions, err = parse.BirdProtocols(data)
		return err
	}},
	{BirdRoutesFile, observed.TableBGPRoutes, func(n *observed.Node, data []byte) (err error) {
		n.BGPSpeaker = observed.SpeakerBIRD
		n.BGPRoutes, err = parse.BirdRoutes(data)
		return err
	}},
	{GoBGPNeighborsFile, observed.TableBGPSessions, func(n *observed.Node, data []byte) (err error) {
		if n.BGPSpeaker == observed.SpeakerBIRD {
			return twoSpeakers()
		}
		n.BGPSpeaker = observed.SpeakerGoBGP
		n.BGPSessions, err = parse.GoBGPNeighbors(data)
		return err
	}},
	{GoBGPRIBFile, observed.TableBGPRoutes, func(n *observed.Node, data []byte) (err error) {
		if n.Has(observed.TableBGPRoutes) {
			return twoSpeakers()
		}
		n.BGPRoutes, err = parse.GoBGPRIB(data)
		return err
	}},
}

// twoSpeakers refuses a node directory with the files of both BGP speakers.
func twoSpeakers() error {
	return fmt.Errorf("the node has %s or %s too: a node runs one BGP speaker, BIRD (calico-node, knetlab's agent) or GoBGP; keep the files of the one it runs",
		BirdFile, BirdRoutesFile)
}

func readNode(in files, dir, name string) (*observed.Node, error) {
	n := &observed.Node{Name: name}
	for _, t := range nodeTables {
		data, ok, err := in.optional(filepath.Join(dir, t.file))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if err := t.read(n, data); err != nil {
			return nil, parseError(filepath.Join(dir, t.file), err)
		}
		n.Mark(t.table)
	}
	if err := readPods(in, filepath.Join(dir, PodsDir), n); err != nil {
		return nil, err
	}
	markFilteredLinks(n, dir)
	return n, nil
}

// markFilteredLinks notes a link table that is a filtered paste: `ip link` and `ip addr` always
// print lo first, so link files without it were cut to some devices (`show dev X`,
// `show type vxlan`, grep). A device they do not show was not captured, not found missing.
func markFilteredLinks(n *observed.Node, dir string) {
	if !n.Has(observed.TableLinks) && !n.Has(observed.TableAddrs) {
		return
	}
	if _, ok := n.Link("lo"); ok {
		return
	}
	var shown []string
	for _, l := range n.Links {
		shown = append(shown, l.Name)
	}
	if n.Filtered == nil {
		n.Filtered = map[observed.Table]string{}
	}
	n.Filtered[observed.TableLinks] = fmt.Sprintf("%s and %s show only %s (no lo): a filtered paste, other devices not captured",
		filepath.Join(dir, LinkFile), AddrFile, orNothing(shown))
}

func orNothing(names []string) string {
	if len(names) == 0 {
		return "no device"
	}
	return strings.Join(names, ", ")
}

// readPods reads DIR/nodes/<node>/pods/<namespace>/<pod>/{ip-addr,ip-route}.txt, what
// `kubectl exec` of `ip addr` and `ip route` prints inside each pod. The pods/ directory marks
// the pods table, so a node whose pods/ is empty is judged as having no pod wired.
func readPods(in files, dir string, n *observed.Node) error {
	namespaces, ok, err := in.list(dir)
	if err != nil || !ok {
		return err
	}
	n.Mark(observed.TablePods)
	for _, ns := range namespaces {
		if !ns.IsDir() {
			continue
		}
		pods, _, err := in.list(filepath.Join(dir, ns.Name()))
		if err != nil {
			return err
		}
		for _, pod := range pods {
			if !pod.IsDir() {
				continue
			}
			w, err := readPod(in, filepath.Join(dir, ns.Name(), pod.Name()), n)
			if err != nil {
				return err
			}
			w.Namespace, w.Name = ns.Name(), pod.Name()
			n.Pods = append(n.Pods, w)
		}
	}
	return nil
}

func readPod(in files, dir string, n *observed.Node) (observed.PodWiring, error) {
	var w observed.PodWiring
	addrPath, routePath := filepath.Join(dir, AddrFile), filepath.Join(dir, RouteFile)
	data, ok, err := in.optional(addrPath)
	if err != nil {
		return w, err
	}
	if !ok {
		w.Absent = map[observed.Table]bool{observed.TableAddrs: true}
	}
	if ok {
		links, err := parse.Addrs(data)
		if err != nil {
			return w, parseError(addrPath, err)
		}
		for _, l := range links {
			if l.Name == "eth0" {
				w.Eth0 = l
			}
		}
	}
	if data, ok, err = in.optional(routePath); err != nil {
		return w, err
	}
	if ok {
		if w.Routes, err = parse.Routes(data); err != nil {
			return w, parseError(routePath, err)
		}
	} else {
		if w.Absent == nil {
			w.Absent = map[observed.Table]bool{}
		}
		w.Absent[observed.TableRoutes] = true
	}
	// The host end is the device of the node's route to the pod's address.
	for _, a := range w.Eth0.Addrs {
		for _, r := range n.Routes {
			if r.Dst == netip.PrefixFrom(a.Addr(), 32) && r.Dev != "" {
				w.HostIface = r.Dev
			}
		}
	}
	return w, nil
}

// files obtains the bytes of one capture's files, all through internal/safeio, so that no file
// of a capture can hang verify, exhaust its memory or lead it out of the capture directory.
type files struct {
	ctx  context.Context
	root string // the capture directory: links must stay inside it
}

// optional reads a file of the layout; a missing file is not an error.
func (in files) optional(path string) ([]byte, bool, error) {
	data, err := safeio.ReadFile(in.ctx, in.root, path, safeio.MaxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// list lists a directory of the layout; a missing directory lists nothing.
func (in files) list(path string) ([]fs.DirEntry, bool, error) {
	entries, err := safeio.ReadDir(in.ctx, in.root, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return entries, true, nil
}

func parseError(path string, err error) error {
	var pe *parse.Error
	if errors.As(err, &pe) {
		return exitcode.Usagef("%s:%d: %v", path, pe.Line, pe.Err)
	}
	return exitcode.Usagef("%s: %v", path, err)
}
