package nodeexec_test

import (
	"context"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/collect/nodeexec"
	"github.com/knetlab/knetlab/internal/collect/nodeexec/dockertest"
	"github.com/knetlab/knetlab/internal/collect/nodeexec/gobgpnode"
	"github.com/knetlab/knetlab/verify/observed"
)

var labNodes = [3]string{"172.18.0.2", "172.18.0.3", "172.18.0.4"}

// TestReflectorOnTheWire reads a GoBGP route reflector's container through the real Docker SDK
// client: both tables from gobgp -j, parsed.
func TestReflectorOnTheWire(t *testing.T) {
	rr := gobgpnode.Recorded(t, "172.18.0.5", labNodes)
	eng := dockertest.New(t, gobgpnode.Container("gobgp", rr))
	c := nodeexec.New(nodeexec.DockerExecer{Client: eng.Client(t)})
	r, err := c.Reflector(context.Background(), "gobgp")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Has(observed.TableBGPSessions) || !r.Has(observed.TableBGPRoutes) {
		t.Fatalf("tables = %v, want both", r.Tables)
	}
	var sessions []string
	for _, s := range r.Sessions {
		sessions = append(sessions, s.Peer.String()+" "+s.State)
	}
	if got := strings.Join(sessions, ", "); got != "172.18.0.3 Established, 172.18.0.4 Established, 172.18.0.2 Established" {
		t.Errorf("sessions = %s", got)
	}
	var rib []string
	for _, p := range r.RIB {
		rib = append(rib, p.Prefix.String()+" via "+p.NextHop.String())
	}
	if got := strings.Join(rib, ", "); got != "10.244.175.0/24 via 172.18.0.3, 10.244.190.0/24 via 172.18.0.4, 10.244.236.0/24 via 172.18.0.2" {
		t.Errorf("RIB = %s", got)
	}
}

// TestReflectorUnreadable: what the daemon and gobgp really answer when the reflector cannot be
// read is an error naming the cause, never an empty reflector that the checks would judge.
func TestReflectorUnreadable(t *testing.T) {
	down := gobgpnode.Recorded(t, "172.18.0.5", labNodes)
	down.Down = true
	stopped := gobgpnode.Container("gobgp-stopped", gobgpnode.Recorded(t, "172.18.0.5", labNodes))
	stopped.State, stopped.Status = "exited", "Exited (1) 3 minutes ago"
	eng := dockertest.New(t, gobgpnode.Container("gobgp", down), stopped)
	c := nodeexec.New(nodeexec.DockerExecer{Client: eng.Client(t)})
	for _, tt := range []struct {
		name string
		want []string
	}{
		// gobgpd not answering: gobgp -j prints the gRPC error on stdout and exits 1.
		{"gobgp", []string{"bgp-sessions: gobgp neighbor -j: gobgp in gobgp exited 1: {\"error\":\"rpc error: code = Unavailable",
			"bgp-routes: gobgp global rib -j: gobgp in gobgp exited 1", "connection refused"}},
		// The container stopped (gobgpd exited on a bad rr.conf): the daemon's 409.
		{"gobgp-stopped", []string{"bgp-sessions: gobgp neighbor -j: docker exec in gobgp-stopped", "is not running"}},
		// No such container (the lab was deployed without its reflector): the daemon's 404.
		{"gobgp-absent", []string{"bgp-routes: gobgp global rib -j: docker exec in gobgp-absent", "No such container: gobgp-absent"}},
	} {
		r, err := c.Reflector(context.Background(), tt.name)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v\nwant it to contain %q", tt.name, err, w)
			}
		}
		if r == nil || len(r.Tables) != 0 || r.Sessions != nil || r.RIB != nil {
			t.Errorf("%s: reflector = %+v, want nothing read", tt.name, r)
		}
	}
}

// TestReflectorPartlyRead: a table that could be read is marked and kept beside the error for
// the other, so that verify judges what it has and fails what it lacks.
func TestReflectorPartlyRead(t *testing.T) {
	rr := gobgpnode.Recorded(t, "172.18.0.5", labNodes)
	rr.RIB = `{"10.244.175.0/24": "not a list of paths"}`
	eng := dockertest.New(t, gobgpnode.Container("gobgp", rr))
	r, err := nodeexec.New(nodeexec.DockerExecer{Client: eng.Client(t)}).Reflector(context.Background(), "gobgp")
	if err == nil || !strings.Contains(err.Error(), "bgp-routes: parse gobgp global rib -j") {
		t.Errorf("err = %v, want the RIB's parse error", err)
	}
	if !r.Has(observed.TableBGPSessions) || r.Has(observed.TableBGPRoutes) || len(r.Sessions) != 3 {
		t.Errorf("reflector = %+v, want the 3 sessions marked and no RIB", r)
	}
}
