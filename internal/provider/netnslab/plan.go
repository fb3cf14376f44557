package netnslab

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/internal/render"
)

// PlanDeploy implements provider.Planner: every object the deploy creates, and the lab's CNI.
// It needs no root; without root the VLAN mode is assumed, since probing the kernel needs it.
func (p *Provider) PlanDeploy(_ context.Context, l *lab.Lab, opts provider.DeployOptions) (*provider.Plan, error) {
	if err := checkCNI(opts.CNI); err != nil {
		return nil, err
	}
	mode, why := "", ""
	if requireRoot("probe") == nil {
		mode, why = probeVLANMode()
	} else {
		mode, why = BridgePerVLAN, "assumed: probing the kernel needs root"
	}
	if rec, _ := journal.Read(p.root, l.Name); rec != nil && rec.VLANMode != "" {
		mode, why = rec.VLANMode, "as deployed"
	}
	t, err := newTopology(l, mode)
	if err != nil {
		return nil, exitcode.NewUsage(fmt.Errorf("deploy %s: %w", l.Name, err))
	}
	vlans := ""
	if l.Switch != nil {
		vlans = fmt.Sprintf("%s (%s)", mode, why)
	}
	pl := &provider.Plan{Action: "deploy", Lab: l.Name, Provider: Name, WorkDir: journal.Dir(p.root, l.Name)}
	if opts.Reconfigure {
		pl.Steps = append(pl.Steps, provider.Step{Title: "destroy the lab first (--reconfigure): knetlab destroy " + l.Name + " --dry-run lists what goes"})
	}
	pl.Steps = append(pl.Steps, t.underlaySteps(vlans)...)
	if !p.underlayed {
		pl.Steps = append(pl.Steps, cniSteps(p.root, l)...)
	}
	return pl, nil
}

// cniSteps are the CNI part of a deploy: the route reflectors and the nodes' BIRDs, the
// datastore, the agents, the lab's pods. root is the provider's state root.
func cniSteps(root string, l *lab.Lab) []provider.Step {
	cp := controlPlane(l)
	datastore := provider.Step{
		Title: "start the datastore and seed the IP pools",
		Actions: []string{
			"create the lab's CA and the datastore's server and client certificates (ECDSA P-256, 0600) in its state directory, or re-use them",
			fmt.Sprintf("start the datastore (etcd) in %s at %s, requiring a client certificate of the lab's CA", cp.Name, DatastoreURL(l)),
		},
		Waits: fmt.Sprintf("etcd to answer (%s)", datastoreReadyTimeout),
	}
	for _, p := range l.CNI.Pools {
		datastore.Actions = append(datastore.Actions, fmt.Sprintf("seed IPPool %s %s blockSize %d vxlanMode %s natOutgoing %t", p.Name, p.CIDR, p.BlockSize, p.VXLANMode, p.NATOutgoing))
	}
	agents := provider.Step{
		Title: "start one agent per node (the CNI plugin is this binary, linked as knetlab-cni)",
		Waits: fmt.Sprintf("every node registered, and its vxlan.calico, block routes, neighbours and FDB entries programmed (%s)", convergeTimeout),
	}
	if l.BGP != nil {
		agents.Waits = fmt.Sprintf("every node registered, its blackholes and the routes it learned over BGP programmed, every BGP session Established (%s)", convergeTimeout)
	}
	for _, n := range l.Nodes {
		line := fmt.Sprintf("start the agent of %s (underlay autodetected in %v)", n.Name, autodetectCIDRs(l, n))
		if l.BGP != nil {
			line = fmt.Sprintf("start the agent of %s (underlay autodetected in %v; BGP AS %d, %s)", n.Name, autodetectCIDRs(l, n), l.BGP.ASNumber, peersText(l, n))
		}
		agents.Actions = append(agents.Actions, line)
	}
	agents.Actions = append(agents.Actions, memoryEstimateLine(l))
	var steps []provider.Step
	if rrs := l.RouteReflectors(); len(rrs) > 0 {
		st := provider.Step{Title: "start the route reflectors (GoBGP, embedded in this binary) with the rr.conf knetlab render writes"}
		for _, rr := range rrs {
			st.Actions = append(st.Actions,
				fmt.Sprintf("write %s's rendered rr.conf (%s) to %s", rr.Name, render.ReflectorConfigPath(l.Name, rr.Name), filepath.Join(journal.Dir(root, l.Name), "rr", rr.Name, "rr.conf")),
				fmt.Sprintf("start the reflector %s in %s: BGP on %s:179 (passive, clients from %s as route-reflector clients of cluster %s), its GoBGP API on %s inside the namespace",
					rr.Name, NamespaceName(l.Name, rr.Name), rr.Address.Addr(), rr.Clients.Prefix, rr.ClusterID, reflectorAPI))
		}
		st.Waits = fmt.Sprintf("each reflector to listen on port 179 (%s)", reflectorStartTimeout)
		steps = append(steps, st)
	}
	if l.BGP != nil {
		st := provider.Step{
			Title: "start each node's BIRD, a process of its own beside the agent as on calico-node, with its peers and nothing to announce yet (its agent adds its blocks)",
			Waits: fmt.Sprintf("each BIRD's control socket to answer, before its agent starts (%s)", birdStartTimeout),
		}
		for _, n := range l.Nodes {
			dir := birdDir(root, l.Name, n.Name)
			st.Actions = append(st.Actions, fmt.Sprintf("start bird -f -R -c %s -s %s in %s (%s)",
				filepath.Join(dir, agent.BIRDConfigFile), filepath.Join(dir, agent.BIRDSocketFile), NamespaceName(l.Name, n.Name), peersText(l, n)))
		}
		steps = append(steps, st)
	}
	steps = append(steps, datastore, agents)
	if len(l.Pods) > 0 {
		pods := provider.Step{Title: "add the lab's pods through the CNI plugin"}
		for _, p := range l.Pods {
			pods.Actions = append(pods.Actions, fmt.Sprintf("add pod %s/%s on %s (netns %s)", p.Namespace, p.Name, p.Node, PodNamespaceName(l.Name, p.Namespace, p.Name)))
		}
		steps = append(steps, pods)
	}
	return steps
}

