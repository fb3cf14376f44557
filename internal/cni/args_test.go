package cni

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
)

// hostilePods are the names issue 12 injected through `knetlab pod add`.
var hostilePods = []PodID{
	{"default", "z;K8S_POD_NAME=net-w1"},
	{"default", "$(id)"},
	{"default", "../../x"},
	{"default", "Upper"},
	{"default", strings.Repeat("a", 300)},
	{"default", "a;touch /tmp/x"},
	{"default", "a=b"},
	{"../etc", "web"},
	{"default;K8S_POD_NAME=net-w1", "web"},
	{"", "web"},
	{"default", ""},
}

func TestPodArgsRefuseWhatCouldAddAKey(t *testing.T) {
	for _, pod := range hostilePods {
		if args, err := PodArgs(pod, "0123abcd"); err == nil {
			t.Errorf("PodArgs(%q/%q) = %v, want a refusal", pod.Namespace, pod.Name, args)
		}
	}
	if _, err := PodArgs(PodID{"default", "web"}, "abc;K8S_POD_NAME=net-w1"); err == nil {
		t.Errorf("a container ID with ';' and '=' is accepted")
	}
	args, err := PodArgs(PodID{"default", "web.v2"}, "0123abcd")
	if err != nil {
		t.Fatal(err)
	}
	// What the runtime sends must come back as the same pod, and nothing else.
	var s []string
	for _, kv := range args {
		s = append(s, kv[0]+"="+kv[1])
	}
	got, err := parsePodID(strings.Join(s, ";"))
	if err != nil || got != (PodID{"default", "web.v2"}) {
		t.Errorf("round trip of %v: %v, %v", args, got, err)
	}
}

func TestParsePodIDRefusesAmbiguousArgs(t *testing.T) {
	for _, args := range []string{
		// The injection of issue 12: the second K8S_POD_NAME won and named another pod's veth.
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=z;K8S_POD_NAME=net-w1",
		"K8S_POD_NAMESPACE=default;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=web",
		"K8S_POD_NAMESPACE=../etc;K8S_POD_NAME=web",
		"K8S_POD_NAMESPACE=default;K8S_POD_NAME=Upper",
		"K8S_POD_NAMESPACE=default;K8S_POD_NAME=$(id)",
		"K8S_POD_NAMESPACE=default;K8S_POD_NAME=a=b",
		"K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;",
	} {
		if id, err := parsePodID(args); err == nil {
			t.Errorf("parsePodID(%q) = %v, want a refusal", args, id)
		} else if cniCode(err) != types.ErrInvalidEnvironmentVariables {
			t.Errorf("parsePodID(%q): %v, want CNI code %d", args, err, types.ErrInvalidEnvironmentVariables)
		}
	}
	// Unknown keys from other runtimes stay allowed (IgnoreUnknown), once each.
	if id, err := parsePodID("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_UID=1234"); err != nil || id.Name != "web" {
		t.Errorf("kubelet's args: %v %v", id, err)
	}
}

// countingAllocator counts how often ADD got as far as allocating; it never hands out an
// address, so no ADD in these tests goes on to wire anything.
type countingAllocator struct{ allocs int }

func (a *countingAllocator) Allocate(context.Context, string, string, map[string]string) (netip.Addr, error) {
	a.allocs++
	return netip.Addr{}, ErrDatastoreUnavailable
}
func (a *countingAllocator) Release(context.Context, string) error { return nil }

func TestAddRefusesAmbiguousArgsBeforeAllocating(t *testing.T) {
	alloc := &countingAllocator{}
	p := &Plugin{NewAllocator: func(*NetConf) (Allocator, error) { return alloc, nil }}
	err := p.Add(&skel.CmdArgs{
		ContainerID: "ctr1", Netns: "/proc/self/ns/net", IfName: "eth0",
		Args:      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=z;K8S_POD_NAME=net-w1",
		StdinData: netConf("k01-worker", ""),
	})
	if cniCode(err) != types.ErrInvalidEnvironmentVariables {
		t.Errorf("ADD with a repeated K8S_POD_NAME: %v, want CNI code %d", err, types.ErrInvalidEnvironmentVariables)
	}
	if alloc.allocs != 0 {
		t.Errorf("ADD allocated %d addresses for ambiguous args", alloc.allocs)
	}
}
