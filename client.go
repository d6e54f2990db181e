// This file is the thin concurrent wrapper around the state machine
// (machine.go): it locks, feeds an input, and carries out the output
// (timers, the transport, OnStateChange, waking waiters). It holds no rule
// of its own. client_native.go (coder/websocket) and client_js.go (the
// browser's WebSocket) only translate platform events into inputs.

package dualws

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// MessageType is the type of a data message.
type MessageType int

const (
	// Text is a UTF-8 text message.
	Text MessageType = 1
	// Binary is a binary message.
	Binary MessageType = 2
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case Text:
		return "text"
	case Binary:
		return "binary"
	}
	return "MessageType(" + itoa(int(t)) + ")"
}

// transport is what a platform driver provides to the wrapper.
type transport interface {
	// write sends one message. It returns errTransportClosing itself,
	// never wrapped (Send compares with ==), when the platform knows the
	// connection is closing, any other error when it failed.
	write(ctx context.Context, typ MessageType, p []byte) error
	// sendClose starts the closing handshake on the wire; the driver
	// reports the outcome with its inputs. It returns at once, or with
	// here (Close's call, which waits for Done anyway) natively only once
	// the handshake has ended, having run it on the calling goroutine.
	sendClose(code StatusCode, reason string, here bool)
	// abort drops the connection now, after trying to send frame without
	// waiting when courtesy is set. The driver then reports transportGone,
	// at once or from its reader.
	abort(courtesy bool, frame closeFrame)
	bufferedAmount() int
}

// errTransportClosing is returned by a transport's write when the
// platform already knows the connection is closing.
var errTransportClosing = errors.New("connection is closing")

// Client is a WebSocket connection. All methods are safe for concurrent
// use. Create one with Dial.
type Client struct {
	cfg         settings
	url         string
	t           driver // the platform's driver: *jsConn in the browser (see client_js.go), the transport interface natively
	subprotocol string
	state       atomic.Int32 // mirrors m.state for lock-free reads
	decided     atomic.Bool  // mirrors m.decided: Send's gate

	mu         sync.Mutex
	m          machine
	receivers  int32 // Receive calls waiting for a message
	flushing   bool  // next to receivers, which keeps Client in the 576 B size class
	lingering  int16 // armed timers and heartbeat sends (Done waits for them), in the same word
	events     []StateChange
	closeTimer *time.Timer
	beatTimer  *time.Timer
	over       chan struct{} // made by the flush that closes Done while lingering > 0; closed when it reaches 0

	statusCh onceChan // closed once the close status is decided
	// msgCh and resumeCh are made under mu by the first wait for them, so
	// that an idle connection does not hold them; a notify before then is
	// a send on a nil channel, which notify skips.
	msgCh    chan struct{} // a message was queued while a Receive waited
	resumeCh chan struct{} // reading may resume
	done     onceChan      // closed after the CLOSED transition was delivered
}

func newClient(rawURL string, opts *Options) *Client {
	cfg := opts.settings()
	return &Client{
		cfg: cfg,
		url: rawURL,
		m: newMachine(machineConfig{
			receiveQueue:      cfg.receiveQueue,
			receiveQueueBytes: cfg.receiveQueueBytes,
			canPause:          transportCanPause,
			scriptCodes:       !transportCanPause,
			heartbeat:         cfg.heartbeat,
		}),
	}
}

// applyLocked takes the machine's output and does, under c.mu, what must
// happen atomically with the input: mirrors, events, timers, channels.
func (c *Client) applyLocked() output {
	o := c.m.take()
	for i := 0; i < o.ntrans; i++ {
		tr := o.trans[i]
		c.state.Store(int32(tr.to))
		c.events = append(c.events, StateChange{From: tr.from, To: tr.to, Status: tr.status, At: time.Now()})
	}
	if o.decided {
		c.decided.Store(true)
		c.statusCh.close()
	}
	// lingering counts each armed timer until it is stopped or its callback
	// has entered, so that no timer's goroutine outlives Done, and each
	// heartbeat send (a channel per send, replaced by the next, let two
	// sends close the same one).
	if o.armClose && c.closeTimer == nil {
		c.closeTimer = time.AfterFunc(c.cfg.closeTimeout, c.closeTimerFired)
		c.lingering++
	}
	if o.armHeartbeat > 0 {
		c.beatTimer = time.AfterFunc(o.armHeartbeat, c.heartbeatFired)
		c.lingering++
	}
	if o.sendHeartbeat {
		c.lingering++
	}
	if o.final {
		if c.closeTimer != nil && c.closeTimer.Stop() {
			c.lingering--
		}
		if c.beatTimer != nil && c.beatTimer.Stop() {
			c.lingering--
		}
	}
	if o.queued && c.receivers > 0 {
		notify(c.msgCh)
	}
	if pollWakes {
		pollWake(c, o.queued || o.decided, o.final)
	}
	if o.resume {
		notify(c.resumeCh)
	}
	return o
}

