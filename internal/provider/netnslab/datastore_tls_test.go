package netnslab

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// TestDatastoreRefusesAPodWithoutTheLabCertificate is issue 12's "any pod can read and rewrite
// the datastore": from inside pod net-w2, whose traffic to the management network reaches the
// datastore through its node, a plain-HTTP kv/put or kv/range and an HTTPS one without the
// lab's client certificate must all fail, while the same request with the lab's certificate is
// answered (so the refusals are the datastore's, not an unreachable address).
func TestDatastoreRefusesAPodWithoutTheLabCertificate(t *testing.T) {
	c, _ := deployCNILab(t, "calico-overlay")
	rec := c.record()
	u, err := url.Parse(rec.Datastore)
	if err != nil {
		t.Fatal(err)
	}
	pod := c.pod("net-w2")
	// Every connection is made from inside the pod's network namespace.
	inPod := func(tlsConf *tls.Config) *http.Client {
		dial := namespaceDialer(pod.NetNS)
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext:       func(ctx context.Context, _, addr string) (net.Conn, error) { return dial(ctx, addr) },
			TLSClientConfig:   tlsConf,
			DisableKeepAlives: true,
		}}
	}
	key := base64.StdEncoding.EncodeToString([]byte("/calico/resources/v3/projectcalico.org/ippools/hijacked"))
	bodies := map[string]string{
		"kv/put":   fmt.Sprintf(`{"key":%q,"value":%q}`, key, base64.StdEncoding.EncodeToString([]byte("x"))),
		"kv/range": fmt.Sprintf(`{"key":%q}`, key),
	}
	post := func(c *http.Client, scheme, path string) (int, string, error) {
		resp, err := c.Post(scheme+"://"+u.Host+"/v3/"+path, "application/json", strings.NewReader(bodies[path]))
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(b), nil
	}
	for _, path := range []string{"kv/put", "kv/range"} {
		code, body, err := post(inPod(nil), "http", path)
		t.Logf("HTTP %s: %d %v %.120s", path, code, err, body)
		if err == nil && code/100 == 2 {
			t.Errorf("plain HTTP %s from pod %s answered %d: %s", path, pod.Name, code, body)
		}
		// An attacker has no CA to check the server with; that must not help it either.
		noCert := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the attacker's view
		code, body, err = post(inPod(noCert), "https", path)
		t.Logf("HTTPS %s: %d %v %.120s", path, code, err, body)
		if err == nil && code/100 == 2 {
			t.Errorf("HTTPS %s without a client certificate from pod %s answered %d: %s", path, pod.Name, code, body)
		}
	}

	tlsConf, err := clientTLS(journal.Dir(c.p.root, c.lab.Name), rec.Datastore).Config()
	if err != nil {
		t.Fatalf("the lab's client certificate: %v", err)
	}
	code, body, err := post(inPod(tlsConf), "https", "kv/range")
	if err != nil || code != http.StatusOK {
		t.Fatalf("HTTPS kv/range with the lab's certificate from pod %s: %d %v %s (the datastore must be reachable for the refusals above to mean anything)",
			pod.Name, code, err, body)
	}
	if strings.Contains(body, `"kvs"`) {
		t.Errorf("the refused put wrote its key: %s", body)
	}

	t.Run("certificates private, recorded, re-used on redeploy and new on reconfigure", func(t *testing.T) {
		pki := labPKI(journal.Dir(c.p.root, c.lab.Name))
		for _, f := range []string{pki.CACert, pki.ServerCert, pki.ServerKey, pki.ClientCert, pki.ClientKey} {
			st, err := os.Stat(f)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v, want mode 0600", f, err)
			}
		}
		if !slices.Contains(rec.Files, pki.Dir) {
			t.Errorf("the lab's record does not list %s: %v", pki.Dir, rec.Files)
		}
		first, _ := os.ReadFile(pki.ClientCert)
		again := &recorder{}
		if err := c.p.Deploy(context.Background(), c.lab, provider.DeployOptions{Progress: again}); err != nil {
			t.Fatalf("redeploy: %v\n%s", err, again)
		}
		if now, _ := os.ReadFile(pki.ClientCert); !bytes.Equal(first, now) {
			t.Error("a redeploy made a new client certificate instead of re-using the valid one")
		}
		if !strings.Contains(again.String(), "nothing to change") {
			t.Errorf("a redeploy of a healthy lab changed something:\n%s", again)
		}
		// Lost credentials (removed by hand): deploy makes new ones and restarts the datastore
		// and the agents, which hold the old ones, with them.
		if err := os.RemoveAll(pki.Dir); err != nil {
			t.Fatal(err)
		}
		repair := &recorder{}
		if err := c.p.Deploy(context.Background(), c.lab, provider.DeployOptions{Progress: repair}); err != nil {
			t.Fatalf("deploy after the PKI was removed: %v\n%s", err, repair)
		}
		if !strings.Contains(repair.String(), "new datastore credentials: restarted 5 lab processes") {
			t.Errorf("deploy did not report restarting the datastore and 4 agents with new credentials:\n%s", repair)
		}
		// Each restarted agent logs "agent starting" once it holds a datastore connection.
		for _, n := range c.lab.Nodes {
			log := filepath.Join(journal.Dir(c.p.root, c.lab.Name), "logs", "agent-"+n.Name+".log")
			eventually(t, "agent of "+n.Name+" connected with the new certificate", 10*time.Second, func() error {
				b, _ := os.ReadFile(log)
				if k := strings.Count(string(b), `"msg":"agent starting"`); k < 2 {
					return fmt.Errorf("%d starts logged", k)
				}
				return nil
			})
		}
		first, _ = os.ReadFile(pki.ClientCert)
		if len(c.datastoreNodes()) != len(c.lab.Nodes) {
			t.Error("after new credentials the datastore does not list every node")
		}
		rebuilt := &recorder{}
		if err := c.p.Deploy(context.Background(), c.lab, provider.DeployOptions{Progress: rebuilt, Reconfigure: true}); err != nil {
			t.Fatalf("deploy --reconfigure: %v\n%s", err, rebuilt)
		}
		if now, _ := os.ReadFile(pki.ClientCert); bytes.Equal(first, now) || len(now) == 0 {
			t.Error("--reconfigure kept the old client certificate")
		}
		if len(c.datastoreNodes()) != len(c.lab.Nodes) {
			t.Error("after --reconfigure the datastore does not list every node")
		}
	})
}
