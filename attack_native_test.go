//go:build !js

package dualws

import (
	"bufio"
	"context"
	"encoding/binary"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkPingHeap verifies, under keepalives.mu, that every queued
// connection's pingSlot is its index plus one and that the heap is ordered
// by pingDue; it returns the queued connections.
func checkPingHeap(t *testing.T) map[*nativeConn]bool {
	t.Helper()
	keepalives.mu.Lock()
	defer keepalives.mu.Unlock()
	queued := make(map[*nativeConn]bool, len(keepalives.conns))
	for i, d := range keepalives.conns {
		if d == nil {
			t.Errorf("nil connection at heap index %d", i)
			continue
		}
		if int(d.pingSlot) != i+1 {
			t.Errorf("heap index %d holds a conn whose pingSlot is %d", i, d.pingSlot)
		}
		if i > 0 && keepalives.conns[(i-1)/2].pingDue > d.pingDue {
			t.Errorf("heap order broken at index %d", i)
		}
		if queued[d] {
			t.Errorf("conn queued twice (index %d)", i)
		}
		queued[d] = true
	}
	if len(keepalives.conns) > 0 && keepalives.armed == 0 {
		t.Errorf("%d pings queued with no timer armed", len(keepalives.conns))
	}
	if keepalives.armed != 0 && len(keepalives.conns) > 0 && keepalives.armed > keepalives.conns[0].pingDue {
		t.Errorf("timer armed after the earliest ping")
	}
	return queued
}

// pongServer answers pings (it reads) and counts the pings it got.
func pongServer(t *testing.T, pings *atomic.Int64) string {
	return serveWith(t, &websocket.AcceptOptions{OnPingReceived: func(context.Context, []byte) bool {
		if pings != nil {
			pings.Add(1)
		}
		return true
	}}, echo)
}

// TestAttackPingQueueChurn: hundreds of connections with tiny and large
// PingIntervals, closed in waves while their pings are due or in flight:
// the heap stays consistent throughout, no answered ping ever fails a
// connection, and once every client is Done the queue is empty.
func TestAttackPingQueueChurn(t *testing.T) {
	url := pongServer(t, nil)
	intervals := []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, time.Hour, 300 * time.Microsecond}
	const n = 150
	clients := make([]*Client, n)
	var wg sync.WaitGroup
	for i := range clients {
		c, err := Dial(context.Background(), url, &Options{PingInterval: intervals[i%len(intervals)], PingTimeout: 30 * time.Second})
		require.NoError(t, err)
		clients[i] = c
		if i%10 == 9 {
			checkPingHeap(t)
		}
	}
	// Close in waves, checking the heap between waves.
	for wave := range 5 {
		for i := wave; i < n; i += 5 {
			wg.Add(1)
			go func(c *Client) {
				defer wg.Done()
				// Let the fast pingers cycle a few times first.
				time.Sleep(time.Duration(i%7) * time.Millisecond)
				_, decided := c.CloseStatus()
				assert.False(t, decided, "an answered ping decided a close")
				assert.NoError(t, c.Close(StatusNormalClosure, ""))
			}(clients[i])
		}
		for range 20 {
			checkPingHeap(t)
			time.Sleep(200 * time.Microsecond)
		}
		wg.Wait()
		queued := checkPingHeap(t)
		for i := 0; i <= wave; i++ {
			for j := i; j < n; j += 5 {
				d := clients[j].t.(*nativeConn)
				if queued[d] {
					t.Fatalf("closed conn %d is still in the ping queue", j)
				}
			}
		}
	}
	if q := checkPingHeap(t); len(q) != 0 {
		t.Fatalf("%d conns left in the ping queue after every client is Done", len(q))
	}
}

// TestAttackHugePingIntervalStarvesOthers: a PingInterval near the largest
// Duration ("practically never") must not stop the keepalive of the other
// connections in the process. monoClock()+interval overflows int64, so
// the huge one's deadline is the heap's earliest (negative) and the one
// timer is armed for it; the timer's wait overflows back to ~292 years,
// so no connection is ever pinged again: a connection to a silent peer
// with a 5 ms interval and a 20 ms timeout never closes.
func TestAttackHugePingIntervalStarvesOthers(t *testing.T) {
	var pings atomic.Int64
	huge, _ := dial(t, pongServer(t, &pings), &Options{PingInterval: math.MaxInt64, PingTimeout: time.Second})
	d := huge.t.(*nativeConn)
	keepalives.mu.Lock()
	due := d.pingDue
	keepalives.mu.Unlock()
	assert.Greater(t, due, monoClock(), "the first ping of a huge interval is due in the past (deadline overflowed)")

	silent := serve(t, func(ctx context.Context, c *websocket.Conn) { <-ctx.Done() })
	c, _ := dial(t, silent, &Options{PingInterval: 5 * time.Millisecond, PingTimeout: 20 * time.Millisecond})
	waitDone(t, c) // fails after 10 s: the silent peer's connection was never pinged
	st, _ := c.CloseStatus()
	assert.Equal(t, CloseStatus{Code: 1006, Reason: "keepalive timeout"}, st)
	require.NoError(t, huge.Close(StatusNormalClosure, ""))
	assert.Zero(t, pings.Load(), "the huge-interval connection was pinged")
}

