// This file is the state machine: every rule of the README's semantics
// table lives here, once. It is pure: no goroutines, locks, clocks, timers,
// channels or I/O. It is fed inputs (the methods below) and answers with an
// output that Client carries out: transitions to report, a close frame to
// send, the connection to abort, timers to arm or stop, reading to pause or
// resume. Client (client.go) wraps it with a lock; the drivers
// (client_native.go, client_js.go) turn platform events into its inputs.

package dualws

import "time"

// Statuses the machine decides locally.
var (
	statusDropped         = CloseStatus{Code: StatusAbnormalClosure, Remote: true}
	statusCloseTimeout    = CloseStatus{Code: StatusAbnormalClosure, Reason: "close timeout"}
	statusKeepalive       = CloseStatus{Code: StatusAbnormalClosure, Reason: "keepalive timeout"}
	statusHeartbeat       = CloseStatus{Code: StatusAbnormalClosure, Reason: "heartbeat timeout"}
	statusSendInterrupted = CloseStatus{Code: StatusAbnormalClosure, Reason: "send interrupted mid-message"}
	statusTooBig          = CloseStatus{Code: StatusMessageTooBig, Reason: "message too big"}
	statusOverflow        = CloseStatus{Code: StatusPolicyViolation, Reason: "receive queue overflow"}
	// frameInvalidText is what the peer is told after invalid UTF-8; the
	// application sees statusDropped, as a browser script does.
	frameInvalidText = closeFrame{Code: StatusInvalidFramePayloadData, Reason: "invalid UTF-8 in text message"}
	// frameHeartbeat is the courtesy close frame after a heartbeat timeout.
	frameHeartbeat = closeFrame{Code: 4000, Reason: "heartbeat timeout"}
)

// sendHighWater bounds the bytes a browser may hold for sending: Send waits
// while more than this is queued, as a native Send waits for the socket.
// 4 MiB, not 1: each wait is at least a 1 ms timer, and Firefox drains
// 1 MiB in under 2 ms, so a 1 MiB window left the socket idle between
// waits (send 64 KiB at 0.43–0.47× plain JS, 0.88× with 4 MiB). What is
// still queued when the peer's close arrives is lost, so the window is
// no larger than that.
const sendHighWater = 4 << 20

// sendMustWait reports whether a Send must wait for the transport to drain
// before it returns, given the bytes the transport still holds.
func sendMustWait(buffered int) bool { return buffered > sendHighWater }

// A close that has reached the machine but not yet the client is looked
// for before a Send, at most once per closeCheckEvery of sending, and
// natively also every closeCheckSends Sends (natively the reader is given
// at most readerCatchUpMax to take what is in the socket; in the browser
// the event loop runs until quietTurns turns in a row bring no socket
// event, and the first time until at least openSettle after the open
// event, then as a drain: drainsAtOnce). A backlog of drainWindow bytes
// may hide a close behind it, still on its way: natively a look that found one in the socket, or saw the
// reader take one (also lately, having fallen behind: takenLately), or reached readerCatchUpMax with the reader having
// taken nothing while bytes waited (a reader the machine left
// unscheduled), also waits, once caught up, until no byte came for
// drainQuiet, taking up to maxDrain in all (backlogLookLimit); in the
// browser, once a look has taken that much, its turns go on until the
// drain is quiet (drainQuietFor), since Chromium reads from the network
// only as the page takes data, at most maxDrain. A stream never
// goes quiet: a long look or drain cut short is not tried again until one
// has ended quiet without a backlog (drainOffAfter). The drivers carry
// these out.
const (
	closeCheckEvery  = time.Millisecond
	closeCheckSends  = 32 // natively, also after this many Sends: a flood checks often, at one ppoll per check
	readerCatchUpMax = 5 * time.Millisecond
	quietTurns       = 2
	openSettle       = 5 * time.Millisecond
	drainWindow      = 64 << 10
	drainQuiet       = time.Millisecond
	drainQuietJS     = 4 * time.Millisecond // Chromium's deliveries of a backlog came over 2 ms apart
	maxDrain         = 50 * time.Millisecond
)

// closeCheckDue reports whether a Send starting at now must look for a
// close, the last look having ended at last: nanoseconds of a monotonic
// clock (natively since the connection's epoch, never being
// -closeCheckEvery; in the browser jsClock truncated to milliseconds,
// never being 0).
func closeCheckDue(now, last int64) bool { return now-last >= int64(closeCheckEvery) }

