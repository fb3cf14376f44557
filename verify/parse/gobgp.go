package parse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/verify/observed"
)

// GoBGP's CLI: `gobgp neighbor` and `gobgp global rib`, as JSON (-j) or as the text tables.
// The JSON is what `gobgp` marshals: the API's Peer messages with encoding/json (snake_case
// keys, enums as numbers: session_state 6 is ESTABLISHED), and the RIB as an object from
// prefix to paths, each with its nlri, attrs (next hop: type 3, or 14 for MP_REACH_NLRI) and
// best flag. GoBGP v2 and v3 print the AS as peer_as or peer_asn and the path's origin as
// source-id/neighbor-ip; v4 as peer_asn and peer-id/peer-address; all are read.

var (
	cmdGoBGPNeighbors = command{"gobgp neighbor", "gobgp neighbor -j"}
	cmdGoBGPRIB       = command{"gobgp global rib", "gobgp global rib -j"}
)

// gobgpSessionStates are the API's PeerState.SessionState values.
var gobgpSessionStates = []string{"", observed.BGPIdle, observed.BGPConnect, observed.BGPActive,
	observed.BGPOpenSent, observed.BGPOpenConfirm, observed.BGPEstablished}

// gobgpDisconnectReasons are the API's PeerState.DisconnectReason values, in words.
var gobgpDisconnectReasons = []string{"", "admin down", "hold timer expired", "notification sent",
	"notification received", "read failed", "write failed", "idle timer expired", "restart timer expired",
	"graceful restart", "invalid message", "hard reset", "deconfigured", "bad peer AS"}

type gobgpPeerJSON struct {
	Conf  *gobgpPeerConf `json:"conf"`
	State *struct {
		gobgpPeerConf
		SessionState      json.RawMessage `json:"session_state"`
		SessionStateDash  json.RawMessage `json:"session-state"`
		AdminState        json.RawMessage `json:"admin_state"`
		DisconnectReason  json.RawMessage `json:"disconnect_reason"`
		DisconnectMessage string          `json:"disconnect_message"`
	} `json:"state"`
}

type gobgpPeerConf struct {
	NeighborAddress string `json:"neighbor_address"`
	PeerASN         uint32 `json:"peer_asn"`
	PeerAS          uint32 `json:"peer_as"`
}

func (c *gobgpPeerConf) as() uint32 {
	if c.PeerASN != 0 {
		return c.PeerASN
	}
	return c.PeerAS
}

// GoBGPNeighbors reads the sessions of `gobgp neighbor -j` or of the text `gobgp neighbor`.
func GoBGPNeighbors(data []byte) ([]observed.BGPSession, error) {
	if !isJSON(data) {
		return gobgpNeighborsText(data)
	}
	peers, err := decodeJSON[gobgpPeerJSON](data)
	if err != nil {
		return nil, err
	}
	out := make([]observed.BGPSession, 0, len(peers))
	for i, p := range peers {
		if p.Conf == nil && p.State == nil {
			return nil, foreignGoBGP(cmdGoBGPNeighbors, data, i, "has neither conf nor state")
		}
		var s observed.BGPSession
		for _, c := range []*gobgpPeerConf{p.Conf, stateConf(&p)} {
			if c == nil {
				continue
			}
			if a, err := netip.ParseAddr(c.NeighborAddress); err == nil {
				s.Peer, s.Name = a, a.String()
			}
			if as := c.as(); as != 0 {
				s.PeerAS = as
			}
		}
		if !s.Peer.IsValid() {
			return nil, foreignGoBGP(cmdGoBGPNeighbors, data, i, "has no neighbor_address")
		}
		if p.State != nil {
			raw := p.State.SessionState
			if raw == nil {
				raw = p.State.SessionStateDash
			}
			state, ok := gobgpEnum(raw, gobgpSessionStates, "SESSION_STATE_")
			if !ok {
				return nil, foreignGoBGP(cmdGoBGPNeighbors, data, i, "has session_state "+string(raw)+", which is none of GoBGP's")
			}
			s.State = state
			if admin := gobgpAdminState(p.State.AdminState); admin != "" {
				s.State, s.Info = observed.BGPIdle, admin
			}
			reason, _ := gobgpEnum(p.State.DisconnectReason, gobgpDisconnectReasons, "DISCONNECT_REASON_")
			s.Info = strings.TrimSpace(strings.Join(nonEmpty(s.Info, strings.ToLower(strings.ReplaceAll(reason, "_", " ")), p.State.DisconnectMessage), "; "))
		}
		if s.State == "" {
			s.State = "unknown" // GoBGP omits the unspecified state
		}
		out = append(out, s)
	}
	return out, nil
}

func stateConf(p *gobgpPeerJSON) *gobgpPeerConf {
	if p.State == nil {
		return nil
	}
	return &p.State.gobgpPeerConf
}

