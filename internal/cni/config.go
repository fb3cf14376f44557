// Package cni is knetlab's CNI plugin (CNI spec 1.0): ADD allocates a pod address from the
// node's block and wires the pod exactly as Calico does (docs/dataplane.md, "Pod wiring"), DEL undoes it, CHECK
// verifies it. The address allocator is an interface so that tests use a fake and the plugin
// binary uses the lab's IPAM.
package cni

import (
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

// PluginType is the "type" a network config must name to reach this plugin.
const PluginType = "knetlab-cni"

// NetConf is the network configuration the runtime passes on stdin, e.g.
//
//	{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "knetlab-cni",
//	 "nodeName": "k01-worker", "datastoreEndpoints": ["http://172.18.0.2:2379"],
//	 "logFile": "/var/lib/knetlab/calico-overlay/cni.log"}
type NetConf struct {
	types.NetConf
	// NodeName is the Kubernetes node this plugin runs on: addresses come from its blocks.
	NodeName string `json:"nodeName"`
	// DatastoreEndpoints are the etcd client URLs of the lab's datastore.
	DatastoreEndpoints []string `json:"datastoreEndpoints,omitempty"`
	// Datastore chooses the datastore backend; absent means etcd at DatastoreEndpoints.
	Datastore DatastoreConf `json:"datastore,omitzero"`
	// MTU of the pod interface; 0 means "the MTU of vxlan.calico", so that pods match the
	// tunnel the agent built (1450 on a 1500 underlay).
	MTU int `json:"mtu,omitempty"`
	// LogFile receives the plugin's structured log; empty means no log.
	LogFile string `json:"logFile,omitempty"`
}

// The datastore backends a network config can name.
const (
	DatastoreEtcd       = "etcd"
	DatastoreKubernetes = "kubernetes"
)

// DatastoreConf is the "datastore" object of a network config, e.g. on a kind node
//
//	"datastore": {"type": "kubernetes", "kubeconfig": "/etc/cni/net.d/knetlab-kubeconfig"}
//
// The plugin runs on the node, outside any pod, so the kubernetes backend cannot use the
// in-cluster service account directly: the agent writes a kubeconfig with its token instead.
type DatastoreConf struct {
	// Type is "etcd" (the default, also when empty) or "kubernetes".
	Type string `json:"type,omitempty"`
	// Kubeconfig is the kubeconfig file the kubernetes backend connects with.
	Kubeconfig string `json:"kubeconfig,omitempty"`
}

// Backend is the datastore type, with the default filled in.
func (d DatastoreConf) Backend() string {
	if d.Type == "" {
		return DatastoreEtcd
	}
	return d.Type
}

func (d DatastoreConf) problems() []string {
	switch d.Backend() {
	case DatastoreEtcd:
		if d.Kubeconfig != "" {
			return []string{"datastore.kubeconfig is set but datastore.type is etcd: set type kubernetes, or drop kubeconfig"}
		}
	case DatastoreKubernetes:
		if d.Kubeconfig == "" {
			return []string{"datastore.type kubernetes needs datastore.kubeconfig (the plugin runs outside any pod)"}
		}
	default:
		return []string{fmt.Sprintf("datastore.type is %q, want %q or %q", d.Type, DatastoreEtcd, DatastoreKubernetes)}
	}
	return nil
}

// ParseConfig reads and checks a network configuration. Problems come back as CNI errors
// with code 7 (invalid network config), which the runtime shows to the user.
func ParseConfig(stdin []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "cannot parse the network config", err.Error())
	}
	var problems []string
	if conf.Type != PluginType {
		problems = append(problems, fmt.Sprintf("type is %q, want %q", conf.Type, PluginType))
	}
	if conf.Name == "" {
		problems = append(problems, "name is empty")
	}
	if conf.NodeName == "" {
		problems = append(problems, "nodeName is empty: the plugin must know whose blocks to allocate from")
	}
	problems = append(problems, conf.Datastore.problems()...)
	if conf.MTU < 0 || conf.MTU > 65535 {
		problems = append(problems, fmt.Sprintf("mtu %d is out of range", conf.MTU))
	}
	if len(problems) > 0 {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "invalid knetlab-cni network config", fmt.Sprint(problems))
	}
	if err := version.ParsePrevResult(&conf.NetConf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "cannot parse prevResult", err.Error())
	}
	return conf, nil
}

// prevResult returns the result of a previous ADD carried in the config (CHECK needs it).
func (c *NetConf) prevResult() (*current.Result, error) {
	if c.PrevResult == nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "CHECK needs prevResult", "the runtime must pass the result of ADD")
	}
	res, err := current.NewResultFromResult(c.PrevResult)
	if err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "cannot convert prevResult", err.Error())
	}
	return res, nil
}

// podArgs are the Kubernetes fields of CNI_ARGS that name the pod.
type podArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE          types.UnmarshallableString //nolint:revive // CNI_ARGS key
	K8S_POD_NAME               types.UnmarshallableString //nolint:revive // CNI_ARGS key
	K8S_POD_INFRA_CONTAINER_ID types.UnmarshallableString //nolint:revive // CNI_ARGS key
}

// PodID names a pod: the host veth name is derived from it.
type PodID struct {
	Namespace string
	Name      string
}

func parsePodID(cniArgs string) (PodID, error) {
	args := podArgs{}
	args.IgnoreUnknown = true
	if err := types.LoadArgs(cniArgs, &args); err != nil {
		return PodID{}, types.NewError(types.ErrInvalidEnvironmentVariables, "cannot parse CNI_ARGS", err.Error())
	}
	id := PodID{Namespace: string(args.K8S_POD_NAMESPACE), Name: string(args.K8S_POD_NAME)}
	if id.Namespace == "" || id.Name == "" {
		return id, types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_ARGS must name the pod",
			"set K8S_POD_NAMESPACE=<namespace>;K8S_POD_NAME=<name> in CNI_ARGS, as kubelet does")
	}
	return id, nil
}
