package lab

import (
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// Issue 12: pod names reached the CNI arguments, namespace names and paths unchecked.
func TestCheckPodNameRefusesWhatKubernetesRefuses(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		namespace, name string
		field, rule     string // the field refused and the rule named; "" when valid
	}{
		{"default", "net-w1", "", ""},
		{"default", "web.v2", "", ""}, // a DNS-1123 subdomain, as Kubernetes allows
		{"default", strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61), "", ""},
		{"default", "z;K8S_POD_NAME=net-w1", "name", "RFC 1123 subdomain"},
		{"default", "$(id)", "name", "RFC 1123 subdomain"},
		{"default", "../../x", "name", "RFC 1123 subdomain"},
		{"default", "Upper", "name", "RFC 1123 subdomain"},
		{"default", "a;touch /tmp/x", "name", "RFC 1123 subdomain"},
		{"default", long, "name", "253"},
		{"default", "", "name", "required"},
		{"../etc", "web", "namespace", "RFC 1123 label"},
		{"web.v2", "web", "namespace", "RFC 1123 label"},
		{strings.Repeat("n", 64), "web", "namespace", "63"},
		{"", "web", "namespace", "required"},
	}
	for _, tt := range tests {
		problems := CheckPodName(tt.namespace, tt.name)
		if tt.field == "" {
			if len(problems) > 0 {
				t.Errorf("%s/%s refused: %v", tt.namespace, tt.name, problems)
			}
			continue
		}
		if len(problems) == 0 {
			t.Errorf("%q/%q accepted", tt.namespace, tt.name)
			continue
		}
		if p := problems[0]; p.Field != tt.field || !strings.Contains(p.Msg, tt.rule) {
			t.Errorf("%q/%q: %s: %s, want %s naming %q", tt.namespace, tt.name, p.Field, p.Msg, tt.field, tt.rule)
		}
	}
}

func TestLabFilePodNamesValidatedAsKubernetesDoes(t *testing.T) {
	base := catalogueText(t, "calico-overlay")
	tests := []struct {
		name, from, to, field, msg string
	}{
		{"injection", "name: net-w1", "name: 'z;K8S_POD_NAME=net-w2'", "pods[1].name", "RFC 1123 subdomain"},
		{"upper case", "name: net-w1", "name: Upper", "pods[1].name", "RFC 1123 subdomain"},
		{"path namespace", "namespace: default\n    node: k01-worker\n", "namespace: ../etc\n    node: k01-worker\n", "pods[1].namespace", "RFC 1123 label"},
		// The kind renderer names the pod's one container after the pod, and a container name is a label.
		{"dotted name", "name: net-w1", "name: net.w1", "pods[1].name", "container"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("lab.yaml", []byte(edit(t, base, tt.from, tt.to)))
			if exitcode.Code(err) != exitcode.Usage {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error(), tt.field+": ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error does not refuse %s naming %q:\n%v", tt.field, tt.msg, err)
			}
		})
	}
}
