package parse

import (
	"github.com/knetlab/knetlab/verify/observed"
)

// FDB parses `bridge fdb show` or `bridge -j fdb show`. Entries whose dst is an IPv6 VTEP are
// skipped like every other IPv6 line.
func FDB(data []byte) ([]observed.FDBEntry, error) {
	if isJSON(data) {
		return fdbJSON(data)
	}
	var entries []observed.FDBEntry
	lines(data, func(f []string) {
		if e, ok := fdbLine(f); ok {
			entries = append(entries, e)
		}
	})
	return entries, nil
}

func fdbLine(f []string) (observed.FDBEntry, bool) {
	mac, ok := parseMAC(f[0])
	if !ok {
		return observed.FDBEntry{}, false
	}
	e := observed.FDBEntry{MAC: mac}
	for i := 1; i < len(f); i++ {
		val := ""
		if i+1 < len(f) {
			val = f[i+1]
		}
		switch f[i] {
		case "dev":
			e.Dev = val
			i++
		case "dst":
			a, ok := parseIPv4(val)
			if !ok {
				return observed.FDBEntry{}, false
			}
			e.Dst = a
			i++
		case "master":
			e.Master = val
			i++
		case "vlan", "port", "vni", "via", "src_vni", "nhid":
			i++
		case "self":
			e.Self = true
		case "permanent":
			e.Permanent = true
		}
	}
	if e.Dev == "" {
		return observed.FDBEntry{}, false
	}
	return e, true
}

type jsonFDB struct {
	MAC    string   `json:"mac"`
	IfName string   `json:"ifname"`
	Dst    string   `json:"dst"`
	Master string   `json:"master"`
	Flags  []string `json:"flags"`
	State  string   `json:"state"`
}

func fdbJSON(data []byte) ([]observed.FDBEntry, error) {
	raw, err := decodeJSON[jsonFDB](data)
	if err != nil {
		return nil, err
	}
	entries := make([]observed.FDBEntry, 0, len(raw))
	for _, j := range raw {
		mac, ok := parseMAC(j.MAC)
		if !ok {
			continue
		}
		e := observed.FDBEntry{
			MAC:       mac,
			Dev:       j.IfName,
			Master:    j.Master,
			Self:      contains(j.Flags, "self"),
			Permanent: j.State == "permanent",
		}
		if j.Dst != "" {
			a, ok := parseIPv4(j.Dst)
			if !ok {
				continue
			}
			e.Dst = a
		}
		entries = append(entries, e)
	}
	return entries, nil
}
