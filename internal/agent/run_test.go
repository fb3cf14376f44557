package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/knetlab/knetlab/internal/cni"
	"github.com/knetlab/knetlab/internal/datastore/kubestore"
)

// A rotated service account token reaches the plugin's kubeconfig.
func TestAgentRefreshesThePluginKubeconfig(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("first-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "knetlab")
	if err := os.WriteFile(exe, []byte("binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: "https://10.96.0.1:443", BearerTokenFile: tokenFile}
	render := func() ([]byte, error) { return kubestore.Kubeconfig(cfg) }
	first, err := render()
	if err != nil {
		t.Fatal(err)
	}
	inst := cni.Installation{BinDir: filepath.Join(dir, "bin"), ConfDir: filepath.Join(dir, "net.d"), Executable: exe,
		NodeName: "k01-worker", Datastore: cni.DatastoreConf{Type: cni.DatastoreKubernetes}, Kubeconfig: first}
	if err := inst.Install(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte("rotated-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		refreshKubeconfig(ctx, slog.New(slog.DiscardHandler), inst, render, time.Millisecond)
	}()
	defer func() { cancel(); <-done }()

	installed := filepath.Join(inst.ConfDir, cni.KubeconfigName)
	deadline := time.Now().Add(20 * time.Second) // bounds a broken run only
	for {
		cfg, err := clientcmd.BuildConfigFromFlags("", installed)
		if err == nil && cfg.BearerToken == "rotated-token" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the plugin's kubeconfig still has %v (err %v) after the token rotated", cfg, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
