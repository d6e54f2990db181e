// This file is the platform-neutral core: every rule about states, the
// receive queue and closing lives here. client_native.go (coder/websocket)
// and client_js.go (the browser's WebSocket) only translate events.

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

// transport is what a platform driver provides to the core.
type transport interface {
	// write sends one message. It returns errTransportClosing when the
	// connection is known to be closing, any other error when it failed.
	write(ctx context.Context, typ MessageType, p []byte) error
	// sendClose starts the closing handshake on the wire and returns at
	// once; the driver reports the outcome with transportClosed.
	sendClose(code StatusCode, reason string)
	// abort drops the connection now; the driver then calls
	// transportClosed, at once or from its reader.
	abort()
	bufferedAmount() int
}

// errTransportClosing is returned by a transport's write when the
// platform already knows the connection is closing.
var errTransportClosing = errors.New("connection is closing")

// Statuses the core decides locally.
var (
	statusDropped      = CloseStatus{Code: StatusAbnormalClosure, Remote: true}
	statusCloseTimeout = CloseStatus{Code: StatusAbnormalClosure, Reason: "close timeout"}
	statusKeepalive    = CloseStatus{Code: StatusAbnormalClosure, Reason: "keepalive timeout"}
	statusTooBig       = CloseStatus{Code: StatusMessageTooBig, Reason: "message too big"}
)

type message struct {
	typ  MessageType
	data []byte
}

// Client is a WebSocket connection. All methods are safe for concurrent
// use. Create one with Dial.
type Client struct {
	cfg         settings
	url         string
	t           transport
	subprotocol string
	state       atomic.Int32

	mu            sync.Mutex
	status        CloseStatus
	statusKnown   bool // the close status is decided; no message is queued after this
	failed        bool // status is final: set by a protocol failure or keepalive timeout
	timedOut      bool // the close handshake timed out; the connection was aborted
	final         bool // CLOSED was reached
	queue         []message
	head          int
	receivers     int  // Receive calls waiting for a message
	readerWaiting bool // deliver waits for room in the queue
	events        []StateChange
	flushing      bool
	closeTimer    *time.Timer

	statusCh chan struct{} // closed once the status is known
	msgCh    chan struct{} // a message was queued while a Receive waited
	spaceCh  chan struct{} // a message was taken while deliver waited
	done     chan struct{} // closed after the CLOSED transition was delivered
}

