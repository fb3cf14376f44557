package netnslab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/observed"
)

// Echo requests go out back to back (a burst of a few small packets is nothing to a lab
// link, and the kernel queues them behind a neighbour being resolved), and replies are awaited
// until pingReplyWait after the last request. A lab path answers in well under a millisecond,
// so this bounds the wait for a broken path, not the time of a healthy one.
const pingReplyWait = time.Second

// Ping implements source.Prober. The echo requests leave from an ICMP socket opened inside the
// pod's network namespace (not the ping binary: no process per pair, and replies are matched by
// identifier and sequence, so a burst takes milliseconds). The socket lives in the pod's
// namespace, so nothing can leave the lab: the lab's namespaces have no path to the host.
func (s *Source) Ping(ctx context.Context, from facts.Pod, dst netip.Addr, count int) (int, error) {
	if !dst.Is4() || !dst.IsPrivate() {
		return 0, fmt.Errorf("refusing to ping %s: not a lab address", dst)
	}
	rec, err := s.record()
	if err != nil {
		return 0, err
	}
	p, ok := rec.Pod(from.Namespace, from.Name)
	if !ok {
		return 0, fmt.Errorf("pod %s/%s is not a pod of lab %s (knetlab pod list %s)", from.Namespace, from.Name, s.lab.Name, s.lab.Name)
	}
	h, err := openNamespace(p.NetNS)
	if err != nil {
		return 0, fmt.Errorf("pod %s/%s: %w", from.Namespace, from.Name, err)
	}
	defer h.Close()
	var conn *icmp.PacketConn
	if err := kernel.Do(h, func() error {
		var lerr error
		conn, lerr = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return lerr
	}); err != nil {
		return 0, fmt.Errorf("open an ICMP socket in pod %s/%s: %w", from.Namespace, from.Name, err)
	}
	defer conn.Close()
	return echo(ctx, conn, dst, count)
}

// echo sends count echo requests to dst on conn and counts the distinct replies.
func echo(ctx context.Context, conn *icmp.PacketConn, dst netip.Addr, count int) (int, error) {
	// The raw socket sees every ICMP packet of the namespace: replies are ours when identifier
	// and sequence match.
	id := (os.Getpid() ^ int(time.Now().UnixNano())) & 0xffff
	to := &net.IPAddr{IP: dst.AsSlice()}
	answered := map[int]bool{}
	replies := make(chan int, count)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				return // deadline or close
			}
			if a, ok := peer.(*net.IPAddr); !ok || !a.IP.Equal(to.IP) {
				continue
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
				continue
			}
			if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id {
				select {
				case replies <- e.Seq:
				default:
				}
			}
		}
	}()
	for seq := 1; seq <= count; seq++ {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("knetlab")}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return 0, err
		}
		if _, err := conn.WriteTo(b, to); err != nil {
			// A pod without a route fails here (network unreachable): the echo is lost, which
			// the check reports as unanswered, not as a probe error.
			break
		}
		if err := ctx.Err(); err != nil {
			conn.SetReadDeadline(time.Now())
			<-done
			return len(answered), err
		}
	}
	deadline := time.Now().Add(pingReplyWait)
	conn.SetReadDeadline(deadline)
	for len(answered) < count {
		select {
		case seq := <-replies:
			answered[seq] = true
			continue
		case <-done:
		case <-ctx.Done():
		}
		break
	}
	conn.SetReadDeadline(time.Now())
	<-done
	for {
		select {
		case seq := <-replies:
			answered[seq] = true
		default:
			return len(answered), nil
		}
	}
}

// LinkStats implements source.Prober: the counters of link in the node's namespace, read with
// netlink.
func (s *Source) LinkStats(_ context.Context, node, link string) (observed.LinkStats, error) {
	h, err := openNamespace(NamespaceName(s.lab.Name, node))
	if err != nil {
		return observed.LinkStats{}, err
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return observed.LinkStats{}, fmt.Errorf("%s: open netlink: %w", node, err)
	}
	defer nl.Close()
	l, err := nl.LinkByName(link)
	if err != nil {
		return observed.LinkStats{}, fmt.Errorf("%s has no %s: %w", node, link, err)
	}
	st := l.Attrs().Statistics
	if st == nil {
		return observed.LinkStats{}, fmt.Errorf("%s %s: the kernel reported no counters", node, link)
	}
	return observed.LinkStats{RxPackets: st.RxPackets, TxPackets: st.TxPackets}, nil
}
