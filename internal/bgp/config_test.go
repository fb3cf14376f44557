package bgp

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// labRRConf is the calico-bgp lab's rr.conf (tkng's, the client prefix narrowed to the cluster
// network).
const labRRConf = `[global.config]
  as = 64496
  router-id = "192.0.2.1"

[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "172.18.0.0/16"
    peer-group = "k8s-group"

[[peer-groups]]
  [peer-groups.config]
    peer-group-name = "k8s-group"
    peer-as = 64496
  [peer-groups.transport.config]
    passive-mode = true
  [peer-groups.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "192.0.2.1"
  [[peer-groups.afi-safis]]
    [peer-groups.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`

func TestParseReflectorConfigLab(t *testing.T) {
	got, err := ParseReflectorConfig(strings.NewReader(labRRConf), "rr.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := ReflectorConfig{
		ASNumber:  64496,
		RouterID:  netip.MustParseAddr("192.0.2.1"),
		ClusterID: netip.MustParseAddr("192.0.2.1"),
		Clients:   netip.MustParsePrefix("172.18.0.0/16"),
		PeerGroup: "k8s-group",
		PeerAS:    64496,
		Passive:   true,
		Families:  []string{FamilyIPv4Unicast},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
}

// TestParseReflectorConfigErrors: every problem is reported, each with the file, its line and
// the key, in line order.
func TestParseReflectorConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string // substrings, in order
	}{
		{
			name: "unknown keys",
			edit: func(s string) string {
				s = strings.Replace(s, `  router-id = "192.0.2.1"`, "  router-id = \"192.0.2.1\"\n  port = 1790", 1)
				return strings.Replace(s, "    passive-mode = true", "    passive-mode = true\n    remote-port = 179", 1)
			},
			want: []string{"rr.conf:4: unknown key global.config.port", "rr.conf:17: unknown key peer-groups.transport.config.remote-port"},
		},
		{
			name: "unknown table",
			edit: func(s string) string { return s + "[zebra.config]\n  enabled = true\n" },
			want: []string{"rr.conf:", "unknown key zebra"},
		},
		{
			name: "reserved AS and bad router id",
			edit: func(s string) string {
				s = strings.Replace(s, "  as = 64496", "  as = 65535", 1)
				return strings.Replace(s, `router-id = "192.0.2.1"`, `router-id = "2001:db8::1"`, 1)
			},
			want: []string{"rr.conf:2: global.config.as 65535 is not a usable AS number", `rr.conf:3: global.config.router-id "2001:db8::1" is not an IPv4 address`},
		},
		{
			name: "host prefix and mismatched group",
			edit: func(s string) string {
				s = strings.Replace(s, `prefix = "172.18.0.0/16"`, `prefix = "172.18.0.5/16"`, 1)
				return strings.Replace(s, `peer-group-name = "k8s-group"`, `peer-group-name = "other"`, 1)
			},
			want: []string{`rr.conf:7: dynamic-neighbors.config.prefix "172.18.0.5/16" is not an IPv4 network prefix`, `rr.conf:12: peer group "other" is not the one`},
		},
		{
			name: "not a client, other family, wrong type",
			edit: func(s string) string {
				s = strings.Replace(s, "route-reflector-client = true", "route-reflector-client = false", 1)
				s = strings.Replace(s, `afi-safi-name = "ipv4-unicast"`, `afi-safi-name = "l2vpn-evpn"`, 1)
				return strings.Replace(s, "passive-mode = true", `passive-mode = "yes"`, 1)
			},
			want: []string{"rr.conf:15: peer-groups.transport.config.passive-mode must be true or false", "rr.conf:17: peer-groups.route-reflector.config.route-reflector-client must be true", `rr.conf:21: afi-safi-name "l2vpn-evpn" is not supported`},
		},
		{
			name: "no dynamic neighbours",
			edit: func(s string) string {
				return strings.Replace(s, "[[dynamic-neighbors]]\n  [dynamic-neighbors.config]\n    prefix = \"172.18.0.0/16\"\n    peer-group = \"k8s-group\"\n", "", 1)
			},
			want: []string{"missing [[dynamic-neighbors]]"},
		},
		{
			name: "not TOML",
			edit: func(s string) string { return s + "this is = = not toml\n" },
			want: []string{"rr.conf: (22, 6)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseReflectorConfig(strings.NewReader(tt.edit(labRRConf)), "rr.conf")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error does not contain %q (after position %d):\n%s", w, at, msg)
				}
				at += i + len(w)
			}
		})
	}
}