// lookEnded returns what counts, for closeCheckDue, as the end of a native
// look that ended at now: the time itself, or after a backlog "never", so
// that the next Send looks again for what was still on its way.
func lookEnded(now int64, backlog bool) int64 {
	if backlog {
		return -int64(closeCheckEvery)
	}
	return now
}

// backlogLookLimit returns how long a native look that has seen a backlog
// may wait (one without waits readerCatchUpMax at most): maxDrain, since a
// reader slowed by the machine (its load, the program's own busy
// goroutines, -race) may take longer than readerCatchUpMax to reach a
// close behind a backlog; readerCatchUpMax while drainOff.
func backlogLookLimit(drainOff bool) time.Duration {
	if drainOff {
		return readerCatchUpMax
	}
	return maxDrain
}

// drainOffAfter returns drainOff after a look (natively) or a yield (in
// the browser) that saw a backlog or not and was cut short by its limit
// or not. A backlog look cut short (a stream faster than the client, never
// caught up and quiet) turns the long wait or drain off, so that such a
// stream costs one maxDrain, not one per Send; only a look that ends
// caught up without a backlog turns it on again (a quiet gap within a
// stream does not). Anything else leaves it as it was.
func drainOffAfter(drainOff, backlog, cut bool) bool {
	switch {
	case backlog && cut:
		return true
	case !backlog && !cut:
		return false
	}
	return drainOff
}

// A native look also counts as a backlog what the reader has taken lately:
// drainWindow bytes or more within about recentSpan, the last of them
// less than recentSpan ago. A burst that ended just before the look may
// have its tail, and a close behind it, still in the peer's kernel, held
// back by TCP's window (under load and -race, the seed matrix's idle
// backlog cell accepted sends 7 ms after the close, 1 run in 300, with
// the look finding 6 KiB in the socket and the close 8 bytes behind
// them). Not while drainOff: a stream would otherwise cost a cut look
// each time the drain came back on.
const recentSpan = maxDrain

// takenLately reports whether a native look must treat the bytes the
// reader took lately as a backlog: drainWindow or more within about
// recentSpan (since the last look that ended quiet after a backlog), the
// last sinceLast nanoseconds ago, by a reader that fell behind the socket
// (readerBehind) sinceBehind nanoseconds ago, within recentSpan, or that
// stopped inside a message (midMessage), whose payload it reads straight
// into the message's buffer, in Reads that never fill it. Only a reader
// behind closes TCP's window, which holds a close back in the peer's
// kernel: one that empties the socket as bytes come, as a
// request-and-response stream's does, holds nothing back, and a close
// that the peer's own pacing or congestion control keeps behind its data
// is still on its way (README). Counting every drainWindow taken stalled
// such streams: each look waited for a quiet period that its own held
// Sends made, 2 ms a round trip for echoes of 4 KiB, 17 ms for 64 KiB.
func takenLately(bytes, sinceLast, sinceBehind int64, midMessage bool) bool {
	return bytes >= drainWindow && sinceLast < int64(recentSpan) && (sinceBehind < int64(recentSpan) || midMessage)
}

// readerBehind reports whether a native reader whose Read filled its
// buffer, with pending bytes left in the socket after it, has fallen
// behind the socket: pending is half the socket's receive buffer (rcvbuf,
// whose size TCP's window follows; on the benchmark VM 128 KiB, which held
// 125 KiB before the window closed) or more, or behindMin when the size is
// not known, or the platform cannot tell (known false), for which any
// full Read counts. A reader that takes messages of 64 KiB as they come
// is not behind so; at 32 KiB each 64 KiB echo waited 1 ms for quiet.
func readerBehind(pending, rcvbuf int, known bool) bool {
	if rcvbuf <= 0 {
		rcvbuf = 2 * behindMin
	}
	return !known || pending >= rcvbuf/2
}

const behindMin = drainWindow / 2

// streamGoesOn reports whether a native look counts, for drainOffAfter,
// as one that saw a backlog, besides what it waited for: the reader took
// a backlog lately, or, while drainOff, it took any byte within
// recentSpan. A stream of 2 MB/s brings 64 KiB in some 50 ms windows and
// not in others; with takenLately alone the drain came back on in the
// others, and each came back cost a 50 ms look (46 in 3 s of Sends every
// millisecond). So the drain comes back on only after recentSpan of
// silence.
func streamGoesOn(drainOff, lately bool, sinceLast int64) bool {
	return lately || drainOff && sinceLast < int64(recentSpan)
}

