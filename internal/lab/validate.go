package lab

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/checkid"
)

var (
	// safeName is what may appear in a namespace, a path, a container name and a shell command
	// without quoting: a DNS label.
	safeName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// ifaceName is a Linux interface name: at most 15 characters (IFNAMSIZ-1), no '/' or space.
	ifaceName  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
	switchPort = regexp.MustCompile(`^eth[1-9][0-9]*$`)
	vlanName   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)
	calicoVer  = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)
	// nodeImage must be pinned: name:tag (not latest) or name@sha256:digest.
	pinnedImage = regexp.MustCompile(`^[a-z0-9][a-z0-9./_-]*(:[A-Za-z0-9._-]+)?(@sha256:[a-f0-9]{64})?$`)
)

// Limits that keep derived names valid.
const (
	maxLabName  = 32 // the lab name goes into namespace names and clab-<lab>-<node> container names
	maxNodeName = 40
)

// MaxNodes is the most nodes a lab may have. Every node runs an agent, and every node holds a
// route, a neighbour and an FDB entry for every other node, so a lab costs memory linear in its
// nodes and convergence work quadratic in them. The limit is the largest lab that fits the
// budget measured in docs/benchmarks.md ("Memory per node and the node limit"); whether it
// fits this host's free memory is for the provider to say at deploy.
const MaxNodes = 150

// SwitchKinds are the switch kinds a renderer and a provider exist for.
var SwitchKinds = []string{"arista_ceos"}

type validator struct{ problems []Problem }

func (v *validator) addf(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) name(field, value, what string, max int) {
	switch {
	case value == "":
		v.addf(field, "%s is required", what)
	case len(value) > max:
		v.addf(field, "%s %q is longer than %d characters", what, value, max)
	case !safeName.MatchString(value):
		v.addf(field, "%s %q must be lower-case letters, digits and '-' (it is used in shell commands, paths and container names)", what, value)
	}
}

func (v *validator) iface(field, value string) {
	if !ifaceName.MatchString(value) {
		v.addf(field, "interface name %q must be 1-15 characters of letters, digits, '_', '.', '-'", value)
	}
}

func (v *validator) prefix(field string, p netip.Prefix, required bool) bool {
	if !p.IsValid() {
		if required {
			v.addf(field, "an IPv4 prefix is required, e.g. 10.10.10.0/24")
		}
		return false
	}
	if !p.Addr().Is4() {
		v.addf(field, "%s is not IPv4 (knetlab labs are IPv4)", p)
		return false
	}
	return true
}

func (v *validator) subnet(field string, p netip.Prefix) bool {
	if !v.prefix(field, p, true) {
		return false
	}
	if p != p.Masked() {
		v.addf(field, "%s has host bits set; the subnet is %s", p, p.Masked())
		return false
	}
	return true
}

func validate(l *Lab) []Problem {
	v := &validator{}
	v.name("name", l.Name, "lab name", maxLabName)
	if l.Lesson.Number <= 0 {
		v.addf("lesson.number", "a lesson number (1, 2, ...) is required")
	}
	if strings.TrimSpace(l.Lesson.Title) == "" {
		v.addf("lesson.title", "a lesson title is required")
	}
	v.validateSwitch(l)
	v.validateCluster(l)
	v.validateNodes(l)
	v.validateCNI(l)
	v.validateBGP(l)
	v.validatePods(l)
	v.validateChecks(l)
	return v.problems
}