// gobgpEnum reads an API enum as encoding/json prints it (a number) or as a name
// (ESTABLISHED, SESSION_STATE_ESTABLISHED, established). ok is false for a value it cannot read.
func gobgpEnum(raw json.RawMessage, names []string, prefix string) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		if n < 0 || n >= len(names) {
			return "", false
		}
		return names[n], true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	s = strings.TrimPrefix(strings.ToUpper(s), prefix)
	s = strings.TrimPrefix(s, "BGP_FSM_")
	for _, name := range names {
		if strings.EqualFold(strings.ReplaceAll(name, " ", "_"), s) {
			return name, true
		}
	}
	// Every GoBGP enum's zero value, printed by its name (unspecified), is no value, as its
	// number 0 is.
	if strings.EqualFold(s, "unspecified") {
		return names[0], true
	}
	return "", false
}

// gobgpAdminState says why a peer is administratively held down, or "". Only the enum's name
// is read: its numbers differ between API versions (v3: 1 is DOWN, v4: 1 is UP), and a peer
// held down is Idle in its session state anyway.
func gobgpAdminState(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	switch strings.TrimPrefix(strings.ToUpper(s), "ADMIN_STATE_") {
	case "DOWN":
		return "admin down"
	case "PFX_CT":
		return "prefix limit reached"
	}
	return ""
}

