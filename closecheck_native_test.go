//go:build !js

package dualws

import (
	"context"
	"testing"
	"time"
)

// TestCloseCheckAfterPause: a Send looks for a close (awaitReader) after
// closeCheckSends Sends, and also when closeCheckEvery has passed since the
// last look, which checkTimer marks without a clock read per Send.
func TestCloseCheckAfterPause(t *testing.T) {
	c, _ := dial(t, serve(t, echo), &Options{PingInterval: -1})
	d := c.t.(*nativeConn)
	ctx := context.Background()
	if err := c.SendText(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	if d.sinceCheck != 0 {
		t.Fatalf("the first Send did not look for a close: %d Sends since the last look", d.sinceCheck)
	}
	// The timer marks a look as due once closeCheckEvery has passed.
	for deadline := time.Now().Add(10 * time.Second); !d.checkDue.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no look marked due 10 s after the last one")
		}
	}
	if err := c.SendText(ctx, "after a pause"); err != nil {
		t.Fatal(err)
	}
	if d.sinceCheck != 0 || d.checkDue.Load() {
		t.Fatalf("a Send after a pause did not look for a close (since %d, due %v)", d.sinceCheck, d.checkDue.Load())
	}
	// Sends in a row look again after closeCheckSends of them, whatever
	// the clock says: stop the timer so that only the count can trigger.
	if !d.checkTimer.Stop() {
		for !d.checkDue.Load() { // it fired: let its function finish
			time.Sleep(time.Millisecond)
		}
	}
	d.checkDue.Store(false)
	for i := 1; i < closeCheckSends; i++ {
		if err := c.SendText(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if d.sinceCheck != i {
			t.Fatalf("after %d Sends: %d since the last look", i, d.sinceCheck)
		}
	}
	if err := c.SendText(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if d.sinceCheck != 0 {
		t.Fatalf("%d Sends in a row did not look for a close", closeCheckSends)
	}
}
