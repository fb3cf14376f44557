// Package ipam hands out pod addresses the way Calico does: each node claims blocks of an IP
// pool (a BlockAffinity, pending then confirmed, plus an IPAMBlock affine to the node) and
// allocates addresses from its own blocks by handle. All state lives in the datastore and
// every change is a compare-and-swap, so agents and CNI plugins on many nodes, in many
// processes, can allocate at once without handing out an address twice.
package ipam

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/knetlab/knetlab/internal/datastore"
)

// Errors callers may want to tell apart (test with errors.Is).
var (
	// ErrNoPool: no enabled IPv4 pool applies to the node.
	ErrNoPool = errors.New("no usable IP pool")
	// ErrPoolExhausted: every block of the pool is claimed.
	ErrPoolExhausted = errors.New("IP pool exhausted")
	// ErrBlockInUse: a block still holds allocations and cannot be released.
	ErrBlockInUse = errors.New("block still has allocations")
)

// maxAttempts bounds the compare-and-swap retries of one operation. Each conflict means another
// writer made progress, so hitting it means heavy contention, not a livelock in this code.
const maxAttempts = 1000

// TunnelHandle is the handle of a node's VXLAN tunnel address, named as Calico names it.
func TunnelHandle(node string) string { return "vxlan-tunnel-addr-" + node }

// IPAM allocates from the pools and blocks in a datastore.
type IPAM struct {
	pools      datastore.Collection[datastore.IPPool, *datastore.IPPool]
	affinities datastore.Collection[datastore.BlockAffinity, *datastore.BlockAffinity]
	blocks     datastore.Collection[datastore.IPAMBlock, *datastore.IPAMBlock]
	pool       string
}

// Option configures an IPAM.
type Option func(*IPAM)

// WithPool makes the IPAM claim blocks only from the named pool instead of the first enabled
// pool that selects the node.
func WithPool(name string) Option { return func(m *IPAM) { m.pool = name } }

// New returns an IPAM working on store.
func New(store datastore.Store, opts ...Option) *IPAM {
	m := &IPAM{
		pools:      datastore.IPPools(store),
		affinities: datastore.BlockAffinities(store),
		blocks:     datastore.IPAMBlocks(store),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// ClaimBlock returns the node's block: its first confirmed one if it has any, otherwise a newly
// claimed one. Calling it again returns the same block.
func (m *IPAM) ClaimBlock(ctx context.Context, node string) (netip.Prefix, error) {
	owned, err := m.NodeBlocks(ctx, node)
	if err != nil {
		return netip.Prefix{}, err
	}
	if len(owned) > 0 {
		return owned[0], nil
	}
	return m.claimNewBlock(ctx, node)
}

// NodeBlocks lists the blocks the node holds a confirmed, not deleted affinity for, in address
// order.
func (m *IPAM) NodeBlocks(ctx context.Context, node string) ([]netip.Prefix, error) {
	affs, _, err := m.affinities.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("blocks of node %s: %w", node, err)
	}
	var out []netip.Prefix
	for _, a := range affs {
		if a.Spec.Node == node && a.Spec.State == datastore.AffinityConfirmed && !a.Spec.Deleted {
			out = append(out, a.Spec.CIDR)
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out, nil
}

// selectPool is the pool new blocks come from.
func (m *IPAM) selectPool(ctx context.Context, node string) (*datastore.IPPool, error) {
	pools, _, err := m.pools.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim a block for %s: %w", node, err)
	}
	for _, p := range pools {
		if m.pool != "" && p.Metadata.Name != m.pool {
			continue
		}
		if p.Spec.Disabled || !selectsNode(p.Spec.NodeSelector) {
			if m.pool != "" {
				return nil, fmt.Errorf("claim a block for %s: pool %s is disabled or does not select the node: %w", node, m.pool, ErrNoPool)
			}
			continue
		}
		if err := checkPool(p); err != nil {
			return nil, fmt.Errorf("claim a block for %s: %w", node, err)
		}
		return p, nil
	}
	if m.pool != "" {
		return nil, fmt.Errorf("claim a block for %s: pool %s does not exist: %w", node, m.pool, ErrNoPool)
	}
	return nil, fmt.Errorf("claim a block for %s: %w: create an enabled IPPool with nodeSelector all()", node, ErrNoPool)
}

// selectsNode reports whether a pool's nodeSelector covers every node. knetlab's nodes carry
// no labels, so only the select-all forms can match; a pool meant for some nodes only is
// skipped rather than handed to all of them.
func selectsNode(selector string) bool {
	return selector == "" || selector == "all()"
}

// claimNewBlock claims a block the node does not hold yet.
func (m *IPAM) claimNewBlock(ctx context.Context, node string) (netip.Prefix, error) {
	pool, err := m.selectPool(ctx, node)
	if err != nil {
		return netip.Prefix{}, err
	}
	existing, _, err := m.blocks.List(ctx)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("claim a block for %s: %w", node, err)
	}
	taken := make(map[netip.Prefix]bool, len(existing))
	ours := make(map[netip.Prefix]bool)
	for _, b := range existing {
		taken[b.Spec.CIDR] = true
		if b.Spec.AffineNode() == node {
			ours[b.Spec.CIDR] = true
		}
	}
	// A claim interrupted after its block was created (crash, cancelled CNI ADD) left the block
	// ours with a pending affinity: finish that claim before taking another block.
	affs, _, err := m.affinities.List(ctx)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("claim a block for %s: %w", node, err)
	}
	for _, a := range affs {
		if a.Spec.Node == node && a.Spec.State == datastore.AffinityPending && !a.Spec.Deleted && ours[a.Spec.CIDR] {
			won, err := m.claim(ctx, node, a.Spec.CIDR)
			if err != nil {
				return netip.Prefix{}, err
			}
			if won {
				return a.Spec.CIDR, nil
			}
		}
	}
	for {
		cidr, ok := nextFreeBlock(pool.Spec.CIDR, pool.Spec.BlockSize, node, taken)
		if !ok {
			return netip.Prefix{}, fmt.Errorf("claim a block for %s: pool %s (%s) has all %d blocks of /%d claimed: %w; add a pool or release the blocks of removed nodes",
				node, pool.Metadata.Name, pool.Spec.CIDR, blocksOf(pool.Spec.CIDR, pool.Spec.BlockSize), pool.Spec.BlockSize, ErrPoolExhausted)
		}
		won, err := m.claim(ctx, node, cidr)
		if err != nil {
			return netip.Prefix{}, err
		}
		if won {
			return cidr, nil
		}
		// Another node won this block; the next one along is as good.
		taken[cidr] = true
	}
}

