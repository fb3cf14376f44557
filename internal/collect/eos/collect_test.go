package eos

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/parse/eosjson"
)

// printedSwitch answers each command with its output printed from sw, and fails the command fail.
type printedSwitch struct {
	sw   *observed.Switch
	fail string
}

func (p printedSwitch) Command(_ context.Context, cmd string) ([]byte, error) {
	if cmd == p.fail {
		return nil, errors.New("% Invalid input")
	}
	out := eosjson.Format(p.sw, cmd)
	if out == nil {
		return nil, fmt.Errorf("unexpected command %q", cmd)
	}
	return out, nil
}

func TestCollect(t *testing.T) {
	// One entry in each part: enough to show that each command's output lands in its own part.
	want := &observed.Switch{
		Name:   "ceos01",
		Ports:  []observed.SwitchPort{{Name: "eth4", Status: "notconnect", Mode: "access", VLAN: 20}},
		SVIs:   []observed.SVI{{Name: "Vlan10", VLAN: 10, Up: true, Address: netip.MustParsePrefix("10.10.10.1/24")}},
		Routes: []observed.SwitchRoute{{Dst: netip.MustParsePrefix("172.20.20.0/24"), Type: "connected", Iface: "Management0"}},
		VLANs:  []observed.SwitchVLAN{{ID: 20, Name: "Calico-Network-2", Ports: []string{"eth4"}}},
	}
	sw, err := Collect(context.Background(), printedSwitch{sw: want}, "ceos01")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sw, want) {
		t.Errorf("switch:\n got %+v\nwant %+v", sw, want)
	}
	_, err = Collect(context.Background(), printedSwitch{sw: want, fail: eosjson.VLANCmd}, "ceos01")
	if err == nil || !strings.Contains(err.Error(), eosjson.VLANCmd) {
		t.Errorf("error = %v, want one naming %q", err, eosjson.VLANCmd)
	}
}
