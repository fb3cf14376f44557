package netnslab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/dataplane"
	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/provider/netnslab/labca"
)

// The lab's own CNI, brought up after the underlay: the datastore in the control-plane node,
// one agent per node, then the test pods through the CNI plugin. Each step checks what runs and
// starts only what is missing, so a second deploy repairs a dead agent and nothing else.

const (
	// datastorePort is etcd's client port, as on a Kubernetes control plane.
	datastorePort = 2379
	// datastoreProcess and agentProcess name the lab's processes in its record.
	datastoreProcess = "datastore"
	agentProcess     = "agent "
	// datastoreReadyTimeout bounds the wait for etcd to answer; convergeTimeout the wait for
	// every agent to register and program its node.
	datastoreReadyTimeout = 15 * time.Second
	convergeTimeout       = 30 * time.Second
	// pollInterval paces the condition waits; each round is a few netlink reads and one etcd
	// list, so a short interval costs little and keeps deploy close to the real convergence time.
	pollInterval = 20 * time.Millisecond
	// daemonMarker is set in the environment of every lab daemon.
	daemonMarker = "KNETLAB_LAB_DAEMON"
)

// stateFile is a path in the lab's state directory, which destroy removes with the record.
func (d *deployer) stateFile(elem ...string) string {
	return filepath.Join(append([]string{journal.Dir(d.root, d.topo.lab.Name)}, elem...)...)
}

// controlPlane is the node that hosts the datastore.
func controlPlane(l *lab.Lab) lab.Node {
	for _, n := range l.Nodes {
		if n.Role == lab.ControlPlane {
			return n
		}
	}
	return l.Nodes[0]
}

// DatastoreURL is the etcd client URL of a lab: https on the control-plane node's management
// address. Pods reach that network through their node, so etcd requires a client certificate
// signed by the lab's CA (labPKI), which only the lab's agents, CNI plugin and knetlab hold.
func DatastoreURL(l *lab.Lab) string {
	return fmt.Sprintf("https://%s", datastoreAddr(l))
}

func datastoreAddr(l *lab.Lab) netip.AddrPort {
	return netip.AddrPortFrom(controlPlane(l).ManagementAddress().Addr(), datastorePort)
}

// labPKI names the lab's CA and certificates in its state directory.
func labPKI(stateDir string) labca.Files { return labca.At(filepath.Join(stateDir, "pki")) }

// clientTLS is what a client of the lab's datastore at url presents: the lab's client
// certificate for https, nothing for a lab an older knetlab deployed on plain http.
func clientTLS(stateDir, url string) datastore.ClientTLS {
	if !strings.HasPrefix(url, "https://") {
		return datastore.ClientTLS{}
	}
	f := labPKI(stateDir)
	return datastore.ClientTLS{CertFile: f.ClientCert, KeyFile: f.ClientKey, CAFile: f.CACert}
}

// ensurePKI re-uses the lab's CA and certificates, or makes them (recorded first, so destroy
// removes them even after a killed deploy). A datastore or agent that runs with credentials
// other than these (new ones, or a lab an older knetlab served on plain http) is stopped, so
// that ensureDatastore and ensureAgent start it again with them.
func (d *deployer) ensurePKI(url string) (labca.Files, error) {
	dir := labPKI(journal.Dir(d.root, d.topo.lab.Name)).Dir
	if err := d.store.AddFile(dir); err != nil {
		return labca.Files{}, err
	}
	f, created, err := labca.Ensure(dir, d.topo.lab.Name, []netip.Addr{datastoreAddr(d.topo.lab).Addr()}, time.Now())
	if err != nil {
		return f, exitcode.NewEnvironment(err, "check that "+dir+" is writable, then deploy again")
	}
	if !created && (d.store.Lab.Datastore == "" || d.store.Lab.Datastore == url) {
		return f, nil
	}
	var stale []journal.Process
	for _, pr := range d.store.Processes() {
		if pr.Name == datastoreProcess || strings.HasPrefix(pr.Name, agentProcess) {
			stale = append(stale, pr)
		}
	}
	if len(stale) == 0 {
		return f, nil
	}
	stopProcesses(stale)
	for _, pr := range stale {
		if err := d.store.RemoveProcess(pr.PID); err != nil {
			return f, err
		}
	}
	d.did("processes", "new datastore credentials: restarted %d lab processes with them", len(stale))
	return f, nil
}

