package parse

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/observed"
)

func bgpFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "bgp", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func session(name, peer, state, info string, as uint32) observed.BGPSession {
	s := observed.BGPSession{Name: name, State: state, Info: info, PeerAS: as}
	if peer != "" {
		s.Peer = netip.MustParseAddr(peer)
	}
	return s
}

func TestBirdProtocols(t *testing.T) {
	for _, tt := range []struct {
		name string
		data string
		want []observed.BGPSession
	}{
		{
			// Published: https://github.com/projectcalico/calicoctl/issues/1281 (klynch,
			// 2016-11-21), BIRD's control socket read with `nc -U /var/run/calico/bird.ctl`, the
			// typed command included; only the shell prompt line is left out.
			name: "control socket raw reply (calicoctl#1281)",
			data: "0001 BIRD 1.5.0 ready.\nshow protocols\n2002-name     proto    table    state  since       info\n" +
				"1002-kernel1  Kernel   master   up     16:36:22\n device1  Device   master   up     16:36:22\n" +
				" direct1  Direct   master   up     16:36:22\n Node_10_161_1_1 BGP      master   up     05:21:27    Established\n0000\n",
			want: []observed.BGPSession{session("Node_10_161_1_1", "10.161.1.1", "Established", "", 0)},
		},
		{
			// calicoctl's own sample rows (calicoctl/commands/node/status_test.go), in birdcl's
			// table: a down protocol with BIRD's error, a peer on another port.
			name: "birdcl table, other states",
			data: "BIRD v0.3.3+birdv1.6.8 ready.\nname     proto    table    state  since       info\n" +
				"Node_172_17_80_102 BGP      master   up     2016-11-21  Active    Socket: error\n" +
				"Global_172_17_8_133 BGP master down 2016-11-2 Failed\n" +
				"Global_10_192_0_3_port_150 BGP master start 12:00:01 Connect  Socket: Connection refused\n" +
				"Mesh_172_18_0_4 BGP      master   start  2024-01-02 10:11:12  Passive\n" +
				"Node_172_18_0_5 BGP      master   down   10:11:12\n",
			want: []observed.BGPSession{
				session("Node_172_17_80_102", "172.17.80.102", "Active", "Socket: error", 0),
				session("Global_172_17_8_133", "172.17.8.133", "Failed", "", 0),
				session("Global_10_192_0_3_port_150", "10.192.0.3", "Connect", "Socket: Connection refused", 0),
				session("Mesh_172_18_0_4", "172.18.0.4", "Passive", "", 0),
				session("Node_172_18_0_5", "172.18.0.5", "down", "", 0),
			},
		},
		{
			name: "pasted with the prompt, CRLF",
			data: "$ kubectl exec -n calico-system calico-node-x -- birdcl -s /var/run/calico/bird.ctl show protocols\r\n" +
				"name     proto    table    state  since       info\r\nMesh_172_18_0_3 BGP      master   up     18:12:31    Established   \r\n",
			want: []observed.BGPSession{session("Mesh_172_18_0_3", "172.18.0.3", "Established", "", 0)},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BirdProtocols([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// Published `show protocols all` and `calicoctl node status`, quoted unchanged
// (testdata/bgp/README.md names the source).
func TestBirdProtocolsPublished(t *testing.T) {
	all, err := BirdProtocols(bgpFixture(t, "ddella-birdcl-show-protocols-all.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []observed.BGPSession{
		session("Mesh_10_250_12_180", "10.250.12.180", "Established", "", 65001),
		session("Mesh_10_250_12_185", "10.250.12.185", "Established", "", 65001),
		session("Mesh_10_250_12_187", "10.250.12.187", "Established", "", 65001),
	}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("show protocols all:\n got  %+v\nwant %+v", all, want)
	}
	connect, err := BirdProtocols(bgpFixture(t, "ddella-calicoctl-node-status-connect.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want = []observed.BGPSession{
		session("Mesh_10_250_12_185", "10.250.12.185", "Connect", "", 0),
		session("Mesh_10_250_12_186", "10.250.12.186", "Connect", "", 0),
		session("Mesh_10_250_12_187", "10.250.12.187", "Connect", "", 0),
		session("Node_10_250_12_1", "10.250.12.1", "Established", "", 0),
	}
	if !reflect.DeepEqual(connect, want) {
		t.Errorf("calicoctl node status:\n got  %+v\nwant %+v", connect, want)
	}
	up, err := BirdProtocols(bgpFixture(t, "ddella-calicoctl-node-status-established.txt"))
	if err != nil || len(up) != 4 || !up[3].Established() || up[3].Name != "Node_10_250_12_1" {
		t.Errorf("calicoctl node status, all up: %+v, %v", up, err)
	}
}

// What is not BIRD's protocol table is refused with its line, never read as sessions.
func TestBirdProtocolsRefusesOtherOutput(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		line       int
		mention    string
	}{
		{"ip route", "default via 172.18.0.1 dev eth0\n10.244.175.0/24 via 172.18.0.4 dev eth0 proto bird\n", 1, "`ip route`"},
		{"gobgp global rib", "   Network              Next Hop             AS_PATH              Age        Attrs\n", 1, "birdcl"},
		{"show route", "name     proto    table    state  since       info\n10.244.175.0/24    via 172.18.0.4 on eth0 [Mesh_172_18_0_4 20:10:57] * (100/0) [i]\n", 2, "birdcl"},
		{"detail before any row", "  Neighbor address: 10.0.0.1\n", 1, "detail line"},
		{"binary", "name     proto    table    state  since       info\n\x00\x01\n", 2, "binary"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BirdProtocols([]byte(tt.data))
			var pe *Error
			if !errors.As(err, &pe) || pe.Line != tt.line || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %v, want a refusal at line %d mentioning %q", err, tt.line, tt.mention)
			}
		})
	}
}

// GoBGP v4.8.0's own output, recorded by testdata/bgp/record-gobgp.go: a route reflector with
// three clients Established and one configured neighbour that never connected (Active).
func TestGoBGPRecorded(t *testing.T) {
	wantRR := []observed.BGPSession{
		session("127.0.0.9", "127.0.0.9", "Active", "", 64496),
		session("127.0.0.3", "127.0.0.3", "Established", "", 64496),
		session("127.0.0.4", "127.0.0.4", "Established", "", 64496),
		session("127.0.0.2", "127.0.0.2", "Established", "", 64496),
	}
	for _, file := range []string{"rr-neighbor.json", "rr-neighbor.txt"} {
		got, err := GoBGPNeighbors(bgpFixture(t, "gobgp-v4.8.0/"+file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !reflect.DeepEqual(got, wantRR) {
			t.Errorf("%s:\n got  %+v\nwant %+v", file, got, wantRR)
		}
	}
	route := func(p, nh, from string) observed.BGPRoute {
		r := observed.BGPRoute{Prefix: netip.MustParsePrefix(p), NextHop: netip.MustParseAddr(nh), Best: true}
		if from != "" {
			r.From = netip.MustParseAddr(from)
		}
		return r
	}
	for file, want := range map[string][]observed.BGPRoute{
		"rr-global-rib.json": {route("10.244.175.0/24", "127.0.0.3", "127.0.0.3"), route("10.244.190.0/24", "127.0.0.4", "127.0.0.4"), route("10.244.236.0/24", "127.0.0.2", "127.0.0.2")},
		"rr-global-rib.txt":  {route("10.244.175.0/24", "127.0.0.3", ""), route("10.244.190.0/24", "127.0.0.4", ""), route("10.244.236.0/24", "127.0.0.2", "")},
		// A node's RIB: reflected paths keep their owner's next hop; its own has no peer.
		"node-global-rib.json": {route("10.244.175.0/24", "127.0.0.3", "127.0.0.1"), route("10.244.190.0/24", "127.0.0.4", "127.0.0.1"), route("10.244.236.0/24", "127.0.0.2", "")},
		"node-global-rib.txt":  {route("10.244.175.0/24", "127.0.0.3", ""), route("10.244.190.0/24", "127.0.0.4", ""), route("10.244.236.0/24", "127.0.0.2", "")},
	} {
		got, err := GoBGPRIB(bgpFixture(t, "gobgp-v4.8.0/"+file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got  %+v\nwant %+v", file, got, want)
		}
	}
}

func TestGoBGPOtherShapes(t *testing.T) {
	// GoBGP v2/v3: peer_as, enums by number; a single object (gobgp#2082); names.
	got, err := GoBGPNeighbors([]byte(`{"conf":{"local_as":61317,"neighbor_address":"192.168.201.1","peer_as":61317},` +
		`"state":{"neighbor_address":"192.168.201.1","peer_as":61317,"session_state":6}}`))
	if err != nil || len(got) != 1 || got[0] != session("192.168.201.1", "192.168.201.1", "Established", "", 61317) {
		t.Errorf("v2 single object: %+v, %v", got, err)
	}
	got, err = GoBGPNeighbors([]byte(`[{"conf":{"neighbor_address":"172.18.0.3","peer_asn":64496},` +
		`"state":{"neighbor_address":"172.18.0.3","session_state":"SESSION_STATE_IDLE","admin_state":"ADMIN_STATE_DOWN"}},` +
		`{"conf":{"neighbor_address":"172.18.0.4","peer_asn":64496},"state":{"session_state":"ACTIVE","disconnect_reason":13}}]`))
	want := []observed.BGPSession{
		session("172.18.0.3", "172.18.0.3", "Idle", "admin down", 64496),
		session("172.18.0.4", "172.18.0.4", "Active", "bad peer as", 64496),
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("names:\n got  %+v, %v\nwant %+v", got, err, want)
	}
	// Published text: osrg/gobgp#2643 (never up, Active) and #1501 (older GoBGP: "*" AS, Idle(Admin)).
	got, err = GoBGPNeighbors([]byte("Peer           AS Up/Down State       |#Received  Accepted\n22.33.44.55 65001   never Active      |        0         0\n77.77.77.77 56000   never Active      |        0         0\n"))
	if err != nil || len(got) != 2 || got[1] != session("77.77.77.77", "77.77.77.77", "Active", "", 56000) {
		t.Errorf("gobgp#2643: %+v, %v", got, err)
	}
	got, err = GoBGPNeighbors([]byte("Peer                           AS  Up/Down State       |#Received  Accepted\n192.168.0.1                 *    never Idle(Admin) |        0         0\n2001:db8::1                 *    never Idle(Admin) |        0         0\n"))
	if err != nil || len(got) != 2 || got[0] != session("192.168.0.1", "192.168.0.1", "Idle", "admin", 0) {
		t.Errorf("gobgp#1501: %+v, %v", got, err)
	}
	// Published: osrg/gobgp#527, a lookup that found nothing, and #151's older header.
	rib, err := GoBGPRIB([]byte("Network not in table\n"))
	if err != nil || len(rib) != 0 {
		t.Errorf("not in table: %+v, %v", rib, err)
	}
	rib, err = GoBGPRIB([]byte("   Network     Next Hop AS_PATH Age        Attrs\n*> 10.0.0.0/24 0.0.0.0  65000   00:10:17   [{Origin: IGP}]\n"))
	if err != nil || len(rib) != 1 || rib[0].NextHop != netip.MustParseAddr("0.0.0.0") || !rib[0].Best {
		t.Errorf("gobgp#151: %+v, %v", rib, err)
	}
	// v3: MP_REACH next hop, neighbor-ip.
	rib, err = GoBGPRIB([]byte(`{"10.244.175.0/24":[{"nlri":{"prefix":"10.244.175.0/24"},"attrs":[{"type":14,"nexthop":"172.18.0.4","afi":1,"safi":1}],"best":false,"neighbor-ip":"172.18.0.5"}]}`))
	if err != nil || len(rib) != 1 || rib[0].NextHop != netip.MustParseAddr("172.18.0.4") || rib[0].From != netip.MustParseAddr("172.18.0.5") || rib[0].Best {
		t.Errorf("v3 RIB: %+v, %v", rib, err)
	}
}

// One command's output saved as the other's is refused, naming what it looks like.
func TestGoBGPRefusesOtherOutput(t *testing.T) {
	rib := bgpFixture(t, "gobgp-v4.8.0/rr-global-rib.json")
	if _, err := GoBGPNeighbors(rib); err == nil || !strings.Contains(err.Error(), "gobgp global rib -j") {
		t.Errorf("RIB as neighbours: %v", err)
	}
	neigh := bgpFixture(t, "gobgp-v4.8.0/rr-neighbor.json")
	if _, err := GoBGPRIB(neigh); err == nil || !strings.Contains(err.Error(), "gobgp neighbor -j") {
		t.Errorf("neighbours as RIB: %v", err)
	}
	text := bgpFixture(t, "gobgp-v4.8.0/rr-global-rib.txt")
	var pe *Error
	if _, err := GoBGPNeighbors(text); !errors.As(err, &pe) || pe.Line != 1 {
		t.Errorf("RIB text as neighbours: %v, want a refusal at line 1", err)
	}
	if _, err := GoBGPRIB([]byte("default via 172.18.0.1 dev eth0\n")); !errors.As(err, &pe) || !strings.Contains(err.Error(), "`ip route`") {
		t.Errorf("ip route as RIB: %v", err)
	}
	if _, err := GoBGPRIB([]byte(`{"10.244.175.0/24":[{"nlri":`)); !errors.As(err, &pe) || !strings.Contains(err.Error(), "malformed JSON") {
		t.Errorf("cut JSON: %v", err)
	}
}

// What a capture writes reads back the same.
func TestBGPFormatsRoundTrip(t *testing.T) {
	sessions := []observed.BGPSession{
		session("172.18.0.5", "172.18.0.5", "Established", "", 64496),
		session("172.18.0.6", "172.18.0.6", "Active", "connection refused", 64496),
	}
	if got, err := GoBGPNeighbors(FormatGoBGPNeighbors(sessions)); err != nil || !reflect.DeepEqual(got, sessions) {
		t.Errorf("gobgp neighbours: %+v, %v", got, err)
	}
	bird := []observed.BGPSession{
		session("Node_172_18_0_5", "172.18.0.5", "Established", "", 0),
		session("Node_172_18_0_6", "172.18.0.6", "Active", "Socket: Connection refused", 0),
	}
	if got, err := BirdProtocols(FormatBirdProtocols(bird)); err != nil || !reflect.DeepEqual(got, bird) {
		t.Errorf("bird protocols: %+v, %v", got, err)
	}
	routes := []observed.BGPRoute{
		{Prefix: netip.MustParsePrefix("10.244.175.0/24"), NextHop: netip.MustParseAddr("172.18.0.3"), Best: true, From: netip.MustParseAddr("172.18.0.3")},
		{Prefix: netip.MustParsePrefix("10.244.175.0/24"), NextHop: netip.MustParseAddr("172.18.0.4")},
		{Prefix: netip.MustParsePrefix("10.244.190.0/24"), NextHop: netip.MustParseAddr("172.18.0.4"), Best: true},
	}
	if got, err := GoBGPRIB(FormatGoBGPRIB(routes)); err != nil || !reflect.DeepEqual(got, routes) {
		t.Errorf("gobgp RIB:\n got  %+v, %v\nwant %+v", got, err, routes)
	}
}