// TestAttackKeepaliveMixed: connections that never get a pong close with
// 1006 "keepalive timeout" while ponged ones sharing the queue, with the
// same short intervals, stay open.
func TestAttackKeepaliveMixed(t *testing.T) {
	silent := serve(t, func(ctx context.Context, c *websocket.Conn) { <-ctx.Done() })
	ponged := pongServer(t, nil)
	opts := func(i int) *Options {
		return &Options{PingInterval: time.Duration(1+i%4) * 3 * time.Millisecond, PingTimeout: time.Duration(20+i%3*10) * time.Millisecond}
	}
	var dead, alive []*Client
	starts := map[*Client]time.Time{}
	for i := range 16 {
		c, _ := dial(t, silent, opts(i))
		starts[c] = time.Now()
		dead = append(dead, c)
		a, _ := dial(t, ponged, opts(i))
		alive = append(alive, a)
	}
	var worst time.Duration
	for _, c := range dead {
		waitDone(t, c)
		worst = max(worst, time.Since(starts[c]))
		st, _ := c.CloseStatus()
		assert.Equal(t, CloseStatus{Code: 1006, Reason: "keepalive timeout"}, st)
	}
	t.Logf("slowest keepalive timeout: %v after dial (interval <= 12ms, timeout <= 40ms)", worst)
	for i, c := range alive {
		_, decided := c.CloseStatus()
		assert.False(t, decided, "ponged conn %d closed", i)
		require.NoError(t, c.Close(StatusNormalClosure, ""))
	}
	if q := checkPingHeap(t); len(q) != 0 {
		t.Fatalf("%d conns left in the ping queue", len(q))
	}
}

// TestAttackDoneAndStatusWaiters: Done, Receive and Close called from many
// goroutines before, during and after the peer's close, and Done/Receive
// called from the OnStateChange callback, all see the decided status and a
// closed Done; Done is never closed while a callback runs.
func TestAttackDoneAndStatusWaiters(t *testing.T) {
	for round := range 20 {
		url := serve(t, echoThenClose(4000+websocket.StatusCode(round), "bye"))
		var inCallback atomic.Bool
		var cp atomic.Pointer[Client]
		var cbErr atomic.Value
		opts := &Options{OnStateChange: func(ev StateChange) {
			c := cp.Load()
			if c == nil { // CONNECTING>OPEN, delivered inside Dial
				return
			}
			inCallback.Store(true)
			defer inCallback.Store(false)
			if isClosed(c.Done()) {
				cbErr.Store("Done closed while a callback runs")
			}
			if ev.To == Closed {
				if _, ok := c.CloseStatus(); !ok {
					cbErr.Store("CLOSED delivered without a status")
				}
				if !isClosed(c.statusChan()) {
					cbErr.Store("status channel open at CLOSED")
				}
			}
		}}
		c, err := Dial(context.Background(), url, opts)
		require.NoError(t, err)
		cp.Store(c)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch g % 4 {
				case 0:
					<-c.Done()
				case 1:
					for {
						if _, _, err := c.Receive(context.Background()); err != nil {
							assert.ErrorIs(t, err, ErrClosed)
							return
						}
					}
				case 2:
					<-c.statusChan()
					_, ok := c.CloseStatus()
					assert.True(t, ok)
				case 3:
					if g == 7 && round%2 == 0 {
						c.Close(StatusNormalClosure, "")
					}
					<-c.Done()
				}
			}()
		}
		c.Send(context.Background(), Text, []byte("x")) // the server echoes it, then closes
		all := make(chan struct{})
		go func() { wg.Wait(); close(all) }()
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			t.Fatal("a Done, Receive, status or Close waiter never woke")
		}
		assert.False(t, inCallback.Load())
		if v := cbErr.Load(); v != nil {
			t.Fatal(v)
		}
		waitDone(t, c)
	}
}

