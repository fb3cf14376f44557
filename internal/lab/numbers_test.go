package lab

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// A field that holds a whole number takes a whole number and nothing else: a float is not
// truncated (issue 12: vlan: 10.5 was deployed as VLAN 10), a quoted number is not a number, and
// a number too large for the field is not wrapped. Each is bad input naming file, line and field.
func TestWholeNumberFieldsAreStrict(t *testing.T) {
	overlay, podNet := catalogueText(t, "calico-overlay"), catalogueText(t, "pod-network")
	for _, tc := range []struct {
		base, from, to, field, msg string
	}{
		{overlay, "    vlan: 10\n", "    vlan: 10.5\n", "nodes[0].vlan", "10.5 is not a whole number"},
		{overlay, "    vlan: 10\n", "    vlan: 10.0\n", "nodes[0].vlan", "10.0 is not a whole number"},
		{overlay, "    vlan: 10\n", "    vlan: 1e1\n", "nodes[0].vlan", "1e1 is not a whole number"},
		{overlay, "    vlan: 10\n", "    vlan: .inf\n", "nodes[0].vlan", ".inf is not a whole number"},
		{overlay, "    vlan: 10\n", "    vlan: \"10\"\n", "nodes[0].vlan", `"10" is quoted: write the number without quotes`},
		{overlay, "    vlan: 10\n", "    vlan: '10'\n", "nodes[0].vlan", `"10" is quoted: write the number without quotes`},
		{overlay, "    vlan: 10\n", "    vlan: ten\n", "nodes[0].vlan", `"ten" is not a whole number`},
		{overlay, "    vlan: 10\n", "    vlan: true\n", "nodes[0].vlan", `"true" is not a whole number`},
		{overlay, "    vlan: 10\n", "    vlan: 99999999999999999999\n", "nodes[0].vlan", "99999999999999999999 is out of range"},
		{overlay, "    vlan: 10\n", "    vlan: -99999999999999999999\n", "nodes[0].vlan", "-99999999999999999999 is out of range"},
		{overlay, "    - id: 10\n", "    - id: 10.9\n", "switch.vlans[0].id", "10.9 is not a whole number"},
		{overlay, "  number: 6\n", "  number: 6.7\n", "lesson.number", "6.7 is not a whole number"},
		{overlay, "blockSize: 26\n", "blockSize: 26.9\n", "cni.pools[0].blockSize", "26.9 is not a whole number"},
		{podNet, "port: 80}", "port: 80.5}", "pods[0].service.port", "80.5 is not a whole number"},
	} {
		t.Run(tc.to, func(t *testing.T) {
			text := edit(t, tc.base, tc.from, tc.to)
			_, err := Parse("lab.yaml", []byte(text))
			if exitcode.Code(err) != exitcode.Usage {
				t.Fatalf("Parse: %v (exit %d), want bad input (exit 2)", err, exitcode.Code(err))
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse: %T, want *ValidationError", err)
			}
			want := fmt.Sprintf("lab.yaml:%d: %s: %s", lineOf(t, text, tc.to), tc.field, tc.msg)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error:\n%v\nwant a line with %q", err, want)
			}
			if len(ve.Problems) != 1 {
				t.Errorf("%d problems, want 1 (the same mistake said once):\n%v", len(ve.Problems), err)
			}
		})
	}
}

// The spellings YAML gives whole numbers are whole numbers.
func TestWholeNumberSpellingsAreAccepted(t *testing.T) {
	for _, v := range []string{"0x0a", "0o12", "+10", "1_0"} {
		text := edit(t, catalogueText(t, "calico-overlay"), "    vlan: 10\n", "    vlan: "+v+"\n")
		l, err := Parse("lab.yaml", []byte(text))
		if err != nil {
			t.Errorf("vlan: %s: %v", v, err)
			continue
		}
		if l.Nodes[0].VLAN != 10 {
			t.Errorf("vlan: %s read as %d, want 10", v, l.Nodes[0].VLAN)
		}
	}
}
