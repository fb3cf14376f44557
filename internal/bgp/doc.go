// Package bgp is the lab's BGP: GoBGP (github.com/osrg/gobgp/v4) embedded as a library. It
// runs a route reflector from the lab's gobgpd config (ParseReflectorConfig, StartReflector,
// RunReflector), a node's speaker that announces the node's blocks and reports what it learns
// (StartSpeaker), and reads any of them over GoBGP's own gRPC API (ReadState), the API the
// gobgp CLI talks to.
//
// Real calico-node speaks BGP with BIRD; the netns lab's agent embeds GoBGP instead (one static
// binary, nothing to install in the lab's namespaces, the same code as the route reflector, a
// Go API to read the sessions from). The routes it programs are the ones BIRD would: proto
// bird, via the owner's address.
package bgp