// streamFollowed reports whether a native look that counted what the
// reader took lately as a backlog (lately) counts, for drainOffAfter, as
// cut short: bytes came while it waited (tookMore), so the backlog was a
// stream's, not a burst's end. Ending quiet between the bursts of a paced
// stream, such looks made a third of the Sends under 50 MB/s wait 5 to
// 40 ms; now one look per stream does.
func streamFollowed(lately, tookMore bool) bool { return lately && tookMore }

// lookQuiet returns how long a native look that has seen a backlog waits,
// once caught up, with no byte coming: quiet, or twice the longest gap
// between two of the reader's Reads within recentSpan if longer, at most
// maxDrain. A loaded machine delivers a backlog in bursts (the reader
// above waited 4.2 ms between two of them), and a fixed quiet period ended
// the look between the last two.
func lookQuiet(quiet time.Duration, longestGap int64) time.Duration {
	return max(quiet, min(2*time.Duration(longestGap), maxDrain))
}

// drainQuietFor reports whether a browser drain has gone quiet: quietTurns
// turns in a row brought no socket event, and none came for drainQuietJS
// or twice the longest gap between two deliveries of this drain, if
// longer. Time alone is not enough: on a loaded machine one turn took 6 ms,
// and Chromium delivered the rest of a backlog, and the close behind it,
// after that single quiet turn. Nanoseconds.
func drainQuietFor(quietInRow int, sinceEvent, longestGap int64) bool {
	return quietInRow >= quietTurns && sinceEvent >= max(int64(drainQuietJS), 2*longestGap)
}

// drainsAtOnce reports whether a browser yield drains from its first turn,
// whatever it takes: the first yield after the open event (not yet
// settled), unless a drain cut short turned drains off. A page that
// computes right after Dial holds up the browser's start-up exchange with
// its network process, which moves only while the event loop runs: in
// Chromium a close written with the handshake, or behind the head of a
// burst, came more than two quiet turns after such a page yielded.
func drainsAtOnce(settled, drainOff bool) bool { return !settled && !drainOff }

// scriptCloseCode maps a close code to one a browser script may send:
// 1000 and 3000–4999 pass; others the client decides (1008, 1009) become
// 4000 plus their last three digits.
func scriptCloseCode(code StatusCode) StatusCode {
	if code == StatusNormalClosure || (code >= 3000 && code <= 4999) {
		return code
	}
	return 4000 + code%1000
}

type closeFrame struct {
	_      [0]func() // not comparable (see machineConfig)
	Code   StatusCode
	Reason string
}

type message struct {
	typ  MessageType
	data []byte
}

// transition is a state change the wrapper reports to OnStateChange.
type transition struct {
	_        [0]func() // not comparable (see machineConfig)
	from, to State
	status   CloseStatus
}

// output is what one input asks the wrapper to do. The zero value asks
// nothing; the hot path (a message arriving) allocates nothing.
//
// Its fields, and machine's, are ordered by size, the flags last, so that
// a Client fits the 576 B allocation size class (see Client).
type output struct {
	_      [0]func() // not comparable: no equality function in the bundle (see machineConfig)
	trans  [2]transition
	ntrans int
	frame  closeFrame // sendClose's frame, or abort's with courtesy
	// armHeartbeat: arm the heartbeat timer for this long (heartbeatFired).
	armHeartbeat time.Duration
	// decided: the close status was decided by this input; wake everything
	// waiting for it.
	decided bool
	// final: CLOSED was reached; stop every timer.
	final bool
	// sendClose: start the closing handshake with frame.
	sendClose bool
	// abort: drop the connection now. With courtesy, the driver may first
	// try to send frame, without waiting for an answer.
	abort    bool
	courtesy bool
	// armClose: arm the close timer (closeTimerFired when it fires).
	armClose bool
	// sendHeartbeat: send the heartbeat message.
	sendHeartbeat bool
	// pause, resume: stop or restart reading from the transport.
	pause, resume bool
	// queued: a message was queued; wake a receiver.
	queued bool
}

// machineConfig is the part of the options the rules need.
type machineConfig struct {
	// A zero-size func array makes the type not comparable, as in
	// syscall/js.Value, so the compiler generates no equality function
	// for it; the browser bundle would carry one (with its table entries)
	// for every comparable struct type it links. Nothing compares these.
	_ [0]func()

	receiveQueue      int  // messages waiting before reading pauses
	receiveQueueBytes int  // bytes waiting before reading pauses, or, when the transport cannot pause, before the queue overflows
	canPause          bool // the transport can stop reading (natively); the browser cannot
	scriptCodes       bool // only codes a browser script may send go on the wire
	heartbeat         *Heartbeat
}

