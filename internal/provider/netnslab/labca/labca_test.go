package labca

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var serverIP = netip.MustParseAddr("127.0.0.1")

func ensure(t *testing.T, dir string, now time.Time) (Files, bool) {
	t.Helper()
	f, created, err := Ensure(dir, "lab1", []netip.Addr{serverIP}, now)
	if err != nil {
		t.Fatal(err)
	}
	return f, created
}

func TestEnsureCreatesPrivateChainedP256Certificates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	f, created := ensure(t, dir, time.Now())
	if !created {
		t.Fatal("first Ensure did not report creating the PKI")
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v, mode %v, want 0700", err, st.Mode().Perm())
	}
	for _, name := range []string{f.CACert, f.ServerCert, f.ServerKey, f.ClientCert, f.ClientKey} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 5 {
		t.Errorf("directory holds %d entries, want the 5 files (no temporary ones)", len(entries))
	}
	caPEM, _ := os.ReadFile(f.CACert)
	ca, err := parseCert(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA {
		t.Error("CA certificate is not a CA")
	}
	pair, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if leaf.PublicKeyAlgorithm != x509.ECDSA || leaf.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("server certificate: %v signed with %v, want ECDSA P-256 with SHA-256", leaf.PublicKeyAlgorithm, leaf.SignatureAlgorithm)
	}
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(serverIP.AsSlice()) {
		t.Errorf("server certificate names %v, want [%s]", leaf.IPAddresses, serverIP)
	}
	if err := f.Check([]netip.Addr{serverIP}, time.Now()); err != nil {
		t.Errorf("a fresh PKI fails its own check: %v", err)
	}
}

func TestEnsureReusesAValidPKIAndRemakesADamagedOne(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f, _ := ensure(t, dir, now)
	before, _ := os.ReadFile(f.ClientKey)
	if _, created := ensure(t, dir, now.Add(time.Hour)); created {
		t.Fatal("a valid PKI was made anew instead of re-used")
	}
	if after, _ := os.ReadFile(f.ClientKey); !bytes.Equal(before, after) {
		t.Fatal("re-use changed the client key")
	}
	for name, damage := range map[string]func(){
		"CA removed":        func() { os.Remove(f.CACert) },
		"client key torn":   func() { os.WriteFile(f.ClientKey, []byte("x"), 0o600) },
		"key readable":      func() { os.Chmod(f.ServerKey, 0o644) },
		"other server addr": func() {},
	} {
		ips := []netip.Addr{serverIP}
		if name == "other server addr" {
			ips = []netip.Addr{netip.MustParseAddr("172.18.0.2")}
		}
		damage()
		_, created, err := Ensure(dir, "lab1", ips, now)
		if err != nil || !created {
			t.Errorf("%s: Ensure created=%v err=%v, want a new PKI", name, created, err)
		}
		ensure(t, dir, now) // back to a PKI for 127.0.0.1
	}
	if _, created := ensure(t, dir, now.Add(validity-renewBefore+time.Hour)); !created {
		t.Error("a PKI about to expire was re-used")
	}
}

// TestServerRequiresTheLabClientCertificate: a TLS server set up as the lab's etcd is (client
// certificates required, signed by the lab CA) refuses a client without one and one with a
// certificate of another lab, and serves the lab's client.
func TestServerRequiresTheLabClientCertificate(t *testing.T) {
	now := time.Now()
	f, _ := ensure(t, t.TempDir(), now)
	other, _ := ensure(t, t.TempDir(), now)
	caPool := func(f Files) *x509.CertPool {
		pem, _ := os.ReadFile(f.CACert)
		p := x509.NewCertPool()
		p.AppendCertsFromPEM(pem)
		return p
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	pair, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: caPool(f)}
	srv.StartTLS()
	defer srv.Close()
	get := func(certs []tls.Certificate) error {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(f), Certificates: certs}}}
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(nil); err == nil {
		t.Error("a client without a certificate was served")
	}
	otherPair, _ := tls.LoadX509KeyPair(other.ClientCert, other.ClientKey)
	if err := get([]tls.Certificate{otherPair}); err == nil {
		t.Error("a client with another lab's certificate was served")
	}
	mine, _ := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err := get([]tls.Certificate{mine}); err != nil {
		t.Errorf("the lab's client was refused: %v", err)
	}
}
