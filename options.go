package dualws

import "time"

// Defaults used when an Options field is zero.
const (
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultCloseTimeout      = 5 * time.Second
	DefaultReadLimit         = 1 << 20
	DefaultReceiveQueue      = 64
	DefaultPingInterval      = 20 * time.Second
	DefaultPingTimeout       = 20 * time.Second
	DefaultReceiveQueueBytes = 16 << 20
	DefaultHeartbeatInterval = 20 * time.Second
)

// Options configures Dial. The zero value, and a nil *Options, mean every
// default.
type Options struct {
	// Subprotocols are offered in order; Client.Subprotocol reports the
	// server's choice.
	Subprotocols []string
	// Header is sent with the opening handshake. Native only: the browser
	// cannot set headers, and Dial there returns a *UsageError when set.
	Header map[string][]string
	// HandshakeTimeout bounds Dial. Default 10s. Dial's context can end it
	// sooner.
	HandshakeTimeout time.Duration
	// CloseTimeout is how long Close, and Send after the browser reports
	// CLOSING, wait for the close handshake. Default 5s. Natively,
	// coder/websocket gives up waiting after 5s on its own, so values
	// above 5s act as 5s there; the status still says "close timeout".
	// After the close frames, it also bounds (with 2s, as in Chromium)
	// the native wait for the peer to end TCP before CLOSED. In the
	// browser the peer's answer shows only with the close event, which
	// Chromium fires after the peer's end of TCP (waiting up to 2s), so a
	// CloseTimeout under 2s can cut short a close that was answered.
	CloseTimeout time.Duration
	// ReadLimit is the largest message accepted, in bytes. A larger one
	// closes the connection with 1009. Default 1 MiB; negative: no limit.
	// In the browser the whole message has arrived before it is checked.
	ReadLimit int64
	// ReceiveQueue is how many messages wait for Receive. Default 64.
	// Natively, when it is full the client stops reading from the socket
	// (TCP backpressure), so a peer's close behind it is seen once the
	// application receives, or sends: a Send (or a Heartbeat's message)
	// that finds reading stopped lets it go on past this size, to
	// ReceiveQueueBytes, until the next Receive. The browser cannot stop
	// reading: there the queue grows past this size, bounded by
	// ReceiveQueueBytes instead.
	// Natively a pong is not read
	// either while the queue is full, so an application that stops
	// receiving for longer than PingInterval plus PingTimeout is
	// disconnected with "keepalive timeout" (as in python websockets),
	// and the peer's own pings go unanswered meanwhile. A client that
	// Redial's loop body has handed back open pauses only at
	// ReceiveQueueBytes.
	ReceiveQueue int
	// PingInterval is the native keepalive period. Default 20s; a negative
	// value disables pings. The browser cannot send pings from script, so
	// it has no effect there.
	PingInterval time.Duration
	// PingTimeout is how long a ping waits for its pong before the
	// connection is closed with 1006 and reason "keepalive timeout".
	// Default 20s. Native only.
	PingTimeout time.Duration
	// OnStateChange is called for every transition, in order, never
	// concurrently and never with one of the client's locks held (natively
	// the peer's close is reported while coder/websocket reads its frame,
	// under its read lock), on the goroutine that made
	// the transition (natively often the reader, so a slow callback delays
	// reading). In the browser it runs on the event loop: blocking in it
	// (on a channel, a mutex, a network call) deadlocks the page. It may
	// call State, CloseStatus, Subprotocol, BufferedAmount and Send; Close,
	// Receive and waiting on Done wait for it to return, so calling them
	// from it deadlocks. In the browser a Send on another open client
	// waits for the event loop too (its close check yields), so it
	// deadlocks there as well.
	OnStateChange func(StateChange)
	// ReceiveQueueBytes bounds the bytes of the messages waiting for
	// Receive, each counted with 32 more for its place in the queue, so
	// that empty messages are bounded too. Default 16 MiB. Natively reading pauses when they reach it,
	// as it does at ReceiveQueue. The browser cannot pause: past it the
	// client closes with 1008 "receive queue overflow" (4008 on the wire,
	// since scripts may not send 1008), decided locally; what was queued
	// stays readable, then Receive returns the *CloseError.
	ReceiveQueueBytes int
	// Backoff sets the delays between Redial's attempts; nil: the
	// defaults (see Backoff).
	Backoff *Backoff
	// Retry, if set, decides instead of Redial's rule whether to dial
	// again: it gets the final status of a client that ended (with a nil
	// error) or the error of a failed Dial (with a zero status).
	Retry func(CloseStatus, error) bool
	// OnRedial is called by Redial before each delay, on the goroutine
	// ranging over it, with the number of the Dial that follows (2 for the
	// first retry; counting starts over after a connection that stayed
	// OPEN at least Backoff.Max), the delay, and the last outcome: the
	// failed Dial's error or a *CloseError with the client's final status.
	OnRedial func(attempt int, delay time.Duration, last error)
	// Heartbeat, if set, sends an application message when nothing was
	// received for a while and closes a connection whose peer stays
	// silent. It works in the browser too, where scripts cannot ping.
	Heartbeat *Heartbeat
	// HTTPClient, natively, is the client that performs the handshake
	// (proxy, custom dialer, TLS). A Transport that is nil or an
	// *http.Transport is cloned with keep-alives and HTTP/2 off; any other
	// RoundTripper is used as it is and must return a writable body for a
	// 101. Redirects are refused, and its Timeout is ignored
	// (HandshakeTimeout bounds the handshake). Send's look at the socket
	// for a close that has reached the machine (see Send) needs the
	// socket: a DialContext's connection that exposes it (syscall.Conn),
	// or a DialTLSContext's whose NetConn does (as *tls.Conn's). With
	// another RoundTripper, or other connections, Send sees such a close
	// only once the reader has run, which a busy machine may delay by
	// milliseconds. In the browser it must be nil: Dial returns a
	// *UsageError otherwise.
	HTTPClient httpClientOption
	// TLSConfig, natively, configures wss:// connections (a private CA,
	// client certificates). In the browser it must be nil.
	TLSConfig tlsConfigOption
	// Logger receives debug and warning lines; nil is silent.
	// A *slog.Logger satisfies it.
	Logger Logger
}

