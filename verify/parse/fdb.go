package parse

import (
	"fmt"

	"github.com/knetlab/knetlab/verify/observed"
)

// FDB parses `bridge fdb show` or `bridge -j fdb show`. Entries whose dst is an IPv6 VTEP are
// skipped like every other IPv6 line. A file that is not `bridge fdb show` output is refused
// (see gate.go), and so is `bridge fdb show dev X`, which leaves out the device.
func FDB(data []byte) ([]observed.FDBEntry, error) {
	if isJSON(data) {
		return fdbJSON(data)
	}
	return entries(data, cmdFDB, fdbLine)
}

// fdbLine parses one `bridge fdb show` line; keep is false for an entry with an IPv6 VTEP, why
// is set for a line that is not `bridge fdb show` output.
func fdbLine(f []string) (e observed.FDBEntry, keep bool, why string) {
	mac, ok := parseMAC(f[0])
	if !ok {
		return e, false, fmt.Sprintf("%q is not a MAC address", f[0])
	}
	if len(f) < 2 || f[1] != "dev" {
		return e, false, "the line names no device (`bridge fdb show dev X` or `br X` leaves it out, and the table needs it)"
	}
	e = observed.FDBEntry{MAC: mac}
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
				return e, false, ""
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
		return e, false, "the line names no device"
	}
	return e, true, ""
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
	for i, j := range raw {
		if j.MAC == "" {
			return nil, foreignJSON(cmdFDB, data, i, "has no MAC address")
		}
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
