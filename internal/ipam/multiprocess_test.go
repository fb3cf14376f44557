package ipam_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/datastore"
	"github.com/knetlab/knetlab/internal/datastore/storetest"
	"github.com/knetlab/knetlab/internal/ipam"
)

// The multi-process test re-executes this test binary as allocation workers; these variables
// tell a process it is one, and what to do.
const (
	envWorkerEndpoint = "KNETLAB_IPAM_WORKER_ENDPOINT"
	envWorkerNode     = "KNETLAB_IPAM_WORKER_NODE"
	envWorkerID       = "KNETLAB_IPAM_WORKER_ID"
	envWorkerCount    = "KNETLAB_IPAM_WORKER_COUNT"
)

func TestMain(m *testing.M) {
	if endpoint := os.Getenv(envWorkerEndpoint); endpoint != "" {
		os.Exit(runWorker(endpoint))
	}
	os.Exit(m.Run())
}

// runWorker allocates addresses as a CNI plugin process would, printing "<handle> <address>"
// per allocation.
func runWorker(endpoint string) int {
	node, id := os.Getenv(envWorkerNode), os.Getenv(envWorkerID)
	count, err := strconv.Atoi(os.Getenv(envWorkerCount))
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker: bad count:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := datastore.NewEtcd(ctx, datastore.EtcdConfig{Endpoints: []string{endpoint}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	defer store.Close()
	m := ipam.New(store)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for i := range count {
		h := fmt.Sprintf("%s-%s-%d", node, id, i)
		addr, err := m.Allocate(ctx, node, h, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
		fmt.Fprintln(out, h, addr)
	}
	return 0
}

// Several processes, two per node, allocate at once against one etcd: the datastore's
// compare-and-swap is the only thing keeping them apart, exactly as for CNI plugins started
// in parallel by a container runtime.
func TestSeveralProcessesNeverDoubleAnAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	endpoint := storetest.Start(t)
	store := storetest.Dial(t, endpoint)
	createPool(t, store, "default-ipv4-ippool", "192.168.0.0/16", 28)

	const perProcess = 30
	nodes := []string{"k01-worker", "k01-worker", "k01-worker2", "k01-worker2", "k01-worker3", "k01-worker3"}
	type worker struct {
		node   string
		cmd    *exec.Cmd
		stdout bytes.Buffer
		stderr bytes.Buffer
	}
	workers := make([]*worker, len(nodes))
	for i, node := range nodes {
		w := &worker{node: node, cmd: exec.Command(os.Args[0])}
		w.cmd.Env = append(os.Environ(),
			envWorkerEndpoint+"="+endpoint, envWorkerNode+"="+node,
			envWorkerID+"="+strconv.Itoa(i), envWorkerCount+"="+strconv.Itoa(perProcess))
		w.cmd.Stdout, w.cmd.Stderr = &w.stdout, &w.stderr
		if err := w.cmd.Start(); err != nil {
			t.Fatalf("start worker %d: %v", i, err)
		}
		// A failing test must not leave workers behind.
		t.Cleanup(func() {
			if w.cmd.ProcessState == nil {
				w.cmd.Process.Kill()
				w.cmd.Wait()
			}
		})
		workers[i] = w
	}

	want := make(map[string]netip.Addr)
	owner := make(map[string]string)
	byAddr := make(map[netip.Addr]string)
	for i, w := range workers {
		if err := w.cmd.Wait(); err != nil {
			t.Fatalf("worker %d (%s): %v\n%s", i, w.node, err, w.stderr.String())
		}
		for line := range strings.Lines(w.stdout.String()) {
			h, a, ok := strings.Cut(strings.TrimSpace(line), " ")
			addr, err := netip.ParseAddr(a)
			if !ok || err != nil {
				t.Fatalf("worker %d printed %q", i, line)
			}
			if other, dup := byAddr[addr]; dup {
				t.Errorf("%s handed out twice: to %s and %s", addr, other, h)
			}
			byAddr[addr], want[h], owner[h] = h, addr, w.node
		}
	}
	if len(want) != len(nodes)*perProcess {
		t.Fatalf("workers reported %d allocations, want %d", len(want), len(nodes)*perProcess)
	}
	audit(t, store, want, owner)
}
