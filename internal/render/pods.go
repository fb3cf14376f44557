package render

import (
	"fmt"
	"sort"

	"github.com/knetlab/knetlab/internal/lab"
)

// Namespace is a v1 Namespace, rendered for test pods outside "default".
type Namespace struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   ObjectMeta `yaml:"metadata"`
}

// Pod is a v1 Pod with the fields knetlab sets.
type Pod struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   ObjectMeta `yaml:"metadata"`
	Spec       PodSpec    `yaml:"spec"`
}

// PodSpec pins the pod to its lab node.
type PodSpec struct {
	// NodeName binds the pod without the scheduler, so a test pod also lands on the
	// control-plane node (whose NoSchedule taint the scheduler would honour) and the
	// same-node / same-subnet / cross-subnet pairs are exactly the ones the lab declares.
	NodeName string `yaml:"nodeName"`
	// TerminationGracePeriodSeconds is 0: test pods hold no state, and a lab is torn down
	// and redeployed often.
	TerminationGracePeriodSeconds int         `yaml:"terminationGracePeriodSeconds"`
	Containers                    []Container `yaml:"containers"`
}

// Container is one pod container.
type Container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
}

// Service is a v1 Service in front of a test pod.
type Service struct {
	APIVersion string      `yaml:"apiVersion"`
	Kind       string      `yaml:"kind"`
	Metadata   ObjectMeta  `yaml:"metadata"`
	Spec       ServiceSpec `yaml:"spec"`
}

// ServiceSpec selects the pod by its labels.
type ServiceSpec struct {
	Type     string            `yaml:"type"`
	Selector map[string]string `yaml:"selector"`
	Ports    []ServicePort     `yaml:"ports"`
}

// ServicePort is one service port.
type ServicePort struct {
	Protocol   string `yaml:"protocol"`
	Port       int    `yaml:"port"`
	TargetPort int    `yaml:"targetPort"`
}

// BuildTestPods is the lab's test pods in lab order, followed by their services; namespaces
// other than default come first so a single `kubectl apply -f` creates everything.
func BuildTestPods(l *lab.Lab) ([]any, error) {
	var namespaces []string
	seen := map[string]bool{"default": true}
	var pods, services []any
	for _, p := range l.Pods {
		if !seen[p.Namespace] {
			seen[p.Namespace] = true
			namespaces = append(namespaces, p.Namespace)
		}
		meta := ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels}
		pods = append(pods, Pod{
			APIVersion: "v1",
			Kind:       "Pod",
			Metadata:   meta,
			Spec: PodSpec{
				NodeName:   p.Node,
				Containers: []Container{{Name: p.Name, Image: p.Image}},
			},
		})
		if s := p.Service; s != nil {
			if len(p.Labels) == 0 {
				return nil, fmt.Errorf("pod %s/%s: service %s needs the pod to have labels to select it; add labels to the pod",
					p.Namespace, p.Name, s.Name)
			}
			services = append(services, Service{
				APIVersion: "v1",
				Kind:       "Service",
				Metadata:   ObjectMeta{Name: s.Name, Namespace: p.Namespace},
				Spec: ServiceSpec{
					Type:     s.Type,
					Selector: p.Labels,
					Ports:    []ServicePort{{Protocol: "TCP", Port: s.Port, TargetPort: s.Port}},
				},
			})
		}
	}
	sort.Strings(namespaces)
	var docs []any
	for _, ns := range namespaces {
		docs = append(docs, Namespace{APIVersion: "v1", Kind: "Namespace", Metadata: ObjectMeta{Name: ns}})
	}
	docs = append(docs, pods...)
	return append(docs, services...), nil
}

// TestPods renders the test pods and their services.
func TestPods(l *lab.Lab) ([]byte, error) {
	docs, err := BuildTestPods(l)
	if err != nil {
		return nil, err
	}
	head := header(l, "#", "Test pods") + "# Apply once Calico is ready: kubectl apply -f " + PodsPath(l.Name) + "\n"
	if len(docs) == 0 {
		return []byte(head), nil
	}
	return encodeYAML(head, docs...)
}
