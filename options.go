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
	// above 5s act as 5s there.
	CloseTimeout time.Duration
	// ReadLimit is the largest message accepted, in bytes. A larger one
	// closes the connection with 1009. Default 1 MiB; negative: no limit.
	// In the browser the whole message has arrived before it is checked.
	ReadLimit int64
	// ReceiveQueue is how many messages wait for Receive. Default 64.
	// Natively, when it is full the client stops reading from the socket
	// (TCP backpressure), so a peer's close is only seen once the
	// application receives. The browser cannot stop reading: there the
	// queue grows past this size instead. Natively a pong is not read
	// either while the queue is full, so an application that stops
	// receiving for longer than PingInterval plus PingTimeout is
	// disconnected with "keepalive timeout" (as in python websockets).
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
	// concurrently and never with a lock held, on the goroutine that made
	// the transition (natively often the reader, so a slow callback delays
	// reading). In the browser it runs on the event loop: blocking in it
	// (on a channel, a mutex, a network call) deadlocks the page. It may
	// call State, CloseStatus, Subprotocol, BufferedAmount and Send; Close,
	// Receive and waiting on Done wait for it to return, so calling them
	// from it deadlocks.
	OnStateChange func(StateChange)
	// ReceiveQueueBytes bounds the bytes of the messages waiting for
	// Receive. Default 16 MiB. Past it the client closes with 1008
	// "receive queue overflow", decided locally; what was queued stays
	// readable.
	ReceiveQueueBytes int
	// Backoff sets the delays between Redial's attempts; nil: the defaults.
	Backoff *Backoff
	// Retry, if set, decides whether Redial dials again after an outcome:
	// the status of a client that ended, or the error of a failed Dial.
	Retry func(CloseStatus, error) bool
	// OnRedial is called by Redial before each delay.
	OnRedial func(attempt int, delay time.Duration, last error)
	// Heartbeat, if set, sends an application message when nothing was
	// received for a while and closes a connection whose peer stays
	// silent. It works in the browser too, where scripts cannot ping.
	Heartbeat *Heartbeat
	// HTTPClient, natively, is the client that performs the handshake
	// (proxy, custom dialer, TLS). In the browser it must be nil: Dial
	// returns a *UsageError otherwise.
	HTTPClient httpClientOption
	// TLSConfig, natively, configures wss:// connections (a private CA,
	// client certificates). In the browser it must be nil.
	TLSConfig tlsConfigOption
	// Logger receives debug and warning lines; nil is silent.
	// A *slog.Logger satisfies it.
	Logger Logger
}

// Backoff sets Redial's delays.
type Backoff struct {
	Initial time.Duration // the first delay is uniform in [0, Initial]; default 1s
	Min     time.Duration // the second delay; default 1s
	Max     time.Duration // delays grow by Factor up to Max; default 30s
	Factor  float64       // default 1.618
}

// Heartbeat is an application-level liveness check.
type Heartbeat struct {
	Interval time.Duration                  // send Message when nothing was received for Interval; default 20s
	Timeout  time.Duration                  // nothing received for Timeout after a heartbeat: the peer is dead; default Interval
	Message  []byte                         // sent as a text message
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
