package render_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/render"
)

// yamlDocs decodes every document of a rendered YAML stream into generic maps: the facts are
// read from the file as kubectl and containerlab would read it, not from our own structs.
func yamlDocs(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if err.Error() == "EOF" {
				return docs
			}
			t.Fatalf("decode: %v", err)
		}
		docs = append(docs, d)
	}
}

// TestCalicoBGPTopologyFacts: the kind cluster, and the reflector as a linux node at its fixed
// address on kind's network, its rr.conf (a rendered file) bind-mounted and passed to gobgpd.
func TestCalicoBGPTopologyFacts(t *testing.T) {
	l := mustLoad(t, "calico-bgp")
	docs := yamlDocs(t, fileOf(t, l, render.TopologyPath("calico-bgp")))
	if len(docs) != 1 {
		t.Fatalf("%d documents", len(docs))
	}
	topo := docs[0]
	if p, ok := topo["prefix"]; !ok || p != "" {
		t.Errorf("prefix = %v (present %v), want \"\": the reflector's container is named gobgp", p, ok)
	}
	if m := topo["mgmt"]; !reflect.DeepEqual(m, map[string]any{"network": "kind", "ipv4-subnet": "172.18.0.0/16"}) {
		t.Errorf("mgmt = %v, want kind's network 172.18.0.0/16", m)
	}
	body := topo["topology"].(map[string]any)
	if _, ok := body["links"]; ok {
		t.Errorf("links %v: every node is on kind's network, nothing to cable", body["links"])
	}
	nodes := body["nodes"].(map[string]any)
	if len(nodes) != 2 {
		t.Fatalf("nodes %v, want the cluster and the reflector", nodes)
	}
	if k := nodes["k8s-guide"].(map[string]any); k["kind"] != "k8s-kind" || k["startup-config"] != "../configs/calico-bgp/kind.yaml" {
		t.Errorf("cluster node = %v", k)
	}
	rr := nodes["gobgp"].(map[string]any)
	want := map[string]any{
		"kind":      "linux",
		"image":     "knetlab-gobgp:v4.8.0",
		"mgmt-ipv4": "172.18.0.5",
		"binds":     []any{"../configs/calico-bgp/gobgp/rr.conf:/etc/gobgp/rr.conf:ro"},
		"cmd":       "-f /etc/gobgp/rr.conf",
	}
	if !reflect.DeepEqual(rr, want) {
		t.Errorf("gobgp node =\n %v\nwant\n %v", rr, want)
	}
	// containerlab resolves a bind's host path against the topology's directory: it must be
	// the rendered rr.conf.
	src, _, _ := strings.Cut(want["binds"].([]any)[0].(string), ":")
	if got := path.Join(path.Dir(render.TopologyPath("calico-bgp")), src); got != render.ReflectorConfigPath("calico-bgp", "gobgp") {
		t.Errorf("bind source resolves to %s, want %s", got, render.ReflectorConfigPath("calico-bgp", "gobgp"))
	}
	fileOf(t, l, render.ReflectorConfigPath("calico-bgp", "gobgp"))
}

// TestLabsWithoutReflectorKeepContainerlabDefaults: no mgmt network or prefix of ours.
func TestLabsWithoutReflectorKeepContainerlabDefaults(t *testing.T) {
	for _, name := range []string{"calico-overlay", "pod-network"} {
		topo := yamlDocs(t, fileOf(t, mustLoad(t, name), render.TopologyPath(name)))[0]
		if _, ok := topo["prefix"]; ok {
			t.Errorf("%s: prefix %v", name, topo["prefix"])
		}
		if _, ok := topo["mgmt"]; ok {
			t.Errorf("%s: mgmt %v", name, topo["mgmt"])
		}
	}
}

