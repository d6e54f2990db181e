//go:build !js

package dualws

import (
	"math"
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
	// entered is made by the first look that waits (awaitReader, under
	// the send lock), before it sets waiting, so an idle connection does
	// not hold it.
	readAtEntry atomic.Int64
	inRead      atomic.Bool
	waiting     atomic.Bool
	// layered: the conn reads raw's socket through a layer of its own (a
	// *tls.Conn from an HTTPClient's DialTLSContext), so read counts that
	// layer's bytes, not the socket's (see caughtUp).
	layered bool
	entered chan struct{}

	// For a look (takenLately, lookQuiet): read as it was when the
	// previous half of recentSpan began, so that read minus it is what the
	// reader took lately; the longest gap between two of its Reads that
	// returned bytes in that time; when (monoClock) the last one returned.
	// The halves are the reader's own.
	readBefore, longestGap, lastAt atomic.Int64
	half                           recentHalves
}

// recentHalves splits recentSpan in two halves; the reader rotates them.
type recentHalves struct {
	start, read     int64 // monoClock and countingConn.read at the current half's first Read
	curGap, prevGap int64 // nanoseconds
}

func newCountingConn(c net.Conn) *countingConn {
	cc := &countingConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		cc.raw, _ = sc.SyscallConn()
	} else if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		if sc, ok := nc.NetConn().(syscall.Conn); ok {
			cc.raw, _ = sc.SyscallConn()
			cc.layered = true
		}
	}
	return cc
}

// enteredCh returns entered, made by its first call. Only a look calls
// it, under the send lock, before it sets waiting.
func (c *countingConn) enteredCh() chan struct{} {
	if c.entered == nil {
		c.entered = make(chan struct{}, 1)
	}
	return c.entered
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.readAtEntry.Store(c.read.Load())
	c.inRead.Store(true)
	if c.waiting.Load() {
		notify(c.entered)
	}
	n, err := c.Conn.Read(p)
	c.inRead.Store(false)
	read := c.read.Add(int64(n))
	if n > 0 {
		c.noteTaken(int64(n), read, monoClock())
	}
	return n, err
}

// noteTaken records that a Read returned n bytes at now (monoClock), read
// being the count after them: one store a Read, more once a half.
func (c *countingConn) noteTaken(n, read, now int64) {
	h := &c.half
	if since := now - h.start; since >= int64(recentSpan)/2 {
		before, gap := h.read, h.curGap
		if since >= int64(recentSpan) {
			before, gap = read-n, 0
		}
		c.readBefore.Store(before)
		h.start, h.read, h.prevGap, h.curGap = now, read-n, gap, 0
		c.longestGap.Store(gap)
	}
	if last := c.lastAt.Load(); last != 0 && now-last < int64(recentSpan) && now-last > h.curGap {
		h.curGap = now - last
		c.longestGap.Store(max(h.prevGap, h.curGap))
	}
	c.lastAt.Store(now)
}

// taken returns how many bytes the reader of t's counted socket has taken
// from it; 0 without one.
func (t *trackedConn) taken() int64 {
	if sock, ok := t.socket.(*countingConn); ok {
		return sock.read.Load()
	}
	return 0
}

// recentReads returns what the reader of t's counted socket took in about
// the last recentSpan and how long ago (monoClock) it last took bytes;
// none, long ago, without a counted socket.
func (t *trackedConn) recentReads() (bytes, sinceLast int64) {
	sock, _ := t.socket.(*countingConn)
	if sock == nil {
		return 0, math.MaxInt64
	}
	return sock.read.Load() - sock.readBefore.Load(), monoClock() - sock.lastAt.Load()
}

// look is what a Send's look may wait for (awaitReader).
type look struct {
	quiet, limit, backlogLimit time.Duration
	lately                     bool // the reader took a backlog just before (takenLately)
	followGaps                 bool // the quiet period stretches with the reader's gaps (lookQuiet)
}

// wakeLook wakes a look waiting for the reader (awaitReader), as a Read's
// entry does: the reader is about to pause on a full queue, enters no
// Read, and the look, which lifts such a pause, would otherwise wait to
// its limit and end with the close unread (a helper's attack: up to 31
// Sends accepted after a close that came with a few messages, with a
// ReceiveQueue of 4).
func (d *nativeConn) wakeLook() {
	if sock, _ := d.raw.socket.(*countingConn); sock != nil {
		if sock.waiting.Load() {
			notify(sock.entered)
		}
	} else if d.raw.waiting.Load() {
		notify(d.raw.entered)
	}
}

// pausedForGood reports whether reading is paused at ReceiveQueueBytes,
// after lifting a pause on the queue's count until the next Receive
// (the machine's sendLooked).
func (d *nativeConn) pausedForGood() bool {
	if !d.c.readingPaused() {
		return false
	}
	d.c.sendLooked()
	return d.c.readingPaused()
}

