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
	// lookCleared: a look ended quiet (clearTaken), so the reader's next
	// Read starts its gaps afresh (the gap before it was the look's own
	// wait, with the Sends held) and asks the kernel again whether it is
	// behind, whenever the last finding was.
	lookCleared atomic.Bool
	entered     chan struct{}

	// For a look (takenLately, lookQuiet): read as it was when the
	// previous half of recentSpan began, so that read minus it is what the
	// reader took lately; the longest gap between two of its Reads that
	// returned bytes in that time; when (monoClock) the last one returned.
	// The halves are the reader's own.
	readBefore, longestGap, lastAt atomic.Int64
	half                           recentHalves

	// For takenLately: when (monoClock) a Read last found its reader
	// behind the socket (readerBehind), asked among Reads that filled
	// fullReadMin bytes or more; when the next may ask (the reader's own).
	behindAt   atomic.Int64
	nextSample int64
}

// A Read that fills its buffer, of fullReadMin bytes or more, asks the
// kernel what it left in the socket and the socket's receive buffer size
// (socketBytes, two system calls): again at most behindSampleEvery later,
// so that a flood its reader keeps up with costs two system calls per
// 250 µs, or behindRecheck later once it has found the reader behind,
// which keeps behindAt within recentSpan while a flood goes on, or at its
// next full Read after a look ended quiet (lookCleared). A window that
// holds a close back is one a slow reader takes for longer than that.
// Smaller buffers are bufio's refills after a partial frame; a message's
// payload read straight into its buffer is rarely a full Read, and counts
// through midMessage instead. Through a layer of its own (layered: a
// tls.Conn returns one record's plaintext a Read, and never fills a
// buffer), any Read asks, at the same pace.
const (
	fullReadMin       = 1 << 10
	behindSampleEvery = 250 * time.Microsecond
	behindRecheck     = recentSpan / 5
)

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
		now := monoClock()
		c.noteTaken(int64(n), read, now)
		if (c.layered || n == len(p) && n >= fullReadMin) && now >= c.nextSample {
			c.nextSample = now + int64(behindSampleEvery)
			if readerBehind(socketBytes(c.raw)) {
				c.behindAt.Store(now)
				c.nextSample = now + int64(behindRecheck)
			}
		}
	}
	return n, err
}

// noteTaken records that a Read returned n bytes at now (monoClock), read
// being the count after them: one store a Read, more once a half.
func (c *countingConn) noteTaken(n, read, now int64) {
	h := &c.half
	cleared := c.lookCleared.Load() && c.lookCleared.Swap(false)
	if cleared {
		h.curGap, h.prevGap = 0, 0
		c.longestGap.Store(0)
		c.nextSample = 0
	}
	if since := now - h.start; since >= int64(recentSpan)/2 {
		before, gap := h.read, h.curGap
		if since >= int64(recentSpan) {
			before, gap = read-n, 0
		}
		c.readBefore.Store(before)
		h.start, h.read, h.prevGap, h.curGap = now, read-n, gap, 0
		c.longestGap.Store(gap)
	}
	if last := c.lastAt.Load(); !cleared && last != 0 && now-last < int64(recentSpan) && now-last > h.curGap { // after a clear, this Read's gap was the look's wait
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
// the last recentSpan, after it had taken cleared bytes (clearTaken), how
// long ago (monoClock) it last took bytes, and how long ago it was last
// found behind the socket; none, long ago, without a counted socket.
func (t *trackedConn) recentReads(cleared int64) (bytes, sinceLast, sinceBehind int64) {
	sock, _ := t.socket.(*countingConn)
	if sock == nil {
		return 0, math.MaxInt64, math.MaxInt64
	}
	now := monoClock()
	sinceBehind = math.MaxInt64
	if at := sock.behindAt.Load(); at != 0 {
		sinceBehind = now - at
	}
	return sock.read.Load() - max(sock.readBefore.Load(), cleared), now - sock.lastAt.Load(), sinceBehind
}

// clearTaken is for a look that ended quiet after a backlog (end):
// takenLately no longer counts what the reader had taken then, nor its
// falling behind before then, and lookQuiet not the gaps between its
// Reads, nor the look's own wait (lookCleared). It returns what the reader
// had taken, for recentReads. Without it a request and response stream of
// 32 KiB messages counted the same bytes at each Send's look, 8 ms a round
// trip, and each look's wait, counted as the reader's gap, doubled the
// next one's.
func (t *trackedConn) clearTaken(end quietEnd) int64 {
	sock, _ := t.socket.(*countingConn)
	if sock == nil {
		return 0
	}
	if at := sock.behindAt.Load(); at != 0 && at <= end.at {
		sock.behindAt.CompareAndSwap(at, 0) // not a Read's newer finding
	}
	sock.lookCleared.Store(true)
	return end.read
}

// quietEnd is where a look that saw a backlog ended quiet: the reader's
// count (countingConn.read) and the time (monoClock).
type quietEnd struct {
	read, at int64
	ok       bool
}

// look is what a Send's look may wait for (awaitReader).
type look struct {
	quiet, limit, backlogLimit time.Duration
	lately                     bool      // the reader took a backlog just before (takenLately)
	followGaps                 bool      // the quiet period stretches with the reader's gaps (lookQuiet)
	end                        *quietEnd // if not nil, set when the look ends quiet after a backlog
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
					if l.end != nil {
						*l.end = quietEnd{read: read, at: monoClock(), ok: true}
					}
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
