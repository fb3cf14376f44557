package parse

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/verify/observed"
)

func bgpPath(prefix, nextHop, from string, best bool) observed.BGPRoute {
	rt := observed.BGPRoute{Prefix: netip.MustParsePrefix(prefix), Best: best}
	if nextHop != "" {
		rt.NextHop = netip.MustParseAddr(nextHop)
	}
	if from != "" {
		rt.From = netip.MustParseAddr(from)
	}
	return rt
}

// Published `birdcl show route` of calico-node's BIRD (testdata/bgp/README.md): only the BGP
// paths are kept, each with the peer it came from; the node's own blackhole (static1), its
// pods' /32s and the kernel's copies of learned routes are not BGP.
func TestBirdRoutesPublished(t *testing.T) {
	rr, err := BirdRoutes(bgpFixture(t, "open599-birdcl-show-route.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// A node behind a route reflector: the path via its owner, from the reflector.
	want := []observed.BGPRoute{bgpPath("172.30.179.192/26", "192.168.57.4", "192.168.57.5", true)}
	if !reflect.DeepEqual(rr, want) {
		t.Errorf("open599:\n got  %+v\nwant %+v", rr, want)
	}

	mesh, err := BirdRoutes(bgpFixture(t, "ddella-birdcl-show-route.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The mesh: every alternative is a path of its own; without "from" the peer is the next hop.
	want = []observed.BGPRoute{
		bgpPath("10.255.153.64/26", "192.168.13.36", "192.168.13.30", true),
		bgpPath("10.255.153.64/26", "192.168.13.36", "192.168.13.35", false),
		bgpPath("10.255.153.64/26", "192.168.13.36", "192.168.13.36", false),
		bgpPath("10.255.153.64/26", "192.168.13.36", "192.168.13.36", false),
		bgpPath("10.255.77.128/26", "192.168.13.35", "192.168.13.30", true),
		bgpPath("10.255.77.128/26", "192.168.13.35", "192.168.13.35", false),
		bgpPath("10.255.77.128/26", "192.168.13.35", "192.168.13.35", false),
		bgpPath("10.255.77.128/26", "192.168.13.35", "192.168.13.36", false),
		bgpPath("10.255.74.64/26", "192.168.13.30", "192.168.13.30", true),
		bgpPath("10.255.74.64/26", "192.168.13.30", "192.168.13.35", false),
		bgpPath("10.255.74.64/26", "192.168.13.30", "192.168.13.30", false),
		bgpPath("10.255.74.64/26", "192.168.13.30", "192.168.13.36", false),
	}
	if !reflect.DeepEqual(mesh, want) {
		t.Errorf("ddella:\n got  %+v\nwant %+v", mesh, want)
	}
}

func TestBirdRoutesOtherShapes(t *testing.T) {
	for _, tt := range []struct {
		name string
		data string
		want []observed.BGPRoute
	}{
		{
			// Published: https://github.com/projectcalico/calico/issues/2178 (BIRD 1.6.4 as a
			// route reflector's client), typed at birdcl's prompt: BGP paths whose next hop
			// BIRD cannot resolve are unreachable; static_bgp's route is not BGP.
			name: "unreachable BGP paths (calico#2178)",
			data: "BIRD 1.6.4 ready.\nbird> show route\n" +
				"192.168.0.0/16     unreachable [node_10_17_8_36 11:41:29 from 10.17.8.36] * (100/-) [i]\n" +
				"10.58.2.0/24       unreachable [node_10_17_8_37 11:41:28 from 10.17.8.37] * (100/-) [i]\n" +
				"10.58.3.0/24       via 10.17.8.30 on eth0 [static_bgp 11:41:24] * (200)\n" +
				"bird> \n",
			want: []observed.BGPRoute{
				bgpPath("192.168.0.0/16", "", "10.17.8.36", true),
				bgpPath("10.58.2.0/24", "", "10.17.8.37", true),
			},
		},
		{
			// The control socket's raw reply (reply code 1007, continuation lines led by a
			// space), in the shape calico-node's own BIRD route scanner test feeds it: an eBGP
			// alternative with an unknown IGP metric.
			name: "control socket raw reply",
			data: "0001 BIRD v0.3.3+birdv1.6.8 ready.\n" +
				"1007-0.0.0.0/0          via 172.17.0.1 on eth0 [kernel1 20:10:57] * (10)\n" +
				" 192.168.110.128/26 via 172.17.0.5 on eth0 [Mesh_172_17_0_5 20:10:57] * (100/0) [i]\n" +
				" 192.168.82.0/26    via 172.17.0.4 on eth0 [Mesh_172_17_0_4 20:11:00] * (100/0) [i]\n" +
				"                    via 100.100.100.100 on em0 [Global_100_100_100_100 20:11:00] (100/?) [AS65001?]\n" +
				" 192.168.162.128/26 blackhole [static1 20:10:56] * (200)\n" +
				"0000\n",
			want: []observed.BGPRoute{
				bgpPath("192.168.110.128/26", "172.17.0.5", "172.17.0.5", true),
				bgpPath("192.168.82.0/26", "172.17.0.4", "172.17.0.4", true),
				bgpPath("192.168.82.0/26", "100.100.100.100", "100.100.100.100", false),
			},
		},
		{
			// Written, not recorded: BIRD 2's layout (`Table master4:`, the next hop on its own
			// line) with `show route all`'s attribute lines, and a protocol name that is not
			// Calico's. Calico's BIRD is 1.6; no BIRD 2 output was recorded here.
			name: "BIRD 2, show route all",
			data: "BIRD 2.0.8 ready.\nTable master4:\n" +
				"10.244.175.0/24      unicast [rr 2026-12-01 from 172.18.0.5] * (100/0) [i]\n" +
				"\tvia 172.18.0.4 on eth0\n\tType: BGP univ\n\tBGP.origin: IGP\n\tBGP.as_path:\n" +
				"\tBGP.next_hop: 172.18.0.4\n\tBGP.local_pref: 100\n\tBGP.originator_id: 172.18.0.4\n" +
				"\tBGP.cluster_list: 192.0.2.1\n" +
				"10.244.190.0/24      blackhole [static1 2026-12-01] * (200)\n\tType: static univ\n",
			want: []observed.BGPRoute{bgpPath("10.244.175.0/24", "172.18.0.4", "172.18.0.5", true)},
		},
		{
			name: "no BGP routes: only the node's own",
			data: "BIRD v0.3.3+birdv1.6.8 ready.\n10.244.236.0/24    blackhole [static1 12:00:01] * (200)\n",
		},
		{
			name: "empty",
			data: "",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BirdRoutes([]byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// What is not BIRD's route table is refused with its line, never read as routes.
func TestBirdRoutesRefusesOtherOutput(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		line       int
		mention    string
	}{
		{"ip route", "default via 172.18.0.1 dev eth0\n10.244.175.0/24 via 172.18.0.4 dev eth0 proto bird\n", 1, "show route"},
		{"show protocols", "name     proto    table    state  since       info\nNode_172_18_0_5 BGP      master   up     12:00:01    Established\n", 1, "show route"},
		{"gobgp global rib", "   Network              Next Hop             AS_PATH              Age        Attrs\n", 1, "show route"},
		{"alternative before any route", "                   via 10.0.0.1 on eth0 [Mesh_10_0_0_1 12:00:00] (100/0) [i]\n", 1, "before any route"},
		{"prefix without its path", "10.244.175.0/24\n", 1, "[protocol"},
		{"binary", "BIRD 1.6.8 ready.\n\x00\x01\n", 2, "binary"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BirdRoutes([]byte(tt.data))
			var pe *Error
			if !errors.As(err, &pe) || pe.Line != tt.line || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %v, want a refusal at line %d mentioning %q", err, tt.line, tt.mention)
			}
		})
	}
}

// What FormatBirdRoutes writes reads back the same.
func TestBirdRoutesRoundTrip(t *testing.T) {
	routes := []observed.BGPRoute{
		bgpPath("10.244.175.0/24", "172.18.0.4", "172.18.0.5", true),
		bgpPath("10.244.175.0/24", "172.18.0.3", "172.18.0.3", false),
		bgpPath("10.244.190.0/24", "", "172.18.0.5", true),
	}
	got, err := BirdRoutes(FormatBirdRoutes(routes))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, routes) {
		t.Errorf("round trip:\n got  %+v\nwant %+v\n%s", got, routes, FormatBirdRoutes(routes))
	}
}

// BIRD 1.6.8's own answers on the calico-bgp lab's addresses (testdata/bgp/bird-1.6.8, recorded
// by record-bird.sh): k8s-guide-worker's learned blocks via their owners from the reflector, as
// `show route` and `show route all` print them; unreachable while BIRD cannot resolve the next
// hops; nothing once the reflector is gone.
func TestBirdRoutesRecorded(t *testing.T) {
	learned := []observed.BGPRoute{
		bgpPath("10.244.236.0/24", "172.18.0.2", "172.18.0.5", true),
		bgpPath("10.244.190.0/24", "172.18.0.4", "172.18.0.5", true),
		// The reflector's own network, which BIRD's reflector exports too: an alternative to
		// direct1's, learned from the reflector itself (no "from": it is the next hop).
		bgpPath("172.18.0.0/16", "172.18.0.5", "172.18.0.5", false),
	}
	unresolved := []observed.BGPRoute{
		bgpPath("10.244.236.0/24", "", "172.18.0.5", true),
		bgpPath("10.244.190.0/24", "", "172.18.0.5", true),
		bgpPath("172.18.0.0/16", "", "172.18.0.5", true),
	}
	for file, want := range map[string][]observed.BGPRoute{
		"node3-show-route.txt":                    learned,
		"node3-show-route-all.txt":                learned,
		"unresolved-node3-show-route.txt":         unresolved,
		"unresolved-node3-show-route-all.txt":     unresolved,
		"node3-rr-down-show-route.txt":            nil,
		"unresolved-node3-rr-down-show-route.txt": nil,
	} {
		got, err := BirdRoutes(bgpFixture(t, "bird-1.6.8/"+file))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got  %+v\nwant %+v", file, got, want)
		}
	}
	// The reflector (BIRD too) shows each block from its owner, "from" left out.
	rr, err := BirdRoutes(bgpFixture(t, "bird-1.6.8/rr-show-route.txt"))
	want := []observed.BGPRoute{
		bgpPath("10.244.236.0/24", "172.18.0.2", "172.18.0.2", true),
		bgpPath("10.244.190.0/24", "172.18.0.4", "172.18.0.4", true),
		bgpPath("10.244.175.0/24", "172.18.0.3", "172.18.0.3", true),
	}
	if err != nil || !reflect.DeepEqual(rr, want) {
		t.Errorf("reflector: %v\n got  %+v\nwant %+v", err, rr, want)
	}
	// The same recording's sessions: Established, then Active once the reflector is gone.
	for file, state := range map[string]string{"node3-show-protocols.txt": "Established", "node3-rr-down-show-protocols.txt": "Active"} {
		s, err := BirdProtocols(bgpFixture(t, "bird-1.6.8/"+file))
		if err != nil || len(s) != 1 || s[0].Name != "Node_172_18_0_5" || s[0].Peer.String() != "172.18.0.5" || s[0].State != state {
			t.Errorf("%s: %+v, %v; want Node_172_18_0_5 %s", file, s, err, state)
		}
	}
}

// BIRD 2.0.12's own answers (testdata/bgp/bird-2.0.12, the netns calico-bgp lab's nodes): its
// capitalized header is BIRD's, the sessions and learned routes read as BIRD 1.6's do.
func TestBIRD2Recorded(t *testing.T) {
	for file, want := range map[string]observed.BGPSession{
		"worker-show-protocols.txt":                   {State: "Established"},
		"worker-show-protocols-all.txt":               {State: "Established", PeerAS: 64496},
		"worker-rr-down-show-protocols.txt":           {State: "Active", Info: "Socket: Connection refused"},
		"worker-peer-wrong-as-show-protocols-all.txt": {State: "Active", Info: "Socket: Connection reset by peer", PeerAS: 64497},
	} {
		s, err := BirdProtocols(bgpFixture(t, "bird-2.0.12/"+file))
		if err != nil || len(s) != 1 {
			t.Errorf("%s: %+v, %v; want one session", file, s, err)
			continue
		}
		want.Name, want.Peer = "Node_172_18_0_5", s[0].Peer
		if s[0].Peer.String() != "172.18.0.5" || s[0] != want {
			t.Errorf("%s: %+v, want %+v with peer 172.18.0.5", file, s[0], want)
		}
	}
	got, err := BirdRoutes(bgpFixture(t, "bird-2.0.12/worker-show-route-all.txt"))
	want := []observed.BGPRoute{
		bgpPath("10.244.221.0/24", "172.18.0.2", "172.18.0.5", true),
		bgpPath("10.244.148.0/24", "172.18.0.4", "172.18.0.5", true),
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("show route all: %v\n got  %+v\nwant %+v", err, got, want)
	}
}