// autodetectCIDRs are the CIDRs a node's agent picks its underlay address from: the lab's
// nodeAddressAutodetectionV4 as Calico reads it, else the subnet of the node's own lab address
// (pod-network: the nodes' one docker network), which is what Calico's first-found finds there.
func autodetectCIDRs(l *lab.Lab, n lab.Node) []netip.Prefix {
	if ad := l.CNI.Calico.NodeAddressAutodetectionV4; ad != nil && len(ad.CIDRs) > 0 {
		return ad.CIDRs
	}
	return []netip.Prefix{n.Address.Masked()}
}

// deployCNI runs the CNI part of a deploy.
func (d *deployer) deployCNI(ctx context.Context, prog provider.Progress) error {
	l := d.topo.lab
	// The reflectors first: they only listen. Then each node's BIRD, which dials them ¾ to 1 s
	// after it starts (its minimum connect delay): the sessions come up while the datastore and
	// the agents start, and an agent, once it runs, only adds its blocks.
	for _, rr := range l.RouteReflectors() {
		if err := d.ensureReflector(rr); err != nil {
			return err
		}
	}
	for _, rr := range l.RouteReflectors() {
		if err := d.waitReflectorListening(rr); err != nil {
			return err
		}
	}
	url := DatastoreURL(l)
	pki, err := d.ensurePKI(url)
	if err != nil {
		return err
	}
	if l.BGP != nil {
		for _, n := range l.Nodes {
			if err := d.ensureBIRD(n, agentOptions(d.root, l, n, url, pki)); err != nil {
				return err
			}
		}
	}
	if err := d.ensureDatastore(url, pki); err != nil {
		return err
	}
	store, err := d.connectDatastore(ctx, url)
	if err != nil {
		return err
	}
	defer store.Close()
	prog.Step("datastore: %s", url)
	if err := seedPools(ctx, store, l.CNI.Pools); err != nil {
		return err
	}
	if d.store.Lab.Datastore != url {
		d.store.Lab.Datastore = url
		if err := d.store.Save(); err != nil {
			return err
		}
	}
	if err := d.ensureCNIPlugin(); err != nil {
		return err
	}
	if rrs := l.RouteReflectors(); len(rrs) > 0 {
		prog.Step("route reflectors: %d", len(rrs))
	}
	for _, n := range l.Nodes {
		if l.BGP != nil {
			if err := d.waitBIRD(n, birdDir(d.root, l.Name, n.Name)); err != nil {
				return err
			}
		}
		if err := d.ensureAgent(n, url, pki); err != nil {
			return err
		}
	}
	if err := d.waitConverged(ctx, store, prog); err != nil {
		return err
	}
	if len(l.Pods) > 0 {
		prog.Step("pods: %d through the CNI plugin", len(l.Pods))
	}
	rt := d.podRuntime()
	for _, pod := range l.Pods {
		if err := ctx.Err(); err != nil {
			return err
		}
		repaired, err := rt.ensurePod(ctx, d.store, pod)
		if err != nil {
			return err
		}
		if repaired != "" {
			d.did("pods", "%s", repaired)
		}
	}
	return nil
}

// runningProcess returns the record of the lab process name when it is alive, and forgets the
// records of dead ones.
func runningProcess(store *journal.Store, name string) (journal.Process, bool, error) {
	var alive *journal.Process
	for _, pr := range store.Processes() {
		if pr.Name != name {
			continue
		}
		if pr.Alive() && alive == nil {
			alive = &pr
			continue
		}
		if err := store.RemoveProcess(pr.PID); err != nil {
			return journal.Process{}, false, err
		}
	}
	if alive == nil {
		return journal.Process{}, false, nil
	}
	return *alive, true, nil
}

// startDaemon starts the knetlab binary with args inside namespace ns as the lab process name,
// its stderr in the lab's logs directory.
func (d *deployer) startDaemon(ns, name string, args []string) error {
	// A binary that does not dispatch the lab's processes (a test binary without the
	// labprocess hook) would run its own main instead, which may deploy and start daemons
	// again: the marker stops that at the first level.
	if os.Getenv(daemonMarker) != "" {
		return fmt.Errorf("this process was started as lab daemon %q but runs a deploy: its binary does not dispatch `knetlab %s`", os.Getenv(daemonMarker), args[0])
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the knetlab binary to start %s: %w", name, err)
	}
	logDir := d.stateFile("logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", logDir, err)
	}
	out, err := os.OpenFile(filepath.Join(logDir, strings.ReplaceAll(name, " ", "-")+".stderr"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("log of %s: %w", name, err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), daemonMarker+"="+name)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = "/"
	if err := StartProcess(d.store, ns, name, cmd); err != nil {
		return err
	}
	// Reap the daemon if it ends while this process lives (tests, a long deploy), so that it
	// does not linger as a zombie; a daemon outliving knetlab is reaped by init.
	go func() { _ = cmd.Wait() }()
	return nil
}

