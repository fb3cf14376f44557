package datastore

import (
	"context"
	"io"
	"strings"
	"testing"
)

// The command line deploy writes is the one the daemon parses.
func TestDaemonArgsRoundTrip(t *testing.T) {
	for _, cfg := range []ServeConfig{
		{ClientURL: "http://172.18.0.2:2379", DataDir: "/run/knetlab/calico-overlay/datastore",
			LogFile: "/run/knetlab/calico-overlay/logs/datastore.log", UnsafeNoFsync: true},
		{ClientURL: "http://172.18.0.2:2379", DataDir: "/run/knetlab/calico-overlay/datastore",
			LogFile: "/run/knetlab/calico-overlay/logs/datastore.log"},
	} {
		args := cfg.DaemonArgs()
		if args[0] != DaemonCommand {
			t.Fatalf("datastore args start %v", args[:1])
		}
		got, err := parseDaemonArgs(args[1:], io.Discard)
		if err != nil || got != cfg {
			t.Errorf("parsed %+v, %v; want %+v", got, err, cfg)
		}
	}
}

func TestBadDaemonCommandLinesAreUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "--listen and --data"},
		{"without data", []string{"--listen", "http://127.0.0.1:0"}, "--listen and --data"},
		{"unknown flag", []string{"--lisen", "http://127.0.0.1:0"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := daemonMain(context.Background(), tt.args, &stderr); code != 2 {
				t.Errorf("exit %d, want 2 (usage)", code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.want)
			}
		})
	}
}
