package kernel

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/knetlab/knetlab/verify/observed"
)

// PodIface is the pod end of a pod's veth, as every CNI names it.
const PodIface = "eth0"

// ReadPod reads the pod side of a pod's wiring from its network namespace ns: eth0 with its
// addresses, and the pod's main routing table. hostIface is the host end the caller knows of
// (the runtime's record); pods.wiring compares it with the name Calico's rule gives.
func ReadPod(ns netns.NsHandle, namespace, name, hostIface string) (observed.PodWiring, error) {
	w := observed.PodWiring{Namespace: namespace, Name: name, HostIface: hostIface}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return w, fmt.Errorf("read pod %s/%s: open netlink in its namespace: %w", namespace, name, err)
	}
	defer h.Close()
	links, names, _, err := readLinks(h)
	if err != nil {
		return w, fmt.Errorf("read pod %s/%s links: %w", namespace, name, err)
	}
	found := false
	for _, l := range links {
		if l.Name == PodIface {
			w.Eth0, found = l, true
		}
	}
	if !found {
		return w, fmt.Errorf("pod %s/%s has no %s", namespace, name, PodIface)
	}
	if w.Routes, err = readRoutes(h, names); err != nil {
		return w, fmt.Errorf("read pod %s/%s routes: %w", namespace, name, err)
	}
	return w, nil
}
