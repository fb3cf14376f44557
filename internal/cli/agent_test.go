package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/knetlab/knetlab/deploy/manifests"
	"github.com/knetlab/knetlab/internal/agent"
	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
	"github.com/knetlab/knetlab/internal/exitcode"
)

func TestAgentFlagValidation(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // every problem is named
	}{
		{"no node, no autodetect", nil, []string{"--node is required", "--autodetect is required"}},
		{"unknown datastore", []string{"--node=a", "--autodetect=10.10.0.0/16", "--datastore=consul"}, []string{`--datastore "consul"`}},
		{"etcd without endpoints", []string{"--node=a", "--autodetect=10.10.0.0/16", "--datastore=etcd"}, []string{"needs --etcd-endpoints"}},
		{"etcd endpoints for kubernetes", []string{"--node=a", "--autodetect=10.10.0.0/16", "--etcd-endpoints=http://172.18.0.2:2379"}, []string{"--etcd-endpoints needs --datastore etcd"}},
		{"a kubeconfig for etcd", []string{"--node=a", "--autodetect=10.10.0.0/16", "--datastore=etcd", "--etcd-endpoints=http://x:2379", "--kubeconfig=/k"}, []string{"--kubeconfig needs --datastore kubernetes"}},
		{"https etcd without a client certificate", []string{"--node=a", "--autodetect=10.10.0.0/16", "--datastore=etcd", "--etcd-endpoints=https://172.18.0.2:2379"},
			[]string{"--etcd-endpoints https://172.18.0.2:2379 is https: give --etcd-cert, --etcd-key and --etcd-ca"}},
		{"a client certificate for http etcd", []string{"--node=a", "--autodetect=10.10.0.0/16", "--datastore=etcd", "--etcd-endpoints=http://172.18.0.2:2379",
			"--etcd-cert=/c", "--etcd-key=/k", "--etcd-ca=/ca"}, []string{"is not https but --etcd-cert"}},
		{"a client certificate without its key", []string{"--node=a", "--autodetect=10.10.0.0/16", "--datastore=etcd", "--etcd-endpoints=https://172.18.0.2:2379",
			"--etcd-cert=/c", "--etcd-ca=ca"}, []string{"--etcd-cert, --etcd-key and --etcd-ca go together", `--etcd-ca "ca" must be an absolute path`}},
		{"a client certificate for kubernetes", []string{"--node=a", "--autodetect=10.10.0.0/16", "--etcd-cert=/c", "--etcd-key=/k", "--etcd-ca=/ca"},
			[]string{"--etcd-cert, --etcd-key and --etcd-ca need --datastore etcd"}},
		{"bad CIDR", []string{"--node=a", "--autodetect=10.10.0.0/16,10.10.300.0/24"}, []string{`"10.10.300.0/24" is not an IPv4 CIDR`}},
		{"IPv6 CIDR", []string{"--node=a", "--autodetect=fd00::/64"}, []string{"not an IPv4 CIDR"}},
		{"relative CNI dir", []string{"--node=a", "--autodetect=10.10.0.0/16", "--cni-bin-dir=opt/cni/bin"}, []string{"--cni-bin-dir \"opt/cni/bin\" must be an absolute path"}},
		{"tiny MTU", []string{"--node=a", "--autodetect=10.10.0.0/16", "--mtu=100"}, []string{"--mtu 100"}},
		{"BGP flags without an AS", []string{"--node=a", "--autodetect=10.10.0.0/16", "--bgp-peer=172.18.0.5", "--bgp-no-export=10.244.128.0/24"},
			[]string{"--bgp-peer, --bgp-dir and --bgp-no-export need --bgp-as"}},
		{"BGP without a peer, reserved AS, relative BIRD dir", []string{"--node=a", "--autodetect=10.10.0.0/16", "--bgp-as=65535", "--bgp-dir=run/bird"},
			[]string{"--bgp-as 65535 is reserved", "--bgp-as needs at least one --bgp-peer", `--bgp-dir "run/bird" must be an absolute path`}},
		{"BGP without a BIRD dir", []string{"--node=a", "--autodetect=10.10.0.0/16", "--bgp-as=64496", "--bgp-peer=172.18.0.5"},
			[]string{"--bgp-as needs --bgp-dir"}},
		{"BIRD dir too long for its socket", []string{"--node=a", "--autodetect=10.10.0.0/16", "--bgp-as=64496", "--bgp-peer=172.18.0.5", "--bgp-dir=/" + strings.Repeat("d", 100)},
			[]string{"is too long: BIRD's control socket"}},
		{"BGP peer twice, reserved peer AS", []string{"--node=a", "--autodetect=10.10.0.0/16", "--bgp-as=64496", "--bgp-peer=172.18.0.5", "--bgp-peer=172.18.0.5:65535", "--bgp-dir=/b"},
			[]string{"--bgp-peer 172.18.0.5 is given twice", "--bgp-peer 172.18.0.5:65535: AS 65535 is reserved"}},
		{"BGP peer not an address", []string{"--node=a", "--autodetect=10.10.0.0/16", "--bgp-as=64496", "--bgp-peer=gobgp:64496", "--bgp-dir=/b"},
			[]string{`"gobgp:64496": give the peer as IPv4ADDR or IPv4ADDR:AS`}},
		{"unknown flag", []string{"--node=a", "--autodetect=10.10.0.0/16", "--vxlan-port=4789"}, []string{"unknown flag"}},
		{"positional argument", []string{"k01-worker", "--autodetect=10.10.0.0/16"}, []string{"unknown command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"agent", "--cni-conf-dir=" + dir}, tt.args...)
			code, _, stderr := run(t, args...)
			if code != exitcode.Usage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitcode.Usage, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("bad usage changed %s: %v", dir, entries)
			}
		})
	}
}