func TestBGPResourcesFacts(t *testing.T) {
	l := mustLoad(t, "calico-bgp")
	docs := yamlDocs(t, fileOf(t, l, render.BGPPath("calico-bgp")))
	want := []map[string]any{
		{"apiVersion": "projectcalico.org/v3", "kind": "BGPConfiguration", "metadata": map[string]any{"name": "default"},
			"spec": map[string]any{"asNumber": 64496, "nodeToNodeMeshEnabled": false}},
		{"apiVersion": "projectcalico.org/v3", "kind": "BGPPeer", "metadata": map[string]any{"name": "gobgp-peer"},
			"spec": map[string]any{"peerIP": "172.18.0.5", "asNumber": 64496, "nodeSelector": "all()"}},
	}
	if !reflect.DeepEqual(docs, want) {
		t.Errorf("bgp.yaml =\n %v\nwant\n %v", docs, want)
	}
	// A peer given by address keeps it; the mesh flag is written either way.
	l.BGP.NodeToNodeMesh = true
	l.BGP.Peers = append(l.BGP.Peers, lab.BGPPeer{Name: "tor", PeerIP: netip.MustParseAddr("172.18.0.254"), ASNumber: 64512, NodeSelector: "all()"})
	cfg, peers, err := render.BuildBGP(l)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Spec.NodeToNodeMeshEnabled || len(peers) != 2 || peers[1].Spec != (render.BGPPeerSpec{PeerIP: "172.18.0.254", ASNumber: 64512, NodeSelector: "all()"}) {
		t.Errorf("cfg %+v peers %+v", cfg, peers)
	}
	if _, _, err := render.BuildBGP(mustLoad(t, "pod-network")); err == nil {
		t.Error("BGP resources rendered for a lab without BGP")
	}
}

// calicoSchemas are Calico v3.30.0's own OpenAPI schemas of the resources knetlab renders
// (testdata/README.md says where they come from), made strict the way `kubectl apply` is by
// default (field validation Strict): a field the schema does not declare is an error, where
// the API server would otherwise drop it without a word.
func calicoSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile("testdata/calico-v3.30.0-schemas.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for kind, s := range raw {
		strict(s)
		c := jsonschema.NewCompiler()
		url := "https://knetlab.invalid/calico/" + kind + ".json"
		if err := c.AddResource(url, s); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("%s schema: %v", kind, err)
		}
		out[kind] = sch
	}
	return out
}

// strict forbids undeclared fields in every object schema that declares its fields and does
// not keep unknown ones.
func strict(v any) {
	switch s := v.(type) {
	case map[string]any:
		if _, ok := s["properties"]; ok && s["x-kubernetes-preserve-unknown-fields"] != true {
			if _, has := s["additionalProperties"]; !has {
				s["additionalProperties"] = false
			}
		}
		for _, c := range s {
			strict(c)
		}
	case []any:
		for _, c := range s {
			strict(c)
		}
	}
}

