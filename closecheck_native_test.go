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

// TestSendLooksAfterABacklogTakenLately: a Send right after the reader
// took drainWindow bytes treats them as a backlog (takenLately): its look
// waits for quiet and the next Send looks again; while drainOff, the
// drain stays off, so that a stream does not turn it on and off in turns.
func TestSendLooksAfterABacklogTakenLately(t *testing.T) {
	c, _ := dial(t, serve(t, echo), &Options{PingInterval: -1})
	d := c.t.(*nativeConn)
	ctx := context.Background()
	for _, drainOff := range []bool{false, true} {
		for range 2 { // the echo server reads up to 32 KiB
			if err := c.Send(ctx, Binary, make([]byte, drainWindow/2)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Receive(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if !takenLately(d.raw.recentReads()) {
			t.Fatal("the reader took the echo of drainWindow bytes, yet not lately")
		}
		// Only this goroutine sends, so writing the look's state is safe.
		d.drainOff, d.lastCheck = drainOff, -int64(closeCheckEvery)
		if err := c.SendText(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if !drainOff && d.lastCheck != -int64(closeCheckEvery) {
			t.Error("the look after a backlog taken lately did not leave the next Send to look again")
		}
		if d.drainOff != drainOff {
			t.Errorf("drainOff went from %v to %v on a look after a backlog taken lately", drainOff, d.drainOff)
		}
	}
	// While drainOff, any byte taken within recentSpan keeps it off: a
	// stream of 2 MB/s brings 64 KiB in some windows only.
	c, _ = dial(t, serve(t, echo), &Options{PingInterval: -1})
	d = c.t.(*nativeConn)
	if err := c.SendText(ctx, "small"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	d.drainOff, d.lastCheck = true, -int64(closeCheckEvery)
	if bytes, sinceLast := d.raw.recentReads(); takenLately(bytes, sinceLast) || sinceLast >= int64(recentSpan) {
		t.Fatalf("the reader's figures (%d bytes, the last %v ago) do not make the case", bytes, time.Duration(sinceLast))
	}
	if err := c.SendText(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if !d.drainOff {
		t.Error("drainOff turned off by a look while the reader still takes a stream")
	}
}
