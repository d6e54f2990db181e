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

	// For awaitReader: a Read of the socket is under way, entered when
	// read was readAtEntry; entered is signalled when one is entered while
	// a Send waits. Kept here rather than in trackedConn because a layer
	// between them (tls.Conn) may read the socket several times in one of
	// trackedConn's Reads, for a record that arrives in parts.
	inRead      atomic.Bool
	readAtEntry atomic.Int64
	waiting     atomic.Bool
	entered     chan struct{}
}

func newCountingConn(c net.Conn) *countingConn {
	cc := &countingConn{Conn: c, entered: make(chan struct{}, 1)}
	if sc, ok := c.(syscall.Conn); ok {
		cc.raw, _ = sc.SyscallConn()
	}
	return cc
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.readAtEntry.Store(c.read.Load())
	c.inRead.Store(true)
	if c.waiting.Load() {
		notify(c.entered)
	}
	n, err := c.Conn.Read(p)
	c.inRead.Store(false)
	c.read.Add(int64(n))
	return n, err
}

// awaitReader waits until the reader has read every byte that was in the
// socket when it was called and has entered a Read of the socket after
// them, waiting for more, the status is decided, reading is paused, or
// readerCatchUpMax has passed. A Read that has taken the bytes but not
// returned them does not count: the reader has yet to act on them (a close
// frame among them decides the status only after coder/websocket has
// answered it). A tls.Conn that reads the socket again for the rest of a
// record does count: it has nothing to act on yet.
func (d *nativeConn) awaitReader() {
	sock, _ := d.raw.socket.(*countingConn)
	var target int64
	if sock != nil {
		target = sock.read.Load() + int64(socketPending(sock.raw))
	}
	caughtUp := func() bool { return d.raw.caughtUp(sock, target) }
	if caughtUp() || d.c.decided.Load() {
		return
	}
	waiting, entered := &d.raw.waiting, d.raw.entered
	if sock != nil {
		waiting, entered = &sock.waiting, sock.entered
	}
	waiting.Store(true)
	defer waiting.Store(false)
	timer := time.NewTimer(readerCatchUpMax)
	defer timer.Stop()
	for !caughtUp() && !d.c.decided.Load() && !d.c.readingPaused() {
		select {
		case <-entered:
		case <-d.c.statusCh:
		case <-timer.C:
			return
		}
	}
}

// caughtUp reports whether the reader waits in a Read of sock that it
// entered after sock had given target bytes; without a counted socket,
// whether it is in a Read at all.
func (t *trackedConn) caughtUp(sock *countingConn, target int64) bool {
	if sock == nil {
		return t.inRead.Load()
	}
	return sock.inRead.Load() && sock.readAtEntry.Load() >= target
}
