package trace

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/knetlab/knetlab/internal/ui"
)

func TestTextAndJSON(t *testing.T) {
	w, nodes := lesson06(t)
	n := nodes["k01-worker"]
	n.FDB = n.FDB[:0]
	r := traceOf(t, w, "net-w1", "net-w3")

	var out bytes.Buffer
	WriteText(&ui.Streams{Out: &out}, r)
	text := out.String()
	for _, want := range []string{
		"trace default/net-w1 (192.168.26.1) → default/net-w3 (192.168.209.65)",
		"   3  k01-worker      route      192.168.209.64/26 via 192.168.209.64 dev vxlan.calico onlink\n",
		"diverges from the expected path at hop 5 (k01-worker)\n",
		"  why:      k01-worker3's VTEP MAC is",
		"✗ no-fdb: no FDB entry for",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b[") {
		t.Errorf("colour on a pipe:\n%s", text)
	}

	out.Reset()
	if err := WriteJSON(&out, r); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"divergence", "end", "expected", "from", "hops", "kind", "live", "source", "to", "verdict"}; !slices.Equal(keys, want) {
		t.Errorf("JSON keys %q, want %q", keys, want)
	}
	if doc["verdict"] != "diverged" || doc["divergence"].(map[string]any)["hop"] != 5.0 {
		t.Errorf("JSON verdict %v divergence %v", doc["verdict"], doc["divergence"])
	}
}

// At a terminal width every line fits it (a word longer than the room left would stay whole
// on its own line; this trace has none); continuation lines sit under the text they continue, and the
// same words come out as without wrapping.
func TestTextFitsTheTerminal(t *testing.T) {
	w, nodes := lesson06(t)
	n := nodes["k01-worker"]
	n.FDB = n.FDB[:0]
	r := traceOf(t, w, "net-w1", "net-w3")

	var wide, narrow bytes.Buffer
	WriteText(&ui.Streams{Out: &wide}, r)
	WriteText(&ui.Streams{Out: &narrow, Width: 80}, r)
	for _, line := range strings.Split(strings.TrimRight(narrow.String(), "\n"), "\n") {
		// No word of this trace is longer than the room a line leaves, so every line fits.
		if cols := len([]rune(line)); cols > 80 {
			t.Errorf("line of %d columns: %q", cols, line)
		}
	}
	if !strings.Contains(narrow.String(), "\n            ") {
		t.Errorf("no continuation line under the divergence's text:\n%s", narrow.String())
	}
	if a, b := strings.Fields(wide.String()), strings.Fields(narrow.String()); !slices.Equal(a, b) {
		t.Errorf("wrapping changed the words:\n%s\n---\n%s", wide.String(), narrow.String())
	}
}
