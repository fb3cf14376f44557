package render

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/internal/lab"
)

// The GoBGP release the route reflector image is built from, and where its binaries live in
// the module.
const (
	GoBGPVersion = "v4.8.0"
	GoBGPModule  = "github.com/osrg/gobgp/v4"
	// goBGPBuilder is the Go toolchain image that builds GoBGP (v4.8.0 needs Go 1.25).
	goBGPBuilder = "golang:1.25-alpine"
	// goBGPBase is the image the binaries run in.
	goBGPBase = "alpine:3.22"
)

// ReflectorConfigInContainer is where the reflector container finds its rr.conf (bind-mounted).
const ReflectorConfigInContainer = "/etc/gobgp/rr.conf"

// BGPPath is where the lab's Calico BGP resources (BGPConfiguration, BGPPeers) live.
func BGPPath(labName string) string { return path.Join("configs", labName, "bgp.yaml") }

// ReflectorDir is the directory of a route reflector's files: its rr.conf and the Dockerfile of
// its image (the directory is the build context).
func ReflectorDir(labName, reflector string) string { return path.Join("configs", labName, reflector) }

// ReflectorConfigPath is where a route reflector's GoBGP configuration lives.
func ReflectorConfigPath(labName, reflector string) string {
	return path.Join(ReflectorDir(labName, reflector), "rr.conf")
}

// ReflectorDockerfilePath is where the Dockerfile of a route reflector's image lives.
func ReflectorDockerfilePath(labName, reflector string) string {
	return path.Join(ReflectorDir(labName, reflector), "Dockerfile")
}

// BGPConfiguration is Calico's projectcalico.org/v3 BGPConfiguration with the fields knetlab sets.
type BGPConfiguration struct {
	APIVersion string               `yaml:"apiVersion"`
	Kind       string               `yaml:"kind"`
	Metadata   ObjectMeta           `yaml:"metadata"`
	Spec       BGPConfigurationSpec `yaml:"spec"`
}

// BGPConfigurationSpec is the BGPConfiguration's spec. The mesh flag is always written, since
// Calico's default (on) is the opposite of what a lab with a route reflector wants.
type BGPConfigurationSpec struct {
	ASNumber              uint32 `yaml:"asNumber"`
	NodeToNodeMeshEnabled bool   `yaml:"nodeToNodeMeshEnabled"`
}

// BGPPeerResource is Calico's projectcalico.org/v3 BGPPeer.
type BGPPeerResource struct {
	APIVersion string      `yaml:"apiVersion"`
	Kind       string      `yaml:"kind"`
	Metadata   ObjectMeta  `yaml:"metadata"`
	Spec       BGPPeerSpec `yaml:"spec"`
}

// BGPPeerSpec is the BGPPeer's spec.
type BGPPeerSpec struct {
	PeerIP       string `yaml:"peerIP"`
	ASNumber     uint32 `yaml:"asNumber"`
	NodeSelector string `yaml:"nodeSelector"`
}

const calicoAPIVersion = "projectcalico.org/v3"

// BuildBGP is the lab's Calico BGP resources: BGPConfiguration default, then one BGPPeer per
// lab peer, with the peer's address resolved (a reflector's address for a reflector peer).
func BuildBGP(l *lab.Lab) (BGPConfiguration, []BGPPeerResource, error) {
	if l.BGP == nil {
		return BGPConfiguration{}, nil, fmt.Errorf("lab %s has no bgp section", l.Name)
	}
	cfg := BGPConfiguration{
		APIVersion: calicoAPIVersion, Kind: "BGPConfiguration", Metadata: ObjectMeta{Name: "default"},
		Spec: BGPConfigurationSpec{ASNumber: l.BGP.ASNumber, NodeToNodeMeshEnabled: l.BGP.NodeToNodeMesh},
	}
	var peers []BGPPeerResource
	for _, p := range l.BGP.Peers {
		addr := p.Address(l)
		if !addr.IsValid() {
			return BGPConfiguration{}, nil, fmt.Errorf("peer %s: no address (reflector %q is not the lab's)", p.Name, p.Reflector)
		}
		peers = append(peers, BGPPeerResource{
			APIVersion: calicoAPIVersion, Kind: "BGPPeer", Metadata: ObjectMeta{Name: p.Name},
			Spec: BGPPeerSpec{PeerIP: addr.String(), ASNumber: p.ASNumber, NodeSelector: p.NodeSelector},
		})
	}
	return cfg, peers, nil
}

