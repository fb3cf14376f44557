package clab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Container is one node of a deployed containerlab lab, as `containerlab inspect --format json`
// reports it.
type Container struct {
	Lab         string `json:"lab_name"`
	Name        string `json:"name"` // clab-<lab>-<node>, or the kind container's own name
	ContainerID string `json:"container_id"`
	Image       string `json:"image"`
	Kind        string `json:"kind"`
	State       string `json:"state"`  // running, exited, created
	Status      string `json:"status"` // "Up 5 minutes (healthy)", newer containerlab only
	IPv4        string `json:"ipv4_address"`
	IPv6        string `json:"ipv6_address"`
}

// MgmtIPv4 is the container's management address without the prefix length.
func (c Container) MgmtIPv4() (netip.Addr, bool) {
	p, err := netip.ParsePrefix(c.IPv4)
	if err == nil {
		return p.Addr(), true
	}
	a, err := netip.ParseAddr(c.IPv4)
	return a, err == nil
}

// ParseInspect reads `containerlab inspect --format json`. Containerlab has printed two shapes:
// up to 0.67 one object {"containers": [...]}, since 0.68 an object keyed by lab name
// {"<lab>": [...]}. Both are accepted; the result is sorted by name. With no containers up to
// 0.67 print nothing on stdout (only a log line on stderr) and 0.68+ print {}: both are none.
func ParseInspect(data []byte) ([]Container, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("containerlab inspect output is not the JSON object of --format json: %w", err)
	}
	var out []Container
	labs := make([]string, 0, len(doc))
	for k := range doc {
		labs = append(labs, k)
	}
	sort.Strings(labs)
	for _, key := range labs {
		var list []Container
		if err := json.Unmarshal(doc[key], &list); err != nil {
			return nil, fmt.Errorf("containerlab inspect %q: %w", key, err)
		}
		for _, c := range list {
			if c.Lab == "" && key != "containers" {
				c.Lab = key
			}
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// NodeName is the lab node name of a container: clab-<lab>-ceos01 → ceos01; kind node
// containers keep their own name (k01-worker).
func (c Container) NodeName(lab string) string {
	return strings.TrimPrefix(c.Name, "clab-"+lab+"-")
}
