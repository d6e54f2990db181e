package dualws

import (
	"context"
	"errors"
	"strings"
	"testing"
)

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

// validateClose's message for a long reason names the limit, written out
// as a constant to keep a second itoa out of the bundle.
func TestValidateCloseNamesTheLimit(t *testing.T) {
	if maxCloseReasonText != itoa(MaxCloseReason) {
		t.Fatalf("maxCloseReasonText %q, MaxCloseReason %d", maxCloseReasonText, MaxCloseReason)
	}
	err := validateClose(StatusNormalClosure, string(make([]byte, MaxCloseReason+1)))
	if want := "close reason is 124 bytes, at most 123 are allowed"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("validateClose: %v, want %q in it", err, want)
	}
}

// TestDialRefusesAHeartbeatThatIsNotUTF8: the heartbeat goes out as text;
// invalid UTF-8 would be an invalid frame natively and altered in the
// browser, so Dial refuses it before connecting (the URL's port is closed).
func TestDialRefusesAHeartbeatThatIsNotUTF8(t *testing.T) {
	_, err := Dial(context.Background(), "ws://127.0.0.1:1/", &Options{Heartbeat: &Heartbeat{Message: []byte("hb\xff")}})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "Heartbeat.Message is not valid UTF-8") {
		t.Fatalf("Dial with an invalid heartbeat: %v, want a *UsageError", err)
	}
}