// lingerEnded ends one of what Done waits for, under c.mu.
func (c *Client) lingerEnded() {
	if c.lingering--; c.lingering == 0 && c.over != nil {
		close(c.over)
	}
}

// perform carries out, without the lock, what reaches the transport and
// the application.
func (c *Client) perform(o output) {
	if o.ntrans > 0 {
		c.flush()
	}
	if o.sendClose {
		c.t.sendClose(o.frame.Code, o.frame.Reason, false)
	}
	if o.abort {
		c.t.abort(o.courtesy, o.frame)
	}
	if o.sendHeartbeat {
		c.sendHeartbeat()
	}
}

// input feeds one input to the machine and carries out its output.
func (c *Client) input(in func(m *machine)) {
	c.mu.Lock()
	in(&c.m)
	o := c.applyLocked()
	c.mu.Unlock()
	c.perform(o)
}

// validateURL accepts ws:// and wss:// URLs with a host and no fragment,
// the rule the browser's WebSocket constructor applies. It is written
// without net/url and strings, which would add fmt and Unicode tables to
// the browser bundle.
func validateURL(raw string) error {
	if why := urlProblem(raw); why != "" {
		return &UsageError{Op: "dial", Msg: "invalid URL " + quote(raw) + ": " + why}
	}
	return nil
}

// urlProblem says what makes raw an invalid WebSocket URL, or returns "".
func urlProblem(raw string) string {
	var rest string
	switch {
	case hasPrefixFold(raw, "ws://"):
		rest = raw[len("ws://"):]
	case hasPrefixFold(raw, "wss://"):
		rest = raw[len("wss://"):]
	default:
		return "the scheme must be ws:// or wss://"
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c == '#' || c <= ' ' {
			return "it must not contain a fragment, white space or control characters"
		}
	}
	host := rest
	for i := 0; i < len(host); i++ {
		if host[i] == '/' || host[i] == '?' {
			host = host[:i]
			break
		}
	}
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == '@' {
			host = host[i+1:]
			break
		}
	}
	if host == "" || host[0] == ':' {
		return "it has no host"
	}
	return ""
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// Dial opens a WebSocket connection and returns once it is OPEN.
//
// The URL must be ws:// or wss://; anything else fails before any network
// use. opts may be nil. Errors are a *UsageError for bad arguments or a
// *DialError saying what failed. Natively a rejected handshake reports the
// HTTP status; the browser does not expose why a connection failed, and
// the error says so.
//
// In the browser, call Dial from a goroutine, never from a js.Func
// callback: it waits for the browser's event loop.
func Dial(ctx context.Context, url string, opts *Options) (*Client, error) {
	if err := validateURL(url); err != nil {
		return nil, err
	}
	c := newClient(url, opts)
	why := platformProblem(url, &c.cfg)
	if hb := c.cfg.heartbeat; why == "" && hb != nil && !utf8.Valid(hb.Message) {
		// It goes out as text: natively an invalid frame, in the browser
		// with U+FFFD in place of the bad bytes.
		why = "Heartbeat.Message is not valid UTF-8"
	}
	if why != "" {
		return nil, &UsageError{Op: "dial", Msg: why}
	}
	if err := dialTransport(ctx, c); err != nil {
		c.input((*machine).dialFailed)
		return nil, err
	}
	return c, nil
}

// dialReason names why a dial ended when the caller's context or the
// handshake timeout ended it, or returns "". It compares ctx.Err() with
// context.Canceled by ==, as Context documents Err's values: errors.Is
// here and in Send linked about 7 KB into the browser bundle of a program
// that does not call it itself.
func dialReason(ctx context.Context, handshakeTimedOut bool) (string, error) {
	switch err := ctx.Err(); {
	case err == context.Canceled:
		return "cancelled", err
	case err != nil:
		return "deadline exceeded", err
	case handshakeTimedOut:
		return "handshake timed out", context.DeadlineExceeded
	}
	return "", nil
}

