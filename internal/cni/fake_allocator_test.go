package cni

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"syscall"
)

// fileAllocator is the tests' IPAM: its state is a JSON file, so that the separate plugin
// processes a runtime starts share it, guarded by flock like a real datastore's transaction.
type fileAllocator struct{ path string }

type fakeIPAM struct {
	Blocks      map[string]netip.Prefix `json:"blocks"`  // node → its block
	Handles     map[string]netip.Addr   `json:"handles"` // handle → address
	Unavailable bool                    `json:"unavailable"`
}

func writeFakeIPAM(path string, st fakeIPAM) error {
	if st.Handles == nil {
		st.Handles = map[string]netip.Addr{}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

func readFakeIPAM(path string) (fakeIPAM, error) {
	var st fakeIPAM
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func (a *fileAllocator) locked(change func(*fakeIPAM) error) error {
	f, err := os.OpenFile(a.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	st, err := readFakeIPAM(a.path)
	if err != nil {
		return err
	}
	if st.Unavailable {
		return fmt.Errorf("fake etcd at %s: %w", a.path, ErrDatastoreUnavailable)
	}
	if err := change(&st); err != nil {
		return err
	}
	return writeFakeIPAM(a.path, st)
}

func (a *fileAllocator) Allocate(_ context.Context, node, handle string, _ map[string]string) (netip.Addr, error) {
	var got netip.Addr
	err := a.locked(func(st *fakeIPAM) error {
		if ip, ok := st.Handles[handle]; ok {
			got = ip
			return nil
		}
		block, ok := st.Blocks[node]
		if !ok {
			return fmt.Errorf("node %s owns no block", node)
		}
		used := map[netip.Addr]bool{block.Addr(): true} // the first address is the tunnel's
		for _, ip := range st.Handles {
			used[ip] = true
		}
		for ip := block.Addr(); block.Contains(ip); ip = ip.Next() {
			if !used[ip] {
				st.Handles[handle] = ip
				got = ip
				return nil
			}
		}
		return fmt.Errorf("block %s of %s is full", block, node)
	})
	return got, err
}

func (a *fileAllocator) Release(_ context.Context, handle string) error {
	return a.locked(func(st *fakeIPAM) error {
		delete(st.Handles, handle)
		return nil
	})
}
