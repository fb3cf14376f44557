package datastore

import (
	"net/netip"
	"strings"

	"github.com/knetlab/knetlab/internal/calico"
)

// Resource is one of the lab's stored objects. Its JSON is Calico's metadata/spec shape with
// Calico's field names, so a dump of the datastore reads like `calicoctl get -o yaml`.
type Resource interface {
	Kind() Kind
	Meta() *ObjectMeta
}

// ObjectMeta is the part of an object's metadata the lab uses.
type ObjectMeta struct {
	Name string `json:"name"`
	// Revision is the store revision the object was read or written at (etcd mod revision,
	// Kubernetes resourceVersion). It is not part of the stored value: the store reports it,
	// and Update/Delete compare against it.
	Revision int64 `json:"-"`
}

// IPPool is a range pods take their addresses from, cut into blocks of BlockSize bits.
type IPPool struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     IPPoolSpec `json:"spec"`
}

// IPPoolSpec keeps Calico's IPPool field names.
type IPPoolSpec struct {
	CIDR         netip.Prefix     `json:"cidr"`
	BlockSize    int              `json:"blockSize"`
	VXLANMode    calico.EncapMode `json:"vxlanMode,omitempty"`
	IPIPMode     calico.EncapMode `json:"ipipMode,omitempty"`
	NATOutgoing  bool             `json:"natOutgoing,omitempty"`
	Disabled     bool             `json:"disabled,omitempty"`
	NodeSelector string           `json:"nodeSelector,omitempty"`
	// DisableBGPExport keeps the pool's blocks out of BGP advertisements (Calico's field).
	DisableBGPExport bool `json:"disableBGPExport,omitempty"`
}

// Kind implements Resource.
func (*IPPool) Kind() Kind { return KindIPPool }

// Meta implements Resource.
func (p *IPPool) Meta() *ObjectMeta { return &p.Metadata }

// Block affinity states, in the order a claim and a release pass through them.
const (
	AffinityPending         = "pending"
	AffinityConfirmed       = "confirmed"
	AffinityPendingDeletion = "pendingDeletion"
)

// BlockAffinity says a node owns a block. Only a confirmed, not deleted affinity counts: the
// dataplane routes a block to its node from these.
type BlockAffinity struct {
	Metadata ObjectMeta        `json:"metadata"`
	Spec     BlockAffinitySpec `json:"spec"`
}

// BlockAffinitySpec keeps Calico's BlockAffinity field names.
type BlockAffinitySpec struct {
	Node    string       `json:"node"`
	CIDR    netip.Prefix `json:"cidr"`
	State   string       `json:"state"`
	Deleted bool         `json:"deleted"`
}

// Kind implements Resource.
func (*BlockAffinity) Kind() Kind { return KindBlockAffinity }

// Meta implements Resource.
func (a *BlockAffinity) Meta() *ObjectMeta { return &a.Metadata }

// IPAMBlock records which addresses of one block are in use, and by which handle.
// As in Calico, Allocations is indexed by ordinal (the address's offset in the block) and
// holds an index into Attributes, or null when the address is free; Unallocated lists the free
// ordinals in the order they will be handed out.
type IPAMBlock struct {
	Metadata ObjectMeta    `json:"metadata"`
	Spec     IPAMBlockSpec `json:"spec"`
}

// IPAMBlockSpec keeps Calico's IPAMBlock field names.
type IPAMBlockSpec struct {
	CIDR        netip.Prefix          `json:"cidr"`
	Affinity    string                `json:"affinity,omitempty"` // "host:<node>"
	Allocations []*int                `json:"allocations"`
	Unallocated []int                 `json:"unallocated"`
	Attributes  []AllocationAttribute `json:"attributes"`
	Deleted     bool                  `json:"deleted"`
}

// AllocationAttribute names who holds an allocation.
type AllocationAttribute struct {
	HandleID  string            `json:"handle_id,omitempty"`
	Secondary map[string]string `json:"secondary,omitempty"`
}

// Allocation attribute keys the CNI plugin records with a pod's address, as Calico does. They
// are how the datastore knows which pod holds which address.
const (
	AttrNamespace = "namespace"
	AttrPod       = "pod"
	AttrNode      = "node"
)

// Kind implements Resource.
func (*IPAMBlock) Kind() Kind { return KindIPAMBlock }

// Meta implements Resource.
func (b *IPAMBlock) Meta() *ObjectMeta { return &b.Metadata }

// HostAffinity is the IPAMBlock affinity value for a node.
func HostAffinity(node string) string { return "host:" + node }

// AffineNode returns the node of a "host:<node>" affinity, or "" for any other affinity.
func (s *IPAMBlockSpec) AffineNode() string {
	node, ok := strings.CutPrefix(s.Affinity, "host:")
	if !ok {
		return ""
	}
	return node
}

// Node is a lab node as the dataplane needs it: where its underlay is and what its VXLAN
// tunnel endpoint looks like.
type Node struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     NodeSpec   `json:"spec"`
}

// NodeSpec keeps the field names of Calico's projectcalico.org/v3 Node.
type NodeSpec struct {
	BGP NodeBGPSpec `json:"bgp"`
	// IPv4VXLANTunnelAddr is the address on the node's vxlan.calico device.
	IPv4VXLANTunnelAddr netip.Addr `json:"ipv4VXLANTunnelAddr,omitzero"`
	// VXLANTunnelMACAddr is the vxlan.calico MAC; empty means derived from the node name.
	VXLANTunnelMACAddr string `json:"vxlanTunnelMACAddr,omitempty"`
	// VXLANParentInterface is the interface holding the underlay address (vxlan.calico's
	// parent). Calico has no such field; knetlab's agent records what it detected.
	VXLANParentInterface string `json:"vxlanParentInterface,omitempty"`
}

// NodeBGPSpec carries the node's underlay address. Calico keeps it under "bgp" even when BGP
// is off, and with its prefix length: the prefix is what decides CrossSubnet routing.
type NodeBGPSpec struct {
	IPv4Address netip.Prefix `json:"ipv4Address,omitzero"`
}

// Kind implements Resource.
func (*Node) Kind() Kind { return KindNode }

// Meta implements Resource.
func (n *Node) Meta() *ObjectMeta { return &n.Metadata }

// BlockName is the object name of the IPAMBlock for cidr, spelled as Calico does:
// 192.168.0.0/26 → 192-168-0-0-26.
func BlockName(cidr netip.Prefix) string {
	return strings.NewReplacer(".", "-", ":", "-", "/", "-").Replace(cidr.String())
}

// BlockAffinityName is the object name of node's affinity for cidr: k01-worker-192-168-0-0-26.
// One name per (node, block) lets two nodes each record a pending claim; the IPAMBlock create
// decides which of them owns the block.
func BlockAffinityName(node string, cidr netip.Prefix) string {
	return node + "-" + BlockName(cidr)
}