// State returns the current state. In the browser it moves when the event
// loop runs: Send and Receive let it run; a goroutine that never blocks
// keeps it from moving.
func (c *Client) State() State { return State(c.state.Load()) }

// CloseStatus returns the close status once it is known: from the
// transition to CLOSING, or from the moment a failure or drop reached the
// client. At CLOSED it becomes final (WasClean, and 1006 when the close
// handshake did not finish); it does not change after Done is closed.
func (c *Client) CloseStatus() (CloseStatus, bool) {
	c.mu.Lock()
	st, ok := c.m.currentStatus()
	c.mu.Unlock()
	return st, ok
}

// Done returns a channel that is closed once the client is CLOSED, its
// last OnStateChange call has returned and its goroutines have ended.
func (c *Client) Done() <-chan struct{} { return c.waitOn(&c.done) }

// statusChan returns the channel closed once the close status is decided.
func (c *Client) statusChan() <-chan struct{} { return c.waitOn(&c.statusCh) }

// waitOn returns o's channel, made under mu if no one waited before.
func (c *Client) waitOn(o *onceChan) <-chan struct{} {
	c.mu.Lock()
	ch := o.wait()
	c.mu.Unlock()
	return ch
}

// Subprotocol returns the subprotocol the server chose, or "".
func (c *Client) Subprotocol() string { return c.subprotocol }

// BufferedAmount returns the bytes accepted by Send but not yet on the
// wire. Natively Send returns once the message is written, so this only
// counts what Sends in progress have yet to write (a message over 64 KiB
// leaves it fragment by fragment); in the browser it is
// WebSocket.bufferedAmount.
func (c *Client) BufferedAmount() int { return c.t.bufferedAmount() }

// SendText sends a text message; see Send.
func (c *Client) SendText(ctx context.Context, text string) error {
	return c.Send(ctx, Text, []byte(text))
}

// Send sends one message. Text messages must be valid UTF-8.
//
// Once a close status is decided (the peer's close frame, Close, a drop the
// reader saw, a failure), Send sends nothing and returns a *CloseError with
// the close code and reason (errors.Is(err, ErrClosed)), even while State
// still reports OPEN. A Send racing with a close either succeeds or returns
// that error.
//
// Before writing, at most once per millisecond of sending, Send looks for
// a close that has reached the machine but not yet the client. Natively it
// waits, at most 5 ms, until the reader has taken what is in the socket;
// when that, or what the reader took meanwhile, was 64 KiB or more, or the
// reader took nothing in those 5 ms while bytes waited (a machine that
// leaves it unscheduled), also until no byte came for 1 ms, at most 50 ms
// in all, since a close may be on its way behind a backlog (a stream that
// keeps such a look from ending quiet costs one 50 ms wait; the next
// looks wait 5 ms at most until one ends quiet on less than 64 KiB).
// Natively, once the reader has taken the peer's close frame or the
// connection's end from the socket, Send sends nothing and returns the
// status when the reader has decided it (not while reading is paused).
// In the browser it yields to the event loop until two turns in a row
// bring no socket event (tens of microseconds). The first Send's yield
// lets the event loop run until 5 ms after the open event and until no
// socket event came for 4 ms, at most 50 ms, since frames that came with
// the handshake need the browser's start-up exchange with its network
// process, which moves only while the event loop runs: the first Send of
// a connection takes 4 ms or more.
// In Firefox, which often runs a page's own tasks before socket events
// queued earlier, the first turn of a yield is a 1 ms timer when no Send
// came for 2 ms, else a background-priority task. Once a yield's turns
// have taken 64 KiB or more of messages the page had not yet taken, it
// goes on in 1 ms timer turns until two turns in a row brought no socket
// event and none came for 4 ms (or twice the longest gap between its
// deliveries), at most 50 ms: Chromium reads from the network only as the page takes data, with
// gaps of milliseconds, and a close behind that backlog has reached the
// machine. A stream that never goes quiet ends such a drain at 50 ms, and
// the next yields drain only after one ended quiet on less than 64 KiB.
// In a hidden tab, where the browser delays timers, a drain waits for its
// first timer; in a dedicated Worker in WebKit each turn waits for the
// page's main thread. ctx bounds the yield: a Send whose ctx ends during
// it sends nothing.
//
// On both platforms a Send whose ctx has ended before its message goes
// out sends nothing and returns the context's error.
//
// Natively Send returns once the message is written to the socket. One
// Send writes at a time; ctx bounds the wait for an earlier one. If ctx
// ends while the message is being written, the connection is dropped
// (a partial frame cannot be taken back): CLOSED with 1006 "send
// interrupted mid-message", decided by the client, and Send returns the
// context's error.
//
// In the browser Send copies data and returns; the browser sends it later
// (see BufferedAmount). While more than 4 MiB is queued, Send waits for the
// browser to drain it; if the peer's close arrives meanwhile, the browser
// discards the queued message and Send returns the *CloseError. After the
// client's own close the browser still sends it, before the close frame:
// Send waits on, as natively Close waits for a Send in progress, and
// returns nil once it has left, or the *CloseError if the close does not
// end clean (a peer that does not read: close timeout). If ctx
// ends during that wait, Send returns its error; the message stays queued
// in the browser and may still go out. If the
// browser reports CLOSING before its close event brings the code, Send
// waits for it, at most CloseTimeout.
func (c *Client) Send(ctx context.Context, typ MessageType, data []byte) error {
	switch typ {
	case Text:
		if !utf8.Valid(data) {
			return &UsageError{Op: "send", Msg: "text message is not valid UTF-8; send it as Binary"}
		}
	case Binary:
	default:
		return &UsageError{Op: "send", Msg: "unknown message type " + itoa(int(typ))}
	}
	if !c.sendAllowed() {
		return c.closeError()
	}
	err := c.t.write(ctx, typ, data)
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && err != errTransportClosing {
		return &opError{op: "send", err: ctxErr}
	}
	return c.closeError()
}

