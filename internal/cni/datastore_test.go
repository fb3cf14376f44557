package cni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
	"github.com/knetlab/knetlab/internal/datastore/kubestore/kubestoretest"
)

func TestParseDatastoreConfig(t *testing.T) {
	const head = `{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"knetlab-cni","nodeName":"k01-worker"`
	tests := []struct {
		name        string
		conf        string
		wantBackend string
		wantProblem string // "": valid
	}{
		{"no datastore object is etcd", head + `,"datastoreEndpoints":["http://172.18.0.2:2379"]}`, DatastoreEtcd, ""},
		{"explicit etcd", head + `,"datastore":{"type":"etcd"}}`, DatastoreEtcd, ""},
		{"kubernetes with a kubeconfig", head + `,"datastore":{"type":"kubernetes","kubeconfig":"/etc/cni/net.d/knetlab-kubeconfig"}}`, DatastoreKubernetes, ""},
		{"kubernetes without a kubeconfig", head + `,"datastore":{"type":"kubernetes"}}`, "", "needs datastore.kubeconfig"},
		{"a kubeconfig for etcd", head + `,"datastore":{"kubeconfig":"/x"}}`, "", "type is etcd"},
		{"unknown type", head + `,"datastore":{"type":"consul"}}`, "", `"consul"`},
		{"etcd over TLS", head + `,"datastoreEndpoints":["https://172.18.0.2:2379"],"datastore":{"etcdCertFile":"/c","etcdKeyFile":"/k","etcdCACertFile":"/ca"}}`, DatastoreEtcd, ""},
		{"etcd certificate without its key", head + `,"datastoreEndpoints":["https://172.18.0.2:2379"],"datastore":{"etcdCertFile":"/c","etcdCACertFile":"/ca"}}`, "", "go together"},
		{"etcd certificate for kubernetes", head + `,"datastore":{"type":"kubernetes","kubeconfig":"/k","etcdCertFile":"/c"}}`, "", "datastore.type is kubernetes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := ParseConfig([]byte(tt.conf))
			if tt.wantProblem != "" {
				var cniErr *types.Error
				if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidNetworkConfig || !strings.Contains(cniErr.Details, tt.wantProblem) {
					t.Fatalf("err = %v, want CNI code %d naming %q", err, types.ErrInvalidNetworkConfig, tt.wantProblem)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			if got := conf.Datastore.Backend(); got != tt.wantBackend {
				t.Fatalf("backend = %q, want %q", got, tt.wantBackend)
			}
		})
	}
}

func TestOpenStore(t *testing.T) {
	api := kubestoretest.Start(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	data, err := kubestore.Kubeconfig(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("kubernetes reaches the API server of the kubeconfig", func(t *testing.T) {
		conf := &NetConf{NodeName: "k01-worker", Datastore: DatastoreConf{Type: DatastoreKubernetes, Kubeconfig: kubeconfig}}
		store, err := OpenStore(context.Background(), conf)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		if _, err := store.Create(context.Background(), datastore.KindNode, "k01-worker", []byte(`{"spec":{}}`)); err != nil {
			t.Fatal(err)
		}
		if reqs := api.Requests(); len(reqs) == 0 || !strings.HasPrefix(reqs[len(reqs)-1], "POST /apis/datastore.knetlab.dev/v1/nodes") {
			t.Fatalf("requests = %v, want the create on the API server", reqs)
		}
	})
	t.Run("the plugin's IPAM allocates over the kubernetes datastore", func(t *testing.T) {
		ctx := context.Background()
		setup := api.Store(t)
		pool := `{"metadata":{"name":"default-ipv4-ippool"},"spec":{"cidr":"192.168.0.0/16","blockSize":26,"vxlanMode":"CrossSubnet","nodeSelector":"all()"}}`
		if _, err := setup.Create(ctx, datastore.KindIPPool, "default-ipv4-ippool", []byte(pool)); err != nil {
			t.Fatal(err)
		}
		conf := &NetConf{NodeName: "k01-worker2", Datastore: DatastoreConf{Type: DatastoreKubernetes, Kubeconfig: kubeconfig}}
		alloc, err := OpenIPAM(conf)
		if err != nil {
			t.Fatal(err)
		}
		first, err := alloc.Allocate(ctx, "k01-worker2", Handle(NetworkName, "c1"), map[string]string{"namespace": "default", "pod": "net-w2"})
		if err != nil {
			t.Fatal(err)
		}
		again, err := alloc.Allocate(ctx, "k01-worker2", Handle(NetworkName, "c1"), nil)
		if err != nil || again != first || !netip.MustParsePrefix("192.168.0.0/16").Contains(first) {
			t.Fatalf("ADD gave %s, a retried ADD %s (err %v): want one address of the pool", first, again, err)
		}
		affs, _, err := datastore.BlockAffinities(setup).List(ctx)
		if err != nil || len(affs) != 1 || affs[0].Spec.Node != "k01-worker2" || !affs[0].Spec.CIDR.Contains(first) {
			t.Fatalf("affinities = %+v (err %v), want k01-worker2's block holding %s", affs, err, first)
		}
		if err := alloc.Release(ctx, Handle(NetworkName, "c1")); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name string
		conf NetConf
	}{
		{"kubernetes with a missing kubeconfig", NetConf{Datastore: DatastoreConf{Type: DatastoreKubernetes, Kubeconfig: "/nonexistent/kubeconfig"}}},
		{"etcd without endpoints", NetConf{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenStore(context.Background(), &tc.conf)
			var cniErr *types.Error
			if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidNetworkConfig {
				t.Fatalf("err = %v, want CNI code %d", err, types.ErrInvalidNetworkConfig)
			}
		})
	}
}

// pluginMainEnv turns the test binary into the plugin as Main runs it (the real allocator).
const pluginMainEnv = "KNETLAB_CNI_TEST_MAIN"

// The plugin binary, run as a runtime runs it, reaches the kubernetes datastore its config
// names: a DEL (for a sandbox already gone, so nothing on this host is touched) releases the
// container's address in the API server.
func TestMainReleasesOverKubernetes(t *testing.T) {
	ctx := context.Background()
	api := kubestoretest.Start(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	data, err := kubestore.Kubeconfig(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		t.Fatal(err)
	}
	store := api.Store(t)
	pool := `{"spec":{"cidr":"192.168.0.0/16","blockSize":26,"vxlanMode":"CrossSubnet","nodeSelector":"all()"}}`
	if _, err := store.Create(ctx, datastore.KindIPPool, "default-ipv4-ippool", []byte(pool)); err != nil {
		t.Fatal(err)
	}
	conf := &NetConf{NodeName: "k01-worker", Datastore: DatastoreConf{Type: DatastoreKubernetes, Kubeconfig: kubeconfig}}
	alloc, err := OpenIPAM(conf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alloc.Allocate(ctx, "k01-worker", Handle(NetworkName, "c1"), nil); err != nil {
		t.Fatal(err)
	}
	allocated := func() int {
		blocks, _, err := datastore.IPAMBlocks(store).List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, b := range blocks {
			for _, a := range b.Spec.Allocations {
				if a != nil {
					n++
				}
			}
		}
		return n
	}
	before := allocated()

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stdin := fmt.Sprintf(`{"cniVersion":"1.0.0","name":%q,"type":"knetlab-cni","nodeName":"k01-worker","datastore":{"type":"kubernetes","kubeconfig":%q}}`,
		NetworkName, kubeconfig)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), pluginMainEnv+"=1", "CNI_COMMAND=DEL", "CNI_CONTAINERID=c1", "CNI_IFNAME=eth0", "CNI_PATH=/nonexistent")
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("DEL: %v\n%s", err, out)
	}
	if after := allocated(); after != before-1 {
		t.Fatalf("%d addresses allocated after DEL, want %d: the plugin did not release over the kubernetes datastore", after, before-1)
	}
}

// A datastore that does not answer is "try again later" (code 11), whichever backend said so.
func TestAllocatorErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code uint
	}{
		{fmt.Errorf("get ipamblocks: %w", datastore.ErrUnavailable), types.ErrTryAgainLater},
		{fmt.Errorf("dial: %w", ErrDatastoreUnavailable), types.ErrTryAgainLater},
		{context.DeadlineExceeded, types.ErrTryAgainLater},
		{errors.New("pool exhausted"), types.ErrInternal},
	} {
		if got := allocatorError("allocate", tc.err); got.Code != tc.code {
			t.Errorf("allocatorError(%v).Code = %d, want %d", tc.err, got.Code, tc.code)
		}
	}
}

func TestInstall(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "knetlab")
	binary := []byte("#!/bin/sh\necho knetlab\n")
	if err := os.WriteFile(exe, binary, 0o700); err != nil {
		t.Fatal(err)
	}
	kubeconfig := []byte("apiVersion: v1\nkind: Config\n")

	for _, tc := range []struct {
		name         string
		in           Installation
		wantPlugin   string // the plugin's config, as the runtime will see it
		wantKubeconf bool
	}{
		{
			name: "kubernetes datastore",
			in:   Installation{NodeName: "k01-worker", Datastore: DatastoreConf{Type: DatastoreKubernetes}, Kubeconfig: kubeconfig, MTU: 1450},
			wantPlugin: `{"datastore":{"kubeconfig":"CONFDIR/knetlab-kubeconfig","type":"kubernetes"},` +
				`"mtu":1450,"nodeName":"k01-worker","type":"knetlab-cni"}`,
			wantKubeconf: true,
		},
		{
			name:       "etcd datastore",
			in:         Installation{NodeName: "k01-worker", DatastoreEndpoints: []string{"http://172.18.0.2:2379"}},
			wantPlugin: `{"datastoreEndpoints":["http://172.18.0.2:2379"],"nodeName":"k01-worker","type":"knetlab-cni"}`,
		},
		{
			name: "etcd datastore over TLS",
			in: Installation{NodeName: "k01-worker", DatastoreEndpoints: []string{"https://172.18.0.2:2379"},
				Datastore: DatastoreConf{Type: DatastoreEtcd, EtcdCertFile: "/pki/client.crt", EtcdKeyFile: "/pki/client.key", EtcdCACertFile: "/pki/ca.crt"}},
			wantPlugin: `{"datastore":{"etcdCACertFile":"/pki/ca.crt","etcdCertFile":"/pki/client.crt","etcdKeyFile":"/pki/client.key"},` +
				`"datastoreEndpoints":["https://172.18.0.2:2379"],"nodeName":"k01-worker","type":"knetlab-cni"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := tc.in
			in.BinDir, in.ConfDir, in.Executable = filepath.Join(dir, "opt/cni/bin"), filepath.Join(dir, "etc/cni/net.d"), exe
			// Twice: a restarted agent installs over its own files.
			for range 2 {
				if err := in.Install(); err != nil {
					t.Fatal(err)
				}
			}
			assertFile(t, filepath.Join(in.BinDir, "knetlab-cni"), 0o755, binary)
			if tc.wantKubeconf {
				assertFile(t, filepath.Join(in.ConfDir, KubeconfigName), 0o600, kubeconfig)
			}
			for _, d := range []string{in.BinDir, in.ConfDir} {
				entries, _ := os.ReadDir(d)
				for _, e := range entries {
					if strings.Contains(e.Name(), ".tmp-") {
						t.Errorf("temporary file %s left in %s", e.Name(), d)
					}
				}
			}

			listPath := filepath.Join(in.ConfDir, ConfListName)
			assertMode(t, listPath, 0o644)
			data, err := os.ReadFile(listPath)
			if err != nil {
				t.Fatal(err)
			}
			// The CNI library's own parser, as the runtime reads the file.
			list, err := libcni.ConfListFromBytes(data)
			if err != nil {
				t.Fatalf("libcni rejects %s: %v\n%s", ConfListName, err, data)
			}
			if list.CNIVersion != "1.0.0" || list.Name != NetworkName || len(list.Plugins) != 1 || list.Plugins[0].Network.Type != PluginType {
				t.Fatalf("conflist = %+v", list)
			}
			want := strings.ReplaceAll(tc.wantPlugin, "CONFDIR", in.ConfDir)
			if got := string(list.Plugins[0].Bytes); got != want {
				t.Fatalf("plugin config =\n%s\nwant\n%s", got, want)
			}
			// And the plugin itself accepts the config the runtime will hand it: the list's
			// element with the list's name and cniVersion added, as libcni does.
			var plugin map[string]any
			if err := json.Unmarshal(list.Plugins[0].Bytes, &plugin); err != nil {
				t.Fatal(err)
			}
			plugin["name"], plugin["cniVersion"] = list.Name, list.CNIVersion
			stdin, _ := json.Marshal(plugin)
			if _, err := ParseConfig(stdin); err != nil {
				t.Fatalf("the plugin rejects its installed config: %v", err)
			}
		})
	}
}

func TestInstallRefusesAnIncompleteKubernetesSetup(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "knetlab")
	if err := os.WriteFile(exe, []byte("x"), 0o700); err != nil {
		t.Fatal(err)
	}
	in := Installation{BinDir: filepath.Join(dir, "bin"), ConfDir: filepath.Join(dir, "net.d"), Executable: exe,
		NodeName: "k01-worker", Datastore: DatastoreConf{Type: DatastoreKubernetes}}
	if err := in.Install(); err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Fatalf("Install without a kubeconfig: %v, want an error naming it", err)
	}
	if _, err := os.Stat(filepath.Join(in.ConfDir, ConfListName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a config list was written for a plugin that cannot reach its datastore: %v", err)
	}
}

func assertFile(t *testing.T, path string, mode os.FileMode, want []byte) {
	t.Helper()
	assertMode(t, path, mode)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", path, got, want)
	}
}

func assertMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mode {
		t.Fatalf("%s has mode %o, want %o", path, fi.Mode().Perm(), mode)
	}
}
