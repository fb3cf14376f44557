package capture

import (
	"context"
	"errors"
	"fmt"

	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

// FromSource reads facts and the tables of the nodes named from src, and writes them to dir
// in the capture layout (with the switch when src has one); it returns how many nodes it
// wrote. What the source does not have (source.ErrAbsent: no datastore yet, a node that is
// gone, no switch) is left out, and verify --from then skips what needs it, saying why; any
// other read error fails the capture, so that a capture is never silently partial.
func FromSource(ctx context.Context, src source.Source, nodeNames []string, dir string) (int, error) {
	f, err := src.Facts(ctx)
	switch {
	case errors.Is(err, source.ErrAbsent):
		f = nil
	case err != nil:
		return 0, err
	}
	var nodes []*observed.Node
	for _, name := range nodeNames {
		ns, err := src.NodeState(ctx, name)
		if errors.Is(err, source.ErrAbsent) {
			continue // no directory for it: verify --from skips the node, saying why
		}
		if err != nil {
			return 0, fmt.Errorf("node %s: %w", name, err)
		}
		nodes = append(nodes, ns)
	}
	if f != nil {
		// The Ready condition travels in cluster.yaml, as in a kubectl capture, so that
		// topology.nodes is judged offline on what the live lab said.
		topo, err := src.Topology(ctx)
		if err != nil && !errors.Is(err, source.ErrAbsent) {
			return 0, err
		}
		recordReadiness(f, topo)
	}
	// A lab without a switch (pod-network) has no switch directory; verify --from then skips
	// the switch checks with the reason, as it does for a capture a person made without one.
	sw, err := src.Switch(ctx)
	switch {
	case errors.Is(err, source.ErrAbsent):
		sw = nil
	case err != nil:
		return 0, fmt.Errorf("switch: %w", err)
	}
	rrs, err := readReflectorsFrom(ctx, src)
	if err != nil {
		return 0, err
	}
	if err := Write(dir, f, nodes); err != nil {
		return 0, err
	}
	if sw != nil {
		if err := WriteSwitch(dir, sw); err != nil {
			return 0, err
		}
	}
	for _, r := range rrs {
		if err := WriteReflector(dir, r); err != nil {
			return 0, err
		}
	}
	return len(nodes), nil
}

// readReflectorsFrom reads every route reflector src has; none when it has no reflectors.
func readReflectorsFrom(ctx context.Context, src source.Source) ([]*observed.Reflector, error) {
	rs, ok := src.(source.Reflectors)
	if !ok {
		return nil, nil
	}
	var out []*observed.Reflector
	for _, name := range rs.ReflectorNames() {
		r, err := rs.Reflector(ctx, name)
		switch {
		case errors.Is(err, source.ErrAbsent):
			continue // no rr/<name>/: verify --from skips what needs it, saying why
		case err != nil:
			return nil, fmt.Errorf("route reflector %s: %w", name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// recordReadiness sets each node's Ready condition from the live topology.
func recordReadiness(f *facts.Facts, topo []observed.NodeStatus) {
	ready := map[string]string{}
	for _, st := range topo {
		if st.Ready {
			ready[st.Name] = "True"
		} else {
			ready[st.Name] = "False"
		}
	}
	for i := range f.Nodes {
		if r, ok := ready[f.Nodes[i].Name]; ok {
			f.Nodes[i].Ready = r
		}
	}
}
