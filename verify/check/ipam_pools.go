package check

import (
	"context"
	"fmt"
	"strconv"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/report"
	"github.com/knetlab/knetlab/verify/spec"
)

// Cluster is the result name of checks that judge the cluster as a whole.
const Cluster = "cluster"

// ipamPools: with a lab, the cluster's pools are the lab's (by name: cidr, blockSize, modes,
// natOutgoing), no more and no less. Without one, each pool is at least sound.
func ipamPools(_ context.Context, in *Inputs) []*report.Node {
	r := &report.Node{Node: Cluster}
	for _, p := range in.Facts.Pools {
		r.Findings = append(r.Findings, poolSanity(p)...)
	}
	if in.Lab == nil {
		r.Notes = append(r.Notes, "no lab definition: pools checked for soundness only")
		return []*report.Node{r}
	}
	undeclared := keyedDiff[string, spec.Pool, facts.Pool]{
		key:      func(want spec.Pool) string { return want.Name },
		foundKey: func(got facts.Pool) string { return got.Name },
		entry:    func(want spec.Pool) string { return "pool " + want.Name },
		missing: func(want spec.Pool) string {
			return fmt.Sprintf("%s blockSize %d vxlanMode %s ipipMode %s", want.CIDR, want.BlockSize, want.VXLANMode, want.IPIPMode)
		},
		why: func(want spec.Pool) string { return fmt.Sprintf("lab %s declares pool %s", in.Lab.Name, want.Name) },
		compare: func(want spec.Pool, got facts.Pool, f fields) {
			f.compare("cidr", want.CIDR.String(), prefixText(got.CIDR))
			f.compare("blockSize", strconv.Itoa(want.BlockSize), strconv.Itoa(got.BlockSize))
			f.compare("vxlanMode", modeOrNever(want.VXLANMode), modeOrNever(got.VXLANMode))
			f.compare("ipipMode", modeOrNever(want.IPIPMode), modeOrNever(got.IPIPMode))
			f.compare("natOutgoing", strconv.FormatBool(want.NATOutgoing), strconv.FormatBool(got.NATOutgoing))
			if got.Disabled {
				f.differ("disabled", "false", "true")
			}
		},
	}.run(r, in.Lab.Pools, in.Facts.Pools)
	for _, p := range undeclared {
		unexpectedEntry(r, "pool "+p.Name, prefixText(p.CIDR), fmt.Sprintf("lab %s declares no pool %s", in.Lab.Name, p.Name))
	}
	return []*report.Node{r}
}

func modeOrNever(m calico.EncapMode) string { return string(m.OrNever()) }

func poolSanity(p facts.Pool) []report.Finding {
	var out []report.Finding
	bad := func(field, want, got string) {
		out = append(out, report.Finding{Kind: report.Broken, Entry: "pool " + p.Name, Field: field, Expected: want, Found: got,
			Reason: "Calico rejects or misroutes a pool like this"})
	}
	switch {
	case !p.CIDR.IsValid():
		bad("cidr", "an IPv4 CIDR", "none")
	case p.CIDR != p.CIDR.Masked():
		bad("cidr", p.CIDR.Masked().String(), p.CIDR.String())
	}
	if p.CIDR.IsValid() && (p.BlockSize < p.CIDR.Bits() || p.BlockSize > 32) {
		bad("blockSize", fmt.Sprintf("between %d and 32", p.CIDR.Bits()), strconv.Itoa(p.BlockSize))
	}
	for _, m := range []struct {
		field string
		mode  calico.EncapMode
	}{{"vxlanMode", p.VXLANMode}, {"ipipMode", p.IPIPMode}} {
		if m.mode != "" && !m.mode.Valid() {
			bad(m.field, "Never, Always or CrossSubnet", string(m.mode))
		}
	}
	if p.VXLANMode.OrNever() != calico.EncapNever && p.IPIPMode.OrNever() != calico.EncapNever {
		bad("encapsulation", "VXLAN or IPIP", "both")
	}
	return out
}
