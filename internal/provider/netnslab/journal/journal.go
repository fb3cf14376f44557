// Package journal is the on-disk record of a netns lab: /run/knetlab/<lab>/state.json lists
// every object the lab owns — namespaces, links, processes, files — so that destroy, status and
// exec find them again, and a lock file keeps two knetlab commands off one lab at a time.
//
// The record is a journal: an object is added and the file saved BEFORE the object is created,
// so a deploy killed half way leaves a record of everything that may exist, and destroy removes
// it. Saves are atomic (temp file + rename), so a kill never leaves a torn file.
//
// Later parts of the lab (the datastore, node agents) add their processes with AddProcess and
// their files with AddFile; destroy stops and removes what it finds here.
package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// DefaultRoot is where lab state lives: /run is a tmpfs, so state goes away with the namespaces
// on a reboot. KNETLAB_STATE_DIR overrides it (tests keep their labs apart with it).
const DefaultRoot = "/run/knetlab"

// Root returns the state root in effect.
func Root() string {
	if d := os.Getenv("KNETLAB_STATE_DIR"); d != "" {
		return d
	}
	return DefaultRoot
}

// Phases of a lab.
const (
	PhaseDeploying = "deploying" // a deploy started and has not finished (or was killed)
	PhaseDeployed  = "deployed"
)

// Roles of a namespace.
const (
	RoleNode    = "node"
	RoleSwitch  = "switch"
	RoleNetwork = "network" // the management network standing in for kind's docker network
	RolePod     = "pod"     // a pod's network namespace
	// RoleReflector is a BGP route reflector beside the cluster, on the management network.
	RoleReflector = "reflector"
)

// Lab is the record of one lab.
type Lab struct {
	Version    int         `json:"version"`
	Lab        string      `json:"lab"`
	Provider   string      `json:"provider"`
	Phase      string      `json:"phase"`
	VLANMode   string      `json:"vlanMode,omitempty"` // how the switch realises VLANs
	Source     string      `json:"source,omitempty"`   // the lab file it was deployed from
	Started    time.Time   `json:"started"`
	Updated    time.Time   `json:"updated"`
	Namespaces []Namespace `json:"namespaces"`
	Links      []Link      `json:"links,omitempty"`
	Processes  []Process   `json:"processes,omitempty"`
	Files      []string    `json:"files,omitempty"`
	Pods       []Pod       `json:"pods,omitempty"`
	// Datastore is the client URL of the lab's etcd, e.g. https://172.18.0.2:2379 (http: an older knetlab).
	Datastore string `json:"datastore,omitempty"`
	// Faults are the teaching faults knetlab break applied and knetlab fix has not yet undone.
	Faults []Fault `json:"faults,omitempty"`
}

// Fault is one applied teaching fault: which, where, and what it changed.
type Fault struct {
	Name  string `json:"name"`
	Node  string `json:"node"`
	Entry string `json:"entry,omitempty"` // what it changed, e.g. the deleted FDB entry
	PID   int    `json:"pid,omitempty"`   // the agent it paused or stopped
	// Unnamed is a fault applied as an exercise (knetlab break --random): status does not name it.
	Unnamed bool `json:"unnamed,omitempty"`
	// Hints is how many hint steps knetlab hint has revealed of it.
	Hints int `json:"hints,omitempty"`
}

// Pod is a pod the lab created through the CNI plugin: its network namespace (a named
// namespace, recorded in Namespaces too, with Role RolePod) and what ADD returned.
type Pod struct {
	Namespace   string `json:"namespace"` // Kubernetes namespace, e.g. default
	Name        string `json:"name"`
	Node        string `json:"node"`
	NetNS       string `json:"netns"`       // the pod's named network namespace
	ContainerID string `json:"containerID"` // CNI_CONTAINERID, the IPAM handle's key
	IP          string `json:"ip,omitempty"`
	HostIface   string `json:"hostIface,omitempty"` // cali + 11 hex
}

// Namespace is one named network namespace of the lab (/run/netns/<Name>).
type Namespace struct {
	Name string `json:"name"`
	Role string `json:"role"`           // node, switch, network, reflector, pod
	Node string `json:"node,omitempty"` // the lab node or switch it stands for
	// Addresses are the lab addresses configured in it, for status.
	Addresses []string `json:"addresses,omitempty"`
}

// Link is one interface the lab created, named by its namespace.
type Link struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	// PeerNamespace and PeerName are a veth's other end.
	PeerNamespace string `json:"peerNamespace,omitempty"`
	PeerName      string `json:"peerName,omitempty"`
}

