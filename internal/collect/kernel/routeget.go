package kernel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/source"
)

// RouteGet asks the kernel of namespace ns which route of its table matches dst, as
// `ip route get fibmatch <dst>` does: the table entry itself (a blackhole included), in the
// names `ip route` prints. source.ErrNoRoute (wrapped) when none matches.
func RouteGet(ns netns.NsHandle, dst netip.Addr) (observed.Route, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return observed.Route{}, fmt.Errorf("open netlink in the namespace: %w", err)
	}
	defer h.Close()
	list, err := h.RouteGetWithOptions(net.IP(dst.AsSlice()), &netlink.RouteGetOptions{FIBMatch: true})
	switch {
	case errors.Is(err, unix.ENETUNREACH), errors.Is(err, unix.EHOSTUNREACH):
		return observed.Route{}, fmt.Errorf("%w: %v", source.ErrNoRoute, err)
	case err != nil:
		return observed.Route{}, fmt.Errorf("route get %s: %w", dst, err)
	case len(list) == 0:
		return observed.Route{}, fmt.Errorf("route get %s: %w", dst, source.ErrNoRoute)
	}
	r := list[0]
	names := linkNames{}
	name := func(index int) {
		if index == 0 {
			return
		}
		if l, err := h.LinkByIndex(index); err == nil {
			names[index] = l.Attrs().Name
		}
	}
	name(r.LinkIndex)
	for _, nh := range r.MultiPath {
		name(nh.LinkIndex)
	}
	out := routeOf(r, names)
	return out, nil
}
