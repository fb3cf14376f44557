package datastore_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/provider/netnslab/labca"
)

// TestServeTLSRequiresAClientCertificate: a datastore served over https with a client CA
// answers the lab's client and refuses plain HTTP, HTTPS without a certificate and a client
// with another CA's certificate.
func TestServeTLSRequiresAClientCertificate(t *testing.T) {
	ctx := context.Background()
	ip := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	pki, _, err := labca.Ensure(filepath.Join(t.TempDir(), "pki"), "t", ip, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := labca.Ensure(filepath.Join(t.TempDir(), "pki"), "other", ip, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A real port: etcd's HTTP gateway dials the configured address, which port 0 is not.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv, err := datastore.Serve(ctx, datastore.ServeConfig{
		DataDir: filepath.Join(t.TempDir(), "etcd"), ClientURL: "https://" + addr, PeerURL: "http://127.0.0.1:0",
		TLS: datastore.ServerTLS{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, ClientCA: pki.CACert}, UnsafeNoFsync: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.ClientURL(), "https://") {
		t.Fatalf("client URL %s is not https", srv.ClientURL())
	}
	mine := datastore.ClientTLS{CertFile: pki.ClientCert, KeyFile: pki.ClientKey, CAFile: pki.CACert}
	store, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{srv.ClientURL()}, TLS: mine})
	if err != nil {
		t.Fatalf("the lab's client: %v", err)
	}
	if err := datastore.IPPools(store).Create(ctx, pool("p", "192.168.0.0/16", 26)); err != nil {
		t.Fatalf("the lab's client cannot write: %v", err)
	}
	store.Close()

	theirs := datastore.ClientTLS{CertFile: other.ClientCert, KeyFile: other.ClientKey, CAFile: pki.CACert}
	if s, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{srv.ClientURL()}, TLS: theirs, DialTimeout: time.Second}); err == nil {
		s.Close()
		t.Error("a client with another lab's certificate connected")
	}
	if _, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{srv.ClientURL()}}); err == nil ||
		!strings.Contains(err.Error(), "no client certificate") {
		t.Errorf("https endpoint without TLS files: err = %v, want it to say no client certificate is given", err)
	}

	put := `{"key":"a25ldGxhYg==","value":"eA=="}`
	hostPort := strings.TrimPrefix(srv.ClientURL(), "https://")
	plain := &http.Client{Timeout: 3 * time.Second}
	if resp, err := plain.Post("http://"+hostPort+"/v3/kv/put", "application/json", strings.NewReader(put)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP kv/put succeeded")
		}
	}
	caOnly, err := datastore.ClientTLS{CertFile: pki.ClientCert, KeyFile: pki.ClientKey, CAFile: pki.CACert}.Config()
	if err != nil {
		t.Fatal(err)
	}
	caOnly.Certificates = nil
	noCert := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: caOnly}}
	if resp, err := noCert.Post("https://"+hostPort+"/v3/kv/put", "application/json", strings.NewReader(put)); err == nil {
		resp.Body.Close()
		t.Errorf("HTTPS kv/put without a client certificate answered %s", resp.Status)
	}
	withCert, _ := mine.Config()
	ok := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: withCert}}
	resp, err := ok.Post("https://"+hostPort+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"a25ldGxhYg=="}`))
	if err != nil {
		t.Fatalf("HTTPS kv/range with the lab's certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HTTPS kv/range with the lab's certificate: %s", resp.Status)
	}
}