// claim tries to make cidr the node's block and reports whether it did. The BlockAffinity is
// written first, as pending, so a crash leaves a visible trace; the IPAMBlock create is the
// decision: exactly one node can create it. Claims by the same node (two goroutines, or a
// rerun after a crash) find their own pending affinity and block and finish the job.
func (m *IPAM) claim(ctx context.Context, node string, cidr netip.Prefix) (bool, error) {
	aff := &datastore.BlockAffinity{
		Metadata: datastore.ObjectMeta{Name: datastore.BlockAffinityName(node, cidr)},
		Spec:     datastore.BlockAffinitySpec{Node: node, CIDR: cidr, State: datastore.AffinityPending},
	}
	if err := m.affinities.Create(ctx, aff); err != nil {
		if !errors.Is(err, datastore.ErrExists) {
			return false, fmt.Errorf("claim %s for %s: %w", cidr, node, err)
		}
		if aff, err = m.affinities.Get(ctx, aff.Metadata.Name); err != nil {
			if errors.Is(err, datastore.ErrNotFound) {
				return false, nil // withdrawn or released since: move on
			}
			return false, fmt.Errorf("claim %s for %s: %w", cidr, node, err)
		}
		if aff.Spec.State == datastore.AffinityPendingDeletion || aff.Spec.Deleted {
			return false, nil // being released: leave it to the release
		}
	}

	if err := m.blocks.Create(ctx, newBlock(cidr, node)); err != nil {
		if !errors.Is(err, datastore.ErrExists) {
			return false, fmt.Errorf("claim %s for %s: %w", cidr, node, err)
		}
		blk, err := m.blocks.Get(ctx, datastore.BlockName(cidr))
		if err != nil && !errors.Is(err, datastore.ErrNotFound) {
			return false, fmt.Errorf("claim %s for %s: %w", cidr, node, err)
		}
		if err != nil || blk.Spec.AffineNode() != node {
			// Lost the race: withdraw the pending claim so it misleads nobody.
			return false, m.withdraw(ctx, aff)
		}
	}

	for attempt := 0; aff.Spec.State != datastore.AffinityConfirmed; attempt++ {
		aff.Spec.State = datastore.AffinityConfirmed
		err := m.affinities.Update(ctx, aff)
		if err == nil {
			break
		}
		if !errors.Is(err, datastore.ErrConflict) || attempt >= maxAttempts {
			return false, fmt.Errorf("confirm %s for %s: %w", cidr, node, err)
		}
		if aff, err = m.affinities.Get(ctx, aff.Metadata.Name); err != nil {
			return false, fmt.Errorf("confirm %s for %s: %w", cidr, node, err)
		}
	}
	return true, nil
}