func (d *deployer) ensureDatastore(url string, pki labca.Files) error {
	if _, ok, err := runningProcess(d.store, datastoreProcess); err != nil || ok {
		return err
	}
	cp := controlPlane(d.topo.lab)
	args := datastore.ServeConfig{
		ClientURL: url, DataDir: d.stateFile("datastore"), LogFile: d.stateFile("logs", "datastore.log"),
		TLS: datastore.ServerTLS{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, ClientCA: pki.CACert},
	}.DaemonArgs()
	if err := d.startDaemon(NamespaceName(d.topo.lab.Name, cp.Name), datastoreProcess, args); err != nil {
		return err
	}
	d.did("processes", "started the datastore in %s", cp.Name)
	return nil
}

func (d *deployer) ensureAgent(n lab.Node, url string, pki labca.Files) error {
	name := agentProcess + n.Name
	if _, ok, err := runningProcess(d.store, name); err != nil || ok {
		return err
	}
	if err := d.startAgent(agentOptions(d.root, d.topo.lab, n, url, pki)); err != nil {
		return err
	}
	d.did("processes", "started the agent of %s", n.Name)
	return nil
}

// startAgent starts the agent o describes in its node's namespace.
func (d *deployer) startAgent(o agent.Options) error {
	return d.startDaemon(NamespaceName(d.topo.lab.Name, o.Node), agentProcess+o.Node, o.Args())
}

// agentOptions are the options of node n's agent: the lab's datastore with its client
// certificate, the node's underlay, and in a BGP lab the node's BGP peers.
func agentOptions(root string, l *lab.Lab, n lab.Node, url string, pki labca.Files) agent.Options {
	o := agent.Options{
		Datastore: agent.DatastoreEtcd, EtcdEndpoints: []string{url}, Node: n.Name,
		EtcdCert: pki.ClientCert, EtcdKey: pki.ClientKey, EtcdCA: pki.CACert,
		Autodetect: autodetectCIDRs(l, n), LogFile: filepath.Join(journal.Dir(root, l.Name), "logs", "agent-"+n.Name+".log"),
	}
	bgpAgentOptions(root, l, n, &o)
	return o
}

// ensureCNIPlugin places the plugin where the runtime looks for it: <state>/cni/bin/knetlab-cni,
// a symlink to this knetlab binary, which acts as the plugin when run under that name.
func (d *deployer) ensureCNIPlugin() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the knetlab binary for the CNI plugin: %w", err)
	}
	link := d.stateFile("cni", "bin", cni.PluginType)
	if have, err := os.Readlink(link); err == nil && have == exe {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return fmt.Errorf("CNI plugin directory: %w", err)
	}
	_ = os.Remove(link)
	if err := os.Symlink(exe, link); err != nil {
		return fmt.Errorf("install the CNI plugin: %w", err)
	}
	return nil
}

// namespaceDialer dials from inside a lab namespace: the lab's addresses exist only there, and
// a socket keeps the namespace it was created in.
func namespaceDialer(nsName string) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		h, err := openNamespace(nsName)
		if err != nil {
			return nil, err
		}
		defer h.Close()
		var conn net.Conn
		err = kernel.Do(h, func() error {
			var err error
			conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			return err
		})
		return conn, err
	}
}

// openDatastore connects to a lab's datastore through its management network namespace, with
// the lab's client certificate from the lab's state under root.
func openDatastore(ctx context.Context, root, labName, url string, timeout time.Duration) (*datastore.Etcd, error) {
	return datastore.NewEtcd(ctx, datastore.EtcdConfig{
		Endpoints:   []string{url},
		DialTimeout: timeout,
		Dialer:      namespaceDialer(NamespaceName(labName, networkMember)),
		TLS:         clientTLS(journal.Dir(root, labName), url),
	})
}