// Process is a process the lab started; StartTime (clock ticks since boot, /proc/<pid>/stat
// field 22) tells it apart from an unrelated process that got the same PID later.
type Process struct {
	Name      string `json:"name"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	Namespace string `json:"namespace,omitempty"`
}

// Store is a lab record held under the lab's lock. Close releases the lock.
type Store struct {
	root string
	lock *os.File
	Lab  *Lab
}

const formatVersion = 1

// Dir is the lab's state directory.
func Dir(root, lab string) string { return filepath.Join(root, lab) }

func statePath(root, lab string) string { return filepath.Join(root, lab, "state.json") }

// lockPath sits beside the lab's directory, not inside it, so that the directory can be
// written and removed while the lock is held.
func lockPath(root, lab string) string { return filepath.Join(root, "."+lab+".lock") }

// Open locks the lab and reads its record; a lab without one gets an empty record (not yet
// saved). It waits for another command holding the lock until ctx ends.
//
// Destroy removes the lock file while holding it, so a command that was waiting may end up
// holding a lock on a file that is gone; it then sees that the path no longer names its file
// and starts over, which keeps exactly one holder per lab.
func Open(ctx context.Context, root, lab string) (*Store, error) {
	for {
		f, err := lockFile(ctx, root, lab)
		if err != nil {
			return nil, err
		}
		if !sameFile(f, lockPath(root, lab)) {
			f.Close()
			continue
		}
		s := &Store{root: root, lock: f}
		l, err := Read(root, lab)
		if err != nil {
			s.Close()
			return nil, err
		}
		if l == nil {
			l = &Lab{Version: formatVersion, Lab: lab}
		}
		s.Lab = l
		return s, nil
	}
}

func lockFile(ctx context.Context, root, lab string) (*os.File, error) {
	var f *os.File
	var err error
	// The root may vanish between MkdirAll and OpenFile when the last other lab is destroyed
	// at that moment (Remove); a few attempts outlast that.
	for attempt := 0; attempt < 5; attempt++ {
		if err = os.MkdirAll(root, 0o755); err != nil {
			return nil, fmt.Errorf("lab state %s: %w", root, err)
		}
		f, err = os.OpenFile(lockPath(root, lab), os.O_CREATE|os.O_RDWR, 0o644)
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lock lab %s: %w", lab, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock lab %s: %w", lab, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lab %s is locked by another knetlab command (%s); wait for it to finish: %w", lab, lockPath(root, lab), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, pi)
}

// Read returns the lab's record without locking, or nil when there is none.
func Read(root, lab string) (*Lab, error) {
	b, err := os.ReadFile(statePath(root, lab))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	l := &Lab{}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("lab state %s is damaged (%v)", statePath(root, lab), err),
			"remove the lab with knetlab destroy "+lab+" --lab-file <its lab.yaml>")
	}
	return l, nil
}

// Labs lists the labs that have a record under root.
func Labs(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list labs in %s: %w", root, err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := os.Stat(statePath(root, e.Name())); err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Save writes the record atomically.
func (s *Store) Save() error {
	s.Lab.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(s.Lab, "", "  ")
	if err != nil {
		return err
	}
	dir := Dir(s.root, s.Lab.Lab)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	tmp := statePath(s.root, s.Lab.Lab) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	if err := os.Rename(tmp, statePath(s.root, s.Lab.Lab)); err != nil {
		return fmt.Errorf("save lab state: %w", err)
	}
	return nil
}

// Remove deletes the lab's state directory and lock file, and the state root when no other
// lab is left in it, so a destroyed lab leaves nothing behind. The lock stays held until Close.
func (s *Store) Remove() error {
	if err := os.RemoveAll(Dir(s.root, s.Lab.Lab)); err != nil {
		return fmt.Errorf("remove lab state: %w", err)
	}
	if err := os.Remove(lockPath(s.root, s.Lab.Lab)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove lab lock: %w", err)
	}
	_ = os.Remove(s.root) // fails, as it should, while other labs have state there
	return nil
}

// Close releases the lab's lock.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing the descriptor releases the flock
	s.lock = nil
	return err
}

// AddNamespace records ns (once) and saves the journal.
func (s *Store) AddNamespace(ns Namespace) error {
	for i, n := range s.Lab.Namespaces {
		if n.Name == ns.Name {
			if slices.Equal(n.Addresses, ns.Addresses) && n.Role == ns.Role && n.Node == ns.Node {
				return nil
			}
			s.Lab.Namespaces[i] = ns
			return s.Save()
		}
	}
	s.Lab.Namespaces = append(s.Lab.Namespaces, ns)
	return s.Save()
}

// Namespace returns the namespace recorded for a node or switch name.
func (s *Store) Namespace(node string) (Namespace, bool) { return s.Lab.Namespace(node) }

// Namespace returns the namespace recorded for a node, the switch, or the network.
func (l *Lab) Namespace(node string) (Namespace, bool) {
	for _, n := range l.Namespaces {
		if n.Node == node {
			return n, true
		}
	}
	return Namespace{}, false
}

// AddLinks records links (each once) and saves the journal once: a lab records all its links
// before creating the first.
func (s *Store) AddLinks(links ...Link) error {
	added := false
	for _, l := range links {
		if !slices.ContainsFunc(s.Lab.Links, func(o Link) bool { return o.Namespace == l.Namespace && o.Name == l.Name }) {
			s.Lab.Links = append(s.Lab.Links, l)
			added = true
		}
	}
	if !added {
		return nil
	}
	return s.Save()
}

// AddProcess records a running process of the lab and saves the journal. Record it right after
// it starts; destroy stops it (SIGTERM, then SIGKILL).
func (s *Store) AddProcess(name string, pid int, namespace string) error {
	st, err := ProcessStartTime(pid)
	if err != nil {
		return fmt.Errorf("record process %s: %w", name, err)
	}
	s.Lab.Processes = append(s.Lab.Processes, Process{Name: name, PID: pid, StartTime: st, Namespace: namespace})
	return s.Save()
}

// Processes lists the recorded processes.
func (s *Store) Processes() []Process { return slices.Clone(s.Lab.Processes) }

// RemoveProcess forgets a process that has ended.
func (s *Store) RemoveProcess(pid int) error {
	s.Lab.Processes = slices.DeleteFunc(s.Lab.Processes, func(p Process) bool { return p.PID == pid })
	return s.Save()
}

// AddFile records a file or directory of the lab outside its state directory, for destroy.
func (s *Store) AddFile(path string) error {
	if slices.Contains(s.Lab.Files, path) {
		return nil
	}
	s.Lab.Files = append(s.Lab.Files, path)
	return s.Save()
}

// AddPod records a pod (replacing a record of the same namespace/name) and saves the journal.
// Record it before calling CNI ADD, so that a killed command leaves a pod destroy can find.
func (s *Store) AddPod(p Pod) error {
	s.Lab.Pods = slices.DeleteFunc(s.Lab.Pods, func(o Pod) bool { return o.Namespace == p.Namespace && o.Name == p.Name })
	s.Lab.Pods = append(s.Lab.Pods, p)
	return s.Save()
}

// RemovePod forgets a pod after CNI DEL.
func (s *Store) RemovePod(namespace, name string) error {
	s.Lab.Pods = slices.DeleteFunc(s.Lab.Pods, func(o Pod) bool { return o.Namespace == namespace && o.Name == name })
	return s.Save()
}

// Pod returns the recorded pod.
func (l *Lab) Pod(namespace, name string) (Pod, bool) {
	for _, p := range l.Pods {
		if p.Namespace == namespace && p.Name == name {
			return p, true
		}
	}
	return Pod{}, false
}

// ProcessStartTime reads a process's start time in clock ticks since boot.
func ProcessStartTime(pid int) (uint64, error) {
	_, st, err := readStat(pid)
	return st, err
}

// readStat returns a process's state letter (R, S, Z, ...) and start time from /proc/<pid>/stat.
func readStat(pid int) (string, uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	letter, st, err := ParseStat(string(b))
	if err != nil {
		return "", 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return letter, st, nil
}

// ParseStat returns the state letter (R, S, T, Z, ...) and the start time (clock ticks since
// boot) from the text of a /proc/<pid>/stat.
func ParseStat(s string) (string, uint64, error) {
	// The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, errors.New("unexpected format")
	}
	fields := strings.Fields(s[i+1:])
	const startTimeField = 22 - 3 // field 22 overall; fields[0] is field 3, the state
	if len(fields) <= startTimeField {
		return "", 0, errors.New("unexpected format")
	}
	st, err := strconv.ParseUint(fields[startTimeField], 10, 64)
	return fields[0], st, err
}

// A lab process's state, as status shows it.
const (
	StateRunning = "running"
	StatePaused  = "paused" // stopped by a signal (SIGSTOP, as faults pause an agent) or a tracer
	StateExited  = "exited" // gone, a zombie, or its PID now names another process
)

// StateOf is the state of a process whose /proc/<pid>/stat shows the state letter letter.
func StateOf(letter string) string {
	switch letter {
	case "T", "t":
		return StatePaused
	case "Z", "X", "x":
		return StateExited
	}
	return StateRunning
}

// State is the recorded process's state: StateRunning, StatePaused or StateExited.
func (p Process) State() string {
	letter, st, err := readStat(p.PID)
	if err != nil || st != p.StartTime {
		return StateExited
	}
	return StateOf(letter)
}

// Alive reports whether the recorded process still runs: same PID, same start time, and not a
// zombie (a process that has exited but whose parent has not reaped it yet is done).
func (p Process) Alive() bool {
	return p.State() != StateExited
}
