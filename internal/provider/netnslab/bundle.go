package netnslab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// Bundle implements provider.Bundler: versions.txt names the kernel the lab ran on and how its
// switch realised the VLANs (the mode deploy probed and recorded), the host features a netns
// lab depends on.
func (p *Provider) Bundle(_ context.Context, l *lab.Lab) (map[string][]byte, error) {
	var b strings.Builder
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err != nil {
		fmt.Fprintf(&b, "kernel: unknown: %v\n", err)
	} else {
		fmt.Fprintf(&b, "kernel: %s\n", strings.TrimSpace(string(rel)))
	}
	rec, err := journal.Read(p.root, l.Name)
	switch {
	case err != nil:
	case rec == nil || rec.VLANMode == "":
		err = errors.New("the lab's record has no VLAN mode (not deployed by this knetlab)")
	}
	if err != nil {
		fmt.Fprintf(&b, "switch VLANs: unknown: %v\n", err)
	} else {
		fmt.Fprintf(&b, "switch VLANs: %s\n", rec.VLANMode)
	}
	return map[string][]byte{provider.VersionsFile: []byte(b.String())}, nil
}