// connectDatastore waits until the datastore accepts connections, then connects. The TCP wait
// comes first because the etcd client backs off a whole second after a refused connection.
func (d *deployer) connectDatastore(ctx context.Context, url string) (*datastore.Etcd, error) {
	ctx, cancel := context.WithTimeout(ctx, datastoreReadyTimeout)
	defer cancel()
	addr := datastoreAddr(d.topo.lab).String()
	dial := namespaceDialer(NamespaceName(d.topo.lab.Name, networkMember))
	for {
		conn, err := dial(ctx, addr)
		if err == nil {
			conn.Close()
			break
		}
		if _, ok, perr := runningProcess(d.store, datastoreProcess); perr != nil || !ok {
			return nil, exitcode.NewEnvironment(fmt.Errorf("the datastore stopped while starting (%v); see %s", err, d.stateFile("logs")), labBroken(d.topo.lab.Name))
		}
		select {
		case <-ctx.Done():
			return nil, exitcode.NewEnvironment(fmt.Errorf("the datastore at %s does not answer after %s: %v; see %s", url, datastoreReadyTimeout, err, d.stateFile("logs")), labBroken(d.topo.lab.Name))
		case <-time.After(pollInterval):
		}
	}
	store, err := openDatastore(ctx, d.root, d.topo.lab.Name, url, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w; see %s", err, d.stateFile("logs"))
	}
	return store, nil
}

// seedPools writes the lab's IPPools, Calico field names and all; a pool that differs from the
// lab is brought back to it.
func seedPools(ctx context.Context, store datastore.Store, pools []lab.Pool) error {
	c := datastore.IPPools(store)
	for _, p := range pools {
		want := datastore.IPPoolSpec{CIDR: p.CIDR, BlockSize: p.BlockSize, VXLANMode: p.VXLANMode, IPIPMode: p.IPIPMode,
			NATOutgoing: p.NATOutgoing, NodeSelector: p.NodeSelector, DisableBGPExport: p.DisableBGPExport}
		have, err := c.Get(ctx, p.Name)
		switch {
		case errors.Is(err, datastore.ErrNotFound):
			err = c.Create(ctx, &datastore.IPPool{Metadata: datastore.ObjectMeta{Name: p.Name}, Spec: want})
		case err == nil && have.Spec != want:
			have.Spec = want
			err = c.Update(ctx, have)
		}
		if err != nil {
			return fmt.Errorf("IPPool %s: %w", p.Name, err)
		}
	}
	return nil
}

// waitConverged waits until every node is registered (a Node with underlay and, when a pool
// uses VXLAN, tunnel addresses) and its kernel holds what its agent must program: vxlan.calico
// when a pool uses VXLAN, a route for every block, a neighbour and an FDB entry for every peer;
// in a BGP lab also every BGP session Established (bgpPending).
func (d *deployer) waitConverged(ctx context.Context, store datastore.Store, prog provider.Progress) error {
	l := d.topo.lab
	ctx, cancel := context.WithTimeout(ctx, convergeTimeout)
	defer cancel()
	handles := map[string]*netlink.Handle{}
	for _, n := range l.Nodes {
		handles[n.Name] = d.nl[NamespaceName(l.Name, n.Name)]
	}
	lastRegistered := -1
	var waiting []string
	for {
		registered, pending, err := convergence(ctx, store, d.root, l, handles)
		if err == nil && len(pending) == 0 {
			prog.Step("agents: %d nodes registered and programmed", len(l.Nodes))
			return nil
		}
		if err != nil {
			pending = []string{err.Error()}
		}
		waiting = pending
		if registered != lastRegistered {
			prog.Step("agents: %d/%d nodes registered", registered, len(l.Nodes))
			lastRegistered = registered
		}
		for _, n := range l.Nodes {
			if _, ok, perr := runningProcess(d.store, agentProcess+n.Name); perr != nil || !ok {
				return exitcode.NewEnvironment(fmt.Errorf("the agent of %s stopped; see %s", n.Name, d.stateFile("logs", "agent-"+n.Name+".log")), labBroken(l.Name))
			}
		}
		for _, n := range l.Nodes {
			if l.BGP == nil {
				break
			}
			if _, ok, perr := runningProcess(d.store, birdProcess+n.Name); perr != nil || !ok {
				return exitcode.NewEnvironment(fmt.Errorf("the BIRD of %s stopped; see %s", n.Name, d.stateFile("logs", "bird-"+n.Name+".stderr")), labBroken(l.Name))
			}
		}
		for _, rr := range l.RouteReflectors() {
			if _, ok, perr := runningProcess(d.store, reflectorProcess+rr.Name); perr != nil || !ok {
				return exitcode.NewEnvironment(fmt.Errorf("the route reflector %s stopped; see %s", rr.Name, d.stateFile("logs", strings.ReplaceAll(reflectorProcess+rr.Name, " ", "-")+".stderr")), labBroken(l.Name))
			}
		}
		select {
		case <-ctx.Done():
			return exitcode.NewEnvironment(fmt.Errorf("agents not converged after %s: %s; see the agent logs in %s", convergeTimeout, strings.Join(waiting, "; "), d.stateFile("logs")), labBroken(l.Name))
		case <-time.After(pollInterval):
		}
	}
}

