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
