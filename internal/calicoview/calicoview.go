// Package calicoview prints a lab's IPAM data as a student of the course reads it on a real
// cluster: Calico's objects in their own API shapes (projectcalico.org/v3 as calicoctl prints
// them, crd.projectcalico.org/v1 as kubectl prints the CRDs), and the tables of calicoctl and
// kubectl in their column layouts. It knows nothing of where the objects were read.
package calicoview

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"
)

// The API groups the objects are printed in.
const (
	APIv3    = "projectcalico.org/v3"     // calicoctl's (and the Calico API server's) objects
	APICRDv1 = "crd.projectcalico.org/v1" // the CRDs Calico keeps in the Kubernetes API
)

// Meta is the metadata knetlab knows of an object.
type Meta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// CreationTimestamp is RFC 3339 when the store recorded one; kubectl's AGE column
	// prints <unknown> without it, as kubectl itself does.
	CreationTimestamp string `json:"creationTimestamp,omitempty"`
}

// IPPool is projectcalico.org/v3 IPPool.
type IPPool struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   Meta       `json:"metadata"`
	Spec       IPPoolSpec `json:"spec"`
}

// IPPoolSpec has the fields of Calico's IPPoolSpec that a lab's pools set.
type IPPoolSpec struct {
	CIDR             string `json:"cidr"`
	BlockSize        int    `json:"blockSize,omitempty"`
	IPIPMode         string `json:"ipipMode,omitempty"`
	VXLANMode        string `json:"vxlanMode,omitempty"`
	NATOutgoing      bool   `json:"natOutgoing,omitempty"`
	Disabled         bool   `json:"disabled,omitempty"`
	DisableBGPExport bool   `json:"disableBGPExport,omitempty"`
	NodeSelector     string `json:"nodeSelector,omitempty"`
}

// BlockAffinity is crd.projectcalico.org/v1 BlockAffinity (spec.deleted is a string there).
type BlockAffinity struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   Meta              `json:"metadata"`
	Spec       BlockAffinitySpec `json:"spec"`
}

// BlockAffinitySpec is the CRD's spec.
type BlockAffinitySpec struct {
	CIDR    string `json:"cidr"`
	Deleted string `json:"deleted"`
	Node    string `json:"node"`
	State   string `json:"state"`
}

// IPAMBlock is crd.projectcalico.org/v1 IPAMBlock.
type IPAMBlock struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   Meta          `json:"metadata"`
	Spec       IPAMBlockSpec `json:"spec"`
}

// IPAMBlockSpec is the CRD's spec: allocations by ordinal (an index into attributes, or
// null), the free ordinals in hand-out order, and who holds each allocation.
type IPAMBlockSpec struct {
	Affinity    string                `json:"affinity,omitempty"`
	Allocations []*int                `json:"allocations"`
	Attributes  []AllocationAttribute `json:"attributes"`
	CIDR        string                `json:"cidr"`
	Deleted     bool                  `json:"deleted"`
	Unallocated []int                 `json:"unallocated"`
}

// AllocationAttribute names who holds an allocation.
type AllocationAttribute struct {
	HandleID  string            `json:"handle_id,omitempty"`
	Secondary map[string]string `json:"secondary,omitempty"`
}

// Node is projectcalico.org/v3 Node.
type Node struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Meta     `json:"metadata"`
	Spec       NodeSpec `json:"spec"`
}

// NodeSpec has the fields of Calico's NodeSpec a lab's nodes set.
type NodeSpec struct {
	BGP                 *NodeBGPSpec `json:"bgp,omitempty"`
	IPv4VXLANTunnelAddr string       `json:"ipv4VXLANTunnelAddr,omitempty"`
	VXLANTunnelMACAddr  string       `json:"vxlanTunnelMACAddr,omitempty"`
}

// NodeBGPSpec carries the node's underlay address with its prefix length.
type NodeBGPSpec struct {
	ASNumber    string `json:"asNumber,omitempty"`
	IPv4Address string `json:"ipv4Address,omitempty"`
}

