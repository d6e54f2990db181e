//go:build !js

package dualws

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// transportCanPause: natively the reader can stop reading, which applies
// TCP backpressure to the peer.
const transportCanPause = true

// nativeConn drives the client from a coder/websocket connection: one
// reader goroutine, a place in the keepalive queue (pingQueue), and a
// goroutine only while a close handshake or a ping is in progress.
type nativeConn struct {
	c   *Client
	ws  *websocket.Conn
	raw *trackedConn // the TCP connection under ws; closing it aborts everything

	inFlight atomic.Int64
	sendMu   sendLock // one Send at a time, taken with the Send's context
	// A Send looks for a close (awaitReader) after closeCheckSends Sends
	// or closeCheckEvery after the last look. The clock is read per Send:
	// a timer that marked the look due instead made idle threads of the
	// runtime spin (in a send flood, 20% more CPU and half the context
	// switches, against one monotonic clock read).
	epoch     time.Time // the monotonic origin of lastCheck
	lastCheck int64     // when the last look ended (ns since epoch); under sendMu
	// What the reader had taken when a look last ended quiet after a
	// backlog: takenLately counts only what it took after (recentReads).
	// Under sendMu.
	clearedRead int64

	// The Sends' frames are built here (writeDataFrame); under sendMu,
	// made by the first Send.
	frameBuf []byte
	maskKeys *rand.ChaCha8

	mu         sync.Mutex
	closerDone chan struct{}  // non-nil once the close handshake started
	closerWait chan struct{}  // made by a teardown that waits for the handshake to start; closed when it does
	pings      sync.WaitGroup // Add only under mu before tearingDown
	pingDue    int64          // when the next ping is due (monoClock); under keepalives.mu
	pingSlot   int32          // 1 + index in keepalives' heap, 0 when not queued; under keepalives.mu
	sinceCheck int32          // Sends since the last look; under sendMu

	pw pollWait // on Linux, a Receive's wait on the network poller (pollwake_linux.go); under c.mu

	// Used only by the reader goroutine. The scratch buffer is allocated
	// by the first message, so an idle connection does not hold it.
	scratch *[scratchSize]byte

	// The flags come last, packed: the struct then fits a smaller
	// allocation size class.
	closeSeen   atomic.Bool // the closer's handshake completed: both frames crossed
	drainOff    bool        // a backlog look was cut short: looks wait readerCatchUpMax at most (backlogLookLimit); under sendMu
	tearingDown bool        // the reader ended: no ping starts any more; under mu
	rawClosed   bool        // the teardown closed the socket: no close handshake starts any more; under mu
	probe       [1]byte     // the reader's
}

// platformProblem says what makes the URL, a handshake header or a
// subprotocol unusable natively, or returns "": what the browser's
// WebSocket constructor refuses (a port past 65535, a host with one of
// <>^|%, subprotocols that are not distinct tokens), a URL that Go's
// parser refuses (a malformed IPv6 host, a stray % in the path, which a
// browser would send as it is), and header fields that net/http would
// refuse to send. Left to the dial, they failed as "connection failed",
// which Redial tried again for ever.
func platformProblem(raw string, s *settings) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "invalid URL " + quote(raw) + ": " + err.Error()
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n > 65535 {
			return "invalid URL " + quote(raw) + ": the port must be 0 to 65535"
		}
	}
	if !strings.HasPrefix(u.Host, "[") && strings.ContainsAny(u.Hostname(), "<>%") { // Go's parser refuses ^ and | itself
		return "invalid URL " + quote(raw) + ": the host has a character browsers refuse"
	}
	for name, values := range s.header {
		if !isToken(name) {
			return "Options.Header: invalid header name " + quote(name)
		}
		for _, v := range values {
			for i := 0; i < len(v); i++ {
				if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
					return "Options.Header: the value of " + name + " contains a control character"
				}
			}
		}
	}
	for i, p := range s.subprotocols {
		if !isToken(p) {
			return "Options.Subprotocols: " + quote(p) + " is not a token (RFC 6455 4.1)"
		}
		if slices.Contains(s.subprotocols[:i], p) {
			return "Options.Subprotocols: " + quote(p) + " is offered twice"
		}
	}
	return ""
}