func (v *validator) validateSwitch(l *Lab) {
	s := l.Switch
	if s == nil {
		return
	}
	v.name("switch.name", s.Name, "switch name", maxNodeName)
	if !contains(SwitchKinds, s.Kind) {
		v.addf("switch.kind", "switch kind %q is not supported (supported: %s)", s.Kind, strings.Join(SwitchKinds, ", "))
	}
	if s.Image == "" {
		v.addf("switch.image", "a switch image is required, e.g. ceos:4.34.0F")
	}
	if len(s.VLANs) == 0 {
		v.addf("switch.vlans", "a switch needs at least one VLAN")
	}
	ids := map[int]int{}
	for i, vl := range s.VLANs {
		f := fmt.Sprintf("switch.vlans[%d]", i)
		if vl.ID < 1 || vl.ID > 4094 {
			v.addf(f+".id", "VLAN ID %d is outside 1-4094", vl.ID)
		}
		if j, dup := ids[vl.ID]; dup {
			v.addf(f+".id", "VLAN %d is declared twice (also switch.vlans[%d])", vl.ID, j)
		}
		ids[vl.ID] = i
		if !vlanName.MatchString(vl.Name) {
			v.addf(f+".name", "VLAN name %q must be 1-32 letters, digits, '_', '.', '-'", vl.Name)
		}
		if !v.subnet(f+".subnet", vl.Subnet) {
			continue
		}
		switch {
		case !vl.Gateway.IsValid():
			v.addf(f+".gateway", "a gateway address (the SVI) is required")
		case !vl.Subnet.Contains(vl.Gateway):
			v.addf(f+".gateway", "gateway %s is outside the VLAN's subnet %s", vl.Gateway, vl.Subnet)
		case vl.Gateway == vl.Subnet.Addr() || vl.Gateway == lastAddr(vl.Subnet):
			v.addf(f+".gateway", "gateway %s is the network or broadcast address of %s", vl.Gateway, vl.Subnet)
		}
		for j := 0; j < i; j++ {
			if o := s.VLANs[j]; o.Subnet.IsValid() && o.Subnet.Overlaps(vl.Subnet) {
				v.addf(f+".subnet", "subnet %s overlaps VLAN %d's %s", vl.Subnet, o.ID, o.Subnet)
			}
		}
	}
}

// pinned checks that an image is pinned to a tag (not latest) or a digest.
func (v *validator) pinned(field, image, what, example string) {
	switch {
	case image == "":
		v.addf(field, "pin the %s, e.g. %s", what, example)
	case !pinnedImage.MatchString(image) || !(strings.Contains(image, ":") || strings.Contains(image, "@")):
		v.addf(field, "%s %q must be pinned to a tag or digest", what, image)
	case strings.HasSuffix(image, ":latest"):
		v.addf(field, "%s %q must be pinned to a version, not latest", what, image)
	}
}

func (v *validator) validateCluster(l *Lab) {
	c := l.Cluster
	v.name("cluster.name", c.Name, "cluster name", maxLabName)
	v.pinned("cluster.nodeImage", c.NodeImage, "node image", "kindest/node:v1.32.2")
	pod := v.subnet("cluster.podSubnet", c.PodSubnet)
	svc := v.subnet("cluster.serviceSubnet", c.ServiceSubnet)
	mgmt := v.subnet("cluster.managementSubnet", c.ManagementSubnet)
	if pod && svc && c.PodSubnet.Overlaps(c.ServiceSubnet) {
		v.addf("cluster.serviceSubnet", "service subnet %s overlaps the pod subnet %s", c.ServiceSubnet, c.PodSubnet)
	}
	if pod && mgmt && c.PodSubnet.Overlaps(c.ManagementSubnet) {
		v.addf("cluster.managementSubnet", "management subnet %s overlaps the pod subnet %s", c.ManagementSubnet, c.PodSubnet)
	}
}

// kindNodeName is the container name kind gives the i-th node (0-based) of a role:
// k01-control-plane, k01-worker, k01-worker2, ...
func kindNodeName(cluster string, role Role, i int) string {
	name := cluster + "-" + string(role)
	if i > 0 {
		name += strconv.Itoa(i + 1)
	}
	return name
}