// The install step against the in-memory API server: the plugin, its kubeconfig and the
// config list land in the given directories before the agent starts; the agent then stops
// because this host has no address in the autodetection range (203.0.113.0/24 is TEST-NET-3),
// which is an environment problem (exit 3). Nothing here touches the host's network.
func TestAgentInstallsThePluginForTheKubernetesDatastore(t *testing.T) {
	api := kubestoretest.Start(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	data, err := kubestore.Kubeconfig(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		t.Fatal(err)
	}
	binDir, confDir := filepath.Join(dir, "opt/cni/bin"), filepath.Join(dir, "etc/cni/net.d")

	code, _, stderr := run(t, "agent", "--datastore=kubernetes", "--kubeconfig="+kubeconfig, "--node=k01-worker", "--install-cni",
		"--autodetect=203.0.113.0/24", "--cni-bin-dir="+binDir, "--cni-conf-dir="+confDir, "--mtu=1450")
	if code != exitcode.Environment || !strings.Contains(stderr, "203.0.113.0/24") {
		t.Fatalf("exit %d, want %d naming the autodetection range; stderr:\n%s", code, exitcode.Environment, stderr)
	}

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(self)
	plugin := filepath.Join(binDir, cni.PluginType)
	got, err := os.ReadFile(plugin)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not a copy of the running executable (err %v)", plugin, err)
	}
	if fi, _ := os.Stat(plugin); fi.Mode().Perm() != 0o755 {
		t.Errorf("%s mode %o, want 755", plugin, fi.Mode().Perm())
	}

	// The plugin's kubeconfig reaches the same API server.
	pluginKubeconfig := filepath.Join(confDir, cni.KubeconfigName)
	if fi, err := os.Stat(pluginKubeconfig); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v (mode must be 600: it holds a token)", pluginKubeconfig, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", pluginKubeconfig)
	if err != nil || cfg.Host != api.URL() {
		t.Fatalf("plugin kubeconfig: host %v, err %v; want %s", cfg, err, api.URL())
	}

	list, err := libcni.ConfListFromFile(filepath.Join(confDir, cni.ConfListName))
	if err != nil {
		t.Fatalf("libcni rejects the installed config list: %v", err)
	}
	if list.CNIVersion != "1.0.0" || len(list.Plugins) != 1 || list.Plugins[0].Network.Type != "knetlab-cni" {
		t.Fatalf("config list = %+v", list)
	}
	wantPlugin := fmt.Sprintf(`{"datastore":{"kubeconfig":%q,"type":"kubernetes"},"mtu":1450,"nodeName":"k01-worker","type":"knetlab-cni"}`, pluginKubeconfig)
	if string(list.Plugins[0].Bytes) != wantPlugin {
		t.Fatalf("plugin config = %s, want %s", list.Plugins[0].Bytes, wantPlugin)
	}
}

