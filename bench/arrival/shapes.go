//go:build linux

package main

import (
	"bytes"
	"time"

	"github.com/dualws/dualws/bench/internal/wsserver"
)

// shape is what the server sends before its close frame, and how slowly
// the client takes it.
type shape struct {
	key, desc string
	pace      int  // SO_MAX_PACING_RATE on the server's socket, bytes/s; 0: none
	raw       bool // frames written by hand (one Write each), not coder/websocket
	// send writes the data; a raw shape may write the close frame too
	// (serverConn.writeWithClose).
	send func(s *serverConn)
	// receiveQueue is the client's Options.ReceiveQueue; 0: the default.
	receiveQueue int
	// pause, if set, runs in the client after it receives message i.
	pause func(i int)
}

// shapes returns every shape, in the default order of -shapes.
func shapes() []shape {
	return []shape{
		{key: "a", desc: "24 x 32 KiB, paced 40 MB/s", pace: 40e6, send: messages(24, 32<<10, 0)},
		{key: "b", desc: "300 raw 1448 B frames, a write each, paced 40 MB/s", pace: 40e6, raw: true, send: func(s *serverConn) {
			f := wsserver.AppendFrame(nil, wsserver.OpBinary, make([]byte, 1444))
			for range 300 {
				if s.write(f) != nil {
					return
				}
			}
		}},
		{key: "c", desc: "1 x 2 MB, paced 200 MB/s", pace: 200e6, send: messages(1, 2e6, 0)},
		{key: "d", desc: "20 x 64 KiB, 1.6 ms apart", send: messages(20, 64<<10, 1600*time.Microsecond)},
		{key: "e1", desc: "256 x 1 KiB; ReceiveQueue 1, 2 ms a message", send: messages(256, 1<<10, 0),
			receiveQueue: 1, pause: spinEach(2 * time.Millisecond)},
		{key: "e4", desc: "16 x 16 KiB; ReceiveQueue 4, 2 ms a message", send: messages(16, 16<<10, 0),
			receiveQueue: 4, pause: spinEach(2 * time.Millisecond)},
		{key: "er", desc: "256 raw 1 KiB frames and the close in one write; ReceiveQueue 1, 2 ms a message", raw: true, send: func(s *serverConn) {
			s.writeWithClose(bytes.Repeat(wsserver.AppendFrame(nil, wsserver.OpBinary, make([]byte, 1020)), 256))
		}, receiveQueue: 1, pause: spinEach(2 * time.Millisecond)},
		{key: "f", desc: "4096 x 1 KiB; client sleeps 1 ms every 16 messages", send: messages(4096, 1<<10, 0),
			pause: func(i int) {
				if i%16 == 15 {
					time.Sleep(time.Millisecond)
				}
			}},
		{key: "f2", desc: "4096 x 1 KiB; ReceiveQueue 4, 50 us a message", send: messages(4096, 1<<10, 0),
			receiveQueue: 4, pause: spinEach(50 * time.Microsecond)},
	}
}

// findShape returns the shape named key.
func findShape(key string) (shape, bool) {
	for _, sh := range shapes() {
		if sh.key == key {
			return sh, true
		}
	}
	return shape{}, false
}

// messages sends n binary messages of size bytes through coder/websocket,
// gap apart.
func messages(n, size int, gap time.Duration) func(s *serverConn) {
	return func(s *serverConn) { s.messages(n, size, gap) }
}

// spinEach keeps the CPU busy for d after each message, as a receiver
// that computes would.
func spinEach(d time.Duration) func(int) {
	return func(int) {
		for t := time.Now(); time.Since(t) < d; {
		}
	}
}
