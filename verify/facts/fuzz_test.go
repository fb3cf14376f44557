package facts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// FuzzDecode: whatever a cluster.yaml holds, Decode returns facts or a usage error; it never
// panics and never returns another kind of error.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"cluster-crd-v1.yaml", "cluster-v3.yaml", "ipamblocks-crd-v1.yaml", "calicoctl-v3.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: [}\n"))
	f.Add([]byte("apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nspec: {cidr: 10.0.0.0/8, blockSize: 99}\n"))
	f.Add([]byte("kind: NodeList\nitems: 7\n---\n[1, 2]\n---\napiVersion: v1\nkind: Pod\nstatus: {podIPs: [{ip: 1}, 3]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode("cluster.yaml", data)
		if err != nil {
			if exitcode.Code(err) != exitcode.Usage {
				t.Fatalf("error %v is not a usage error", err)
			}
			return
		}
		if got == nil {
			t.Fatal("nil facts without an error")
		}
	})
}