// machine holds a connection's state. Its zero value with a config is a
// connection in CONNECTING.
type machine struct {
	cfg machineConfig

	// status is the close status, immutable once decided: who closes and
	// why. final is the status at CLOSED, immutable once set.
	status CloseStatus
	final  CloseStatus

	queue []message
	head  int
	bytes int

	out output

	state     State
	decided   bool
	failed    bool // decided by a failure: no CLOSING, the outcome is fixed
	timedOut  bool // the close handshake timed out
	closeRecv bool // the peer's close frame arrived
	paused    bool
	sendGone  bool  // a Send failed on the transport: reading no longer pauses (sendFailed)
	countOff  uint8 // reading pauses only at receiveQueueBytes: countOffForGood (handedBack) or countOffUntilReceive (sendLooked)

	// heartbeat: beatSent is true while waiting for an answer to a
	// heartbeat; heard records that something arrived since the timer was
	// armed.
	beatSent bool
	heard    bool
}

func newMachine(cfg machineConfig) machine { return machine{cfg: cfg} }

// take returns the output of the last input and clears it.
func (m *machine) take() output {
	o := m.out
	m.out = output{}
	return o
}

func (m *machine) transition(to State, st CloseStatus) {
	m.out.trans[m.out.ntrans] = transition{from: m.state, to: to, status: st}
	m.out.ntrans++
	m.state = to
}

func (m *machine) decide(st CloseStatus) {
	m.status = st
	m.decided = true
	m.out.decided = true
}

// sendAllowed reports whether Send may write: the connection is OPEN and no
// close status is decided. Once a close or drop has reached the machine,
// nothing more is sent.
func (m *machine) sendAllowed() bool { return m.state == Open && !m.decided }

// currentStatus returns the final status once CLOSED, else the decided one.
func (m *machine) currentStatus() (CloseStatus, bool) {
	if m.state == Closed {
		return m.final, true
	}
	return m.status, m.decided
}

// Inputs.

// opened: the opening handshake succeeded.
func (m *machine) opened() {
	if m.state != Connecting {
		return
	}
	m.transition(Open, CloseStatus{})
	if hb := m.cfg.heartbeat; hb != nil {
		m.out.armHeartbeat = hb.Interval
	}
}

// dialFailed: the opening handshake failed.
func (m *machine) dialFailed() {
	if m.state != Connecting {
		return
	}
	m.decide(statusDropped)
	m.finish(statusDropped)
}

// message: a data message arrived. It is discarded once a status is
// decided: the peer's close frame comes after all its messages, and after
// Close browsers drop what arrives.
func (m *machine) message(typ MessageType, data []byte) {
	if m.state != Open || m.decided {
		return
	}
	m.heard = true
	if len(m.queue) == cap(m.queue) {
		// Full: the append grows the array and copies into the new one
		// only the messages still waiting, so that a queue that never
		// empties (a slow consumer) does not keep the taken ones' slots.
		m.queue, m.head = m.queue[m.head:], 0
	}
	m.queue = append(m.queue, message{typ: typ, data: data})
	m.bytes += len(data) + queuedMessageCost
	m.out.queued = true
	switch {
	case m.cfg.canPause:
		if !m.paused && !m.sendGone && (m.countOff == 0 && len(m.queue)-m.head >= m.cfg.receiveQueue || m.bytes >= m.cfg.receiveQueueBytes) {
			m.paused = true
			m.out.pause = true
		}
	case m.bytes > m.cfg.receiveQueueBytes:
		// The browser cannot stop reading: close rather than grow without
		// bound. What was queued stays readable.
		m.closeWith(statusOverflow)
	}
}

// queuedMessageCost is what a waiting message counts against
// receiveQueueBytes besides its payload: its slot in the queue. Empty
// messages are bounded too: in the browser, which cannot pause, that
// bound is the only one (20,000 empty messages queued there under a
// 1,000-byte limit).
const queuedMessageCost = 32 // unsafe.Sizeof(message{}) on 64-bit platforms, wasm included