// withdraw deletes a pending affinity that lost its block.
func (m *IPAM) withdraw(ctx context.Context, aff *datastore.BlockAffinity) error {
	for attempt := 0; ; attempt++ {
		err := m.affinities.Delete(ctx, aff)
		if err == nil || errors.Is(err, datastore.ErrNotFound) {
			return nil
		}
		if !errors.Is(err, datastore.ErrConflict) || attempt >= maxAttempts {
			return fmt.Errorf("withdraw claim %s of %s: %w", aff.Spec.CIDR, aff.Spec.Node, err)
		}
		if aff, err = m.affinities.Get(ctx, aff.Metadata.Name); err != nil {
			if errors.Is(err, datastore.ErrNotFound) {
				return nil
			}
			return fmt.Errorf("withdraw claim: %w", err)
		}
		if aff.Spec.State == datastore.AffinityConfirmed {
			return nil // the node's other claimant confirmed it meanwhile
		}
	}
}

// nodeBlocks reads the node's confirmed blocks with their revisions, in address order.
func (m *IPAM) nodeBlocks(ctx context.Context, node string) ([]*datastore.IPAMBlock, error) {
	cidrs, err := m.NodeBlocks(ctx, node)
	if err != nil {
		return nil, err
	}
	out := make([]*datastore.IPAMBlock, 0, len(cidrs))
	for _, cidr := range cidrs {
		b, err := m.blocks.Get(ctx, datastore.BlockName(cidr))
		if errors.Is(err, datastore.ErrNotFound) {
			continue // released between the two reads
		}
		if err != nil {
			return nil, err
		}
		if b.Spec.AffineNode() == node && !b.Spec.Deleted {
			out = append(out, b)
		}
	}
	return out, nil
}

