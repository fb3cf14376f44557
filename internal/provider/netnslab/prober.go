package netnslab

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/knetlab/knetlab/internal/collect/kernel"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
	"github.com/knetlab/knetlab/verify/facts"
	"github.com/knetlab/knetlab/verify/source"
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
	conn, _, err := s.podSocket(from, dst)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return echo(ctx, conn, dst, count, newEchoID())
}

// PingThrough implements source.Prober: Ping, with a table of its own in the pod's node
// counting the burst at the forward hook. Its rules match the pod's address, dst and the
// burst's ICMP identifier, so they count this burst alone, whatever else crosses the node —
// another verify probing the same pods at the same time included.
//
// A table per burst leaves nothing behind and touches nobody else's rules. Its price is the
// removal: unhooking a base chain waits for an RCU grace period, 7–15 ms per pair on a loaded
// 2-core host. Rules added to and removed from one shared table cost as much per change, twice
// per burst, so they are no cheaper.
func (s *Source) PingThrough(ctx context.Context, from facts.Pod, dst netip.Addr, count int, dev string) (source.Egress, error) {
	conn, pod, err := s.podSocket(from, dst)
	if err != nil {
		return source.Egress{}, err
	}
	defer conn.Close()
	src, err := netip.ParseAddr(pod.IP)
	if err != nil {
		return source.Egress{}, fmt.Errorf("pod %s/%s has no address in the lab record", pod.Namespace, pod.Name)
	}
	node, err := openNamespace(NamespaceName(s.lab.Name, pod.Node))
	if err != nil {
		return source.Egress{}, fmt.Errorf("node %s of pod %s/%s: %w", pod.Node, pod.Namespace, pod.Name, err)
	}
	defer node.Close()
	nft, err := nftables.New(nftables.WithNetNSFd(int(node)))
	if err != nil {
		return source.Egress{}, fmt.Errorf("nftables in %s: %w", pod.Node, err)
	}
	sweepProbeTables(nft)
	id := newEchoID()
	table := &nftables.Table{Name: fmt.Sprintf("%s%d-%d", probeTablePrefix, os.Getpid(), probeSeq.Add(1)), Family: nftables.TableFamilyIPv4}
	nft.AddTable(table)
	chain := nft.AddChain(&nftables.Chain{Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityMangle})
	for _, r := range probeRules(src, dst, id, dev) {
		r.Table, r.Chain = table, chain
		nft.AddRule(r)
	}
	if err := nft.Flush(); err != nil {
		return source.Egress{}, fmt.Errorf("add nftables table ip %s in %s: %w", table.Name, pod.Node, err)
	}
	defer func() {
		nft.DelTable(table)
		_ = nft.Flush() // a table left behind only counts; the next probe's sweep removes it
	}()
	answered, err := echo(ctx, conn, dst, count, id)
	if err != nil {
		return source.Egress{Answered: answered}, err
	}
	rules, err := nft.GetRules(table, chain)
	if err != nil {
		return source.Egress{Answered: answered}, fmt.Errorf("read nftables table ip %s in %s: %w", table.Name, pod.Node, err)
	}
	eg, err := egressOf(rules)
	eg.Answered = answered
	return eg, err
}

// podSocket opens an ICMP socket inside the pod's network namespace, for echo requests to dst.
func (s *Source) podSocket(from facts.Pod, dst netip.Addr) (*icmp.PacketConn, journal.Pod, error) {
	if !dst.Is4() || !dst.IsPrivate() {
		return nil, journal.Pod{}, fmt.Errorf("refusing to ping %s: not a lab address", dst)
	}
	rec, err := s.record()
	if err != nil {
		return nil, journal.Pod{}, err
	}
	p, ok := rec.Pod(from.Namespace, from.Name)
	if !ok {
		return nil, journal.Pod{}, fmt.Errorf("pod %s/%s is not a pod of lab %s (knetlab pod list %s)", from.Namespace, from.Name, s.lab.Name, s.lab.Name)
	}
	h, err := openNamespace(p.NetNS)
	if err != nil {
		return nil, journal.Pod{}, fmt.Errorf("pod %s/%s: %w", from.Namespace, from.Name, err)
	}
	defer h.Close()
	var conn *icmp.PacketConn
	if err := kernel.Do(h, func() error {
		var lerr error
		conn, lerr = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return lerr
	}); err != nil {
		return nil, journal.Pod{}, fmt.Errorf("open an ICMP socket in pod %s/%s: %w", from.Namespace, from.Name, err)
	}
	return conn, p, nil
}

// Probe tables are named knetlab-probe-<pid>-<n>: one per burst, so that concurrent probes
// (of this process or another) never touch each other's rules.
const probeTablePrefix = "knetlab-probe-"

var probeSeq atomic.Uint64

// probeRules count, at the forward hook, the echo requests from src to dst with identifier id,
// and those of them routed out through dev — in this order.
func probeRules(src, dst netip.Addr, id int, dev string) []*nftables.Rule {
	match := func() []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: src.AsSlice()},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: dst.AsSlice()},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(ipv4.ICMPTypeEcho)}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 4, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, uint16(id))},
		}
	}
	name := make([]byte, unix.IFNAMSIZ) // the kernel compares interface names NUL-padded
	copy(name, dev)
	forwarded := append(match(), &expr.Counter{})
	through := append(match(), &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name}, &expr.Counter{})
	return []*nftables.Rule{{Exprs: forwarded}, {Exprs: through}}
}

// egressOf reads the counters of probeRules back.
func egressOf(rules []*nftables.Rule) (source.Egress, error) {
	var counts []uint64
	for _, r := range rules {
		for _, e := range r.Exprs {
			if c, ok := e.(*expr.Counter); ok {
				counts = append(counts, c.Packets)
			}
		}
	}
	if len(counts) != 2 {
		return source.Egress{}, fmt.Errorf("probe table: %d counters, want 2", len(counts))
	}
	return source.Egress{Forwarded: counts[0], Through: counts[1]}, nil
}

// sweepProbeTables removes the probe tables of processes that are gone (killed between adding
// and removing theirs). Failures are left for the next sweep: another probe may be removing
// the same table.
func sweepProbeTables(nft *nftables.Conn) {
	tables, err := nft.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return
	}
	for _, t := range tables {
		pid, ok := probeTablePID(t.Name)
		if !ok || unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		nft.DelTable(t)
		_ = nft.Flush()
	}
}

// probeTablePID is the process that named a probe table.
func probeTablePID(table string) (int, bool) {
	rest, ok := strings.CutPrefix(table, probeTablePrefix)
	if !ok {
		return 0, false
	}
	pid, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(pid)
	return n, err == nil && n > 0
}

// newEchoID draws an ICMP identifier for a burst. A raw socket sees every ICMP packet of its
// namespace, so replies are told apart by it; two bursts that draw the same one between the
// same pods count each other's echoes, which take the same route and change no verdict.
func newEchoID() int { return rand.IntN(0x10000) }

// echo sends count echo requests to dst on conn and counts the distinct replies.
func echo(ctx context.Context, conn *icmp.PacketConn, dst netip.Addr, count, id int) (int, error) {
	// The raw socket sees every ICMP packet of the namespace: replies are ours when identifier
	// and sequence match.
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