func (v *validator) validateNodes(l *Lab) {
	if len(l.Nodes) == 0 {
		v.addf("nodes", "a lab needs at least one node")
		return
	}
	if len(l.Nodes) > MaxNodes {
		v.addf("nodes", "%d nodes; a lab has at most %d (each node runs an agent, and every node holds an entry per other node: see docs/benchmarks.md, \"Memory per node and the node limit\")", len(l.Nodes), MaxNodes)
	}
	names := map[string]int{}
	addrs := map[netip.Addr]string{}
	ports := map[string]int{}
	roleCount := map[Role]int{}
	for i, n := range l.Nodes {
		f := fmt.Sprintf("nodes[%d]", i)
		v.name(f+".name", n.Name, "node name", maxNodeName)
		if j, dup := names[n.Name]; dup && n.Name != "" {
			v.addf(f+".name", "node %q is declared twice (also nodes[%d])", n.Name, j)
		}
		names[n.Name] = i

		switch n.Role {
		case ControlPlane, Worker:
			want := kindNodeName(l.Cluster.Name, n.Role, roleCount[n.Role])
			roleCount[n.Role]++
			if n.Name != "" && n.Name != want && l.Cluster.Name != "" {
				v.addf(f+".name", "kind names this %s node %q, not %q; containerlab waits forever for a container that kind never creates", n.Role, want, n.Name)
			}
		default:
			v.addf(f+".role", "role %q must be control-plane or worker", n.Role)
		}

		v.iface(f+".interface", n.Interface)
		if v.prefix(f+".address", n.Address, true) {
			if other, dup := addrs[n.IP()]; dup {
				v.addf(f+".address", "address %s is already %s's", n.IP(), other)
			}
			addrs[n.IP()] = n.Name
			if n.Address.Bits() == 32 {
				v.addf(f+".address", "address %s needs the subnet's prefix length, e.g. /24", n.Address)
			}
		}
		if n.Management.IsValid() {
			if v.prefix(f+".management", n.Management, false) {
				if l.Cluster.ManagementSubnet.IsValid() && !l.Cluster.ManagementSubnet.Contains(n.Management.Addr()) {
					v.addf(f+".management", "management address %s is outside the management subnet %s", n.Management, l.Cluster.ManagementSubnet)
				}
				if other, dup := addrs[n.Management.Addr()]; dup {
					v.addf(f+".management", "address %s is already %s's", n.Management.Addr(), other)
				}
				addrs[n.Management.Addr()] = n.Name
			}
		}

		if l.Switch == nil {
			if n.SwitchPort != "" || n.VLAN != 0 {
				v.addf(f+".switchPort", "the lab has no switch; remove switchPort and vlan")
			}
			if n.Address.IsValid() && l.Cluster.ManagementSubnet.IsValid() && !l.Cluster.ManagementSubnet.Contains(n.IP()) {
				v.addf(f+".address", "address %s is outside the management subnet %s, the only network of a lab without a switch", n.Address, l.Cluster.ManagementSubnet)
			}
			continue
		}
		if !n.Management.IsValid() {
			v.addf(f+".management", "a node behind a switch needs its eth0 address on the management network, e.g. 172.18.0.2/16")
		} else if n.Interface == "eth0" {
			v.addf(f+".interface", "eth0 is the management interface; the switch-facing underlay interface is eth1")
		}
		switch {
		case n.SwitchPort == "":
			v.addf(f+".switchPort", "the switch port this node is cabled to is required, e.g. eth1")
		case !switchPort.MatchString(n.SwitchPort):
			v.addf(f+".switchPort", "switch port %q must be eth1, eth2, ...", n.SwitchPort)
		default:
			if j, dup := ports[n.SwitchPort]; dup {
				v.addf(f+".switchPort", "switch port %s is already cabled to %s", n.SwitchPort, l.Nodes[j].Name)
			}
			ports[n.SwitchPort] = i
		}
		vl, ok := l.VLAN(n.VLAN)
		if !ok {
			v.addf(f+".vlan", "VLAN %d is not declared under switch.vlans", n.VLAN)
			continue
		}
		if !n.Address.IsValid() || !vl.Subnet.IsValid() {
			continue
		}
		switch {
		case !vl.Subnet.Contains(n.IP()):
			v.addf(f+".address", "address %s is outside VLAN %d's subnet %s", n.Address, vl.ID, vl.Subnet)
		case n.Address.Bits() != vl.Subnet.Bits():
			v.addf(f+".address", "address %s should carry VLAN %d's prefix length /%d", n.Address, vl.ID, vl.Subnet.Bits())
		case n.IP() == vl.Gateway:
			v.addf(f+".address", "address %s is VLAN %d's gateway", n.IP(), vl.ID)
		}
	}
	if roleCount[ControlPlane] == 0 {
		v.addf("nodes", "a kind cluster needs a control-plane node")
	}
}