// TestAttackCloseFramesByteByByte: a raw server writes messages and a close
// frame one byte per write (each a read of its own at the client): a
// 123-byte reason and a multi-byte UTF-8 reason cut inside a rune arrive
// whole; an invalid reason fails the connection.
func TestAttackCloseFramesByteByByte(t *testing.T) {
	long := "x" + strings.Repeat("é", 61) // 123 bytes, the longest reason, ending in a 2-byte rune
	require.Equal(t, 123, len(long))
	for _, tc := range []struct {
		name   string
		frame  []byte
		status CloseStatus
	}{
		{"123-byte reason", closeFrameBytes(4001, []byte(long)), CloseStatus{Code: 4001, Reason: long, WasClean: true, Remote: true}},
		{"1-byte reason", closeFrameBytes(4002, []byte("z")), CloseStatus{Code: 4002, Reason: "z", WasClean: true, Remote: true}},
		{"code only", closeFrameBytes(4003, nil), CloseStatus{Code: 4003, WasClean: true, Remote: true}},
		{"16-bit length close", append(binary.BigEndian.AppendUint16([]byte{0x88, 126}, 5), 0x0f, 0xa4, 'a', 'b', 'c'), CloseStatus{Code: 4004, Reason: "abc", WasClean: true, Remote: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := rawServe(t, func(rw *bufio.ReadWriter) {
				stream := append(serverFrame(0x82, false, make([]byte, 130)), tc.frame...)
				for _, b := range stream {
					rw.Write([]byte{b})
					rw.Flush()
					time.Sleep(50 * time.Microsecond)
				}
				readFramePayload(rw) // the client's close reply
			})
			c, _ := dial(t, url, nil)
			waitDone(t, c)
			st, _ := c.CloseStatus()
			if tc.name == "16-bit length close" {
				// coder/websocket may reject a non-minimal length; the
				// checker must not, so any status but a checker panic is fine.
				t.Logf("status %+v", st)
				return
			}
			assert.Equal(t, tc.status, st)
		})
	}
	t.Run("invalid UTF-8 reason", func(t *testing.T) {
		url := rawServe(t, func(rw *bufio.ReadWriter) {
			for _, b := range closeFrameBytes(4000, append([]byte(strings.Repeat("a", 120)), 0xff)) {
				rw.Write([]byte{b})
				rw.Flush()
			}
			readFramePayload(rw)
		})
		c, _ := dial(t, url, nil)
		waitDone(t, c)
		st, _ := c.CloseStatus()
		assert.NotEqual(t, StatusCode(4000), st.Code, "an invalid reason was accepted: %+v", st)
		assert.True(t, utf8.ValidString(st.Reason))
		t.Logf("status %+v", st)
	})
}

// TestAttackFrameCheckerSecondClose: the payload buffer made by a first,
// long close frame is reused by later ones: a shorter valid one after it
// passes, whatever stale bytes the first left; an invalid one after a
// valid one fails; at every two-read cut and one byte at a time.
func TestAttackFrameCheckerSecondClose(t *testing.T) {
	long := closeFrameBytes(1000, []byte("x"+strings.Repeat("é", 61)))
	cutRune := closeFrameBytes(1000, []byte(strings.Repeat("a", 122)+"\xc3")) // last byte starts a rune
	short := closeFrameBytes(1000, []byte("ok"))
	bad := closeFrameBytes(1000, []byte{'a', 0xc0, 0x80}) // overlong NUL
	masked := serverFrame(0x88, true, []byte{3, 232})
	for _, tc := range []struct {
		name   string
		stream []byte
		bad    int // offset of the violating frame, -1: none
	}{
		{"long then short", append(append([]byte{}, long...), short...), -1},
		{"long then cut rune", append(append([]byte{}, long...), cutRune...), len(long)},
		{"short then overlong", append(append([]byte{}, short...), bad...), len(short)},
		{"valid then masked close", append(append([]byte{}, long...), masked...), len(long)},
		{"125 bytes of 'é' after code", closeFrameBytes(1000, []byte("a"+strings.Repeat("é", 61))), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(chunks [][]byte) {
				var f frameChecker
				passed := 0
				for _, c := range chunks {
					ok, err := f.check(c)
					if err != nil {
						require.NotEqual(t, -1, tc.bad, "valid stream rejected: %v", err)
						assert.Equal(t, max(tc.bad, passed), passed+ok)
						return
					}
					passed += len(c)
				}
				assert.Equal(t, -1, tc.bad, "violation not found")
			}
			var bytes [][]byte
			for i := range tc.stream {
				bytes = append(bytes, tc.stream[i:i+1])
			}
			run(bytes)
			for cut := 0; cut <= len(tc.stream); cut++ {
				run([][]byte{tc.stream[:cut], tc.stream[cut:]})
			}
		})
	}
}