// Allocate returns an address for handle from the node's blocks, claiming a block when the node
// has none or all are full. A handle that already holds an address in the node's blocks gets
// the same address back, so a repeated CNI ADD is harmless. attrs are recorded with the
// allocation (Calico's "secondary" attributes: namespace, pod, node).
func (m *IPAM) Allocate(ctx context.Context, node, handle string, attrs map[string]string) (netip.Addr, error) {
	if handle == "" {
		return netip.Addr{}, fmt.Errorf("allocate on %s: empty handle", node)
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		blocks, err := m.nodeBlocks(ctx, node)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("allocate %s on %s: %w", handle, node, err)
		}
		for _, b := range blocks {
			if addr, ok := handleAddr(&b.Spec, handle); ok {
				return addr, nil
			}
		}
		full := true
		conflict := false
		for _, b := range blocks {
			addr, ok := assign(&b.Spec, handle, attrs)
			if !ok {
				continue
			}
			full = false
			err := m.blocks.Update(ctx, b)
			if err == nil {
				return addr, nil
			}
			if !errors.Is(err, datastore.ErrConflict) && !errors.Is(err, datastore.ErrNotFound) {
				return netip.Addr{}, fmt.Errorf("allocate %s on %s: %w", handle, node, err)
			}
			conflict = true
			break
		}
		if conflict {
			if err := backoff(ctx, attempt); err != nil {
				return netip.Addr{}, fmt.Errorf("allocate %s on %s: %w", handle, node, err)
			}
			continue
		}
		if full {
			if _, err := m.claimNewBlock(ctx, node); err != nil {
				return netip.Addr{}, fmt.Errorf("allocate %s on %s: %w", handle, node, err)
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("allocate %s on %s: gave up after %d conflicting writes; the datastore is overloaded, retry", handle, node, maxAttempts)
}

// AllocateTunnelAddress returns the node's VXLAN tunnel address: its first allocation, made
// under Calico's handle name, and the same address on every later call.
func (m *IPAM) AllocateTunnelAddress(ctx context.Context, node string) (netip.Addr, error) {
	return m.Allocate(ctx, node, TunnelHandle(node), map[string]string{"node": node, "type": "vxlanTunnelAddress"})
}

// Release frees every address the handle holds, in any block. Releasing a handle that holds
// nothing succeeds, so a repeated CNI DEL is harmless.
func (m *IPAM) Release(ctx context.Context, handle string) error {
	blocks, _, err := m.blocks.List(ctx)
	if err != nil {
		return fmt.Errorf("release %s: %w", handle, err)
	}
	for _, b := range blocks {
		if _, ok := handleAddr(&b.Spec, handle); !ok {
			continue
		}
		if err := m.releaseIn(ctx, b, handle); err != nil {
			return fmt.Errorf("release %s: %w", handle, err)
		}
	}
	return nil
}

// releaseIn frees the handle's addresses in one block, re-reading it after each conflict.
func (m *IPAM) releaseIn(ctx context.Context, b *datastore.IPAMBlock, handle string) error {
	for attempt := 0; ; attempt++ {
		if release(&b.Spec, handle) == 0 {
			return nil
		}
		err := m.blocks.Update(ctx, b)
		if err == nil || errors.Is(err, datastore.ErrNotFound) {
			return nil
		}
		if !errors.Is(err, datastore.ErrConflict) || attempt >= maxAttempts {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
		if b, err = m.blocks.Get(ctx, b.Metadata.Name); err != nil {
			if errors.Is(err, datastore.ErrNotFound) {
				return nil
			}
			return err
		}
	}
}

// ReleaseBlock gives up the node's claim on an empty block: affinity pendingDeletion, block
// deleted, affinity deleted. A block that still holds allocations keeps its affinity confirmed
// and the call fails with ErrBlockInUse. Releasing a block the node does not hold succeeds.
func (m *IPAM) ReleaseBlock(ctx context.Context, node string, cidr netip.Prefix) error {
	return m.releaseBlock(ctx, node, cidr, false)
}

// ReleaseNode gives up every block of a removed node, with whatever allocations they hold
// (the node's pods and tunnel address are gone with it), and withdraws its pending claims.
func (m *IPAM) ReleaseNode(ctx context.Context, node string) error {
	affs, _, err := m.affinities.List(ctx)
	if err != nil {
		return fmt.Errorf("release node %s: %w", node, err)
	}
	var errs []error
	for _, a := range affs {
		if a.Spec.Node != node {
			continue
		}
		if err := m.releaseBlock(ctx, node, a.Spec.CIDR, true); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("release node %s: %w", node, err)
	}
	return nil
}

func (m *IPAM) releaseBlock(ctx context.Context, node string, cidr netip.Prefix, force bool) error {
	name := datastore.BlockAffinityName(node, cidr)
	aff, err := m.setAffinityState(ctx, name, datastore.AffinityPendingDeletion)
	if errors.Is(err, datastore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release %s of %s: %w", cidr, node, err)
	}
	for attempt := 0; ; attempt++ {
		b, err := m.blocks.Get(ctx, datastore.BlockName(cidr))
		if errors.Is(err, datastore.ErrNotFound) || (err == nil && b.Spec.AffineNode() != node) {
			break // nothing of ours to delete (a pending claim that lost its block)
		}
		if err != nil {
			return fmt.Errorf("release %s of %s: %w", cidr, node, err)
		}
		if n := inUse(&b.Spec); n > 0 && !force {
			if _, err := m.setAffinityState(ctx, name, datastore.AffinityConfirmed); err != nil {
				return fmt.Errorf("release %s of %s: %d addresses in use, and restoring its affinity failed: %w", cidr, node, n, err)
			}
			return fmt.Errorf("release %s of %s: %w (%d addresses); release their handles first", cidr, node, ErrBlockInUse, n)
		}
		err = m.blocks.Delete(ctx, b)
		if err == nil || errors.Is(err, datastore.ErrNotFound) {
			break
		}
		if !errors.Is(err, datastore.ErrConflict) || attempt >= maxAttempts {
			return fmt.Errorf("release %s of %s: %w", cidr, node, err)
		}
		// An allocation landed after the read: look again.
	}
	if err := m.withdraw(ctx, aff); err != nil {
		return fmt.Errorf("release %s of %s: %w", cidr, node, err)
	}
	return nil
}

// setAffinityState moves an affinity to state with compare-and-swap retries.
func (m *IPAM) setAffinityState(ctx context.Context, name, state string) (*datastore.BlockAffinity, error) {
	for attempt := 0; ; attempt++ {
		aff, err := m.affinities.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		if aff.Spec.State == state {
			return aff, nil
		}
		aff.Spec.State = state
		err = m.affinities.Update(ctx, aff)
		if err == nil {
			return aff, nil
		}
		if !errors.Is(err, datastore.ErrConflict) || attempt >= maxAttempts {
			return nil, err
		}
	}
}

// backoff waits a short, growing, random time after a lost compare-and-swap, so writers that
// collided do not collide again in lockstep.
func backoff(ctx context.Context, attempt int) error {
	limit := time.Duration(min(attempt+1, 20)) * 250 * time.Microsecond
	t := time.NewTimer(rand.N(limit))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