func nonEmpty(list ...string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// gobgpTextStates are the states `gobgp neighbor` prints, abbreviated.
var gobgpTextStates = map[string]string{
	"Idle": observed.BGPIdle, "Idle(Admin)": observed.BGPIdle, "Idle(PfxCt)": observed.BGPIdle,
	"Connect": observed.BGPConnect, "Active": observed.BGPActive, "Sent": observed.BGPOpenSent,
	"Confirm": observed.BGPOpenConfirm, "Establ": observed.BGPEstablished, "Unknown": "unknown",
}

// gobgpNeighborsText reads `gobgp neighbor`: Peer AS Up/Down State |#Received Accepted.
func gobgpNeighborsText(data []byte) ([]observed.BGPSession, error) {
	return entries(data, cmdGoBGPNeighbors, func(f []string) (observed.BGPSession, bool, string) {
		if f[0] == "Peer" && contains(f, "State") {
			return observed.BGPSession{}, false, ""
		}
		bar := -1
		for i, w := range f {
			if strings.HasPrefix(w, "|") {
				bar = i
				break
			}
		}
		if bar < 4 {
			return observed.BGPSession{}, false, "not a row of `gobgp neighbor` (Peer AS Up/Down State |#Received Accepted)"
		}
		addr, err := netip.ParseAddr(f[0])
		as, aserr := strconv.ParseUint(f[1], 10, 32)
		if f[1] == "*" { // older GoBGP: the AS of a peer that never came up
			as, aserr = 0, nil
		}
		state, known := gobgpTextStates[f[bar-1]]
		if err != nil || aserr != nil || !known {
			return observed.BGPSession{}, false, "not a row of `gobgp neighbor` (Peer AS Up/Down State |#Received Accepted)"
		}
		s := observed.BGPSession{Name: addr.String(), Peer: addr, PeerAS: uint32(as), State: state}
		if strings.HasPrefix(f[bar-1], "Idle(") {
			s.Info = strings.ToLower(strings.Trim(strings.TrimPrefix(f[bar-1], "Idle"), "()"))
		}
		return s, true, ""
	})
}

type gobgpPathJSON struct {
	NLRI struct {
		Prefix string `json:"prefix"`
	} `json:"nlri"`
	Best  bool `json:"best"`
	Attrs []struct {
		Type    int    `json:"type"`
		Nexthop string `json:"nexthop"`
	} `json:"attrs"`
	NeighborIP  string `json:"neighbor-ip"`
	PeerAddress string `json:"peer-address"`
}

// GoBGPRIB reads the paths of `gobgp global rib -j` or of the text `gobgp global rib`. Paths of
// other families (IPv6) are left out.
func GoBGPRIB(data []byte) ([]observed.BGPRoute, error) {
	if !isJSON(data) {
		return gobgpRIBText(data)
	}
	body := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if body[0] == '[' {
		return nil, &Error{Line: 1, Err: fmt.Errorf("not `%s` output: a JSON array, where the RIB is an object from prefix to paths; it looks like `gobgp neighbor -j` output; %s",
			cmdGoBGPRIB.json, cmdGoBGPRIB.fix())}
	}
	ribs, err := decodeJSON[map[string][]gobgpPathJSON](data) // one object: one RIB
	if err != nil {
		return nil, err
	}
	rib := ribs[0]
	keys := make([]string, 0, len(rib))
	for k := range rib {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []observed.BGPRoute
	for _, k := range keys {
		dst, err := netip.ParsePrefix(k)
		if err != nil {
			return nil, &Error{Line: 1, Err: fmt.Errorf("not `%s` output: key %q is no prefix; %s", cmdGoBGPRIB.json, k, cmdGoBGPRIB.fix())}
		}
		if !dst.Addr().Is4() {
			continue
		}
		for _, p := range rib[k] {
			r := observed.BGPRoute{Prefix: dst.Masked(), Best: p.Best}
			for _, a := range p.Attrs {
				if a.Type == 3 || a.Type == 14 && !r.NextHop.IsValid() {
					r.NextHop, _ = netip.ParseAddr(a.Nexthop)
				}
			}
			for _, from := range []string{p.PeerAddress, p.NeighborIP} {
				if a, err := netip.ParseAddr(from); err == nil && !a.IsUnspecified() {
					r.From = a
					break
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// gobgpRIBText reads `gobgp global rib`:
//
//	   Network              Next Hop             AS_PATH              Age        Attrs
//	*> 10.244.175.0/24      172.18.0.4                                00:05:04   [{Origin: i} {LocalPref: 100}]
func gobgpRIBText(data []byte) ([]observed.BGPRoute, error) {
	return entries(data, cmdGoBGPRIB, func(f []string) (observed.BGPRoute, bool, string) {
		switch {
		case f[0] == "Network" && contains(f, "Hop"):
			return observed.BGPRoute{}, false, ""
		case strings.Join(f, " ") == "Network not in table":
			return observed.BGPRoute{}, false, ""
		}
		r := observed.BGPRoute{}
		switch f[0] {
		case "*>":
			r.Best, f = true, f[1:]
		case "*":
			f = f[1:]
		default:
			if strings.HasPrefix(f[0], "*>") {
				r.Best, f[0] = true, strings.TrimPrefix(f[0], "*>")
			}
		}
		if len(f) < 2 {
			return r, false, "not a row of `gobgp global rib` (Network Next Hop AS_PATH Age Attrs)"
		}
		dst, err := netip.ParsePrefix(f[0])
		hop, herr := netip.ParseAddr(f[1])
		if err != nil || herr != nil {
			return r, false, "not a row of `gobgp global rib` (Network Next Hop AS_PATH Age Attrs)"
		}
		if !dst.Addr().Is4() {
			return r, false, ""
		}
		r.Prefix, r.NextHop = dst.Masked(), hop
		return r, true, ""
	})
}

// foreignGoBGP refuses a JSON document whose entry i is not what c prints.
func foreignGoBGP(c command, data []byte, i int, why string) error {
	what := ""
	if bytes.Contains(data, []byte(`"nlri"`)) {
		what = "; it looks like `gobgp global rib -j` output"
	} else if bytes.Contains(data, []byte(`"ifname"`)) || bytes.Contains(data, []byte(`"dst"`)) {
		what = "; it looks like `ip -j` output"
	}
	return &Error{Line: 1, Err: fmt.Errorf("not `%s` output: entry %d %s%s; %s", c.json, i+1, why, what, c.fix())}
}

// FormatGoBGPNeighbors prints sessions as `gobgp neighbor -j` (GoBGP v4) does, with the fields
// verify reads: conf and state with the neighbour's address and AS, the session state as the
// API's number, and what is known of why it is down as the disconnect message.
func FormatGoBGPNeighbors(sessions []observed.BGPSession) []byte {
	type conf struct {
		NeighborAddress string `json:"neighbor_address"`
		PeerASN         uint32 `json:"peer_asn,omitempty"`
	}
	type state struct {
		conf
		SessionState      int    `json:"session_state,omitempty"`
		DisconnectMessage string `json:"disconnect_message,omitempty"`
	}
	type peer struct {
		Conf  conf  `json:"conf"`
		State state `json:"state"`
	}
	out := make([]peer, 0, len(sessions))
	for _, s := range sessions {
		c := conf{NeighborAddress: s.Peer.String(), PeerASN: s.PeerAS}
		st := state{conf: c, DisconnectMessage: s.Info}
		for i, name := range gobgpSessionStates {
			if name != "" && name == s.State {
				st.SessionState = i
			}
		}
		out = append(out, peer{Conf: c, State: st})
	}
	j, _ := json.Marshal(out)
	return append(j, '\n')
}

// FormatGoBGPRIB prints routes as `gobgp global rib -j` (GoBGP v4) does, with the fields verify
// reads: per prefix its paths, each with its nlri, origin and next hop attributes, best flag
// and the peer it came from.
func FormatGoBGPRIB(routes []observed.BGPRoute) []byte {
	type attr struct {
		Type    int    `json:"type"`
		Value   *int   `json:"value,omitempty"`
		Nexthop string `json:"nexthop,omitempty"`
	}
	type path struct {
		NLRI struct {
			Prefix string `json:"prefix"`
		} `json:"nlri"`
		Best        bool   `json:"best"`
		Attrs       []attr `json:"attrs"`
		Stale       bool   `json:"stale"`
		PeerAddress string `json:"peer-address,omitempty"`
	}
	igp := 0
	rib := map[string][]path{}
	for _, r := range routes {
		var p path
		p.NLRI.Prefix, p.Best = r.Prefix.String(), r.Best
		p.Attrs = []attr{{Type: 1, Value: &igp}, {Type: 3, Nexthop: r.NextHop.String()}}
		if r.From.IsValid() {
			p.PeerAddress = r.From.String()
		}
		rib[p.NLRI.Prefix] = append(rib[p.NLRI.Prefix], p)
	}
	j, _ := json.Marshal(rib)
	return append(j, '\n')
}