func (v *validator) validateCNI(l *Lab) {
	c := l.CNI
	if !calicoVer.MatchString(c.Calico.Version) {
		v.addf("cni.calico.version", "Calico version %q must look like v3.30.0", c.Calico.Version)
	}
	if ad := c.Calico.NodeAddressAutodetectionV4; ad != nil {
		if len(ad.CIDRs) == 0 {
			v.addf("cni.calico.nodeAddressAutodetectionV4.cidrs", "give at least one CIDR, or drop nodeAddressAutodetectionV4")
		}
		for i, p := range ad.CIDRs {
			v.subnet(fmt.Sprintf("cni.calico.nodeAddressAutodetectionV4.cidrs[%d]", i), p)
		}
		for i, n := range l.Nodes {
			if n.Address.IsValid() && !anyContains(ad.CIDRs, n.IP()) {
				v.addf(fmt.Sprintf("nodes[%d].address", i), "address %s is outside the autodetection CIDRs; Calico would pick another interface", n.Address)
			}
		}
	}
	if len(c.Pools) == 0 {
		v.addf("cni.pools", "at least one IP pool is required")
	}
	poolNames := map[string]int{}
	for i, p := range c.Pools {
		f := fmt.Sprintf("cni.pools[%d]", i)
		v.name(f+".name", p.Name, "pool name", 63)
		if j, dup := poolNames[p.Name]; dup {
			v.addf(f+".name", "pool %q is declared twice (also cni.pools[%d])", p.Name, j)
		}
		poolNames[p.Name] = i
		for _, m := range []struct {
			field string
			val   calico.EncapMode
		}{{"vxlanMode", p.VXLANMode}, {"ipipMode", p.IPIPMode}} {
			if !m.val.Valid() {
				v.addf(f+"."+m.field, "%s %q must be Never, Always or CrossSubnet", m.field, m.val)
			}
		}
		if p.VXLANMode.OrNever() != calico.EncapNever && p.IPIPMode.OrNever() != calico.EncapNever {
			v.addf(f+".ipipMode", "a pool cannot use VXLAN (%s) and IPIP (%s) at once", p.VXLANMode, p.IPIPMode)
		}
		if p.NodeSelector == "" {
			v.addf(f+".nodeSelector", "a node selector is required, e.g. all()")
		}
		if !v.subnet(f+".cidr", p.CIDR) {
			continue
		}
		if p.BlockSize < 20 || p.BlockSize > 32 {
			v.addf(f+".blockSize", "block size %d is outside Calico's IPv4 range 20-32", p.BlockSize)
		} else if p.BlockSize < p.CIDR.Bits() {
			v.addf(f+".blockSize", "block size /%d is larger than the pool %s", p.BlockSize, p.CIDR)
		}
		if cs := l.Cluster.PodSubnet; cs.IsValid() && !(cs.Contains(p.CIDR.Addr()) && cs.Bits() <= p.CIDR.Bits()) {
			v.addf(f+".cidr", "pool %s is outside the cluster's pod subnet %s", p.CIDR, cs)
		}
		if ss := l.Cluster.ServiceSubnet; ss.IsValid() && ss.Overlaps(p.CIDR) {
			v.addf(f+".cidr", "pool %s overlaps the service subnet %s", p.CIDR, ss)
		}
		for _, u := range underlaySubnets(l) {
			if u.subnet.Overlaps(p.CIDR) {
				v.addf(f+".cidr", "pool %s overlaps %s (%s)", p.CIDR, u.subnet, strings.Join(u.owners, ", "))
			}
		}
		for j := 0; j < i; j++ {
			if o := c.Pools[j]; o.CIDR.IsValid() && o.CIDR.Overlaps(p.CIDR) {
				v.addf(f+".cidr", "pool %s overlaps pool %s (%s)", p.CIDR, o.Name, o.CIDR)
			}
		}
	}
}

