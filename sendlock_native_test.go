//go:build !js

package dualws

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// newTestSendLock returns a lock as a connection has it: the zero value.
func newTestSendLock() *sendLock { return &sendLock{} }

// testStatus is a status channel for the lock: open until decided.
type testStatus chan struct{}

func (s testStatus) statusChan() <-chan struct{} { return s }

// TestSendLockContext: a Send waiting for the lock returns its context's
// error when the context ends, and the lock is still usable.
func TestSendLockContext(t *testing.T) {
	l := newTestSendLock()
	if err := l.lock(context.Background(), noStatus{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.lock(ctx, noStatus{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock of a held lock with an ended context: %v, want context.Canceled", err)
	}
	if n := l.waiters.Load(); n != 0 {
		t.Fatalf("%d waiters left after the context ended", n)
	}
	l.unlock()
	if err := l.lock(ctx, noStatus{}); err != nil {
		t.Fatalf("lock of a free lock with an ended context: %v, want nil", err)
	}
}

// TestSendLockExclusion: goroutines contending for the lock each get it
// in turn (the plain counter below is a data race under -race if two hold
// it at once), and no release is lost: a lost wake-up leaves a waiter
// blocked, and its context's generous deadline turns that into a failure
// instead of a hang.
func TestSendLockExclusion(t *testing.T) {
	l := newTestSendLock()
	const workers, rounds = 4, 2000
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	counter := 0
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := l.lock(ctx, noStatus{}); err != nil {
					errs <- err
					return
				}
				counter++
				l.unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a waiter was never woken: %v", err)
	}
	if counter != workers*rounds {
		t.Fatalf("counter %d, want %d", counter, workers*rounds)
	}
}

// TestSendLockWakesWaiter: a Send blocked on a held lock gets it once the
// holder releases it.
func TestSendLockWakesWaiter(t *testing.T) {
	l := newTestSendLock()
	if err := l.lock(context.Background(), noStatus{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan error, 1)
	go func() { got <- l.lock(ctx, noStatus{}) }()
	for l.waiters.Load() == 0 { // the waiter registered; its retry failed or is about to
		select {
		case err := <-got:
			t.Fatalf("lock of a held lock returned %v before the holder released it", err)
		case <-time.After(time.Millisecond):
		}
	}
	l.unlock()
	if err := <-got; err != nil {
		t.Fatalf("the waiter did not get the released lock: %v", err)
	}
	if l.held.CompareAndSwap(false, true) {
		t.Fatal("the lock is free although the waiter took it")
	}
}

// TestSendLockEndsAtTheStatus: a Send waiting for the lock is refused once
// the status is decided, though its context goes on, and the lock is
// still usable.
func TestSendLockEndsAtTheStatus(t *testing.T) {
	l := newTestSendLock()
	if err := l.lock(context.Background(), noStatus{}); err != nil {
		t.Fatal(err)
	}
	status := make(testStatus)
	got := make(chan error, 1)
	go func() { got <- l.lock(context.Background(), status) }()
	for l.waiters.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(status)
	select {
	case err := <-got:
		if err != errStatusWhileWaiting {
			t.Fatalf("a waiter's lock after the status was decided: %v, want errStatusWhileWaiting", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiter still waits 10 s after the status was decided")
	}
	l.unlock()
	if err := l.lock(context.Background(), status); err != nil {
		t.Fatalf("lock of a free lock after the status: %v, want nil", err)
	}
}