// BGPResources renders bgp.yaml: the BGPConfiguration and the BGPPeers. They are
// projectcalico.org/v3 objects, served by Calico's API server, so they are applied once the
// operator reports the apiserver Available.
func BGPResources(l *lab.Lab) ([]byte, error) {
	cfg, peers, err := BuildBGP(l)
	if err != nil {
		return nil, err
	}
	head := header(l, "#", "Calico BGP configuration") +
		"# Apply once Calico's API server is up (kubectl get tigerastatus apiserver: AVAILABLE True):\n" +
		"#   kubectl apply -f " + BGPPath(l.Name) + "\n"
	docs := []any{cfg}
	for _, p := range peers {
		docs = append(docs, p)
	}
	return encodeYAML(head, docs...)
}

// ReflectorConfig renders a route reflector's rr.conf, in the TOML that gobgpd -f reads:
// the global AS and router ID, passive dynamic neighbours from the clients' prefix in one peer
// group, and that group's route-reflector settings for IPv4 unicast.
func ReflectorConfig(l *lab.Lab, rr lab.RouteReflector) []byte {
	c := rr.Clients
	var b strings.Builder
	b.WriteString(header(l, "#", "GoBGP configuration of route reflector "+rr.Name))
	fmt.Fprintf(&b, "# gobgpd reads it with: gobgpd -f %s\n", ReflectorConfigInContainer)
	fmt.Fprintf(&b, `
[global.config]
  as = %d
  router-id = %s

# Whoever connects from %s is accepted into peer group %s: the reflector never dials,
# the nodes (Calico's BGPPeer) do.
[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = %s
    peer-group = %s

[[peer-groups]]
  [peer-groups.config]
    peer-group-name = %s
    peer-as = %d
  [peer-groups.transport.config]
    passive-mode = true
  [peer-groups.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = %s
  [[peer-groups.afi-safis]]
    [peer-groups.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`, rr.ASNumber, tomlString(rr.RouterID.String()),
		c.Prefix, c.PeerGroup,
		tomlString(c.Prefix.String()), tomlString(c.PeerGroup),
		tomlString(c.PeerGroup), c.PeerAS,
		tomlString(rr.ClusterID.String()))
	return []byte(b.String())
}

// ReflectorDockerfile renders the Dockerfile of a route reflector's image: gobgpd and gobgp
// built from the pinned GoBGP release, in a small runtime image whose entrypoint is gobgpd.
func ReflectorDockerfile(l *lab.Lab, rr lab.RouteReflector) []byte {
	var b strings.Builder
	b.WriteString(header(l, "#", "Image of route reflector "+rr.Name))
	fmt.Fprintf(&b, "# Build it (the clab provider does, before containerlab deploy):\n#   docker build -t %s %s\n",
		rr.Image, ReflectorDir(l.Name, rr.Name))
	fmt.Fprintf(&b, `FROM %[1]s AS build
# gobgpd (the daemon) and gobgp (its CLI) of GoBGP %[3]s, static so they run on any base image.
RUN CGO_ENABLED=0 go install %[4]s/cmd/gobgpd@%[3]s %[4]s/cmd/gobgp@%[3]s

FROM %[2]s
COPY --from=build /go/bin/gobgpd /go/bin/gobgp /usr/local/bin/
# The topology passes the configuration: -f %[5]s
ENTRYPOINT ["gobgpd"]
`, goBGPBuilder, goBGPBase, GoBGPVersion, GoBGPModule, ReflectorConfigInContainer)
	return []byte(b.String())
}

// tomlString quotes s as a TOML basic string. The values written are addresses and names the
// lab validation limits to letters, digits and '_', '.', '-', '/', so Go's quoting is TOML's.
func tomlString(s string) string { return strconv.Quote(s) }
