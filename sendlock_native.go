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
	waiters atomic.Int32                  // Sends in lockSlow
	wake    atomic.Pointer[chan struct{}] // capacity 1, made by the first Send to wait: a release while someone waits
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
	wake := l.wake.Load()
	if wake == nil { // made here, not with the lock, so that a connection whose Sends never overlap does not hold it
		ch := make(chan struct{}, 1)
		if l.wake.CompareAndSwap(nil, &ch) {
			wake = &ch
		} else {
			wake = l.wake.Load()
		}
	}
	l.waiters.Add(1) // after wake is stored: a release that sees the waiter sees wake
	defer l.waiters.Add(-1)
	for {
		if l.held.CompareAndSwap(false, true) {
			return nil
		}
		select {
		case <-*wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// unlock releases the lock and wakes one waiter, if any.
func (l *sendLock) unlock() {
	l.held.Store(false)
	if l.waiters.Load() > 0 {
		notify(*l.wake.Load())
	}
}
