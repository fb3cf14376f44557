// Package manifests holds the Kubernetes manifests of knetlab's own CNI and agent on a kind
// cluster (`knetlab deploy <lab> --provider clab --cni knetlab`): the CRDs of the datastore's
// Kubernetes backend, the agent's RBAC, and its DaemonSet. They are embedded so that the binary
// applies exactly the manifests it was built with.
package manifests

import "embed"

// Manifests are the files, applied in Order.
//
//go:embed crds.yaml rbac.yaml daemonset.yaml
var Manifests embed.FS

// Order is the order the manifests are applied in: CRDs and RBAC before the agent that needs them.
var Order = []string{"crds.yaml", "rbac.yaml", "daemonset.yaml"}

// Namespace and DaemonSet name the agent, for the readiness wait.
const (
	Namespace = "knetlab-system"
	DaemonSet = "knetlab-agent"
	// Image is the tag the clab provider builds from build/Dockerfile and loads into the nodes.
	Image = "knetlab/agent:dev"
	// ConfigMap holds the lab's settings for the agent; knetlab deploy writes it per lab, and
	// the DaemonSet passes AutodetectKey to the agent's --autodetect.
	ConfigMap     = "knetlab-config"
	AutodetectKey = "autodetect"
)
