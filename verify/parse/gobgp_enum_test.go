package parse

import (
	"encoding/json"
	"testing"
)

// A GoBGP enum's zero value reads as no value whether GoBGP printed it as its number (0) or
// as its name: the name must not turn into a state or a reason of its own.
func TestGoBGPEnumZeroIsNoValue(t *testing.T) {
	for _, raw := range []string{`0`, `"session_state_unspecified"`, `"unspecified"`} {
		got, ok := gobgpEnum(json.RawMessage(raw), gobgpSessionStates, "SESSION_STATE_")
		if !ok || got != "" {
			t.Errorf("session_state %s = %q, %v; want no value", raw, got, ok)
		}
	}
	if got, ok := gobgpEnum(json.RawMessage(`"DISCONNECT_REASON_BAD_PEER_AS"`), gobgpDisconnectReasons, "DISCONNECT_REASON_"); !ok || got != "bad peer AS" {
		t.Errorf("disconnect reason = %q, %v", got, ok)
	}
}