// deploy/manifests/daemonset.yaml runs `knetlab agent` with these args: they must be flags the
// real command accepts, every $(VAR) must be an env var the container declares (kubelet leaves
// an undeclared one as literal text), and the mounts, probe and ConfigMap must match.
func TestDaemonSetRunsTheAgentCommand(t *testing.T) {
	data, err := manifests.Manifests.ReadFile("daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(data, &ds); err != nil {
		t.Fatalf("daemonset.yaml: %v", err)
	}
	if len(ds.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want the agent alone", len(ds.Spec.Template.Spec.Containers))
	}
	c := ds.Spec.Template.Spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "agent" {
		t.Fatalf("args %v do not run the agent command", c.Args)
	}

	// Expand $(VAR) as kubelet does, with the values a node would have.
	sample := map[string]string{"NODE_NAME": "k01-worker", "KNETLAB_AUTODETECT": "10.10.0.0/16"}
	declared := map[string]bool{}
	for _, e := range c.Env {
		declared[e.Name] = true
		if ref := e.ValueFrom; ref != nil && ref.ConfigMapKeyRef != nil &&
			(ref.ConfigMapKeyRef.Name != manifests.ConfigMap || ref.ConfigMapKeyRef.Key != manifests.AutodetectKey) {
			t.Errorf("env %s reads ConfigMap %s key %s; deploy writes %s key %s", e.Name,
				ref.ConfigMapKeyRef.Name, ref.ConfigMapKeyRef.Key, manifests.ConfigMap, manifests.AutodetectKey)
		}
	}
	varRef := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	var args []string
	for _, a := range c.Args[1:] {
		args = append(args, varRef.ReplaceAllStringFunc(a, func(m string) string {
			name := varRef.FindStringSubmatch(m)[1]
			if !declared[name] {
				t.Errorf("arg %q uses $(%s), which the container does not declare", a, name)
			}
			return sample[name]
		}))
	}

	var got *agent.Options
	cmd := agentCommand(func(_ context.Context, o agent.Options) error { got = &o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("knetlab agent %v: %v", args, err)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("knetlab agent %v: %v", args, err)
	}
	if got.Datastore != agent.DatastoreKubernetes || got.Node != "k01-worker" || fmt.Sprint(got.Autodetect) != "[10.10.0.0/16]" || got.Kubeconfig != "" {
		t.Errorf("the DaemonSet's args parse to %+v, want the kubernetes datastore in-cluster, node k01-worker, autodetect 10.10.0.0/16", got)
	}
	if !got.InstallCNI {
		t.Error("the DaemonSet's agent does not install the CNI plugin (--install-cni): no node would turn Ready")
	}

	// The CNI directories the agent writes are the node's, mounted from the host.
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	hostPaths := map[string]string{}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	for _, dir := range []string{got.CNIBinDir, got.CNIConfDir} {
		if vol, ok := mounts[dir]; !ok || hostPaths[vol] != dir {
			t.Errorf("the agent writes %s, but the DaemonSet does not mount the node's %s there", dir, dir)
		}
	}
	if p := c.ReadinessProbe; p == nil || p.Exec == nil || !slices.Contains(p.Exec.Command, filepath.Join(got.CNIConfDir, cni.ConfListName)) {
		t.Errorf("the readiness probe does not wait for %s", filepath.Join(got.CNIConfDir, cni.ConfListName))
	}
	if !ds.Spec.Template.Spec.HostNetwork {
		t.Error("the agent must run in the node's network namespace (hostNetwork)")
	}
	if c.Image != manifests.Image {
		t.Errorf("image %s, the provider builds %s", c.Image, manifests.Image)
	}
}

// Outside a pod and without --kubeconfig there is no API server to reach: an environment
// problem (exit 3) that names the fix, and nothing is installed for a plugin that could not work.
func TestAgentOutsideAPodNeedsAKubeconfig(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	dir := t.TempDir()
	code, _, stderr := run(t, "agent", "--node=k01-worker", "--autodetect=10.10.0.0/16", "--install-cni",
		"--cni-bin-dir="+filepath.Join(dir, "bin"), "--cni-conf-dir="+filepath.Join(dir, "net.d"))
	if code != exitcode.Environment || !strings.Contains(stderr, "--kubeconfig") {
		t.Fatalf("exit %d, want %d naming --kubeconfig; stderr:\n%s", code, exitcode.Environment, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("installed %v without a datastore", entries)
	}
}

// The command line agent.Options.Args writes (what a netns deploy starts in each node) is the
// one `knetlab agent` parses, field for field.
func TestAgentArgsRoundTrip(t *testing.T) {
	for _, o := range []agent.Options{
		{Datastore: agent.DatastoreEtcd, EtcdEndpoints: []string{"https://172.18.0.2:2379"}, Node: "k01-worker",
			EtcdCert: "/run/knetlab/c/pki/client.crt", EtcdKey: "/run/knetlab/c/pki/client.key", EtcdCA: "/run/knetlab/c/pki/ca.crt",
			Autodetect: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16"), netip.MustParsePrefix("172.18.0.0/16")},
			LogFile:    "/run/knetlab/calico-overlay/logs/agent-k01-worker.log"},
		{Datastore: agent.DatastoreKubernetes, Kubeconfig: "/etc/kubernetes/admin.conf", Node: "k01-worker2",
			Autodetect: []netip.Prefix{netip.MustParsePrefix("10.10.10.0/24")}, InstallCNI: true,
			CNIBinDir: "/opt/cni/bin", CNIConfDir: "/etc/cni/net.d", MTU: 1450},
		{Datastore: agent.DatastoreEtcd, EtcdEndpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}, Node: "n",
			Autodetect: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")}, InstallCNI: true},
		// The BGP mode of the calico-bgp lab, with both faults' flags: a peer with the wrong AS
		// and a block not announced.
		{Datastore: agent.DatastoreEtcd, EtcdEndpoints: []string{"http://172.18.0.100:2379"}, Node: "k8s-guide-worker",
			Autodetect: []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16")},
			BGPAS:      64496, BGPPeers: []agent.BGPPeer{{Address: netip.MustParseAddr("172.18.0.5")}, {Address: netip.MustParseAddr("172.18.0.6"), ASNumber: 64497}},
			BGPDir: "/run/knetlab/calico-bgp/bird/k8s-guide-worker", BGPNoExport: []netip.Prefix{netip.MustParsePrefix("10.244.129.0/24")}},
	} {
		args := o.Args()
		if args[0] != "agent" {
			t.Fatalf("args %v do not start with the agent command", args)
		}
		var got *agent.Options
		cmd := agentCommand(func(_ context.Context, o agent.Options) error { got = &o; return nil })
		cmd.SetArgs(args[1:])
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("knetlab %v: %v", args, err)
		}
		if !reflect.DeepEqual(*got, o) {
			t.Errorf("knetlab %v\nparses to %+v\nwant       %+v", args, *got, o)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("knetlab %v: %v", args, err)
		}
	}
}