func jsonValue(t *testing.T, doc map[string]any) any {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCalicoResourcesMatchCalicoSchemas type-checks every Installation, BGPConfiguration and
// BGPPeer knetlab renders against Calico's schemas.
func TestCalicoResourcesMatchCalicoSchemas(t *testing.T) {
	schemas := calicoSchemas(t)
	checked := map[string]int{}
	for _, l := range mustAll(t) {
		paths := []string{render.CalicoPath(l.Name)}
		if l.BGP != nil {
			paths = append(paths, render.BGPPath(l.Name))
		}
		for _, p := range paths {
			for _, doc := range yamlDocs(t, fileOf(t, l, p)) {
				kind, _ := doc["kind"].(string)
				sch, ok := schemas[kind]
				if !ok {
					if kind != "APIServer" {
						t.Errorf("%s: no schema for %s", p, kind)
					}
					continue
				}
				if err := sch.Validate(jsonValue(t, doc)); err != nil {
					t.Errorf("%s: %s does not match Calico's schema: %v", p, kind, err)
				}
				checked[kind]++
			}
		}
	}
	if checked["Installation"] != 3 || checked["BGPConfiguration"] != 1 || checked["BGPPeer"] != 1 {
		t.Errorf("checked %v, want 3 Installations, 1 BGPConfiguration, 1 BGPPeer", checked)
	}
}

// TestCalicoSchemasReject shows the type check is a real one: the mistakes one makes writing
// these resources by hand are refused.
func TestCalicoSchemasReject(t *testing.T) {
	schemas := calicoSchemas(t)
	l := mustLoad(t, "calico-bgp")
	base := map[string]map[string]any{}
	for _, p := range []string{render.CalicoPath(l.Name), render.BGPPath(l.Name)} {
		for _, d := range yamlDocs(t, fileOf(t, l, p)) {
			base[d["kind"].(string)] = d
		}
	}
	for _, tc := range []struct {
		what, kind string
		mutate     func(spec map[string]any)
	}{
		{"bgp in lower case", "Installation", func(s map[string]any) { s["calicoNetwork"].(map[string]any)["bgp"] = "enabled" }},
		{"encapsulation none", "Installation", func(s map[string]any) {
			s["calicoNetwork"].(map[string]any)["ipPools"].([]any)[0].(map[string]any)["encapsulation"] = "none"
		}},
		{"natOutgoing as a boolean", "Installation", func(s map[string]any) {
			s["calicoNetwork"].(map[string]any)["ipPools"].([]any)[0].(map[string]any)["natOutgoing"] = true
		}},
		{"mesh field misspelt", "BGPConfiguration", func(s map[string]any) { s["nodeToNodeMesh"] = false }},
		{"AS as a string", "BGPConfiguration", func(s map[string]any) { s["asNumber"] = "64496" }},
		{"peer address under another name", "BGPPeer", func(s map[string]any) { s["peerAddress"] = s["peerIP"]; delete(s, "peerIP") }},
	} {
		doc := deepCopy(t, base[tc.kind])
		if err := schemas[tc.kind].Validate(jsonValue(t, doc)); err != nil {
			t.Fatalf("%s: the rendered %s is refused: %v", tc.what, tc.kind, err)
		}
		tc.mutate(doc["spec"].(map[string]any))
		if err := schemas[tc.kind].Validate(jsonValue(t, doc)); err == nil {
			t.Errorf("%s: accepted", tc.what)
		}
	}
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustAll(t *testing.T) []*lab.Lab {
	t.Helper()
	labs, err := lab.All()
	if err != nil {
		t.Fatal(err)
	}
	return labs
}

// gobgpConfig is the part of gobgpd's configuration rr.conf sets, keyed as gobgpd reads it.
type gobgpConfig struct {
	Global struct {
		Config struct {
			AS       uint32 `toml:"as"`
			RouterID string `toml:"router-id"`
		} `toml:"config"`
	} `toml:"global"`
	DynamicNeighbors []struct {
		Config struct {
			Prefix    string `toml:"prefix"`
			PeerGroup string `toml:"peer-group"`
		} `toml:"config"`
	} `toml:"dynamic-neighbors"`
	PeerGroups []struct {
		Config struct {
			PeerGroupName string `toml:"peer-group-name"`
			PeerAS        uint32 `toml:"peer-as"`
		} `toml:"config"`
		Transport struct {
			Config struct {
				PassiveMode bool `toml:"passive-mode"`
			} `toml:"config"`
		} `toml:"transport"`
		RouteReflector struct {
			Config struct {
				Client    bool   `toml:"route-reflector-client"`
				ClusterID string `toml:"route-reflector-cluster-id"`
			} `toml:"config"`
		} `toml:"route-reflector"`
		AfiSafis []struct {
			Config struct {
				AfiSafiName string `toml:"afi-safi-name"`
			} `toml:"config"`
		} `toml:"afi-safis"`
	} `toml:"peer-groups"`
}

// parseRRConf reads rr.conf with a real TOML parser; a key outside gobgpConfig is an error, so
// the assertions below see everything the file says.
func parseRRConf(t *testing.T, data []byte) gobgpConfig {
	t.Helper()
	var c gobgpConfig
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		t.Fatalf("rr.conf is not TOML: %v\n%s", err, data)
	}
	if un := md.Undecoded(); len(un) > 0 {
		t.Fatalf("rr.conf has keys the test does not know: %v", un)
	}
	return c
}

func TestReflectorConfigTOML(t *testing.T) {
	type summary struct {
		AS                              uint32
		RouterID, Prefix, Group, Group2 string
		PeerAS                          uint32
		Passive, Client                 bool
		ClusterID                       string
		AfiSafis                        []string
	}
	sum := func(c gobgpConfig) summary {
		if len(c.DynamicNeighbors) != 1 || len(c.PeerGroups) != 1 {
			t.Fatalf("%d dynamic neighbours, %d peer groups; want one each", len(c.DynamicNeighbors), len(c.PeerGroups))
		}
		pg := c.PeerGroups[0]
		s := summary{AS: c.Global.Config.AS, RouterID: c.Global.Config.RouterID,
			Prefix: c.DynamicNeighbors[0].Config.Prefix, Group: c.DynamicNeighbors[0].Config.PeerGroup,
			Group2: pg.Config.PeerGroupName, PeerAS: pg.Config.PeerAS, Passive: pg.Transport.Config.PassiveMode,
			Client: pg.RouteReflector.Config.Client, ClusterID: pg.RouteReflector.Config.ClusterID}
		for _, a := range pg.AfiSafis {
			s.AfiSafis = append(s.AfiSafis, a.Config.AfiSafiName)
		}
		return s
	}

	l := mustLoad(t, "calico-bgp")
	got := sum(parseRRConf(t, fileOf(t, l, render.ReflectorConfigPath("calico-bgp", "gobgp"))))
	want := summary{AS: 64496, RouterID: "192.0.2.1", Prefix: "172.18.0.0/16", Group: "k8s-group", Group2: "k8s-group",
		PeerAS: 64496, Passive: true, Client: true, ClusterID: "192.0.2.1", AfiSafis: []string{"ipv4-unicast"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rr.conf =\n %+v\nwant\n %+v", got, want)
	}

	// Every value comes from the lab.
	rr := lab.RouteReflector{Name: "rr1", Image: "x:1", Address: netip.MustParsePrefix("172.18.0.9/16"), ASNumber: 65010,
		RouterID: netip.MustParseAddr("192.0.2.7"), ClusterID: netip.MustParseAddr("192.0.2.9"),
		Clients: lab.RRClients{Prefix: netip.MustParsePrefix("172.18.0.0/24"), PeerGroup: "rr-clients", PeerAS: 65010}}
	got = sum(parseRRConf(t, render.ReflectorConfig(l, rr)))
	want = summary{AS: 65010, RouterID: "192.0.2.7", Prefix: "172.18.0.0/24", Group: "rr-clients", Group2: "rr-clients",
		PeerAS: 65010, Passive: true, Client: true, ClusterID: "192.0.2.9", AfiSafis: []string{"ipv4-unicast"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rr.conf of another reflector =\n %+v\nwant\n %+v", got, want)
	}
}

// TestReflectorDockerfile: a two-stage build of gobgpd and gobgp at the pinned GoBGP release,
// on pinned base images, with gobgpd as the entrypoint the topology's cmd is appended to.
func TestReflectorDockerfile(t *testing.T) {
	l := mustLoad(t, "calico-bgp")
	var froms, runs, copies, entry []string
	buildCmd := ""
	for _, line := range strings.Split(string(fileOf(t, l, render.ReflectorDockerfilePath("calico-bgp", "gobgp"))), "\n") {
		instr, rest, _ := strings.Cut(line, " ")
		switch instr {
		case "FROM":
			froms = append(froms, rest)
		case "RUN":
			runs = append(runs, rest)
		case "COPY":
			copies = append(copies, rest)
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &entry); err != nil {
				t.Fatalf("ENTRYPOINT %s is not the exec form: %v", rest, err)
			}
		case "#":
			if c, ok := strings.CutPrefix(strings.TrimSpace(rest), "docker build "); ok {
				buildCmd = c
			}
		}
	}
	if len(froms) != 2 || !strings.HasSuffix(froms[0], " AS build") {
		t.Fatalf("FROM %q, want a build stage then the runtime", froms)
	}
	for _, f := range froms {
		image, _, _ := strings.Cut(f, " ")
		if _, tag, ok := strings.Cut(image, ":"); !ok || tag == "latest" {
			t.Errorf("base image %s is not pinned", image)
		}
	}
	wantRun := "CGO_ENABLED=0 go install github.com/osrg/gobgp/v4/cmd/gobgpd@v4.8.0 github.com/osrg/gobgp/v4/cmd/gobgp@v4.8.0"
	if len(runs) != 1 || runs[0] != wantRun {
		t.Errorf("RUN %q, want %q", runs, wantRun)
	}
	if len(copies) != 1 || copies[0] != "--from=build /go/bin/gobgpd /go/bin/gobgp /usr/local/bin/" {
		t.Errorf("COPY %q", copies)
	}
	if !reflect.DeepEqual(entry, []string{"gobgpd"}) {
		t.Errorf("ENTRYPOINT %q, want [gobgpd]", entry)
	}
	if buildCmd != "-t knetlab-gobgp:v4.8.0 configs/calico-bgp/gobgp" {
		t.Errorf("the build command in the header is %q", buildCmd)
	}
}