// isToken reports whether s is an HTTP token (RFC 9110 5.6.2), as header
// names and subprotocols must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// dialTransport opens the connection within the handshake timeout.
func dialTransport(parent context.Context, c *Client) error {
	ws, raw, err := dialWebSocket(parent, c.url, &c.cfg, c.alive)
	if err != nil {
		return err
	}
	d := &nativeConn{c: c, ws: ws, raw: raw}
	raw.driver = d
	d.epoch, d.lastCheck = time.Now(), -int64(closeCheckEvery)
	if c.cfg.readLimit < 0 {
		ws.SetReadLimit(-1)
	} else {
		// One byte over the limit, so the reader sees an oversized message
		// and closes with 1009 itself.
		ws.SetReadLimit(c.cfg.readLimit + 1)
	}
	c.t = d
	c.opened(ws.Subprotocol())
	d.schedulePing()
	pollConns.Add(1)
	go d.readLoop()
	return nil
}

func (d *nativeConn) readLoop() {
	peerClosed := false
	var batch readBatch
	for {
		typ, r, err := d.ws.Reader(context.Background())
		if err != nil {
			d.handOver(&batch)
			if peerClosed = d.peerCloseIn(err); !peerClosed {
				d.c.cfg.logger.Debug("dualws: read ended", "err", err)
				d.c.lost()
			}
			break
		}
		data, err := d.readMessage(r, d.raw.frames.takeMessageSize(d.raw.delivered.Load()+uint64(len(batch.msgs))))
		if err != nil {
			d.handOver(&batch)
		}
		if err != nil && d.peerCloseIn(err) {
			// Between the fragments of a message, which is dropped
			// unfinished, as browsers drop it.
			peerClosed = true
			break
		}
		if errors.Is(err, errTooBig) {
			if pc := d.raw.peerClose.Load(); pc != nil && pc.after == d.raw.delivered.Load() {
				// The peer's close came between the fragments of this
				// message and is decided: answer it, as coder/websocket
				// would have (its close handshake reads on to that frame).
				d.sendClose(pc.code, pc.reason, true)
				break
			}
			d.c.messageTooBig()
			break
		}
		if err == nil && d.raw.hasFailed(readFailed) {
			// coder/websocket reports io.EOF when the connection ends
			// inside a fragmented message; a browser delivers nothing.
			d.handOver(&batch)
			err = errors.New("connection ended inside a message")
		}
		if err != nil {
			d.c.cfg.logger.Debug("dualws: read failed", "err", err)
			d.c.lost()
			break
		}
		mt := MessageType(typ)
		if mt == Text && !utf8.Valid(data) {
			d.handOver(&batch)
			d.c.invalidText()
			break
		}
		batch.add(mt, data)
		if !batch.full() && d.raw.frames.msgEnds.Load() > d.raw.delivered.Load()+uint64(len(batch.msgs)) {
			continue // the next message is whole in the read buffer: no wait for the socket
		}
		d.handOver(&batch)
	}
	d.mu.Lock()
	d.tearingDown = true
	if keepalives.remove(d) {
		d.pings.Done()
	}
	d.mu.Unlock()
	if d.c.closeFrameRequested() {
		// Close decided before the reader's last input, which then did
		// nothing: it starts the handshake right after its decision, and
		// closing the socket first would lose its close frame. The channel
		// is made only here, so a connection does not carry it.
		d.mu.Lock()
		var started chan struct{}
		if d.closerDone == nil {
			d.closerWait = make(chan struct{})
			started = d.closerWait
		}
		d.mu.Unlock()
		if started != nil {
			<-started
		}
	}
	d.waitCloser()
	d.mu.Lock()
	d.rawClosed = true
	d.mu.Unlock()
	reset := d.raw.finishClose(min(d.c.cfg.closeTimeout, peerEndWait))
	if !peerClosed {
		// Releases a ping waiting for its pong. After the peer's close
		// frame coder/websocket has closed the connection itself (with
		// its reply, or in the Close waitCloser waited for), which
		// released any ping: there CloseNow would only build its error.
		d.ws.CloseNow()
	}
	d.pings.Wait()
	pollConns.Add(-1)
	// coder/websocket answers the peer's close frame itself; the handshake
	// is clean only if that answer was written, or our own close frame
	// was answered, and the peer then ended TCP without a reset.
	d.c.transportGone((peerClosed && !d.raw.hasFailed(writeFailed) || d.closeSeen.Load()) && !reset)
}

// received is a message a native reader has read, for deliverBatch.
type received struct {
	typ  MessageType
	data []byte
}

