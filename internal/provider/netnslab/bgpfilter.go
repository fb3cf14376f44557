package netnslab

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	api "github.com/osrg/gobgp/v4/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// exportFilter names the prefix set, statement and policy block-not-exported adds to a node's
// speaker.
const exportFilter = "knetlab-block-not-exported"

// withholdBlock makes the BGP speaker serving its API in namespace ns stop announcing block: an
// export policy that rejects exactly that prefix (what a Calico BGPFilter with an exportV4
// Reject rule for the CIDR makes BIRD do), then a soft reset that sends every neighbour the
// speaker's announcements through it again, so that the block is withdrawn. The speaker keeps
// the block in its own RIB; only its neighbours stop hearing of it.
func withholdBlock(ctx context.Context, ns string, block netip.Prefix) error {
	ctx, cancel := context.WithTimeout(ctx, 2*speakerTimeout)
	defer cancel()
	dial := namespaceDialer(ns)
	conn, err := grpc.NewClient("passthrough:///"+speakerAPI,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, addr) }))
	if err != nil {
		return err
	}
	defer conn.Close()
	c := api.NewGoBgpServiceClient(conn)
	bits := uint32(block.Bits())
	if _, err := c.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: &api.DefinedSet{
		DefinedType: api.DefinedType_DEFINED_TYPE_PREFIX, Name: exportFilter,
		Prefixes: []*api.Prefix{{IpPrefix: block.String(), MaskLengthMin: bits, MaskLengthMax: bits}},
	}}); err != nil {
		return fmt.Errorf("prefix set %s: %w", block, err)
	}
	if _, err := c.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: exportFilter, Statements: []*api.Statement{{
		Name:       exportFilter,
		Conditions: &api.Conditions{PrefixSet: &api.MatchSet{Type: api.MatchSet_TYPE_ANY, Name: exportFilter}},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_REJECT},
	}}}}); err != nil {
		return fmt.Errorf("export policy: %w", err)
	}
	if _, err := c.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_POLICY_DIRECTION_EXPORT,
		Policies: []*api.Policy{{Name: exportFilter}}, DefaultAction: api.RouteAction_ROUTE_ACTION_ACCEPT,
	}}); err != nil {
		return fmt.Errorf("assign the export policy: %w", err)
	}
	if _, err := c.ResetPeer(ctx, &api.ResetPeerRequest{Address: "all", Soft: true, Direction: api.ResetPeerRequest_DIRECTION_OUT}); err != nil {
		return fmt.Errorf("soft reset: %w", err)
	}
	return nil
}