func (v *validator) validatePods(l *Lab) {
	seen := map[string]int{}
	for i, p := range l.Pods {
		f := fmt.Sprintf("pods[%d]", i)
		for _, pr := range CheckPodName(p.Namespace, p.Name) {
			v.addf(f+"."+pr.Field, "%s", pr.Msg)
		}
		if p.Name != "" && len(validation.IsDNS1123Subdomain(p.Name)) == 0 && len(validation.IsDNS1123Label(p.Name)) > 0 {
			v.addf(f+".name", "pod name %q is also the name of its container in the rendered manifest, which Kubernetes requires to be an RFC 1123 label (no '.', at most 63 characters)", p.Name)
		}
		key := p.Namespace + "/" + p.Name
		if j, dup := seen[key]; dup {
			v.addf(f+".name", "pod %s is declared twice (also pods[%d])", key, j)
		}
		seen[key] = i
		if _, ok := l.Node(p.Node); !ok {
			v.addf(f+".node", "node %q is not one of the lab's nodes", p.Node)
		}
		if p.Image == "" {
			v.addf(f+".image", "an image is required, e.g. praqma/network-multitool")
		}
		if s := p.Service; s != nil {
			v.name(f+".service.name", s.Name, "service name", 63)
			if s.Type != "ClusterIP" && s.Type != "NodePort" {
				v.addf(f+".service.type", "service type %q must be ClusterIP or NodePort", s.Type)
			}
			if s.Port < 1 || s.Port > 65535 {
				v.addf(f+".service.port", "port %d is outside 1-65535", s.Port)
			}
		}
	}
}

func (v *validator) validateChecks(l *Lab) {
	for i, id := range l.Checks {
		f := fmt.Sprintf("checks[%d]", i)
		switch {
		case checkid.NeedsBGP(id) && l.BGP == nil:
			v.addf(f, "check %s needs a bgp section, and the lab has none", id)
		case !checkid.Known(id):
			v.addf(f, "unknown check %q (checks: %s)", id, strings.Join(checkid.All, ", "))
		case checkid.NeedsSwitch(id) && l.Switch == nil:
			v.addf(f, "check %s needs a switch, and the lab has none", id)
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n |= host
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func anyContains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type underlaySubnet struct {
	subnet netip.Prefix
	owners []string // "VLAN 10", node names
}

// underlaySubnets lists each distinct node, VLAN and management subnet once, with who is in it,
// so that a pool overlapping a subnet is reported once, not once per node.
func underlaySubnets(l *Lab) []underlaySubnet {
	var out []underlaySubnet
	add := func(p netip.Prefix, owner string) {
		if !p.IsValid() {
			return
		}
		p = p.Masked()
		for i := range out {
			if out[i].subnet == p {
				out[i].owners = append(out[i].owners, owner)
				return
			}
		}
		out = append(out, underlaySubnet{subnet: p, owners: []string{owner}})
	}
	if l.Switch != nil {
		for _, vl := range l.Switch.VLANs {
			add(vl.Subnet, "VLAN "+strconv.Itoa(vl.ID))
		}
	}
	for _, n := range l.Nodes {
		add(n.Address, n.Name)
	}
	add(l.Cluster.ManagementSubnet, "management network")
	return out
}

// CheckPodName reports what Kubernetes would refuse in a pod's identity: the namespace must be
// an RFC 1123 label (at most 63 characters), the name an RFC 1123 subdomain (at most 253). The
// rules are apimachinery's own, so a name knetlab accepts is one kubelet could pass to a CNI
// plugin, and neither can carry a ';', '=', '/' or shell syntax into CNI_ARGS, a path or a
// namespace name. Problems come with Field "namespace" or "name".
func CheckPodName(namespace, name string) []Problem {
	var out []Problem
	check := func(field, what, value, ruleName string, rule func(string) []string) {
		if value == "" {
			out = append(out, Problem{Field: field, Msg: what + " is required"})
			return
		}
		if errs := rule(value); len(errs) > 0 {
			out = append(out, Problem{Field: field, Msg: fmt.Sprintf("%s %q is not what Kubernetes accepts (%s): %s", what, value, ruleName, strings.Join(errs, "; "))})
		}
	}
	check("namespace", "pod namespace", namespace, "an RFC 1123 label of at most 63 characters", validation.IsDNS1123Label)
	check("name", "pod name", name, "an RFC 1123 subdomain of at most 253 characters", validation.IsDNS1123Subdomain)
	return out
}