// sendAllowed is Send's gate: OPEN and no close status decided.
func (c *Client) sendAllowed() bool {
	return !c.decided.Load() && State(c.state.Load()) == Open
}

// closeError waits at most CloseTimeout for the close status and returns it
// as a *CloseError. A connection whose status does not come in that time
// is aborted and reported as dropped.
func (c *Client) closeError() error {
	if !c.decided.Load() {
		statusCh := c.statusChan()
		timeout, t := afterChan(c.cfg.closeTimeout)
		select {
		case <-statusCh:
		case <-timeout:
			// The reader may be parked on a full queue and never see the
			// connection fail: decide the status here, which also releases it.
			c.cfg.logger.Warn("dualws: no close status within the close timeout; dropping the connection")
			c.input((*machine).statusOverdue)
			<-statusCh
		}
		t.Stop()
	}
	st, _ := c.CloseStatus()
	return &CloseError{Status: st}
}

// Receive returns the next message, in arrival order. Messages that arrived
// before the connection started closing stay readable; after them Receive
// returns a *CloseError. Messages that arrive after Close was called are
// discarded, as browsers do.
//
// When ctx ends, Receive returns its error wrapped; the connection is
// unaffected.
func (c *Client) Receive(ctx context.Context) (MessageType, []byte, error) {
	c.mu.Lock()
	for {
		if m, ok := c.m.receive(); ok {
			var wake chan struct{} // another Receive waits, and a message is left for it
			if c.receivers > 0 && c.m.queueLen() > 0 {
				wake = c.msgCh
			}
			o := c.applyLocked()
			c.mu.Unlock()
			notify(wake)
			c.perform(o)
			return m.typ, m.data, nil
		}
		if st, decided := c.m.currentStatus(); decided {
			c.mu.Unlock()
			return 0, nil, &CloseError{Status: st}
		}
		if pollWakes {
			if waited, err := pollWaits(c, ctx); err != nil {
				c.mu.Unlock()
				return 0, nil, &opError{op: "receive", err: err}
			} else if waited {
				continue
			}
		}
		if c.msgCh == nil {
			c.msgCh = make(chan struct{}, 1)
		}
		msgCh, statusCh := c.msgCh, c.statusCh.wait()
		c.receivers++
		c.mu.Unlock()
		var err error
		select {
		case <-msgCh:
		case <-statusCh:
		case <-ctx.Done():
			err = ctx.Err()
		}
		c.mu.Lock()
		c.receivers--
		if pollWakes {
			pollWoken(c)
		}
		if err != nil {
			c.mu.Unlock()
			return 0, nil, &opError{op: "receive", err: err}
		}
	}
}

// afterChan returns a channel closed after d, and its timer. It stands for
// time.NewTimer, which links the GODEBUG machinery of timer channels
// (about 4 KB) into the browser bundle.
func afterChan(d time.Duration) (<-chan struct{}, *time.Timer) {
	ch := make(chan struct{})
	return ch, time.AfterFunc(d, func() { close(ch) })
}