// WorkloadEndpoint is projectcalico.org/v3 WorkloadEndpoint: a pod as Calico sees it.
type WorkloadEndpoint struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Metadata   Meta                 `json:"metadata"`
	Spec       WorkloadEndpointSpec `json:"spec"`
}

// WorkloadEndpointSpec has the fields of Calico's WorkloadEndpointSpec for a pod.
type WorkloadEndpointSpec struct {
	Endpoint      string   `json:"endpoint"`
	InterfaceName string   `json:"interfaceName"`
	IPNetworks    []string `json:"ipNetworks"`
	Node          string   `json:"node"`
	Orchestrator  string   `json:"orchestrator"`
	Pod           string   `json:"pod"`
}

// Objects are a lab's IPAM data.
type Objects struct {
	Pools      []IPPool
	Affinities []BlockAffinity
	Blocks     []IPAMBlock
	Nodes      []Node
	Endpoints  []WorkloadEndpoint
}

// Sort orders every list by name (endpoints by namespace, then name), as the tools list them.
func (o *Objects) Sort() {
	slices.SortFunc(o.Pools, func(a, b IPPool) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	slices.SortFunc(o.Nodes, func(a, b Node) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	slices.SortFunc(o.Affinities, func(a, b BlockAffinity) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	slices.SortFunc(o.Blocks, func(a, b IPAMBlock) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	slices.SortFunc(o.Endpoints, func(a, b WorkloadEndpoint) int {
		if c := strings.Compare(a.Metadata.Namespace, b.Metadata.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Metadata.Name, b.Metadata.Name)
	})
}

// PodEndpoint is the WorkloadEndpoint Calico keeps for a pod: named <node>-k8s-<pod>-eth0 with
// each '-' of node and pod doubled, iface being the host end of the pod's veth.
func PodEndpoint(namespace, pod, node string, ip netip.Addr, iface string) WorkloadEndpoint {
	esc := func(s string) string { return strings.ReplaceAll(s, "-", "--") }
	return WorkloadEndpoint{
		APIVersion: APIv3, Kind: "WorkloadEndpoint",
		Metadata: Meta{Name: esc(node) + "-k8s-" + esc(pod) + "-eth0", Namespace: namespace},
		Spec: WorkloadEndpointSpec{
			Endpoint: "eth0", InterfaceName: iface, IPNetworks: []string{netip.PrefixFrom(ip, ip.BitLen()).String()},
			Node: node, Orchestrator: "k8s", Pod: pod,
		},
	}
}

// Resource names what `knetlab get` lists.
type Resource string

// The resources of `knetlab get`, in the order its help lists them.
const (
	IPPools         Resource = "ippools"
	BlockAffinities Resource = "blockaffinities"
	IPAMBlocks      Resource = "ipamblocks"
	Nodes           Resource = "nodes"
	Pods            Resource = "pods"
)

// Resources lists every resource.
var Resources = []Resource{IPPools, BlockAffinities, IPAMBlocks, Nodes, Pods}

// aliases are the other names calicoctl and kubectl accept.
var aliases = map[string]Resource{
	"ippool": IPPools, "ipp": IPPools, "ipps": IPPools, "pool": IPPools, "pools": IPPools,
	"blockaffinity": BlockAffinities, "ipamblock": IPAMBlocks,
	"node": Nodes, "no": Nodes,
	"pod": Pods, "po": Pods, "workloadendpoints": Pods, "workloadendpoint": Pods, "wep": Pods, "weps": Pods,
}

// ParseResource accepts a resource's name or one of calicoctl's and kubectl's aliases.
func ParseResource(s string) (Resource, bool) {
	r := Resource(strings.ToLower(s))
	if slices.Contains(Resources, r) {
		return r, true
	}
	r, ok := aliases[strings.ToLower(s)]
	return r, ok
}

// Formats are the -o values.
var Formats = []string{"", "wide", "yaml", "json"}

// Print writes the objects of resource r in format (one of Formats).
func Print(w io.Writer, o *Objects, r Resource, format string) error {
	switch format {
	case "yaml", "json":
		return printObjects(w, o, r, format)
	case "", "wide":
		return printTable(w, o, r, format == "wide")
	}
	return fmt.Errorf("unknown output format %q (want wide, yaml or json)", format)
}

// list is how each tool prints a list of objects: calicoctl as <Kind>List of its API group,
// kubectl as a v1 List.
type list struct {
	APIVersion string `json:"apiVersion"`
	Items      any    `json:"items"`
	Kind       string `json:"kind"`
	Metadata   struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
}

func printObjects(w io.Writer, o *Objects, r Resource, format string) error {
	var l list
	switch r {
	case IPPools:
		l = list{APIVersion: APIv3, Items: nonNil(o.Pools), Kind: "IPPoolList"}
	case Nodes:
		l = list{APIVersion: APIv3, Items: nonNil(o.Nodes), Kind: "NodeList"}
	case Pods:
		l = list{APIVersion: APIv3, Items: nonNil(o.Endpoints), Kind: "WorkloadEndpointList"}
	case BlockAffinities:
		l = list{APIVersion: "v1", Items: nonNil(o.Affinities), Kind: "List"}
	case IPAMBlocks:
		l = list{APIVersion: "v1", Items: nonNil(o.Blocks), Kind: "List"}
	default:
		return fmt.Errorf("unknown resource %q", r)
	}
	var data []byte
	var err error
	if format == "json" {
		data, err = json.MarshalIndent(l, "", "    ")
		data = append(data, '\n')
	} else {
		data, err = yaml.Marshal(l)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// table is one layout: the headers and each row's cells.
type table struct {
	headers []string
	rows    [][]string
	// calicoctl ends every cell with a tab (so its lines end in padding); kubectl does not.
	calicoctl bool
}

func printTable(w io.Writer, o *Objects, r Resource, wide bool) error {
	var t table
	switch r {
	case IPPools: // calicoctl get ippools [-o wide]
		t = table{headers: []string{"NAME", "CIDR", "SELECTOR"}, calicoctl: true}
		if wide {
			t.headers = []string{"NAME", "CIDR", "NAT", "IPIPMODE", "VXLANMODE", "DISABLED", "DISABLEBGPEXPORT", "SELECTOR"}
		}
		for _, p := range o.Pools {
			row := []string{p.Metadata.Name, p.Spec.CIDR, p.Spec.NodeSelector}
			if wide {
				row = []string{p.Metadata.Name, p.Spec.CIDR, fmt.Sprint(p.Spec.NATOutgoing), orNever(p.Spec.IPIPMode), orNever(p.Spec.VXLANMode),
					fmt.Sprint(p.Spec.Disabled), fmt.Sprint(p.Spec.DisableBGPExport), p.Spec.NodeSelector}
			}
			t.rows = append(t.rows, row)
		}
	case Nodes: // calicoctl get nodes [-o wide]
		t = table{headers: []string{"NAME"}, calicoctl: true}
		if wide {
			t.headers = []string{"NAME", "ASN", "IPV4", "IPV6"}
		}
		for _, n := range o.Nodes {
			row := []string{n.Metadata.Name}
			if wide {
				asn, ipv4 := "", ""
				if n.Spec.BGP != nil {
					// calicoctl prints the cluster's AS number in brackets when the node sets none.
					asn, ipv4 = n.Spec.BGP.ASNumber, n.Spec.BGP.IPv4Address
					if asn == "" {
						asn = "(" + DefaultASNumber + ")"
					}
				}
				row = append(row, asn, ipv4, "")
			}
			t.rows = append(t.rows, row)
		}
	case Pods: // calicoctl get workloadendpoints --all-namespaces [-o wide]
		t = table{headers: []string{"NAMESPACE", "WORKLOAD", "NODE", "NETWORKS", "INTERFACE"}, calicoctl: true}
		if wide {
			t.headers = []string{"NAMESPACE", "NAME", "WORKLOAD", "NODE", "NETWORKS", "INTERFACE", "PROFILES", "NATS"}
		}
		for _, e := range o.Endpoints {
			nets := strings.Join(e.Spec.IPNetworks, ",")
			row := []string{e.Metadata.Namespace, e.Spec.Pod, e.Spec.Node, nets, e.Spec.InterfaceName}
			if wide {
				row = []string{e.Metadata.Namespace, e.Metadata.Name, e.Spec.Pod, e.Spec.Node, nets, e.Spec.InterfaceName, "", ""}
			}
			t.rows = append(t.rows, row)
		}
	case BlockAffinities: // kubectl get blockaffinities [-o wide]
		var rows []crdRow
		for _, a := range o.Affinities {
			rows = append(rows, crdRow{a.Metadata, []string{a.Spec.CIDR, a.Spec.Node, a.Spec.State}})
		}
		t = crdTable(wide, []string{"CIDR", "NODE", "STATE"}, rows)
	case IPAMBlocks: // kubectl get ipamblocks [-o wide]
		var rows []crdRow
		for _, b := range o.Blocks {
			used := 0
			for _, a := range b.Spec.Allocations {
				if a != nil {
					used++
				}
			}
			rows = append(rows, crdRow{b.Metadata, []string{b.Spec.CIDR, b.Spec.Affinity, fmt.Sprintf("%d/%d", used, len(b.Spec.Allocations))}})
		}
		t = crdTable(wide, []string{"CIDR", "AFFINITY", "IN USE"}, rows)
	default:
		return fmt.Errorf("unknown resource %q", r)
	}
	return t.write(w)
}

// crdRow is one object of a CRD table: its metadata and the cells -o wide adds.
type crdRow struct {
	meta Meta
	wide []string
}

// crdTable is kubectl's table of a CRD without printer columns (NAME, AGE), with the spec
// fields wideHeaders names added under -o wide.
func crdTable(wide bool, wideHeaders []string, rows []crdRow) table {
	t := table{headers: []string{"NAME", "AGE"}}
	if wide {
		t.headers = append(t.headers, wideHeaders...)
	}
	for _, r := range rows {
		row := []string{r.meta.Name, age(r.meta)}
		if wide {
			row = append(row, r.wide...)
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// DefaultASNumber is the AS number Calico uses when no BGPConfiguration sets one.
const DefaultASNumber = "64512"

func orNever(mode string) string {
	if mode == "" {
		return "Never"
	}
	return mode
}

// now is the clock AGE is measured against (tests set it).
var now = time.Now

// age is kubectl's AGE cell: <unknown> without a creation time (knetlab's own datastore keeps
// none), as kubectl prints it.
func age(m Meta) string {
	t, err := time.Parse(time.RFC3339, m.CreationTimestamp)
	if err != nil {
		return "<unknown>"
	}
	return duration.HumanDuration(now().Sub(t))
}

// write prints the table with each tool's tabwriter settings: calicoctl (min width 5, tab
// width 1, padding 3, every cell tab-terminated), kubectl (min width 6, tab width 4, padding 3).
func (t table) write(w io.Writer) error {
	if len(t.rows) == 0 && !t.calicoctl {
		_, err := fmt.Fprintln(w, "No resources found")
		return err
	}
	var tw *tabwriter.Writer
	end := ""
	if t.calicoctl {
		tw = tabwriter.NewWriter(w, 5, 1, 3, ' ', 0)
		end = "\t"
	} else {
		tw = tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
	}
	for _, row := range append([][]string{t.headers}, t.rows...) {
		fmt.Fprint(tw, strings.Join(row, "\t")+end+"\n")
	}
	return tw.Flush()
}