// deliverBatch queues msgs in order under one lock, up to the first that
// pauses reading (at least one). It returns how many it queued and
// whether reading must pause (waitResume says when to go on). It is the
// native reader's deliverAll: that one, for the browser, which cannot
// pause, takes binary payloads as they come and queues them all.
func (c *Client) deliverBatch(msgs []received) (n int, pause bool) {
	if c.cfg.heartbeat != nil && c.cfg.heartbeat.IsReply != nil {
		return 1, c.deliver(msgs[0].typ, msgs[0].data) // IsReply runs outside the lock
	}
	c.mu.Lock()
	for n < len(msgs) && !pause {
		c.m.message(msgs[n].typ, msgs[n].data)
		n++
		pause = c.m.paused
	}
	o := c.applyLocked()
	c.mu.Unlock()
	c.perform(o)
	return n, pause
}

// readBatch holds the messages the reader has read and not yet handed to
// the client: it reads on while the next message is whole in its buffer
// (frameChecker.msgEnds), at most readBatchMax messages and
// readBatchBytes, and hands them over under one lock (Client.deliverBatch).
// A flood of 32-byte messages cost the reader a lock, a machine step and
// a wake-up each: a tenth of its time.
type readBatch struct {
	msgs  []received
	bytes int
}

const (
	readBatchMax   = 32
	readBatchBytes = 4 << 10
)

func (b *readBatch) add(typ MessageType, data []byte) {
	b.msgs = append(b.msgs, received{typ, data})
	b.bytes += len(data)
}

func (b *readBatch) full() bool { return len(b.msgs) >= readBatchMax || b.bytes >= readBatchBytes }

// handOver hands the batch to the client, in order, each message counted
// in delivered before the peer's close may be decided (peerCloseIfDue).
// A message that pauses reading holds the rest until Receive makes room,
// as the socket would have.
func (d *nativeConn) handOver(b *readBatch) {
	msgs := b.msgs
	for len(msgs) > 0 {
		n, pause := d.c.deliverBatch(msgs)
		d.raw.delivered.Add(uint64(n))
		d.peerCloseIfDue()
		msgs = msgs[n:]
		if pause {
			d.wakeLook()
			d.c.waitResume()
		}
	}
	clear(b.msgs) // the batch's array keeps no message the application has taken
	b.msgs, b.bytes = b.msgs[:0], 0
}

// peerCloseIn reports whether err is coder/websocket's report of the
// peer's close frame (it has answered it), and if so decides that close.
func (d *nativeConn) peerCloseIn(err error) bool {
	ce := websocket.CloseError{}
	if !errors.As(err, &ce) {
		return false
	}
	d.c.peerClosed(StatusCode(ce.Code), ce.Reason)
	return true
}

// peerCloseIfDue decides the peer's close once its frame has passed the
// tracked connection and the reader has delivered every message before
// it. coder/websocket reports the close only after its answer, which
// waits for the frame a Send is writing: up to its 5 s limit when the peer
// does not read, while State said OPEN and Sends waited. A browser
// reports CLOSING at once (readyState); messages before the close come
// first, as there.
//
// coder/websocket's answer may then wait for a Send that a peer which
// stopped reading keeps blocked, up to its 5 s. A Send in progress is
// given min(CloseTimeout, peerEndWait) to finish, the bound the teardown
// puts on the peer's end of TCP, and is then cut by a write deadline; the
// close is not clean (the answer did not go out), as in a browser that
// discards what is queued after the peer's close.
func (d *nativeConn) peerCloseIfDue() {
	if pc := d.raw.peerClose.Load(); pc != nil && pc.after == d.raw.delivered.Load() {
		d.c.peerClosed(pc.code, pc.reason)
		if d.sendMu.held.Load() && d.raw.socket != nil {
			d.raw.socket.SetWriteDeadline(time.Now().Add(min(d.c.cfg.closeTimeout, peerEndWait)))
		}
	}
}

// peerEndWait bounds the wait for the peer's end of TCP after the close
// handshake (and CloseTimeout, when shorter): Chromium's wait. A peer that
// keeps TCP open delays CLOSED, and Close, by that much; Send is refused
// meanwhile.
const peerEndWait = 2 * time.Second

var errTooBig = errors.New("message over the read limit")

