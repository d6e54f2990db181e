//go:build !js

package dualws

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestCloseCheckAfterPause: a Send looks for a close (awaitReader) when
// closeCheckEvery has passed since the last look, and also after
// closeCheckSends Sends in a row whatever the clock says.
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
	// Only this goroutine sends, so reading lastCheck here is safe.
	for !closeCheckDue(int64(time.Since(d.epoch)), d.lastCheck) {
		time.Sleep(time.Millisecond)
	}
	if err := c.SendText(ctx, "after a pause"); err != nil {
		t.Fatal(err)
	}
	if d.sinceCheck != 0 {
		t.Fatalf("a Send %v after the last look did not look for a close", closeCheckEvery)
	}
	// Sends in a row look again after closeCheckSends of them: put the
	// last look in the future so that only the count can trigger.
	d.lastCheck = math.MaxInt64 / 2
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