func newClient(rawURL string, opts *Options) *Client {
	return &Client{
		cfg:      opts.settings(),
		url:      rawURL,
		statusCh: make(chan struct{}),
		msgCh:    make(chan struct{}, 1),
		spaceCh:  make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// validateURL accepts ws:// and wss:// URLs with a host and no fragment,
// the rule the browser's WebSocket constructor applies. It is written
// without net/url and strings, which would add fmt and Unicode tables to
// the browser bundle.
func validateURL(raw string) error {
	var rest string
	switch {
	case hasPrefixFold(raw, "ws://"):
		rest = raw[len("ws://"):]
	case hasPrefixFold(raw, "wss://"):
		rest = raw[len("wss://"):]
	default:
		return &UsageError{Op: "dial", Msg: "invalid URL " + quote(raw) + ": the scheme must be ws:// or wss://"}
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c == '#' || c <= ' ' {
			return &UsageError{Op: "dial", Msg: "invalid URL " + quote(raw) + ": it must not contain a fragment, white space or control characters"}
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
		return &UsageError{Op: "dial", Msg: "invalid URL " + quote(raw) + ": it has no host"}
	}
	return nil
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
	if err := checkPlatformOptions(&c.cfg); err != nil {
		return nil, err
	}
	if err := dialTransport(ctx, c); err != nil {
		c.transportClosed(false, statusDropped)
		return nil, err
	}
	return c, nil
}

// dialReason names why a dial ended when the caller's context or the
// handshake timeout ended it, or returns "".
func dialReason(ctx context.Context, handshakeTimedOut bool) (string, error) {
	switch err := ctx.Err(); {
	case errors.Is(err, context.Canceled):
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
// transition to CLOSING, or to CLOSED when no close frame was exchanged.
// It is final once Done is closed.
func (c *Client) CloseStatus() (CloseStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.statusKnown
}

// Done returns a channel that is closed once the client is CLOSED, its
// last OnStateChange call has returned and its goroutines have ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Subprotocol returns the subprotocol the server chose, or "".
func (c *Client) Subprotocol() string { return c.subprotocol }

// BufferedAmount returns the bytes accepted by Send but not yet on the
// wire. Natively Send returns once the message is written, so this only
// counts Sends in progress; in the browser it is WebSocket.bufferedAmount.
func (c *Client) BufferedAmount() int { return c.t.bufferedAmount() }

// SendText sends a text message; see Send.
func (c *Client) SendText(ctx context.Context, text string) error {
	return c.Send(ctx, Text, []byte(text))
}

// Send sends one message. Text messages must be valid UTF-8.
//
// Once the connection is CLOSING or CLOSED, Send sends nothing and returns
// a *CloseError with the close code and reason (errors.Is(err, ErrClosed)).
// A Send racing with a close either succeeds or returns that error.
//
// Natively Send returns once the message is written to the socket. If ctx
// ends during a write, coder/websocket closes the connection, since a
// partial frame cannot be taken back.
//
// In the browser Send copies data and returns; the browser sends it later
// (see BufferedAmount). While more than 1 MiB is queued, Send waits for the
// browser to drain it; if the peer's close arrives meanwhile, the browser
// discards the queued message and Send returns the *CloseError. Before sending, Send yields to the browser's event
// loop whenever 1 ms or more has passed since Go last did, so a close that
// has arrived is seen before the next message goes out. A yield costs one
// event-loop turn (tens of microseconds), at most once per millisecond of
// sending. If the browser reports CLOSING before its close event brings
// the code, Send waits for it, at most CloseTimeout.
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
	if c.State() != Open {
		return c.closeError()
	}
	err := c.t.write(ctx, typ, data)
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, errTransportClosing) {
		return &opError{op: "send", err: ctxErr}
	}
	c.cfg.logger.Debug("dualws: send failed, waiting for the close status", "err", err)
	return c.closeError()
}

// closeError waits at most CloseTimeout for the close status and returns it
// as a *CloseError. A connection whose status does not come in that time
// is aborted and reported as dropped.
func (c *Client) closeError() error {
	select {
	case <-c.statusCh:
	default:
		t := time.NewTimer(c.cfg.closeTimeout)
		select {
		case <-c.statusCh:
		case <-t.C:
			// The reader may be parked on a full queue and never see the
			// connection fail: decide the status here, which also releases it.
			c.cfg.logger.Warn("dualws: no close status within the close timeout; dropping the connection")
			if c.fail(statusDropped) {
				c.t.abort()
			}
			<-c.statusCh
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
		if c.head < len(c.queue) {
			m := c.queue[c.head]
			c.queue[c.head] = message{}
			c.head++
			if c.head == len(c.queue) {
				c.queue, c.head = c.queue[:0], 0
			}
			wakeReceiver := c.head < len(c.queue) && c.receivers > 0
			wakeReader := c.readerWaiting
			c.mu.Unlock()
			if wakeReader {
				notify(c.spaceCh)
			}
			if wakeReceiver {
				notify(c.msgCh)
			}
			return m.typ, m.data, nil
		}
		if c.statusKnown {
			st := c.status
			c.mu.Unlock()
			return 0, nil, &CloseError{Status: st}
		}
		c.receivers++
		c.mu.Unlock()
		var err error
		select {
		case <-c.msgCh:
		case <-c.statusCh:
		case <-ctx.Done():
			err = ctx.Err()
		}
		c.mu.Lock()
		c.receivers--
		if err != nil {
			c.mu.Unlock()
			return 0, nil, &opError{op: "receive", err: err}
		}
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Close starts the closing handshake with code and reason, waits for the
// peer's close frame at most CloseTimeout, and returns once CLOSED.
//
// The code must be 1000 or 3000–4999 and the reason valid UTF-8 of at most
// 123 bytes: what browsers accept, enforced natively too so both platforms
// agree. Anything else returns a *UsageError and changes nothing.
//
// Close returns nil when the connection ended cleanly (close frames went
// both ways, whoever started), and otherwise a *CloseError with the final
// status: 1006 when the peer did not answer in time or the connection
// dropped. Calling it again, or concurrently, is safe and returns the same.
// In the browser a socket whose close timed out is abandoned, not killed:
// scripts cannot abort a WebSocket, so the browser finishes it on its own.
func (c *Client) Close(code StatusCode, reason string) error {
	if err := validateClose(code, reason); err != nil {
		return err
	}
	c.startClose(CloseStatus{Code: code, Reason: reason}, code, reason)
	<-c.done
	st, _ := c.CloseStatus()
	if st.WasClean {
		return nil
	}
	return &CloseError{Status: st}
}

// startClose moves OPEN → CLOSING with a locally decided status, sends a
// close frame and arms the close timeout. It does nothing once a status is
// known.
func (c *Client) startClose(st CloseStatus, wireCode StatusCode, wireReason string) {
	c.mu.Lock()
	if c.statusKnown || c.State() != Open {
		c.mu.Unlock()
		return
	}
	c.setStatus(st)
	c.transition(Closing, st)
	c.armCloseTimer()
	c.mu.Unlock()
	c.flush()
	c.t.sendClose(wireCode, wireReason)
}

// armCloseTimer aborts the connection when the close handshake has not
// finished within CloseTimeout. Called with c.mu held.
func (c *Client) armCloseTimer() {
	c.closeTimer = time.AfterFunc(c.cfg.closeTimeout, func() {
		c.mu.Lock()
		if c.final {
			c.mu.Unlock()
			return
		}
		c.timedOut = true
		c.mu.Unlock()
		c.cfg.logger.Warn("dualws: close handshake timed out", "url", c.url)
		c.t.abort()
	})
}

// setStatus records the close status. Called with c.mu held.
func (c *Client) setStatus(st CloseStatus) {
	c.status = st
	if !c.statusKnown {
		c.statusKnown = true
		close(c.statusCh)
	}
}

// transition records a state change for OnStateChange. Called with c.mu held.
func (c *Client) transition(to State, st CloseStatus) {
	from := State(c.state.Swap(int32(to)))
	c.events = append(c.events, StateChange{From: from, To: to, Status: st, At: time.Now()})
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
			close(c.done)
		}
	}
}

// The methods below are the drivers' side of the core.

// opened moves CONNECTING → OPEN.
func (c *Client) opened(subprotocol string) {
	c.subprotocol = subprotocol
	c.mu.Lock()
	c.transition(Open, CloseStatus{})
	c.mu.Unlock()
	c.flush()
}

// deliver queues a received message. When block is true and the queue is
// full it waits for Receive to take one (native backpressure). It discards
// the message once a close status is known: the peer's close frame comes
// after all its messages, and after Close browsers drop what arrives.
func (c *Client) deliver(typ MessageType, data []byte, block bool) {
	c.mu.Lock()
	for block && !c.statusKnown && len(c.queue)-c.head >= c.cfg.receiveQueue {
		c.readerWaiting = true
		c.mu.Unlock()
		select {
		case <-c.spaceCh:
		case <-c.statusCh:
		}
		c.mu.Lock()
		c.readerWaiting = false
	}
	if c.statusKnown {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, message{typ: typ, data: data})
	wake := c.receivers > 0
	c.mu.Unlock()
	if wake {
		notify(c.msgCh)
	}
}

// peerClosed records the peer's close frame. If the client had not started
// closing, this moves OPEN → CLOSING with the peer's status.
func (c *Client) peerClosed(code StatusCode, reason string) {
	c.mu.Lock()
	if c.statusKnown || c.State() != Open {
		c.mu.Unlock()
		return
	}
	st := CloseStatus{Code: code, Reason: reason, Remote: true}
	c.setStatus(st)
	c.transition(Closing, st)
	c.mu.Unlock()
	c.flush()
}

// messageTooBig closes with 1009 after a message over ReadLimit.
func (c *Client) messageTooBig() {
	c.cfg.logger.Warn("dualws: message over the read limit; closing with 1009", "limit", c.cfg.readLimit)
	c.startClose(statusTooBig, statusTooBig.Code, statusTooBig.Reason)
}

// invalidText fails the connection after a text message that is not UTF-8.
// The application sees what a browser script sees, 1006 and not clean,
// while the peer is sent the RFC's 1007.
func (c *Client) invalidText() {
	if c.fail(statusDropped) {
		c.t.sendClose(StatusInvalidFramePayloadData, "invalid UTF-8 in text message")
	}
}

// keepaliveTimeout drops a connection whose ping went unanswered.
func (c *Client) keepaliveTimeout() {
	if c.fail(statusKeepalive) {
		c.t.abort()
	}
}

// fail fixes the final status without a CLOSING transition; the driver then
// tears the connection down. It reports whether this call decided it.
func (c *Client) fail(st CloseStatus) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.statusKnown {
		return false
	}
	c.failed = true
	c.setStatus(st)
	c.armCloseTimer()
	return true
}

// transportClosed is the driver's last call: the connection is gone and
// the driver's goroutines have ended. clean reports that close frames went
// both ways; fallback is the status when none was decided before.
func (c *Client) transportClosed(clean bool, fallback CloseStatus) {
	c.mu.Lock()
	if c.final {
		c.mu.Unlock()
		return
	}
	c.final = true
	if c.closeTimer != nil {
		c.closeTimer.Stop()
	}
	var st CloseStatus
	switch {
	case c.failed:
		st = c.status
	case c.timedOut:
		st = statusCloseTimeout
	case c.statusKnown && clean:
		st = c.status
		st.WasClean = true
	case c.statusKnown && c.status.Remote:
		// The peer's close frame arrived but the handshake did not finish
		// (in the browser: data still queued was discarded). Browsers keep
		// the peer's code and report it not clean.
		st = c.status
	case c.statusKnown:
		st = statusDropped
	default:
		st = fallback
	}
	c.setStatus(st)
	c.transition(Closed, st)
	c.mu.Unlock()
	c.flush()
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
