// Package labca is a netns lab's own certificate authority: at deploy it creates a CA, a
// server certificate for the lab's etcd and a client certificate for the lab's agents, CNI
// plugin and knetlab itself (ECDSA P-256), so that the datastore serves only clients that hold
// the lab's client key. The files live in the lab's state directory, 0600 in a 0700 directory.
package labca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// File names in a lab's PKI directory.
const (
	CACertName     = "ca.crt"
	ServerCertName = "server.crt"
	ServerKeyName  = "server.key"
	ClientCertName = "client.crt"
	ClientKeyName  = "client.key"
)

const (
	// validity of every certificate: a lab lives in /run and is gone at the next reboot.
	validity = 365 * 24 * time.Hour
	// renewBefore: certificates that expire sooner are made anew at the next deploy.
	renewBefore = 7 * 24 * time.Hour
	// ClientName is the common name of the lab's client certificate.
	ClientName = "knetlab-client"
)

// Files are the paths of a lab's PKI.
type Files struct {
	Dir        string
	CACert     string
	ServerCert string
	ServerKey  string
	ClientCert string
	ClientKey  string
}

// At names the PKI files in dir, without reading or creating them.
func At(dir string) Files {
	return Files{
		Dir:        dir,
		CACert:     filepath.Join(dir, CACertName),
		ServerCert: filepath.Join(dir, ServerCertName),
		ServerKey:  filepath.Join(dir, ServerKeyName),
		ClientCert: filepath.Join(dir, ClientCertName),
		ClientKey:  filepath.Join(dir, ClientKeyName),
	}
}

// Ensure returns the PKI in dir, re-using it when every file is there, parses, chains to the
// CA, is valid for another week and the server certificate names every address in serverIPs;
// otherwise it makes a new CA and both certificates (created reports that). Files are written
// 0600 in a 0700 directory, each atomically.
func Ensure(dir, labName string, serverIPs []netip.Addr, now time.Time) (f Files, created bool, err error) {
	f = At(dir)
	if err := f.Check(serverIPs, now); err == nil {
		return f, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, false, fmt.Errorf("lab PKI: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return f, false, fmt.Errorf("lab PKI: %w", err)
	}
	if err := generate(f, labName, serverIPs, now); err != nil {
		return f, false, fmt.Errorf("lab PKI in %s: %w", dir, err)
	}
	return f, true, nil
}

// Check reports why the PKI in f cannot be re-used, or nil.
func (f Files) Check(serverIPs []netip.Addr, now time.Time) error {
	caPEM, err := os.ReadFile(f.CACert)
	if err != nil {
		return err
	}
	ca, err := parseCert(caPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", f.CACert, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, p := range []struct {
		cert, key string
		usage     x509.ExtKeyUsage
	}{{f.ServerCert, f.ServerKey, x509.ExtKeyUsageServerAuth}, {f.ClientCert, f.ClientKey, x509.ExtKeyUsageClientAuth}} {
		pair, err := tls.LoadX509KeyPair(p.cert, p.key)
		if err != nil {
			return err
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return fmt.Errorf("%s: %w", p.cert, err)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now.Add(renewBefore), KeyUsages: []x509.ExtKeyUsage{p.usage}}); err != nil {
			return fmt.Errorf("%s: %w", p.cert, err)
		}
		if p.usage == x509.ExtKeyUsageServerAuth {
			for _, ip := range serverIPs {
				if !slices.ContainsFunc(leaf.IPAddresses, func(x net.IP) bool { return x.Equal(ip.AsSlice()) }) {
					return fmt.Errorf("%s does not name %s", p.cert, ip)
				}
			}
		}
	}
	for _, name := range []string{f.CACert, f.ServerCert, f.ServerKey, f.ClientCert, f.ClientKey} {
		st, err := os.Stat(name)
		if err != nil {
			return err
		}
		if st.Mode().Perm() != 0o600 {
			return fmt.Errorf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	return nil
}

func parseCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func generate(f Files, labName string, serverIPs []netip.Addr, now time.Time) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := template(now, "knetlab lab "+labName+" CA")
	caTmpl.IsCA = true
	caTmpl.BasicConstraintsValid = true
	caTmpl.MaxPathLenZero = true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	server := template(now, "knetlab lab "+labName+" datastore")
	// Client auth too: etcd's HTTP gateway connects to its own gRPC server with the server
	// certificate, which the client certificate check would otherwise refuse.
	server.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	for _, ip := range serverIPs {
		server.IPAddresses = append(server.IPAddresses, ip.AsSlice())
	}
	client := template(now, ClientName)
	client.Subject.Organization = []string{"knetlab lab " + labName}
	client.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	// Keys first, CA last: a deploy killed half way leaves a CA that the leaves do not chain
	// to (or none), which the next Check refuses, so everything is made again.
	_ = os.Remove(f.CACert)
	for _, leaf := range []struct {
		tmpl              *x509.Certificate
		certPath, keyPath string
	}{{server, f.ServerCert, f.ServerKey}, {client, f.ClientCert, f.ClientKey}} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.CreateCertificate(rand.Reader, leaf.tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := writeFile(leaf.keyPath, pemBytes("PRIVATE KEY", keyDER)); err != nil {
			return err
		}
		if err := writeFile(leaf.certPath, pemBytes("CERTIFICATE", der)); err != nil {
			return err
		}
	}
	return writeFile(f.CACert, pemBytes("CERTIFICATE", caDER))
}

func template(now time.Time, cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

func pemBytes(typ string, der []byte) []byte {
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: typ, Bytes: der})
	return b.Bytes()
}

// writeFile writes data to path 0600 through a temporary file and a rename.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
