// Package cni is knetlab's CNI plugin (CNI spec 1.0): ADD allocates a pod address from the
// node's block and wires the pod exactly as Calico does (docs/dataplane.md, "Pod wiring"), DEL undoes it, CHECK
// verifies it. The address allocator is an interface so that tests use a fake and the plugin
// binary uses the lab's IPAM.
package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/lab"
)

// PluginType is the "type" a network config must name to reach this plugin.
const PluginType = "knetlab-cni"

// NetConf is the network configuration the runtime passes on stdin, e.g.
//
//	{"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "knetlab-cni",
//	 "nodeName": "k01-worker", "datastoreEndpoints": ["https://172.18.0.2:2379"],
//	 "datastore": {"etcdCertFile": ".../pki/client.crt", "etcdKeyFile": ".../pki/client.key",
//	               "etcdCACertFile": ".../pki/ca.crt"},
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
	// EtcdCertFile, EtcdKeyFile and EtcdCACertFile are the plugin's client certificate, its
	// key and the CA for https datastoreEndpoints (a netns lab's etcd requires them).
	EtcdCertFile   string `json:"etcdCertFile,omitempty"`
	EtcdKeyFile    string `json:"etcdKeyFile,omitempty"`
	EtcdCACertFile string `json:"etcdCACertFile,omitempty"`
}

// EtcdTLS are the etcd client files the config names.
func (d DatastoreConf) EtcdTLS() datastore.ClientTLS {
	return datastore.ClientTLS{CertFile: d.EtcdCertFile, KeyFile: d.EtcdKeyFile, CAFile: d.EtcdCACertFile}
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
		if t := d.EtcdTLS(); t.IsSet() && (t.CertFile == "" || t.KeyFile == "" || t.CAFile == "") {
			return []string{"datastore.etcdCertFile, etcdKeyFile and etcdCACertFile go together"}
		}
	case DatastoreKubernetes:
		if d.Kubeconfig == "" {
			return []string{"datastore.type kubernetes needs datastore.kubeconfig (the plugin runs outside any pod)"}
		}
		if d.EtcdTLS().IsSet() {
			return []string{"datastore.etcdCertFile/etcdKeyFile/etcdCACertFile are set but datastore.type is kubernetes"}
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
	invalid := func(msg, details string) (PodID, error) {
		return PodID{}, types.NewError(types.ErrInvalidEnvironmentVariables, msg, details)
	}
	// types.LoadArgs lets a repeated key win silently, so a value that smuggled in
	// ";K8S_POD_NAME=<another pod>" would name that pod's host veth: refuse every repeat.
	seen := map[string]bool{}
	for _, pair := range strings.Split(cniArgs, ";") {
		key, _, _ := strings.Cut(pair, "=")
		if seen[key] {
			return invalid("ambiguous CNI_ARGS", fmt.Sprintf("%s is given twice in %q", key, cniArgs))
		}
		seen[key] = true
	}
	args := podArgs{}
	args.IgnoreUnknown = true
	if err := types.LoadArgs(cniArgs, &args); err != nil {
		return invalid("cannot parse CNI_ARGS", err.Error())
	}
	id := PodID{Namespace: string(args.K8S_POD_NAMESPACE), Name: string(args.K8S_POD_NAME)}
	if id.Namespace == "" || id.Name == "" {
		return id, types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_ARGS must name the pod",
			"set K8S_POD_NAMESPACE=<namespace>;K8S_POD_NAME=<name> in CNI_ARGS, as kubelet does")
	}
	if err := id.check(); err != nil {
		return invalid("CNI_ARGS name a pod Kubernetes would not have", err.Error())
	}
	return id, nil
}

// check refuses a pod identity Kubernetes would refuse (lab.CheckPodName): such a name never
// comes from kubelet, and its characters could reach CNI_ARGS, paths and interface records.
func (id PodID) check() error {
	var msgs []string
	for _, p := range lab.CheckPodName(id.Namespace, id.Name) {
		msgs = append(msgs, p.Msg)
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// PodArgs are the CNI_ARGS a runtime passes for pod, as kubelet passes them (invoke.Args's
// PluginArgs, which the CNI library joins with '=' and ';'). A pod Kubernetes would refuse, or
// a container ID with a ';' or '=' in it, is an error: no value can add or repeat a key.
func PodArgs(pod PodID, containerID string) ([][2]string, error) {
	if err := pod.check(); err != nil {
		return nil, err
	}
	if containerID == "" || strings.ContainsAny(containerID, ";=") {
		return nil, fmt.Errorf("container ID %q must be non-empty and hold no ';' or '='", containerID)
	}
	return [][2]string{
		{"IgnoreUnknown", "1"},
		{"K8S_POD_NAMESPACE", pod.Namespace},
		{"K8S_POD_NAME", pod.Name},
		{"K8S_POD_INFRA_CONTAINER_ID", containerID},
	}, nil
}
