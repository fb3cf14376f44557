package datastore_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/datastore"
)

func TestServeKeepsDataAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "etcd")
	cfg := datastore.ServeConfig{DataDir: dir, ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0"}

	srv, err := datastore.Serve(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{srv.ClientURL()}})
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	err = datastore.IPPools(store).Create(ctx, pool("default-ipv4-ippool", "192.168.0.0/16", 26))
	store.Close()
	srv.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(srv.LogFile()); err != nil {
		t.Fatalf("etcd log file: %v", err)
	}

	srv, err = datastore.Serve(ctx, cfg)
	if err != nil {
		t.Fatalf("restart on the same data directory: %v", err)
	}
	defer srv.Close()
	store, err = datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{srv.ClientURL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	got, err := datastore.IPPools(store).Get(ctx, "default-ipv4-ippool")
	if err != nil {
		t.Fatalf("pool lost across restart: %v", err)
	}
	if got.Spec.CIDR.String() != "192.168.0.0/16" {
		t.Fatalf("pool after restart = %+v", got.Spec)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  datastore.ServeConfig
		want string
	}{
		{"no data directory", datastore.ServeConfig{ClientURL: "http://127.0.0.1:0"}, "no data directory"},
		{"no client URL", datastore.ServeConfig{DataDir: dir}, "no client URL"},
		{"client URL without port", datastore.ServeConfig{DataDir: dir, ClientURL: "http://127.0.0.1"}, "want https://<address>:<port>"},
		{"ftp client URL", datastore.ServeConfig{DataDir: dir, ClientURL: "ftp://127.0.0.1:2379"}, "want https://<address>:<port>"},
		{"https client URL without TLS files", datastore.ServeConfig{DataDir: dir, ClientURL: "https://127.0.0.1:2379"}, "needs a server certificate"},
		{"http client URL with TLS files", datastore.ServeConfig{DataDir: dir, ClientURL: "http://127.0.0.1:2379",
			TLS: datastore.ServerTLS{CertFile: "c", KeyFile: "k", ClientCA: "ca"}}, "plain http but TLS files"},
		{"client port in use", datastore.ServeConfig{
			DataDir: filepath.Join(dir, "busy"), ClientURL: "http://" + busy.Addr().String(), PeerURL: "http://127.0.0.1:0",
		}, "port free"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := datastore.Serve(context.Background(), tc.cfg)
			if err == nil {
				srv.Close()
				t.Fatal("Serve succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestRunDaemonServesUntilCancelled(t *testing.T) {
	// The daemon reports no port, so reserve one and hand it over.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- datastore.RunDaemon(ctx, datastore.ServeConfig{
			DataDir: filepath.Join(t.TempDir(), "etcd"), ClientURL: "http://" + addr, PeerURL: "http://127.0.0.1:0",
		})
	}()

	var store *datastore.Etcd
	deadline := time.Now().Add(15 * time.Second)
	for store == nil {
		select {
		case err := <-done:
			t.Fatalf("daemon exited early: %v", err)
		default:
		}
		s, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{"http://" + addr}, DialTimeout: 500 * time.Millisecond})
		if err == nil {
			store = s
		} else if time.Now().After(deadline) {
			t.Fatalf("daemon never served: %v", err)
		}
	}
	defer store.Close()
	node := &datastore.Node{Metadata: datastore.ObjectMeta{Name: "k01-control-plane"}}
	node.Spec.BGP.IPv4Address = netip.MustParsePrefix("10.10.10.10/24")
	if err := datastore.Nodes(store).Create(ctx, node); err != nil {
		t.Fatal(err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunDaemon after cancel: %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("RunDaemon did not return after cancel")
	}
	// The port must be free again: the daemon released everything it held.
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("client port still held after the daemon stopped: %v", err)
	}
	l.Close()
}

// A datastore that went away must be reported as unavailable, so that a CNI plugin tells the
// runtime to try again rather than failing the pod for good.
func TestStoppedDatastoreIsUnavailable(t *testing.T) {
	ctx := context.Background()
	srv, err := datastore.Serve(ctx, datastore.ServeConfig{
		DataDir: filepath.Join(t.TempDir(), "etcd"), ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0", UnsafeNoFsync: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{srv.ClientURL()}})
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	defer store.Close()
	srv.Close()

	ops := map[string]func(context.Context) error{
		"get": func(ctx context.Context) error {
			_, err := store.Get(ctx, datastore.KindNode, "k01-worker")
			return err
		},
		"create": func(ctx context.Context) error {
			_, err := store.Create(ctx, datastore.KindNode, "k01-worker", []byte("{}"))
			return err
		},
		"update": func(ctx context.Context) error {
			_, err := store.Update(ctx, datastore.KindNode, "k01-worker", []byte("{}"), 7)
			return err
		},
	}
	for name, op := range ops {
		short, cancel := context.WithTimeout(ctx, time.Second)
		err := op(short)
		cancel()
		if !errors.Is(err, datastore.ErrUnavailable) {
			t.Errorf("%s on a stopped datastore: %v, want ErrUnavailable", name, err)
		}
	}
	_, err = datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{srv.ClientURL()}, DialTimeout: time.Second})
	if !errors.Is(err, datastore.ErrUnavailable) {
		t.Errorf("connect to a stopped datastore: %v, want ErrUnavailable", err)
	}
}
