// Package bgp is the lab's route reflector: GoBGP (github.com/osrg/gobgp/v4) embedded as a
// library. It runs a reflector from the lab's gobgpd config (ParseReflectorConfig,
// StartReflector, RunReflector) and reads it over GoBGP's own gRPC API (ReadState), the API
// the gobgp CLI talks to.
//
// The lab's nodes speak BGP with BIRD, as calico-node does: the agent writes BIRD's
// configuration and runs it (internal/agent). The reflector's tests stand GoBGP speakers in
// for the nodes.
package bgp
