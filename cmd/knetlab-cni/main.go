// Command knetlab-cni is knetlab's CNI plugin. A container runtime (kubelet's, or
// `knetlab pod add` in the netns lab) runs it with the CNI_* environment and the network
// config on stdin; it allocates from the lab's IPAM (etcd, or the Kubernetes API on a kind
// node) and wires the pod. The knetlab binary does the same when invoked as knetlab-cni.
package main

import "github.com/knetlab/knetlab/internal/cni"

func main() { cni.Main() }