// awaitReader waits until the reader has read every byte that was in the
// socket when it was called and has entered a Read of the socket after
// them, waiting for more, the status is decided, reading is paused at
// ReceiveQueueBytes, or limit (readerCatchUpMax) has passed. A pause on
// the queue's count is lifted until the next Receive (pausedForGood): the
// application sends without receiving, and a close behind the full queue
// would stay unread. A Read that has taken the bytes but not
// returned them does not count: the reader has yet to act on them (a close
// frame among them decides the status only after coder/websocket has
// answered it). A tls.Conn that reads the socket again for the rest of a
// record does count: it has nothing to act on yet.
//
// A look that sees drainWindow bytes (a backlog: in the socket when it
// starts, or taken by the reader while it waits plus those come meanwhile)
// may have a close on its way behind them, held back by TCP's window, as
// may a backlog the reader took just before the look (lately): once
// caught up, it also waits until no byte has come for quiet (drainQuiet;
// with followGaps, longer when the reader's Reads came far apart:
// lookQuiet) and none waits in the socket, and it reports the backlog so
// that the next Send looks again. While drainOff the quiet period stays
// fixed: a stream paced in bursts 1 ms apart never gave twice its longest
// gap, and at 50 MB/s three times as many Sends took 5 ms. Counting only
// what was in the socket at the start missed a burst that a slow reader (under -race) kept below drainWindow
// there while the rest, and the close, waited in the peer's kernel. Such a
// look may wait backlogLimit (backlogLookLimit) in all; cut reports that
// a limit ended the look.
func (d *nativeConn) awaitReader(l look) (backlog, cut bool) {
	quiet, limit, backlogLimit, lately := l.quiet, l.limit, l.backlogLimit, l.lately
	sock, _ := d.raw.socket.(*countingConn)
	var target, read0 int64
	if sock != nil {
		// read before pending: a Read returning between them then leaves
		// its bytes out of both. The other order counted them twice, and
		// the look waited for bytes that never came, to its limit.
		read0 = sock.read.Load()
		pending := socketPending(sock.raw)
		target, backlog = read0+int64(pending), pending >= drainWindow || lately
	}
	caughtUp := func() bool { return d.raw.caughtUp(sock, target) }
	if (caughtUp() && !backlog) || d.c.decided.Load() {
		return backlog, false
	}
	waiting, entered := &d.raw.waiting, d.raw.entered
	if sock != nil {
		waiting, entered = &sock.waiting, sock.enteredCh()
	}
	statusCh := d.c.statusChan()
	waiting.Store(true)
	defer waiting.Store(false)
	start := time.Now()
	if backlog {
		limit = max(limit, backlogLimit)
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	// seenBacklog reports whether the look has seen a backlog: found at the
	// start, or taken by the reader since plus what waits in the socket;
	// at the limit (stalled), also a reader that has taken nothing since
	// the start while bytes wait, whom the machine has left unscheduled.
	// Seeing one, the look may wait backlogLimit from its start.
	seenBacklog := func(stalled bool) bool {
		if !backlog && sock != nil {
			took, pending := sock.read.Load()-read0, int64(socketPending(sock.raw))
			backlog = took+pending >= drainWindow || stalled && took == 0 && pending > 0
			if backlog && backlogLimit > limit {
				limit = backlogLimit
				timer.Reset(limit - time.Since(start))
			}
		}
		return backlog
	}
	for {
		for !caughtUp() && !d.c.decided.Load() && !d.pausedForGood() {
			select {
			case <-entered:
			case <-statusCh:
			case <-timer.C:
				// A slow or stalled reader: wait on, if backlogLimit
				// allows it (not while drainOff).
				if backlog || !seenBacklog(true) || time.Since(start) >= limit {
					return backlog, true
				}
			}
		}
		if d.c.decided.Load() || d.pausedForGood() || sock == nil {
			return backlog, false
		}
		if !seenBacklog(false) {
			return false, false
		}
		// Caught up after a backlog: wait until no byte came for quiet
		// (lookQuiet), counted from the last byte taken.
		read := sock.read.Load()
		wait := quiet
		if l.followGaps {
			wait = lookQuiet(quiet, sock.longestGap.Load())
		}
		quietTimer := time.NewTimer(wait - time.Duration(monoClock()-sock.lastAt.Load()))
	quietWait:
		for sock.read.Load() == read && !d.c.decided.Load() {
			select {
			case <-entered: // a Read entered: did one return bytes before it?
			case <-statusCh:
			case <-quietTimer.C:
				if socketPending(sock.raw) == 0 {
					return backlog, false
				}
				break quietWait // bytes came that the reader has yet to take
			case <-timer.C:
				quietTimer.Stop()
				return backlog, true
			}
		}
		quietTimer.Stop()
		target = sock.read.Load() + int64(socketPending(sock.raw))
	}
}

// caughtUp reports whether the reader waits in a Read of sock that it
// entered after sock had given target bytes; without a counted socket,
// whether it is in a Read at all. For a layered sock, whose count is not
// the socket's, whether it waits in a Read while nothing waits in the
// socket: the layer takes what the socket has before it waits for more.
func (t *trackedConn) caughtUp(sock *countingConn, target int64) bool {
	if sock == nil {
		return t.inRead.Load()
	}
	if sock.layered {
		return sock.inRead.Load() && socketPending(sock.raw) == 0
	}
	return sock.inRead.Load() && sock.readAtEntry.Load() >= target
}

func (c *Client) sendLooked() { c.input((*machine).sendLooked) }
