//go:build !js

package dualws

import (
	"context"
	"sync/atomic"
)

// sendLock lets one native Send write at a time. A free lock is taken with
// one compare-and-swap and released with a store, with no channel
// operation; a Send that finds it held waits on a channel, bounded by its
// context.
type sendLock struct {
	held    atomic.Bool
	waiters atomic.Int32  // Sends in lockSlow
	wake    chan struct{} // capacity 1, made by its owner: a release while someone waits
}

// lock takes the lock, or returns ctx's error if ctx ends first.
func (l *sendLock) lock(ctx context.Context) error {
	if l.held.CompareAndSwap(false, true) {
		return nil
	}
	return l.lockSlow(ctx)
}

// lockSlow registers as a waiter before trying again, so a release either
// sees the waiter and signals wake, or happened before the retry, which
// then succeeds. A spurious or stale signal only costs another try.
func (l *sendLock) lockSlow(ctx context.Context) error {
	l.waiters.Add(1)
	defer l.waiters.Add(-1)
	for {
		if l.held.CompareAndSwap(false, true) {
			return nil
		}
		select {
		case <-l.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// unlock releases the lock and wakes one waiter, if any.
func (l *sendLock) unlock() {
	l.held.Store(false)
	if l.waiters.Load() > 0 {
		notify(l.wake)
	}
}
