package check

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/knetlab/knetlab/internal/calico"
	"github.com/knetlab/knetlab/verify/expect"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

// vxlanDevice: vxlan.calico as docs/dataplane.md describes it, attribute by attribute.
func vxlanDevice(_ context.Context, in *Inputs) []*report.Node {
	return perNode(in, []observed.Table{observed.TableLinks}, judgeVXLANDevice)
}

func judgeVXLANDevice(in *Inputs, e *expect.Node, s *observed.Node, r *report.Node) {
	link, present := s.Link(expect.VXLANDevice)
	d := e.Device
	if d == nil {
		if present {
			r.Notes = append(r.Notes, "no enabled pool uses VXLAN: vxlan.calico is present but not needed")
		}
		return
	}
	u := findUnderlay(e, s)
	f := entryFields(r, expect.VXLANDevice, vxlanWhy(in, e))
	if why := s.FilteredWhy(observed.TableLinks); !present && why != "" {
		r.Status, r.Reason = report.Skipped, "vxlan.calico not captured: "+why
		return
	}
	if !present {
		mtu := ""
		if u.MTU != 0 {
			mtu = fmt.Sprintf(" mtu %d", d.MTU(u.MTU))
		}
		f.missing(fmt.Sprintf("vxlan id %d local %s dev %s dstport %d nolearning%s address %s",
			d.VNI, d.Local, orUnderlay(u.Dev), d.Port, mtu, d.MAC))
		return
	}
	if link.Kind != "" && link.Kind != "vxlan" {
		f.differ("kind", "vxlan", link.Kind)
	}
	if !link.Up {
		f.differ("state", "up", "down")
	}
	switch {
	case link.MTU == 0:
	case u.MTU == 0:
		r.Notes = append(r.Notes, fmt.Sprintf("cannot judge the vxlan.calico MTU %d: %s", link.MTU, underlayNotCaptured(e)))
	case link.MTU != d.MTU(u.MTU):
		f.differBecause("mtu", strconv.Itoa(d.MTU(u.MTU)), strconv.Itoa(link.MTU),
			fmt.Sprintf("VXLAN costs %d bytes: %d on %s's MTU %d", expect.VXLANOverhead, d.MTU(u.MTU), u.Dev, u.MTU))
	}
	if link.MAC != "" && !strings.EqualFold(link.MAC, d.MAC) {
		f.differBecause("mac", d.MAC, link.MAC, macWhy(e))
	}
	if v := link.VXLAN; v == nil {
		r.Notes = append(r.Notes, "vxlan attributes not in the link table (ip link without -d): VNI, port, local, parent and learning not compared")
	} else {
		if v.VNI != d.VNI {
			f.differBecause("vni", strconv.Itoa(d.VNI), strconv.Itoa(v.VNI), "Calico's VXLAN VNI is 4096 on every node: VTEPs with different VNIs drop each other's frames")
		}
		if v.Port != 0 && v.Port != d.Port {
			f.differBecause("dstport", strconv.Itoa(d.Port), strconv.Itoa(v.Port), "Calico uses the IANA VXLAN port 4789")
		}
		if v.Local != d.Local {
			f.differBecause("local", d.Local.String(), addrText(v.Local),
				fmt.Sprintf("the VTEP source is %s's underlay address %s, where the other nodes' FDB entries point", e.Name(), d.Local))
		}
		if u.Dev != "" && v.Dev != "" && v.Dev != u.Dev {
			f.differBecause("dev", u.Dev, v.Dev, fmt.Sprintf("%s holds the underlay address %s", u.Dev, d.Local))
		}
		if v.Learning {
			f.differBecause("learning", "nolearning", "learning", "Calico programs the FDB itself: learning would let stale sources override it")
		}
	}
	if s.Has(observed.TableAddrs) && d.Addr.IsValid() {
		var v4 []string
		has := false
		for _, a := range link.Addrs {
			if !a.Addr().Is4() {
				continue
			}
			v4 = append(v4, a.String())
			has = has || a == d.Addr
		}
		if !has || len(v4) != 1 {
			f.differBecause("address", d.Addr.String(), orNone(strings.Join(v4, ", ")),
				fmt.Sprintf("%s's VXLAN tunnel address in the facts is %s", e.Name(), d.Addr.Addr()))
		}
	}
}

func orUnderlay(dev string) string {
	if dev == "" {
		return "<underlay>"
	}
	return dev
}

func vxlanWhy(in *Inputs, e *expect.Node) string {
	var pools []string
	for _, p := range in.Expect.Pools {
		if !p.Disabled && (p.VXLANMode == calico.EncapAlways || p.VXLANMode == calico.EncapCrossSubnet) {
			pools = append(pools, fmt.Sprintf("%s (VXLAN %s)", p.Name, p.VXLANMode))
		}
	}
	return fmt.Sprintf("pool %s uses VXLAN: every node, %s included, needs vxlan.calico", strings.Join(pools, ", "), e.Name())
}

func macWhy(e *expect.Node) string {
	if e.Facts.VXLANTunnelMAC != "" {
		return fmt.Sprintf("the node facts configure %s's VXLAN MAC as %s", e.Name(), e.Facts.VXLANTunnelMAC)
	}
	return fmt.Sprintf("no VXLAN MAC configured for %s: Calico derives 0x66 + the first 5 bytes of SHA-1(%q)", e.Name(), e.Name())
}