// PlanDestroy implements provider.Planner: what destroy would stop and remove, read from the
// lab's record without taking its lock.
func (p *Provider) PlanDestroy(_ context.Context, labName string, opts provider.DestroyOptions) ([]*provider.Plan, error) {
	names, err := p.destroyNames(labName, opts)
	if err != nil {
		return nil, err
	}
	var plans []*provider.Plan
	for _, name := range names {
		rec, err := journal.Read(p.root, name)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			rec = &journal.Lab{Lab: name}
		}
		def := opts.Lab
		if opts.All {
			def = nil
		}
		plans = append(plans, p.destroyPlan(rec, findRemains(rec, def)))
	}
	return plans, nil
}

// destroyPlan lists what a destroy of the lab does, in its order.
func (p *Provider) destroyPlan(rec *journal.Lab, r remains) *provider.Plan {
	pl := &provider.Plan{Action: "destroy", Lab: rec.Lab, Provider: Name, WorkDir: journal.Dir(p.root, rec.Lab)}
	if podsToDelete(rec) {
		st := provider.Step{Title: "delete the pods through the CNI plugin (CNI DEL, best effort: their namespaces go anyway)"}
		for _, pod := range rec.Pods {
			st.Actions = append(st.Actions, fmt.Sprintf("pod %s/%s on %s", pod.Namespace, pod.Name, pod.Node))
		}
		pl.Steps = append(pl.Steps, st)
	}
	if len(r.processes) > 0 {
		st := provider.Step{Title: fmt.Sprintf("stop the lab's processes (SIGTERM, then SIGKILL after %s)", stopGrace)}
		for _, pr := range r.processes {
			st.Actions = append(st.Actions, fmt.Sprintf("stop %s (pid %d)", pr.Name, pr.PID))
		}
		pl.Steps = append(pl.Steps, st)
	}
	if len(r.namespaces) > 0 {
		st := provider.Step{Title: "remove the lab's namespaces"}
		for _, n := range r.namespaces {
			st.Actions = append(st.Actions, "remove namespace "+n)
		}
		pl.Steps = append(pl.Steps, st)
	}
	files := slices.Clone(rec.Files)
	if rec.Phase != "" {
		files = append(files, journal.Dir(p.root, rec.Lab))
	}
	if len(files) > 0 {
		st := provider.Step{Title: "remove the lab's files and its record"}
		for _, f := range files {
			st.Actions = append(st.Actions, "remove "+f)
		}
		pl.Steps = append(pl.Steps, st)
	}
	return pl
}

// peersText names node n's BGP peers for the plan: "peering with gobgp-peer 172.18.0.5 AS 64496".
func peersText(l *lab.Lab, n lab.Node) string {
	var peers []string
	for _, p := range l.PeersOf(n) {
		peers = append(peers, fmt.Sprintf("%s %s AS %d", p.Name, p.Address(l), p.ASNumber))
	}
	if len(peers) == 0 {
		return "no BGP peers"
	}
	return "peering with " + strings.Join(peers, ", ")
}
