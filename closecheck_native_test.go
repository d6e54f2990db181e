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

	"github.com/coder/websocket"
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
		if int(d.sinceCheck) != i {
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

// TestQuietLookClearsWhatItWaitedOn: a look that counted a backlog taken
// lately and ended quiet clears it, so the next Send's look counts only
// what the reader takes after it. (Seen failing without clearTaken: a
// request and response stream of 32 KiB messages took 8 ms a round trip,
// each Send's look waiting for quiet again.)
func TestQuietLookClearsWhatItWaitedOn(t *testing.T) {
	sink := func(ctx context.Context, c *websocket.Conn) {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}
	c, _ := dial(t, serve(t, sink), &Options{PingInterval: -1})
	d := c.t.(*nativeConn)
	ctx := context.Background()
	tookJustNow(t, d, drainWindow)
	d.lastCheck = -int64(closeCheckEvery)
	if err := c.SendText(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if d.lastCheck != -int64(closeCheckEvery) || d.drainOff {
		t.Fatalf("the look after a backlog taken lately did not end quiet (drainOff %v)", d.drainOff)
	}
	if at := d.raw.socket.(*countingConn).behindAt.Load(); at != 0 {
		t.Fatal("the quiet look left the reader's falling behind to count again")
	}
	if err := c.SendText(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if d.lastCheck == -int64(closeCheckEvery) {
		t.Fatal("the look after a quiet look counted the same backlog again")
	}
}

// TestLookCountsAMessageUnderWay: a reader that took drainWindow bytes of
// a message whose rest is on its way makes the look count them as a
// backlog, though it never fell behind: it reads the payload straight
// into the message's buffer, in Reads that never fill it, so a reader
// slow inside a large message, whose lag closes TCP's window, would never
// be found behind (readerBehind). Here the message comes in paced parts.
func TestLookCountsAMessageUnderWay(t *testing.T) {
	const chunk, chunks = 4 << 10, 24
	sent := make(chan struct{})
	stop := make(chan struct{})
	url := hijackServe(t, func(conn net.Conn, rw *bufio.ReadWriter) {
		defer conn.Close()
		go io.Copy(io.Discard, rw)
		frame := serverFrame(0x82, false, make([]byte, 1<<20))
		conn.Write(frame[:10])
		for i := range chunks {
			conn.Write(frame[10+i*chunk : 10+(i+1)*chunk])
			time.Sleep(200 * time.Microsecond)
		}
		close(sent)
		<-stop
	})
	c, _ := dial(t, url, &Options{PingInterval: -1, ReadLimit: 2 << 20, CloseTimeout: 100 * time.Millisecond})
	defer close(stop)
	d := c.t.(*nativeConn)
	<-sent
	for i := 0; d.raw.taken() < 10+chunks*chunk; i++ {
		if i == 5000 {
			t.Fatal("the reader never took the message's first part")
		}
		time.Sleep(time.Millisecond)
	}
	if !d.raw.hasFailed(midMessage) {
		t.Fatal("the reader's last Read ended inside the message, and midMessage is not set")
	}
	d.lastCheck = -int64(closeCheckEvery)
	if err := c.SendText(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if d.lastCheck != -int64(closeCheckEvery) {
		t.Fatal("the look did not count the message under way as a backlog")
	}
}

// tookJustNow makes d's counted socket say that its reader took n bytes
// in the last recentSpan, the last of them now, falling behind, none of
// them cleared by a look, as a reader does that has just taken them,
// whatever the machine's load does to the real reads. The reader must be
// idle, and the caller the only sender.
func tookJustNow(t *testing.T, d *nativeConn, n int64) {
	t.Helper()
	sock, ok := d.raw.socket.(*countingConn)
	if !ok {
		t.Fatal("no counted socket")
	}
	sock.readBefore.Store(sock.read.Load() - n)
	sock.lastAt.Store(monoClock())
	sock.behindAt.Store(monoClock())
	d.clearedRead = sock.read.Load() - n
	if bytes, sinceLast, _ := d.raw.recentReads(d.clearedRead); bytes != n || sinceLast >= int64(recentSpan) {
		t.Fatalf("recentReads = %d bytes, the last %v ago; want %d just now", bytes, time.Duration(sinceLast), n)
	}
}
