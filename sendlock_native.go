//go:build !js

package dualws

import (
	"context"
	"errors"
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

// errStatusWhileWaiting: the client's status was decided while a Send
// waited for the lock; the Send is refused with it.
var errStatusWhileWaiting = errors.New("the status was decided while waiting to send")

// statusWaiter gives the channel that closes when the client's status is
// decided (Client.statusChan).
type statusWaiter interface{ statusChan() <-chan struct{} }

// noStatus is a statusWaiter whose status never comes: the closer waits for
// the lock after the status is decided.
type noStatus struct{}

func (noStatus) statusChan() <-chan struct{} { return nil }

// lock takes the lock, or returns ctx's error if ctx ends first, or
// errStatusWhileWaiting once s's status channel is closed:
// a Send waiting behind one that a peer which stopped reading blocks is
// refused with the peer's code as soon as its close is known, not at its
// context's end.
func (l *sendLock) lock(ctx context.Context, s statusWaiter) error {
	if l.held.CompareAndSwap(false, true) {
		return nil
	}
	return l.lockSlow(ctx, s.statusChan())
}

// lockSlow registers as a waiter before trying again, so a release either
// sees the waiter and signals wake, or happened before the retry, which
// then succeeds. A spurious or stale signal only costs another try.
func (l *sendLock) lockSlow(ctx context.Context, decided <-chan struct{}) error {
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
		case <-decided:
			return errStatusWhileWaiting
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