// convergence returns how many lab nodes are registered and what is still missing.
func convergence(ctx context.Context, store datastore.Store, root string, l *lab.Lab, handles map[string]*netlink.Handle) (int, []string, error) {
	pools, _, err := datastore.IPPools(store).List(ctx)
	if err != nil {
		return 0, nil, err
	}
	nodes, _, err := datastore.Nodes(store).List(ctx)
	if err != nil {
		return 0, nil, err
	}
	affinities, _, err := datastore.BlockAffinities(store).List(ctx)
	if err != nil {
		return 0, nil, err
	}
	registered := 0
	var pending []string
	tunnels := labUsesVXLAN(l)
	for _, n := range l.Nodes {
		i := slices.IndexFunc(nodes, func(x *datastore.Node) bool { return x.Metadata.Name == n.Name })
		if i < 0 || !nodes[i].Spec.BGP.IPv4Address.IsValid() || tunnels && !nodes[i].Spec.IPv4VXLANTunnelAddr.IsValid() {
			pending = append(pending, n.Name+" not registered")
			continue
		}
		registered++
	}
	if len(pending) > 0 {
		return registered, pending, nil
	}
	for _, n := range l.Nodes {
		desired, err := agent.DesiredState(n.Name, pools, nodes, affinities)
		if err != nil {
			return registered, nil, err
		}
		if missing := missingFromKernel(handles[n.Name], dataplane.ComputePlan(desired)); len(missing) > 0 {
			pending = append(pending, n.Name+" lacks "+strings.Join(missing, ", "))
		}
	}
	if len(pending) == 0 && l.BGP != nil {
		pending = bgpPending(ctx, root, l)
	}
	return registered, pending, nil
}

// missingFromKernel names the entries of plan a node does not have yet. Presence is enough here:
// the agent owns the details, and verify judges them.
func missingFromKernel(h *netlink.Handle, plan dataplane.Plan) []string {
	var missing []string
	vxlanIndex := 0
	if plan.VXLAN != nil {
		link, err := h.LinkByName(dataplane.VXLANDeviceName)
		if err != nil {
			return []string{dataplane.VXLANDeviceName}
		}
		vxlanIndex = link.Attrs().Index
	}
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return []string{"its routes: " + err.Error()}
	}
	for _, r := range plan.Routes {
		if !slices.ContainsFunc(routes, func(x netlink.Route) bool { return x.Dst != nil && x.Dst.String() == r.Dst.String() }) {
			missing = append(missing, "route "+r.Dst.String())
		}
	}
	if vxlanIndex == 0 {
		return missing
	}
	neighs, err := h.NeighList(vxlanIndex, netlink.FAMILY_V4)
	if err != nil {
		return append(missing, "its neighbours: "+err.Error())
	}
	for _, n := range plan.Neighbours {
		if !slices.ContainsFunc(neighs, func(x netlink.Neigh) bool {
			return x.IP.Equal(n.IP.AsSlice()) && x.State&netlink.NUD_PERMANENT != 0
		}) {
			missing = append(missing, "neighbour "+n.IP.String())
		}
	}
	fdb, err := h.NeighList(vxlanIndex, unix.AF_BRIDGE)
	if err != nil {
		return append(missing, "its FDB: "+err.Error())
	}
	for _, f := range plan.FDB {
		if !slices.ContainsFunc(fdb, func(x netlink.Neigh) bool {
			return x.HardwareAddr.String() == f.MAC.String() && x.IP.Equal(f.Dst.AsSlice())
		}) {
			missing = append(missing, "fdb "+f.MAC.String())
		}
	}
	return missing
}

// nodeHandle opens a netlink handle in a lab node's namespace.
func nodeHandle(labName, node string) (netns.NsHandle, *netlink.Handle, error) {
	h, err := openNamespace(NamespaceName(labName, node))
	if err != nil {
		return netns.None(), nil, err
	}
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		h.Close()
		return netns.None(), nil, fmt.Errorf("netlink in %s: %w", node, err)
	}
	return h, nl, nil
}

// labBroken is what to do when a lab's own processes fail: they ran on this host, so the cause
// is in their logs or the host, and a rebuild starts them afresh.
func labBroken(lab string) string {
	return "read the logs named above, then rebuild the lab: sudo knetlab deploy " + lab + " --reconfigure"
}
