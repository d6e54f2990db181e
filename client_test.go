package dualws

import "testing"

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestOnceChan: a channel closed before anyone waited is closed for every
// later waiter; one made by a waiter is closed by close, and stays the same
// channel for every waiter before that.
func TestOnceChan(t *testing.T) {
	var early onceChan
	early.close()
	if !isClosed(early.wait()) {
		t.Fatal("wait after close returned an open channel")
	}

	var late onceChan
	first := late.wait()
	if isClosed(first) {
		t.Fatal("wait before close returned a closed channel")
	}
	if late.wait() != first {
		t.Fatal("two waits before close returned different channels")
	}
	late.close()
	if !isClosed(first) || !isClosed(late.wait()) {
		t.Fatal("close left a waiter's channel open")
	}
}