// onceChan is a channel closed once, made by its first waiter, so that a
// connection no one waits on holds none. Its methods run under Client.mu.
type onceChan struct{ ch chan struct{} }

// closedChan stands for a onceChan closed before anyone waited on it.
var closedChan = make(chan struct{})

func init() { close(closedChan) }

func (o *onceChan) wait() chan struct{} {
	if o.ch == nil {
		o.ch = make(chan struct{})
	}
	return o.ch
}

func (o *onceChan) close() {
	if o.ch == nil {
		o.ch = closedChan
	} else {
		close(o.ch)
	}
}

// notify signals ch without blocking; a nil ch (not made yet, so no one
// waits on it) is skipped.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Close starts the closing handshake with code and reason, waits for the
// peer's close frame at most CloseTimeout, and returns once CLOSED: after
// the peer has also ended TCP, as RFC 6455 asks of servers and as browsers
// wait for it (at most 2 s, or CloseTimeout if shorter, for a peer that
// keeps TCP open).
//
// The code must be 1000 or 3000–4999 and the reason valid UTF-8 of at most
// 123 bytes: what browsers accept, enforced natively too so both platforms
// agree. Anything else returns a *UsageError and changes nothing.
//
// Close returns nil when the connection ended cleanly (close frames went
// both ways, whoever started, and the peer did not then reset TCP), and
// otherwise a *CloseError with the final status: 1006 when the peer did
// not answer in time or the connection dropped. Calling it again, or concurrently, is safe and returns the same.
// In the browser a socket whose close timed out is abandoned, not killed:
// scripts cannot abort a WebSocket, so the browser finishes it on its own.
func (c *Client) Close(code StatusCode, reason string) error {
	if err := validateClose(code, reason); err != nil {
		return err
	}
	c.mu.Lock()
	c.m.closeWith(CloseStatus{Code: code, Reason: reason})
	o := c.applyLocked()
	c.mu.Unlock()
	here := o.sendClose
	o.sendClose = false
	c.perform(o)
	if here {
		c.t.sendClose(o.frame.Code, o.frame.Reason, true)
	}
	<-c.Done()
	st, _ := c.CloseStatus()
	if st.WasClean {
		return nil
	}
	return &CloseError{Status: st}
}

// flush delivers pending transitions to OnStateChange outside the lock,
// one caller at a time, in order. Done is closed after CLOSED is delivered.
func (c *Client) flush() {
	for {
		c.mu.Lock()
		if c.flushing || len(c.events) == 0 {
			c.mu.Unlock()
			return
		}
		c.flushing = true
		events := c.events
		c.events = nil
		c.mu.Unlock()
		closed := false
		for _, ev := range events {
			if c.cfg.onStateChange != nil {
				c.cfg.onStateChange(ev)
			}
			closed = closed || ev.To == Closed
		}
		c.mu.Lock()
		c.flushing = false
		c.mu.Unlock()
		if closed {
			c.mu.Lock()
			var over chan struct{}
			if c.lingering > 0 {
				over = make(chan struct{})
				c.over = over
			}
			c.mu.Unlock()
			if over != nil {
				<-over // no send starts, and no timer, after CLOSED
			}
			c.mu.Lock()
			c.done.close()
			c.mu.Unlock()
		}
	}
}

// The methods below are the drivers' and timers' inputs.

// opened: CONNECTING → OPEN.
func (c *Client) opened(subprotocol string) {
	c.subprotocol = subprotocol
	c.input((*machine).opened)
}

// deliverAll queues a batch of binary messages, in order, under one lock:
// each is the machine's input as with deliver, and their output is
// carried out once. For the browser, which cannot pause reading.
func (c *Client) deliverAll(msgs [][]byte) {
	if c.cfg.heartbeat != nil && c.cfg.heartbeat.IsReply != nil {
		for _, p := range msgs {
			c.deliver(Binary, p) // IsReply runs outside the lock
		}
		return
	}
	c.mu.Lock()
	for _, p := range msgs {
		c.m.message(Binary, p)
	}
	o := c.applyLocked()
	c.mu.Unlock()
	c.perform(o)
}

