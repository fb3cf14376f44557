package datastore

import (
	"context"
	"encoding/json"
	"fmt"
)

// resourcePtr lets a Collection create a zero *T and use it as a Resource.
type resourcePtr[T any] interface {
	*T
	Resource
}

// Collection is the typed view of one kind in a Store: it encodes and decodes objects and
// carries their Revision between reads and compare-and-swap writes.
type Collection[T any, P resourcePtr[T]] struct {
	store Store
}

// IPPools is the IPPool collection of s.
func IPPools(s Store) Collection[IPPool, *IPPool] { return Collection[IPPool, *IPPool]{s} }

// BlockAffinities is the BlockAffinity collection of s.
func BlockAffinities(s Store) Collection[BlockAffinity, *BlockAffinity] {
	return Collection[BlockAffinity, *BlockAffinity]{s}
}

// IPAMBlocks is the IPAMBlock collection of s.
func IPAMBlocks(s Store) Collection[IPAMBlock, *IPAMBlock] {
	return Collection[IPAMBlock, *IPAMBlock]{s}
}

// Nodes is the Node collection of s.
func Nodes(s Store) Collection[Node, *Node] { return Collection[Node, *Node]{s} }

func (c Collection[T, P]) kind() Kind {
	var zero T
	return P(&zero).Kind()
}

func (c Collection[T, P]) decode(r Record) (*T, error) {
	obj := new(T)
	if err := json.Unmarshal(r.Value, obj); err != nil {
		return nil, fmt.Errorf("decode %s %q: %w (the stored value is not a valid %s; delete it and let its owner recreate it)",
			c.kind(), r.Name, err, c.kind())
	}
	meta := P(obj).Meta()
	// The key is the authority on the name, as in a Kubernetes object store.
	meta.Name = r.Name
	meta.Revision = r.Revision
	return obj, nil
}

// Get reads one object by name.
func (c Collection[T, P]) Get(ctx context.Context, name string) (*T, error) {
	r, err := c.store.Get(ctx, c.kind(), name)
	if err != nil {
		return nil, err
	}
	return c.decode(r)
}

// List reads every object of the kind, sorted by name, and the revision of the read.
func (c Collection[T, P]) List(ctx context.Context) ([]*T, int64, error) {
	records, rev, err := c.store.List(ctx, c.kind())
	if err != nil {
		return nil, 0, err
	}
	out := make([]*T, 0, len(records))
	for _, r := range records {
		obj, err := c.decode(r)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, obj)
	}
	return out, rev, nil
}

// Create stores obj, which must not exist yet, and sets its Revision.
func (c Collection[T, P]) Create(ctx context.Context, obj *T) error {
	meta := P(obj).Meta()
	value, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", c.kind(), meta.Name, err)
	}
	rev, err := c.store.Create(ctx, c.kind(), meta.Name, value)
	if err != nil {
		return err
	}
	meta.Revision = rev
	return nil
}

// Update stores obj if nobody changed it since it was read at obj's Revision, and moves
// Revision forward. On ErrConflict the caller re-reads and decides again.
func (c Collection[T, P]) Update(ctx context.Context, obj *T) error {
	meta := P(obj).Meta()
	value, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", c.kind(), meta.Name, err)
	}
	rev, err := c.store.Update(ctx, c.kind(), meta.Name, value, meta.Revision)
	if err != nil {
		return err
	}
	meta.Revision = rev
	return nil
}

// Delete removes obj if nobody changed it since it was read at obj's Revision.
func (c Collection[T, P]) Delete(ctx context.Context, obj *T) error {
	meta := P(obj).Meta()
	return c.store.Delete(ctx, c.kind(), meta.Name, meta.Revision)
}

// ObjectEvent is a decoded watch event. Object is the new value for puts and the last value
// for deletes; it is nil for errors.
type ObjectEvent[T any] struct {
	Type   EventType
	Object *T
	Err    error
}

// Watch streams decoded changes after revision afterRev (0: from now on). A value that does not
// decode is reported as an EventError and the watch continues.
func (c Collection[T, P]) Watch(ctx context.Context, afterRev int64) (<-chan ObjectEvent[T], error) {
	raw, err := c.store.Watch(ctx, c.kind(), afterRev)
	if err != nil {
		return nil, err
	}
	out := make(chan ObjectEvent[T])
	go func() {
		defer close(out)
		for ev := range raw {
			typed := ObjectEvent[T]{Type: ev.Type, Err: ev.Err}
			switch {
			case ev.Type == EventDelete && len(ev.Value) == 0:
				// The previous value was compacted away; the name is still worth reporting.
				obj := new(T)
				P(obj).Meta().Name = ev.Name
				P(obj).Meta().Revision = ev.Revision
				typed.Object = obj
			case ev.Type != EventError:
				obj, err := c.decode(Record{Name: ev.Name, Value: ev.Value, Revision: ev.Revision})
				if err != nil {
					typed = ObjectEvent[T]{Type: EventError, Err: err}
				} else {
					typed.Object = obj
				}
			}
			select {
			case out <- typed:
			case <-ctx.Done():
				// Drain so the store's goroutine can finish.
				for range raw {
				}
				return
			}
		}
	}()
	return out, nil
}
