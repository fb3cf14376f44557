// Package datastore holds the lab's Calico-shaped resources (IPPool, BlockAffinity, IPAMBlock,
// Node) and the Store that persists them. Every write is a compare-and-swap on the object's
// Revision, so agents and CNI plugins on different nodes can share one datastore without locks.
//
// The Store speaks in names, JSON values and revisions only; the etcd backend maps a revision
// to etcd's mod revision, and a Kubernetes CRD backend can map it to resourceVersion.
package datastore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kind names a resource type. Its value is the path segment under the key prefix.
type Kind string

// The kinds the lab stores, spelled as Calico's CRD plurals.
const (
	KindIPPool        Kind = "ippools"
	KindBlockAffinity Kind = "blockaffinities"
	KindIPAMBlock     Kind = "ipamblocks"
	KindNode          Kind = "nodes"
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{KindIPPool, KindBlockAffinity, KindIPAMBlock, KindNode}

// DefaultPrefix is where the lab's keys live in etcd: /knetlab/<kind>/<name>.
const DefaultPrefix = "/knetlab/"

// Typed errors of every Store. Callers test them with errors.Is; the wrapped message names the
// kind, the object and the revision involved.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: Create found the object already there.
	ErrExists = errors.New("already exists")
	// ErrConflict: the object changed since the caller read it (its revision moved). Re-read and retry.
	ErrConflict = errors.New("revision conflict")
	// ErrUnavailable: the datastore did not answer (down, unreachable, no leader, timed out).
	// Retrying later may succeed; a CNI plugin reports it as "try again later".
	ErrUnavailable = errors.New("datastore unavailable")
)

// Record is one stored object: its name, its JSON value and the revision it was stored at.
type Record struct {
	Name     string
	Value    []byte
	Revision int64
}

// EventType says what happened to an object.
type EventType int

// Watch event types.
const (
	EventPut    EventType = iota + 1 // created or updated
	EventDelete                      // deleted; Value is the last value before the delete
	EventError                       // the watch broke; Err says why and the channel closes after it
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventError:
		return "error"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change seen by Watch.
type Event struct {
	Type     EventType
	Name     string
	Value    []byte
	Revision int64 // revision of the change; for deletes, the store revision of the delete
	Err      error // set only for EventError
}

// Store persists resources by kind and name. Writes are guarded by revisions:
// Create succeeds only where nothing exists, Update and Delete only at the revision the caller
// read. There is no unconditional write, so no read-modify-write can lose an update.
type Store interface {
	// Get returns the object, or an error wrapping ErrNotFound.
	Get(ctx context.Context, kind Kind, name string) (Record, error)
	// List returns every object of the kind sorted by name, and the store revision the list was
	// read at (pass it to Watch to see every later change and nothing twice).
	List(ctx context.Context, kind Kind) ([]Record, int64, error)
	// Create stores a new object and returns its revision, or an error wrapping ErrExists.
	Create(ctx context.Context, kind Kind, name string, value []byte) (int64, error)
	// Update replaces the object if it is still at revision rev and returns the new revision;
	// otherwise an error wrapping ErrConflict (changed) or ErrNotFound (gone).
	Update(ctx context.Context, kind Kind, name string, value []byte, rev int64) (int64, error)
	// Delete removes the object if it is still at revision rev; otherwise an error wrapping
	// ErrConflict or ErrNotFound.
	Delete(ctx context.Context, kind Kind, name string, rev int64) error
	// Watch streams changes to the kind made after revision afterRev (0: from now on) until ctx
	// is done, then closes the channel. A broken watch sends one EventError and closes.
	Watch(ctx context.Context, kind Kind, afterRev int64) (<-chan Event, error)
	// Close releases the connection.
	Close() error
}

// checkName rejects names that would escape their kind's key range.
func checkName(kind Kind, name string) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid %s name %q: names are non-empty and contain no '/'", kind, name)
	}
	return nil
}

func checkKind(kind Kind) error {
	if !slices.Contains(Kinds, kind) {
		return fmt.Errorf("unknown kind %q: use one of %v", kind, Kinds)
	}
	return nil
}
