package daemon

import (
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// The command lines deploy writes are the ones the daemons parse.
func TestCommandLinesRoundTrip(t *testing.T) {
	d := Datastore{Lab: "calico-overlay", Listen: "http://172.18.0.2:2379", Data: "/run/knetlab/calico-overlay/datastore",
		Log: "/run/knetlab/calico-overlay/logs/datastore.log", UnsafeNoFsync: true}
	args := DatastoreArgs(d)
	if args[0] != Command || args[1] != "datastore" {
		t.Fatalf("datastore args start %v", args[:2])
	}
	got, err := parseDatastore(args[2:], io.Discard)
	if err != nil || got != d {
		t.Errorf("datastore: parsed %+v, %v; want %+v", got, err, d)
	}

	a := Agent{Lab: "calico-overlay", Node: "k01-worker", Datastore: "http://172.18.0.2:2379",
		Autodetect: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16"), netip.MustParsePrefix("172.18.0.0/16")},
		Log:        "/run/knetlab/calico-overlay/logs/agent-k01-worker.log"}
	args = AgentArgs(a)
	if args[0] != Command || args[1] != "agent" {
		t.Fatalf("agent args start %v", args[:2])
	}
	gotA, err := parseAgent(args[2:], io.Discard)
	if err != nil || !reflect.DeepEqual(gotA, a) {
		t.Errorf("agent: parsed %+v, %v; want %+v", gotA, err, a)
	}
}

func TestBadCommandLinesAreUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no daemon", nil, "which daemon"},
		{"unknown daemon", []string{"scheduler"}, `unknown daemon "scheduler"`},
		{"datastore without data", []string{"datastore", "--listen", "http://127.0.0.1:0"}, "--listen and --data"},
		{"agent without node", []string{"agent", "--datastore", "http://x:2379", "--autodetect", "10.10.0.0/16"}, "--node and --datastore"},
		{"agent without CIDRs", []string{"agent", "--node", "n", "--datastore", "http://x:2379"}, "--autodetect"},
		{"agent with a bad CIDR", []string{"agent", "--node", "n", "--datastore", "http://x:2379", "--autodetect", "10.10/16"}, "--autodetect"},
		{"unknown flag", []string{"agent", "--nodes", "n"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := Main(tt.args, &stderr); code != 2 {
				t.Errorf("exit %d, want 2 (usage)", code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.want)
			}
		})
	}
}

func TestIsPlugin(t *testing.T) {
	for argv0, want := range map[string]bool{
		"/run/knetlab/calico-overlay/cni/bin/knetlab-cni": true,
		"knetlab-cni":            true,
		"/usr/local/bin/knetlab": false,
		"knetlab-cni-old":        false,
	} {
		if got := IsPlugin(argv0); got != want {
			t.Errorf("IsPlugin(%q) = %v, want %v", argv0, got, want)
		}
	}
}