// deliver queues a received message. It reports whether the transport
// must pause reading (waitResume says when to go on).
func (c *Client) deliver(typ MessageType, data []byte) (pause bool) {
	reply := c.cfg.heartbeat != nil && c.cfg.heartbeat.IsReply != nil && c.cfg.heartbeat.IsReply(typ, data)
	c.mu.Lock()
	if reply {
		c.m.alive() // consumed
	} else {
		c.m.message(typ, data)
	}
	o := c.applyLocked()
	pause = c.m.paused
	c.mu.Unlock()
	c.perform(o)
	return pause
}

// closeFrameRequested reports whether the machine asked for a close frame
// of the client's own (see machine.closeFrameRequested).
func (c *Client) closeFrameRequested() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m.closeFrameRequested()
}

// readingPaused reports whether the machine has paused reading.
func (c *Client) readingPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m.paused
}

// waitResume blocks while reading is paused, until Receive makes room or a
// close status is decided.
func (c *Client) waitResume() {
	for {
		c.mu.Lock()
		if !c.m.paused || c.m.decided {
			c.mu.Unlock()
			return
		}
		if c.resumeCh == nil {
			c.resumeCh = make(chan struct{}, 1)
		}
		resumeCh, statusCh := c.resumeCh, c.statusCh.wait()
		c.mu.Unlock()
		select {
		case <-resumeCh:
		case <-statusCh:
		}
	}
}

func (c *Client) peerClosed(code StatusCode, reason string) {
	c.input(func(m *machine) { m.peerClose(code, reason) })
}

func (c *Client) closeEvent(code StatusCode, reason string, clean bool) {
	c.input(func(m *machine) { m.closeEvent(code, reason, clean) })
}

func (c *Client) messageTooBig() {
	c.cfg.logger.Warn("dualws: message over the read limit; closing with 1009", "limit", c.cfg.readLimit)
	c.input((*machine).tooBig)
}

func (c *Client) sendFailed()       { c.input((*machine).sendFailed) }
func (c *Client) handedBack()       { c.input((*machine).handedBack) }
func (c *Client) invalidText()      { c.input((*machine).invalidText) }
func (c *Client) keepaliveTimeout() { c.input((*machine).keepaliveTimeout) }
func (c *Client) sendInterrupted()  { c.input((*machine).sendInterrupted) }
func (c *Client) lost()             { c.input((*machine).lost) }
func (c *Client) alive()            { c.input((*machine).alive) }

// closeTimerFired and heartbeatFired are the timers' callbacks;
// closeTimedOut is the close timeout's input from elsewhere (natively,
// coder/websocket's own 5 s limit), which leaves the armed timer counted.
func (c *Client) closeTimerFired() { c.timerFired(true, (*machine).closeTimerFired) }
func (c *Client) heartbeatFired()  { c.timerFired(true, (*machine).heartbeatFired) }
func (c *Client) closeTimedOut()   { c.timerFired(false, (*machine).closeTimerFired) }

// timerFired feeds a timer's input; fired says that it is the timer's
// callback, which ends its count in lingering. It warns only when the
// close timer ended the handshake: one that fired as the handshake ended
// (its Stop came too late) does nothing.
func (c *Client) timerFired(fired bool, in func(m *machine)) {
	c.mu.Lock()
	if fired {
		c.lingerEnded()
	}
	was := c.m.timedOut
	in(&c.m)
	timedOut := c.m.timedOut && !was
	o := c.applyLocked()
	c.mu.Unlock()
	if timedOut {
		c.cfg.logger.Warn("dualws: close handshake timed out")
	}
	c.perform(o)
}

// sendHeartbeat sends the heartbeat message; Done waits for it to end.
func (c *Client) sendHeartbeat() {
	if c.t.write(context.Background(), Text, c.cfg.heartbeat.Message) != nil {
		c.cfg.logger.Debug("dualws: heartbeat not sent") // natively a write error is logged as a failed send
	}
	c.mu.Lock()
	c.lingerEnded()
	c.mu.Unlock()
}

// transportGone is the driver's last input: the connection is gone and the
// driver's goroutines have ended; clean reports that close frames went
// both ways.
func (c *Client) transportGone(clean bool) {
	c.input(func(m *machine) { m.transportGone(clean) })
}

// quote returns s in double quotes, with quotes, backslashes and control
// bytes escaped, cut at 200 bytes. Smaller in the bundle than strconv.Quote.
func quote(s string) string {
	const max = 200
	cut := len(s) > max
	if cut {
		s = s[:max]
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < ' ' || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	b = append(b, '"')
	if cut {
		b = append(b, "..."...)
	}
	return string(b)
}