// Backoff sets Redial's delays. A zero field takes its default; a
// negative duration means 0 and a Factor below 1 means 1. The first delay
// is uniform in [0, Initial] (jitter, so that clients dropped together do
// not come back together), the second is Min, then each grows by Factor;
// none exceeds Max. After a connection that stayed OPEN for at least Max,
// the delays start again from Initial.
type Backoff struct {
	Initial time.Duration // the first delay is uniform in [0, Initial]; default 1s
	Min     time.Duration // the second delay; default 1s
	Max     time.Duration // delays grow by Factor up to Max; default 30s
	Factor  float64       // default 1.618
}

// Heartbeat is an application-level liveness check, on both platforms.
// When nothing was received for Interval, Message is sent as text; when
// nothing is received for Timeout after it, the client reports CLOSED 1006
// "heartbeat timeout", decided locally (natively the socket is aborted; in
// the browser it is closed with 4000 and abandoned). Any message, and
// natively any pong, proves the peer alive, so a heartbeat is sent
// between Interval and twice Interval after the last message. Replies for
// which IsReply is true are consumed, not queued for Receive. IsReply runs
// where messages are delivered, outside the client's lock: natively on the
// reader's goroutine, so reading waits for it; in the browser inside an
// event-loop callback, where nothing may block. It may call State and
// CloseStatus. Close, and a Receive that waits, deadlock on both
// platforms: they wait for the reading that IsReply holds up; a Send
// deadlocks in the browser.
type Heartbeat struct {
	Interval time.Duration                  // send Message when nothing was received for Interval; default 20s
	Timeout  time.Duration                  // nothing received for Timeout after a heartbeat: the peer is dead; default Interval
	Message  []byte                         // sent as a text message: valid UTF-8, else Dial returns a *UsageError
	IsReply  func(MessageType, []byte) bool // replies are consumed, not delivered to Receive; nil: none
}

// Logger is the logging interface dualws uses; *slog.Logger satisfies it.
type Logger interface {
	Debug(msg string, args ...any)
	Warn(msg string, args ...any)
}

type settings struct {
	subprotocols     []string
	header           map[string][]string
	handshakeTimeout time.Duration
	closeTimeout     time.Duration
	readLimit        int64
	receiveQueue     int
	pingInterval     time.Duration
	pingTimeout      time.Duration
	onStateChange    func(StateChange)
	logger           Logger

	receiveQueueBytes int
	heartbeat         *Heartbeat
	httpClient        httpClientOption
	tlsConfig         tlsConfigOption
}

func (o *Options) settings() settings {
	var s settings
	if o != nil {
		s = settings{
			subprotocols:     o.Subprotocols,
			header:           o.Header,
			handshakeTimeout: o.HandshakeTimeout,
			closeTimeout:     o.CloseTimeout,
			readLimit:        o.ReadLimit,
			receiveQueue:     o.ReceiveQueue,
			pingInterval:     o.PingInterval,
			pingTimeout:      o.PingTimeout,
			onStateChange:    o.OnStateChange,
			logger:           o.Logger,

			receiveQueueBytes: o.ReceiveQueueBytes,
			httpClient:        o.HTTPClient,
			tlsConfig:         o.TLSConfig,
		}
		if hb := o.Heartbeat; hb != nil {
			h := *hb
			if h.Interval <= 0 {
				h.Interval = DefaultHeartbeatInterval
			}
			if h.Timeout <= 0 {
				h.Timeout = h.Interval
			}
			s.heartbeat = &h
		}
	}
	if s.receiveQueueBytes <= 0 {
		s.receiveQueueBytes = DefaultReceiveQueueBytes
	}
	if s.handshakeTimeout <= 0 {
		s.handshakeTimeout = DefaultHandshakeTimeout
	}
	if s.closeTimeout <= 0 {
		s.closeTimeout = DefaultCloseTimeout
	}
	if s.readLimit == 0 {
		s.readLimit = DefaultReadLimit
	}
	if s.receiveQueue <= 0 {
		s.receiveQueue = DefaultReceiveQueue
	}
	switch {
	case s.pingInterval == 0:
		s.pingInterval = DefaultPingInterval
	case s.pingInterval < 0:
		s.pingInterval = 0
	}
	if s.pingTimeout <= 0 {
		s.pingTimeout = DefaultPingTimeout
	}
	if s.logger == nil {
		s.logger = nopLogger{}
	}
	return s
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Warn(string, ...any)  {}