// queueKeepCap is the most slots an emptied receive queue keeps: a burst
// that the browser, which cannot pause, queued whole (or a native reader
// after handedBack or sendLooked) grew it up to ReceiveQueueBytes/32 slots, 17 MB of Go
// heap kept for the connection's life after 500,000 empty messages (a
// helper's soak test). 16,384 slots (512 KiB) keep the arrays of the
// batches a browser delivers at full speed (WebKit's were 12,500).
const queueKeepCap = 1 << 14

// receive takes the next queued message for Receive.
func (m *machine) receive() (message, bool) {
	if m.head == len(m.queue) {
		return message{}, false
	}
	msg := m.queue[m.head]
	m.queue[m.head] = message{}
	m.head++
	m.bytes -= len(msg.data) + queuedMessageCost
	if m.head == len(m.queue) {
		m.queue, m.head = m.queue[:0], 0
		if cap(m.queue) > queueKeepCap {
			m.queue = nil // a burst's array is not kept for the connection's life
		}
	}
	if m.countOff == countOffUntilReceive {
		m.countOff = 0 // the application receives: the count bounds the queue again
	}
	if m.paused && (m.countOff != 0 || len(m.queue)-m.head < m.cfg.receiveQueue) && m.bytes < m.cfg.receiveQueueBytes {
		m.paused = false
		m.out.resume = true
	}
	return msg, true
}

// queueLen is the number of messages waiting for Receive.
func (m *machine) queueLen() int { return len(m.queue) - m.head }

// peerClose: the peer's close frame arrived. If the client had not
// decided a status, this moves OPEN → CLOSING with the peer's code.
func (m *machine) peerClose(code StatusCode, reason string) {
	if m.state != Open && m.state != Closing {
		return
	}
	m.closeRecv = true
	m.heard = true
	if m.decided || m.state != Open {
		return
	}
	st := CloseStatus{Code: code, Reason: reason, Remote: true}
	m.decide(st)
	m.transition(Closing, st)
}

// closeFrameRequested reports whether the client asked for a close frame
// of its own (Close, 1009, 1008) while OPEN: the driver starts that
// handshake after the decision, and its reader must not close the socket
// before it has.
func (m *machine) closeFrameRequested() bool { return m.state == Closing && !m.status.Remote }

// closeEvent: the transport reports, at once, the peer's close frame (code
// and reason; 1006 means none arrived, since 1006 never goes on the wire)
// and the end of the connection. The browser's close event.
func (m *machine) closeEvent(code StatusCode, reason string, clean bool) {
	switch {
	case code == StatusAbnormalClosure:
	case code != StatusNoStatusRcvd && !peerWireCode(code):
		// A code the peer may not send (999, 2999, 5000): Chromium and
		// Firefox report it as a clean close; natively, and in WebKit,
		// the connection fails. The fail is what all report here.
		clean = false
	default:
		m.peerClose(code, reason)
	}
	m.transportGone(clean)
}

// closeWith starts the closing handshake with st, decided locally: the
// application's Close, a message over ReadLimit (1009), or an overflowing
// receive queue (1008). It does nothing once a status is decided.
func (m *machine) closeWith(st CloseStatus) {
	if m.state != Open || m.decided {
		return
	}
	m.decide(st)
	m.transition(Closing, st)
	m.out.sendClose = true
	m.out.frame = closeFrame{Code: st.Code, Reason: st.Reason}
	if m.cfg.scriptCodes {
		m.out.frame.Code = scriptCloseCode(st.Code)
	}
	m.out.armClose = true
}

// tooBig: a message over ReadLimit arrived.
func (m *machine) tooBig() { m.closeWith(statusTooBig) }

// fail fixes a final status without a closing handshake the application
// sees: State goes from OPEN straight to CLOSED once the transport is gone.
func (m *machine) fail(st CloseStatus) bool {
	if m.state != Open || m.decided {
		return false
	}
	m.decide(st)
	m.failed = true
	return true
}

// invalidText: a text message was not valid UTF-8. The application sees
// what a browser script sees (1006, not clean, Remote); the peer is told
// 1007, and the close timer bounds the wait for its answer.
func (m *machine) invalidText() {
	if m.fail(statusDropped) {
		m.out.sendClose = true
		m.out.frame = frameInvalidText
		m.out.armClose = true
	}
}

// keepaliveTimeout: a ping went unanswered for PingTimeout.
func (m *machine) keepaliveTimeout() {
	if m.fail(statusKeepalive) {
		m.out.abort = true
	}
}

// sendInterrupted: a Send's context ended in the middle of a message, which
// cannot be taken back: the client drops the connection, decided locally.
func (m *machine) sendInterrupted() {
	if m.fail(statusSendInterrupted) {
		m.out.abort = true
	}
}

