//go:build !js

package dualws

import (
	"bufio"
	"context"
	"io"
	"math"
	"net"
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
// drain stays off, so that a stream does not turn it on and off in turns,
// and any byte taken within recentSpan keeps it off (a stream of 2 MB/s
// brings 64 KiB in some windows only).
func TestSendLooksAfterABacklogTakenLately(t *testing.T) {
	c, _ := dial(t, serve(t, echo), &Options{PingInterval: -1})
	d := c.t.(*nativeConn)
	ctx := context.Background()
	for _, tc := range []struct {
		drainOff bool
		took     int64
	}{{false, drainWindow}, {true, drainWindow}, {true, 1}} {
		tookJustNow(t, d, tc.took)
		// Only this goroutine sends, so writing the look's state is safe.
		d.drainOff, d.lastCheck = tc.drainOff, -int64(closeCheckEvery)
		if err := c.SendText(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if !tc.drainOff && d.lastCheck != -int64(closeCheckEvery) {
			t.Error("the look after a backlog taken lately did not leave the next Send to look again")
		}
		if d.drainOff != tc.drainOff {
			t.Errorf("drainOff went from %v to %v on a look after %d bytes taken lately", tc.drainOff, d.drainOff, tc.took)
		}
		if _, _, err := c.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLookCountsAPacedStream: a reader that took drainWindow bytes of a
// paced stream, keeping up with it, makes the next look count them as a
// backlog: the close may be held behind the stream in the peer's kernel.
// Both a message under way and whole messages each taken as it came (a
// helper's attacks on a rule tried this round, which counted only a
// reader that fell behind the socket or stopped inside a message: a paced
// 2 MB message, and 24 paced messages of 32 KiB from coder/websocket's
// server, then the close, had Sends accepted up to 19 ms after it).
func TestLookCountsAPacedStream(t *testing.T) {
	const chunk, chunks = 4 << 10, 24
	for _, whole := range []bool{false, true} {
		sent := make(chan struct{})
		stop := make(chan struct{})
		url := hijackServe(t, func(conn net.Conn, rw *bufio.ReadWriter) {
			defer conn.Close()
			go io.Copy(io.Discard, rw)
			frame := serverFrame(0x82, false, make([]byte, 1<<20))
			if !whole {
				conn.Write(frame[:10])
			}
			for i := range chunks {
				if whole {
					conn.Write(serverFrame(0x82, false, make([]byte, chunk-4)))
				} else {
					conn.Write(frame[10+i*chunk : 10+(i+1)*chunk])
				}
				time.Sleep(200 * time.Microsecond)
			}
			close(sent)
			<-stop
		})
		c, _ := dial(t, url, &Options{PingInterval: -1, ReadLimit: 2 << 20, CloseTimeout: 100 * time.Millisecond})
		d := c.t.(*nativeConn)
		<-sent
		for i := 0; d.raw.taken() < chunks*chunk; i++ {
			if i == 5000 {
				t.Fatal("the reader never took the stream")
			}
			time.Sleep(time.Millisecond)
		}
		d.lastCheck = -int64(closeCheckEvery)
		if err := c.SendText(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		if d.lastCheck != -int64(closeCheckEvery) {
			t.Errorf("whole messages %v: the look did not count the paced stream as a backlog", whole)
		}
		close(stop)
	}
}

// tookJustNow makes d's counted socket say that its reader took n bytes
// in the last recentSpan, the last of them now, as a reader does that has
// just taken them, whatever the machine's load does to the real reads.
// The reader must be idle.
func tookJustNow(t *testing.T, d *nativeConn, n int64) {
	t.Helper()
	sock, ok := d.raw.socket.(*countingConn)
	if !ok {
		t.Fatal("no counted socket")
	}
	sock.readBefore.Store(sock.read.Load() - n)
	sock.lastAt.Store(monoClock())
	if bytes, sinceLast := d.raw.recentReads(); bytes != n || sinceLast >= int64(recentSpan) {
		t.Fatalf("recentReads = %d bytes, the last %v ago; want %d just now", bytes, time.Duration(sinceLast), n)
	}
}
