//go:build !js

package dualws

import (
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// A native Send checks, at most once per millisecond, that the reader has
// taken what has reached the socket, so that a close or drop already in the
// kernel is decided before the next message goes out. The Go scheduler
// polls the network only now and then while goroutines run, and an
// overloaded machine can leave the reader unscheduled for milliseconds;
// parking the sending goroutine lets the scheduler run the reader.

// countingConn counts the bytes read from the socket.
type countingConn struct {
	net.Conn
	raw  syscall.RawConn // for socketPending; nil when the conn has none
	read atomic.Int64
}

func newCountingConn(c net.Conn) *countingConn {
	cc := &countingConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		cc.raw, _ = sc.SyscallConn()
	}
	return cc
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// awaitReader waits until the reader has read every byte that was in the
// socket when it was called and has entered a Read after them, waiting for
// more, the status is decided, reading is paused, or readerCatchUpMax has
// passed. A Read that has taken the bytes but not returned them does not
// count: the reader has yet to act on them (a close frame among them
// decides the status only after coder/websocket has answered it).
func (d *nativeConn) awaitReader() {
	sock, _ := d.raw.socket.(*countingConn)
	var target int64
	if sock != nil {
		target = sock.read.Load() + int64(socketPending(sock.raw))
	}
	caughtUp := func() bool { return d.raw.caughtUp(sock != nil, target) }
	if caughtUp() || d.c.decided.Load() {
		return
	}
	d.raw.waiting.Store(true)
	defer d.raw.waiting.Store(false)
	timer := time.NewTimer(readerCatchUpMax)
	defer timer.Stop()
	for !caughtUp() && !d.c.decided.Load() && !d.c.readingPaused() {
		select {
		case <-d.raw.entered:
		case <-d.c.statusCh:
		case <-timer.C:
			return
		}
	}
}

// caughtUp reports whether the reader waits in a Read that it entered after
// the socket had given target bytes; without a counted socket, whether it
// is in a Read at all.
func (t *trackedConn) caughtUp(counted bool, target int64) bool {
	return t.inRead.Load() && (!counted || t.readAtEntry.Load() >= target)
}