// sendFailed: a native Send failed on the transport.
// The connection is ending, and the peer can send no more than what is on
// its way, so reading no longer pauses: a reader paused on a full queue
// reaches the peer's close, and the messages before it, instead of the
// Send waiting for a status only it can bring (statusOverdue, a drop,
// which lost them). A paused reader resumes.
func (m *machine) sendFailed() {
	m.sendGone = true
	if m.paused {
		m.paused = false
		m.out.resume = true
	}
}

// handedBack: the application handed the client back while it was open
// (Redial's loop body returned), so no Receive may come for a while, and a
// reader paused on a full queue would never reach the close that Redial
// waits for. Reading no longer pauses at receiveQueue messages, only at
// receiveQueueBytes (still backpressure for a goroutine the body left
// receiving); a reader paused by the count resumes.
func (m *machine) handedBack() { m.liftCount(countOffForGood) }

// sendLooked: a native Send's look for a close found reading paused. The
// application sends without receiving, and a close behind the full queue
// would stay unread, the Send accepted after it, where a browser, which
// reads on, refuses it. As after handedBack, until the next Receive.
func (m *machine) sendLooked() { m.liftCount(countOffUntilReceive) }

// The values of machine.countOff.
const (
	countOffUntilReceive = 1
	countOffForGood      = 2
)

func (m *machine) liftCount(how uint8) {
	m.countOff = max(m.countOff, how)
	if m.paused && m.bytes < m.cfg.receiveQueueBytes {
		m.paused = false
		m.out.resume = true
	}
}

// statusOverdue: a Send failed and no status came within CloseTimeout: the
// connection is taken as dropped.
func (m *machine) statusOverdue() {
	if m.fail(statusDropped) {
		m.out.abort = true
	}
}

// lost: the transport ended without a close frame (read error, EOF). The
// drop is decided now, before the driver's teardown, so no Send is
// accepted meanwhile.
func (m *machine) lost() {
	if m.state != Open || m.decided {
		return
	}
	m.decide(statusDropped)
	m.failed = true
}

// alive: the peer proved alive without a data message for Receive (natively
// a pong; a heartbeat reply, which Heartbeat.IsReply consumes).
func (m *machine) alive() { m.heard = true }

// heartbeatFired: the heartbeat timer fired. Idle for Interval: send the
// heartbeat and wait Timeout; nothing heard for Timeout after it: the peer
// is dead.
func (m *machine) heartbeatFired() {
	hb := m.cfg.heartbeat
	if hb == nil || m.state != Open || m.decided {
		return
	}
	switch {
	case m.heard:
		m.heard, m.beatSent = false, false
		m.out.armHeartbeat = hb.Interval
	case !m.beatSent:
		m.beatSent = true
		m.out.sendHeartbeat = true
		m.out.armHeartbeat = hb.Timeout
	default:
		m.fail(statusHeartbeat)
		m.out.abort = true
		m.out.courtesy = true
		m.out.frame = frameHeartbeat
	}
}

// closeTimerFired: the closing handshake did not finish in CloseTimeout.
// Once the peer's close frame has come, the handshake is done: only the
// peer's end of TCP is awaited, which the driver bounds itself.
func (m *machine) closeTimerFired() {
	if m.state == Closed || !m.decided || m.closeRecv {
		return
	}
	m.timedOut = true
	m.out.abort = true
}

// transportGone is the driver's last input: the connection is gone and the
// driver's goroutines have ended. clean reports that the transport saw
// close frames go both ways. It decides the final status and moves to
// CLOSED.
func (m *machine) transportGone(clean bool) {
	if m.state == Closed {
		return
	}
	st := m.status
	switch {
	case !m.decided:
		st = statusDropped
		m.decide(st)
	case m.failed:
	case m.timedOut:
		st = statusCloseTimeout
	case clean && m.closeRecv:
		st.WasClean = true
	case st.Remote:
		// The peer's close frame arrived but the handshake did not finish
		// (in the browser: data still queued was discarded). Browsers keep
		// the peer's code and report it not clean.
	default:
		// The client started closing and the connection dropped.
		st = statusDropped
	}
	m.finish(st)
}

func (m *machine) finish(st CloseStatus) {
	m.final = st
	m.transition(Closed, st)
	m.out.final = true
	if m.paused {
		m.paused = false
		m.out.resume = true
	}
}