// readMessage reads a whole message, failing with errTooBig past
// ReadLimit. size is the message's length when its frame header told it
// (frameChecker.takeMessageSize), else 0: such a message is read into a
// buffer of that size, at most presizeMax, allocated once. A message that
// fits in the reader's scratch buffer is returned in a slice of its own
// size, so small messages cost the garbage collector their size, not a
// buffer's. Longer ones continue in a buffer that doubles as it fills.
// When a buffer is full, one byte is read into a probe first, so a message
// that exactly fills it ends without growing it.
func (d *nativeConn) readMessage(r io.Reader, size int) ([]byte, error) {
	limit := d.c.cfg.readLimit
	if size > 0 && (limit < 0 || int64(size) <= limit) {
		return d.readRest(r, make([]byte, 0, min(size, presizeMax)), limit)
	}
	if d.scratch == nil {
		d.scratch = new([scratchSize]byte)
	}
	n := 0
	for {
		var k int
		var err error
		if n < len(d.scratch) {
			k, err = r.Read(d.scratch[n:])
		} else if k, err = r.Read(d.probe[:]); k > 0 {
			break // longer than the scratch buffer
		}
		n += k
		if limit >= 0 && int64(n) > limit {
			return nil, errTooBig
		}
		if err == io.EOF || err == nil && n < len(d.scratch) && !d.raw.hasFailed(fragmentsCame) {
			// Short of the scratch buffer, a message in one frame is
			// whole: coder/websocket reads a frame's payload up to the
			// buffer with io.ReadFull. Its io.EOF would cost one more
			// Read, and a lock, per message.
			b := make([]byte, n)
			copy(b, d.scratch[:n])
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
	b := make([]byte, n+1, 2*len(d.scratch))
	copy(b, d.scratch[:n])
	b[n] = d.probe[0]
	if limit >= 0 && int64(len(b)) > limit {
		return nil, errTooBig
	}
	return d.readRest(r, b, limit)
}

// scratchSize is the reader's scratch buffer: a message up to this long
// is read there, then copied into a slice of its own size.
const scratchSize = 512

// presizeMax bounds the buffer a frame header's length gets before its
// payload has come: a peer that announces a long message and stalls holds
// no more than this of the reader's memory.
const presizeMax = 1 << 20

// readRest reads the rest of a message after b, growing b by doubling.
func (d *nativeConn) readRest(r io.Reader, b []byte, limit int64) ([]byte, error) {
	for {
		var k int
		var err error
		if len(b) < cap(b) {
			k, err = r.Read(b[len(b):cap(b)])
			b = b[:len(b)+k]
		} else if k, err = r.Read(d.probe[:]); k > 0 {
			grown := make([]byte, len(b), 2*cap(b))
			copy(grown, b)
			b = append(grown, d.probe[:k]...)
		}
		if limit >= 0 && int64(len(b)) > limit {
			return nil, errTooBig
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// write sends one message. The Send's context bounds the wait for an
// earlier Send; once the message is being written, a context that ends
// drops the connection (a partial frame cannot be taken back), and the
// client decides that status itself before the teardown. It uses no
// defer and no channel operation: this is the path of every Send.
func (d *nativeConn) write(ctx context.Context, typ MessageType, p []byte) error {
	if pollWakes {
		pollNudge(&d.pw)
	}
	if err := d.sendMu.lock(ctx, d.c); err != nil {
		if err == errStatusWhileWaiting {
			return errTransportClosing
		}
		return err
	}
	if d.sinceCheck++; sendCloseCheck && (d.sinceCheck >= closeCheckSends || closeCheckDue(int64(time.Since(d.epoch)), d.lastCheck)) {
		bytes, sinceLast, sinceBehind := d.raw.recentReads(d.clearedRead)
		lately, taken := takenLately(bytes, sinceLast, sinceBehind, d.raw.hasFailed(midMessage)), d.raw.taken()
		countsLately := lately && !d.drainOff // takenLately: not while drainOff
		var end quietEnd
		backlog, cut := d.awaitReader(look{
			quiet: drainQuiet, limit: readerCatchUpMax, backlogLimit: backlogLookLimit(d.drainOff),
			lately: countsLately, followGaps: !d.drainOff, end: &end,
		})
		d.lastCheck, d.sinceCheck = lookEnded(int64(time.Since(d.epoch)), backlog), 0
		if end.ok {
			d.clearedRead = d.raw.clearTaken(end)
		}
		d.drainOff = drainOffAfter(d.drainOff, backlog || streamGoesOn(d.drainOff, lately, sinceLast),
			cut || streamFollowed(countsLately, d.raw.taken() > taken))
	}
	var err error
	switch n := int64(len(p)); {
	case !d.c.sendAllowed() || d.readerHoldsEnd() || d.raw.hasFailed(messageCut):
		err = errTransportClosing
	case ctx.Done() == nil:
		d.inFlight.Add(n)
		err = d.writeMessage(typ, p)
	default:
		err = d.writeCtx(ctx, typ, p)
	}
	d.sendMu.unlock()
	return err
}

// readerHoldsEnd reports whether the reader has taken the peer's close
// frame, or the end of the connection, from the socket and has yet to act
// on it: a machine that leaves the reader unscheduled for milliseconds
// would otherwise let Sends through after a close that has reached the
// process. Send then waits for the reader's decision, as in the browser
// after readyState has left OPEN. A pause on the queue's count is lifted
// first (pausedForGood); not while paused at ReceiveQueueBytes, where the
// reader reaches the end only after Receive has made room.
func (d *nativeConn) readerHoldsEnd() bool {
	return d.raw.hasFailed(readFailed|closeFrameRead) && !d.pausedForGood()
}

// writeCtx is write's path for a context that can end. When ctx ends
// during the write, a write deadline cutWriteGrace later cuts it short; a
// message that went out whole meanwhile leaves the connection as it was
// (Send returns nil), and one cut short, which cannot be taken back, drops
// the connection (sendInterrupted). Aborting at once, as before, dropped
// connections whose message had gone out whole (a helper's attack: a
// shutdown that cancelled its sender's context, then closed with 1000,
// ended with 1006 in 22 to 76 of 100 runs); a deadline in the past still
// did, when it came before the write's system call (1 of 20 runs).
func (d *nativeConn) writeCtx(ctx context.Context, typ MessageType, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sock := d.raw.socket // nil under an HTTPClient whose transport is not an *http.Transport: no deadline, an abort
	cut := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		if sock != nil {
			sock.SetWriteDeadline(time.Now().Add(cutWriteGrace))
		} else {
			d.c.sendInterrupted()
		}
		close(cut)
	})
	d.inFlight.Add(int64(len(p)))
	err := d.writeMessage(typ, p)
	if !stop() {
		<-cut
		if err != nil || sock == nil {
			d.c.sendInterrupted()
			return ctx.Err()
		}
		sock.SetWriteDeadline(time.Time{}) // a control frame the deadline cut meanwhile dropped the connection (writeWhole)
	}
	return err
}

// cutWriteGrace is how long a Send's write may go on after its context
// ended: a write that is not blocked ends well within it, whole.
const cutWriteGrace = 5 * time.Millisecond

// fragmentSize bounds the frames of a native Send: a longer message goes
// out in fragments of this size (a text message's cut at a character's
// start), so that coder/websocket's pongs, pings and its answer to the
// peer's close go out between them: they go after the frame being
// written (trackedConn.Write), and a 64 MiB message in one frame, to a
// peer reading at 6 MB/s, held them for 10 s. Browsers answer pings during
// long sends too.
const fragmentSize = 64 << 10

// writeMessage writes one message, in fragments past fragmentSize, and
// takes its bytes out of inFlight (BufferedAmount) as they are written.
// Each fragment is one frame, written whole (writeDataFrame); control
// frames go between them (trackedConn.Write). A failure means the connection is
// ending: the reader must then reach its end, paused or not (sendFailed);
// one after the first fragment cuts the message, so no Send may follow
// (messageCut).
func (d *nativeConn) writeMessage(typ MessageType, p []byte) error {
	op := byte(typ)
	for first := true; ; first = false {
		n := fragmentCut(typ, p)
		fin := n == len(p)
		if err := d.writeDataFrame(fin, op, p[:n]); err != nil {
			if !first {
				d.raw.failed.Or(messageCut)
			}
			d.inFlight.Add(-int64(len(p)))
			d.sendFailed(err)
			return err
		}
		d.inFlight.Add(-int64(n))
		if fin {
			return nil
		}
		p, op = p[n:], opContinuation
	}
}

// sendFailed logs a failed write (the Send then waits for the close
// status) and feeds it to the machine.
func (d *nativeConn) sendFailed(err error) {
	d.c.cfg.logger.Debug("dualws: send failed, waiting for the close status", "err", err)
	d.c.sendFailed()
}

// fragmentCut returns the length of the next fragment of p: fragmentSize,
// or for text the start of the character there, so that a peer that
// checks UTF-8 frame by frame accepts it.
func fragmentCut(typ MessageType, p []byte) int {
	if len(p) <= fragmentSize {
		return len(p)
	}
	n := fragmentSize
	if typ == Text {
		for i := n; i > n-utf8.UTFMax && i > 0; i-- {
			if utf8.RuneStart(p[i]) {
				return i
			}
		}
	}
	return n
}

// sendClose runs coder/websocket's close handshake: in a goroutine, or
// with here (Close, whose caller waits for Done anyway) on the calling
// goroutine, which returns when the handshake has ended. The reader waits
// for it in its teardown.
func (d *nativeConn) sendClose(code StatusCode, reason string, here bool) {
	d.mu.Lock()
	if d.rawClosed || d.closerDone != nil {
		d.mu.Unlock()
		return
	}
	done := make(chan struct{})
	d.closerDone = done
	if d.closerWait != nil {
		close(d.closerWait)
	}
	d.mu.Unlock()
	if here {
		d.closeHandshake(code, reason, done)
	} else {
		go d.closeHandshake(code, reason, done)
	}
}

// closeHandshake is sendClose's work; it closes done when it ends.
func (d *nativeConn) closeHandshake(code StatusCode, reason string, done chan struct{}) {
	defer close(done)
	d.finishSend()
	err := d.ws.Close(websocket.StatusCode(code), reason)
	switch {
	case err == nil && !d.raw.hasFailed(closeFrameRead):
		// coder/websocket also returns nil when the socket was closed
		// under it (the application's own transport, say): no answer
		// came, and the reader's teardown decides a drop.
	case err == nil:
		d.closeSeen.Store(true)
		d.c.peerClosed(code, reason) // the peer echoed our code
	case websocket.CloseStatus(err) != -1:
		var ce websocket.CloseError
		errors.As(err, &ce)
		d.closeSeen.Store(true)
		d.c.peerClosed(StatusCode(ce.Code), ce.Reason)
	case errors.Is(err, context.DeadlineExceeded):
		// coder/websocket gives up after 5 s on its own: report it as
		// the close timeout it is, even when CloseTimeout is longer.
		d.c.closeTimedOut()
	}
	d.raw.Close() // after the peer's close frame only a half-close: the reader's teardown ends it
}

// finishSend waits, at most CloseTimeout, for a Send in progress to end
// before the client's close frame goes out, as a browser queues its close
// frame behind the data: coder/websocket would write it between two
// fragments of a long message, and the peer would drop the message. The
// status is decided by then, so no other Send starts writing.
func (d *nativeConn) finishSend() {
	if !d.sendMu.held.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.c.cfg.closeTimeout)
	if d.sendMu.lock(ctx, noStatus{}) == nil {
		d.sendMu.unlock()
	}
	cancel()
}

// waitCloser lets a close handshake in progress finish; the close timer
// bounds it.
func (d *nativeConn) waitCloser() {
	d.mu.Lock()
	done := d.closerDone
	d.mu.Unlock()
	if done != nil {
		<-done
	}
}

// abort drops the connection: the peer is presumed dead, so no courtesy
// frame is tried.
func (d *nativeConn) abort(bool, closeFrame) { d.raw.closeNow() }

func (d *nativeConn) bufferedAmount() int { return int(d.inFlight.Load()) }

// schedulePing arms the next keepalive ping, unless pings are off or the
// reader has ended.
func (d *nativeConn) schedulePing() {
	if d.c.cfg.pingInterval <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tearingDown {
		return
	}
	d.pings.Add(1)
	keepalives.add(d, pingDeadline(monoClock(), d.c.cfg.pingInterval))
}

// ping sends one ping and waits PingTimeout for the pong; no pong drops
// the connection with 1006 "keepalive timeout". A Send blocked on a peer
// that does not read does not hold the ping (trackedConn.Write queues it
// behind the frame being written); a ping whose own write takes 5 s has
// coder/websocket close the connection.
func (d *nativeConn) ping() {
	defer d.pings.Done()
	ctx, cancel := context.WithTimeout(context.Background(), d.c.cfg.pingTimeout)
	err := d.ws.Ping(ctx)
	timedOut := ctx.Err() != nil
	cancel()
	switch {
	case err == nil:
		d.c.alive()
		d.schedulePing()
	case timedOut:
		d.c.keepaliveTimeout()
	default:
		d.c.cfg.logger.Debug("dualws: ping failed", "err", err)
	}
}
