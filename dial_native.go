//go:build !js

package dualws

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// nativeOptions are the options only the native driver uses.
type nativeOptions struct {
	httpClient *http.Client
	tlsConfig  *tls.Config
	onPong     func() // called for every pong the peer sends (the Heartbeat's proof of life)
}

// dialWebSocket opens the WebSocket within the handshake timeout and
// returns it with the connection under it; onPong is called for every
// pong that arrives on it.
func dialWebSocket(parent context.Context, url string, cfg *settings, onPong func()) (*websocket.Conn, *trackedConn, error) {
	nopts := cfg.native()
	nopts.onPong = onPong
	return dialNative(parent, url, cfg, nopts)
}

// dialNative is dialWebSocket with the native-only options.
//
// The handshake goes through handshakeTransport, which wraps whichever
// RoundTripper performs it (dualws's own, a clone of Options.HTTPClient's
// *http.Transport, or another RoundTripper used as it is). It checks the
// 101 response itself and wraps its body, the upgraded connection, in a
// trackedConn: so connection tracking and the frame checks sit under
// coder/websocket with any transport, plain, TLS or through a proxy.
func dialNative(parent context.Context, url string, cfg *settings, nopts nativeOptions) (*websocket.Conn, *trackedConn, error) {
	ctx, cancel := context.WithTimeout(parent, cfg.handshakeTimeout)
	defer cancel()
	sockets := &socketRecorder{}
	rt, owned, err := handshakeRoundTripper(nopts, sockets)
	if err != nil {
		return nil, nil, err
	}
	if owned != nil {
		// Keep-alives are off, so nothing should be idle; this makes sure
		// no connection of a failed handshake outlives Dial.
		defer owned.CloseIdleConnections()
	}
	ht := &handshakeTransport{next: rt, subprotocols: cfg.subprotocols, sockets: sockets}
	hc := &http.Client{}
	if nopts.httpClient != nil {
		*hc = *nopts.httpClient
	}
	hc.Transport = ht
	hc.Timeout = 0 // HandshakeTimeout and ctx bound the handshake
	// Browsers fail a redirected WebSocket handshake: return the 3xx.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      hc,
		HTTPHeader:      http.Header(cfg.header),
		Subprotocols:    cfg.subprotocols,
		CompressionMode: websocket.CompressionDisabled,
		OnPongReceived: func(context.Context, []byte) {
			if nopts.onPong != nil {
				nopts.onPong()
			}
		},
	})
	raw := ht.upgraded()
	if err != nil {
		if raw != nil {
			raw.Close()
		}
		return nil, nil, classifyDialError(parent, ctx.Err() != nil, url, resp, err)
	}
	if raw == nil {
		// Not expected: coder/websocket only opens on a 101 response.
		ws.CloseNow()
		return nil, nil, &DialError{URL: url, Reason: "connection failed", Err: errors.New("no connection under the WebSocket")}
	}
	return ws, raw, nil
}

// handshakeRoundTripper returns the RoundTripper that performs the
// handshake, and the *http.Transport when it is a private one whose idle
// connections Dial must close.
//
// With no HTTPClient, or one whose Transport is nil (http.DefaultTransport)
// or an *http.Transport, a clone is used with keep-alives and HTTP/2 off:
// a WebSocket takes its connection for itself, and a failed handshake's
// connection must not stay in a pool (with its two goroutines and its
// socket). Response headers are capped at 256 KiB, as in browsers, unless
// the Transport sets MaxResponseHeaderBytes: Go's 10 MiB default costs
// about 35 MiB of heap against a hostile server. TLSConfig replaces the
// clone's TLSClientConfig. Any other RoundTripper is used as it is: it
// must return a writable body (an io.ReadWriteCloser) for a 101 response,
// as *http.Transport does, its own pool keeps what it keeps, and TLSConfig
// cannot apply to it (a *UsageError).
func handshakeRoundTripper(o nativeOptions, sockets *socketRecorder) (http.RoundTripper, *http.Transport, error) {
	var base *http.Transport
	switch {
	case o.httpClient == nil:
		base = &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: (&net.Dialer{}).DialContext}
	default:
		rt := o.httpClient.Transport
		if rt == nil {
			rt = http.DefaultTransport // what the http.Client would use
		}
		t, ok := rt.(*http.Transport)
		if !ok {
			if o.tlsConfig != nil {
				return nil, nil, &UsageError{Op: "dial", Msg: "Options.TLSConfig needs Options.HTTPClient.Transport to be nil or an *http.Transport; configure TLS in your RoundTripper instead"}
			}
			return rt, nil, nil
		}
		base = t.Clone()
	}
	sockets.wrap(base)
	base.DisableKeepAlives = true
	if base.MaxResponseHeaderBytes == 0 {
		// Go's default is 10 MiB; browsers stop near 256 KiB.
		base.MaxResponseHeaderBytes = 256 << 10
	}
	base.ForceAttemptHTTP2 = false
	base.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	if o.tlsConfig != nil {
		base.TLSClientConfig = o.tlsConfig.Clone()
	}
	if c := base.TLSClientConfig; c != nil && len(c.NextProtos) > 0 {
		c = c.Clone()
		c.NextProtos = nil // HTTP/1.1 only: the handshake needs an Upgrade
		base.TLSClientConfig = c
	}
	return base, base, nil
}

// socketRecorder remembers the last connection a private *http.Transport
// dialed: the socket under the upgraded connection (under TLS, if any).
type socketRecorder struct {
	mu   sync.Mutex
	conn net.Conn
}

// wrap makes t's dials go through the recorder.
func (r *socketRecorder) wrap(t *http.Transport) {
	dial := t.DialContext
	if dial == nil && t.Dial != nil { // the deprecated field, honoured as net/http does
		d := t.Dial
		dial = func(_ context.Context, network, addr string) (net.Conn, error) { return d(network, addr) }
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return r.record(dial(ctx, network, addr))
	}
	if dialTLS := t.DialTLSContext; dialTLS != nil {
		t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return r.record(dialTLS(ctx, network, addr))
		}
	}
}

func (r *socketRecorder) record(c net.Conn, err error) (net.Conn, error) {
	if err == nil {
		c = newCountingConn(c)
		r.mu.Lock()
		r.conn = c
		r.mu.Unlock()
	}
	return c, err
}

func (r *socketRecorder) last() net.Conn {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conn
}

// handshakeTransport checks the server's handshake response before
// coder/websocket sees it.
//
// It works around three behaviours of coder/websocket v1.8.15's Dial:
// on an invalid 101 (wrong Sec-WebSocket-Accept, an unoffered subprotocol
// or extension) it reads the upgraded connection's "body" under its own 3 s
// timer, so Dial blocks about 3 s whatever HandshakeTimeout says and,
// under a shorter timeout, loses the cause; on a rejection it reads up to
// 1 KiB of the body the same way; and it follows redirects. Here an
// invalid 101 fails the round trip at once with its cause, a rejection's
// body is closed unread (with keep-alives off this closes the connection),
// and the client returns a 3xx instead of following it.
type handshakeTransport struct {
	next         http.RoundTripper
	subprotocols []string
	sockets      *socketRecorder

	mu   sync.Mutex
	conn *trackedConn // the upgraded connection, once a valid 101 came
}

func (h *handshakeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		resp.Body = http.NoBody
		return resp, nil
	}
	if err := checkHandshakeResponse(req.Header.Get("Sec-Websocket-Key"), h.subprotocols, resp.Header); err != nil {
		resp.Body.Close()
		return nil, err
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return nil, &handshakeError{msg: fmt.Sprintf("the HTTP client's transport returned a 101 response whose body (%T) is not writable", resp.Body)}
	}
	t := &trackedConn{rwc: rwc, socket: h.sockets.last()}
	if _, counted := t.socket.(*countingConn); !counted {
		t.entered = make(chan struct{}, 1) // a counted socket signals its own
	}
	h.mu.Lock()
	h.conn = t
	h.mu.Unlock()
	resp.Body = t
	return resp, nil
}

func (h *handshakeTransport) upgraded() *trackedConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conn
}

// handshakeError is an invalid 101 response, found by checkHandshakeResponse.
type handshakeError struct{ msg string }

func (e *handshakeError) Error() string { return "invalid handshake response: " + e.msg }

// checkHandshakeResponse applies RFC 6455 section 4.1's checks of the
// server's 101 response: Upgrade and Connection headers, the accept key,
// a subprotocol among those offered, and no extension (none is offered).
// Header names are spelled in Go's canonical form, which http.Header
// looks up without building a new string.
func checkHandshakeResponse(key string, offered []string, h http.Header) error {
	if !headerHasToken(h, "Upgrade", "websocket") {
		return &handshakeError{msg: fmt.Sprintf("Upgrade header %q lacks websocket", h.Get("Upgrade"))}
	}
	if !headerHasToken(h, "Connection", "upgrade") {
		return &handshakeError{msg: fmt.Sprintf("Connection header %q lacks Upgrade", h.Get("Connection"))}
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := h.Get("Sec-Websocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return &handshakeError{msg: fmt.Sprintf("Sec-WebSocket-Accept is %q, want %q", got, want)}
	}
	if p := h.Values("Sec-Websocket-Protocol"); len(p) > 0 {
		ok := len(p) == 1
		if ok {
			ok = false
			for _, o := range offered {
				ok = ok || o == p[0]
			}
		}
		if !ok {
			return &handshakeError{msg: fmt.Sprintf("the server chose subprotocol %q, which was not offered (offered: %q)", strings.Join(p, ", "), offered)}
		}
	}
	if e := h.Values("Sec-Websocket-Extensions"); len(e) > 0 {
		return &handshakeError{msg: fmt.Sprintf("the server chose extension %q, which was not offered", strings.Join(e, ", "))}
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func classifyDialError(parent context.Context, timedOut bool, url string, resp *http.Response, err error) error {
	de := &DialError{URL: url, Reason: "connection failed", Err: err}
	var he *handshakeError
	if reason, ctxErr := dialReason(parent, timedOut); reason != "" {
		de.Reason, de.Err = reason, ctxErr
	} else if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		de.Reason, de.HTTPStatus = "handshake rejected", resp.StatusCode
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			de.Err = fmt.Errorf("redirected to %q: a WebSocket handshake does not follow redirects (browsers fail it too)", resp.Header.Get("Location"))
		}
	} else if errors.As(err, &he) {
		de.Err = he // drop coder/websocket's and the HTTP client's wrapping
	} else if errors.Is(err, syscall.ECONNREFUSED) {
		de.Reason = "connection refused"
		var opErr *net.OpError
		if errors.As(err, &opErr) {
			de.Err = opErr // drop the HTTP client's wrapping
		}
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return de
}

// trackedConn is the upgraded connection under coder/websocket (the 101
// response's body: plaintext, above TLS). Closing it closes the socket and
// aborts everything. It remembers that a read or a write failed, so that
// a message cut short by a dropped connection is not taken as complete,
// and it checks the server's frames as they pass (see frameChecker): on a
// violation Read fails, so coder/websocket fails the connection, as a
// browser does.
type trackedConn struct {
	rwc    io.ReadWriteCloser
	socket net.Conn      // the socket under rwc when dualws dialed it, else nil
	failed atomic.Uint32 // the bits below: failures, the close frame, how the socket was closed

	// The frames written to rwc, each whole in one Write (writeWhole):
	// dualws's data frames (writeFrame) and coder/websocket's control
	// frames (Write), which are queued behind a data frame, but for the
	// close frame, which waits. Under wmu, held briefly.
	wmu      sync.Mutex
	writing  bool          // a Write of rwc is under way
	queued   []byte        // pings that came meanwhile: that writer writes them, and pong, before it lets go
	pong     []byte        // the last pong that came meanwhile: one answers every ping (RFC 6455 5.5.3)
	idle     chan struct{} // made by a data frame that waits for writing to end; closed when it does
	writeEnd error         // a close frame went, or a Write failed: no data frame may follow

	// For awaitReader when socket is not a *countingConn (which then
	// tracks its own Reads): the reader is in Read; entered is signalled
	// when it calls Read while a Send waits.
	inRead  atomic.Bool
	waiting atomic.Bool

	// closeMu orders Close's decision (half-close, close, or nothing) and
	// closeNow: coder/websocket, the closing handshake and the reader's
	// teardown all close the connection. With the flags in one word,
	// trackedConn stays in the 112 B size class.
	closeMu sync.Mutex
	entered chan struct{}

	// Used only under coder/websocket's read lock (by the reader, or by
	// the client's Close during its closing handshake), but for
	// frames.sized.
	frames frameChecker
	// The error the next Read returns, after the bytes before it: a
	// protocol violation, or the error of a Read that also returned bytes.
	nextErr error

	// The peer's close frame, once one that coder/websocket will accept has
	// passed, and the messages the reader has delivered: the driver decides
	// the close when they match (nativeConn.peerCloseIfDue), which Read
	// also checks when the frame passes.
	peerClose atomic.Pointer[peerCloseFrame]
	delivered atomic.Uint64
	driver    *nativeConn // nil in tests that read a trackedConn alone
}

// peerCloseFrame is the peer's close frame: its code and reason, and how
// many data messages came before it.
type peerCloseFrame struct {
	after  uint64
	code   StatusCode
	reason string
}

// The bits of trackedConn.failed.
const (
	readFailed     = 1 << iota // a Read failed, or met a protocol violation
	writeFailed                // a Write failed
	closeFrameRead             // a Read returned the whole of the peer's close frame
	halfClosed                 // Close only half-closed the socket; awaitPeerEnd is due
	peerReset                  // Close took the peer's reset from the socket (finishClose reports it)
	socketClosed               // Close closed the socket: no half-close any more
	messageCut                 // a fragmented Send failed mid-message: the peer holds part of a message, so no Send may follow
	fragmentsCame              // a data message came in several frames (frameChecker.fragmented): readMessage reads each to its end
	midMessage                 // the last Read ended inside a message, its rest on its way (frameChecker.inMessage): set and cleared
)

// hasFailed reports whether any of the bits in f is set.
func (t *trackedConn) hasFailed(f uint32) bool { return t.failed.Load()&f != 0 }

func (t *trackedConn) Read(p []byte) (int, error) {
	if t.nextErr != nil {
		t.failed.Or(readFailed)
		return 0, t.nextErr
	}
	t.inRead.Store(true)
	if t.waiting.Load() {
		notify(t.entered)
	}
	n, err := t.rwc.Read(p)
	t.inRead.Store(false)
	if n > 0 {
		if ok, verr := t.frames.check(p[:n]); verr != nil {
			t.nextErr = verr
			n, err = ok, nil // the frames before the violation, a close frame among them; the error comes next
			if ok == 0 {
				err = verr
			}
		} else if err != nil {
			// The bytes first, as from a socket: a tls.Conn returns
			// io.EOF with the last bytes when the peer's close_notify
			// follows them, and the reader took a message whole among
			// them as one cut short by the end, and dropped it.
			t.nextErr, err = err, nil
		}
	}
	if t.frames.fragmented && !t.hasFailed(fragmentsCame) {
		t.failed.Or(fragmentsCame)
	}
	if mid := t.frames.inMessage(); mid != t.hasFailed(midMessage) {
		if mid {
			t.failed.Or(midMessage)
		} else {
			t.failed.And(^uint32(midMessage))
		}
	}
	if t.frames.closeRead {
		t.frames.closeRead = false
		t.failed.Or(closeFrameRead)
		if pc := t.frames.first; pc != nil && t.peerClose.CompareAndSwap(nil, pc) && t.driver != nil {
			t.driver.peerCloseIfDue()
		}
	}
	if err != nil {
		t.failed.Or(readFailed)
	}
	return n, err
}

// Write writes coder/websocket's frames: control frames only (dualws
// writes the data frames, writeFrame), each whole in one call, since
// coder/websocket flushes its buffer after each. A ping or pong that comes
// while a data frame is being written is queued behind it and reported
// written: coder/websocket arms a 5 s timer around each write and closes
// the connection when it fires, and a Send to a peer that does not read
// holds the socket longer. So the reader, which writes the pong to a
// peer's ping, never waits behind a Send, and a keepalive ping goes out
// right after the frame being written. A close frame waits for that frame
// and the queue (coder/websocket closes the socket right after it), and
// no data frame starts behind it (errCloseWritten).
func (t *trackedConn) Write(p []byte) (int, error) {
	t.wmu.Lock()
	isClose := len(p) > 0 && p[0]&0x0f == opClose
	if isClose && t.writeEnd == nil {
		t.writeEnd = errCloseWritten
	}
	for isClose && t.writing {
		t.waitWriter()
	}
	if err := t.writeEnd; err != nil && err != errCloseWritten {
		t.wmu.Unlock()
		return 0, err
	}
	if t.writing {
		if len(p) > 0 && p[0]&0x0f == opPong {
			t.pong = append(t.pong[:0], p...) // a peer's ping flood holds one pong, not one each
		} else {
			t.queued = append(t.queued, p...)
		}
		t.wmu.Unlock()
		return len(p), nil
	}
	return len(p), t.writeWhole(p)
}

// writeFrame writes b, one whole data frame that dualws built. After a
// close frame, or a Write that failed (a frame may have been cut short),
// it writes nothing and returns that error. It waits for a control frame
// being written; Sends come one at a time (the send lock).
func (t *trackedConn) writeFrame(b []byte) error {
	t.wmu.Lock()
	for t.writing && t.writeEnd == nil {
		t.waitWriter()
	}
	if err := t.writeEnd; err != nil {
		t.wmu.Unlock()
		return err
	}
	return t.writeWhole(b)
}

// waitWriter waits, under wmu, for the Write of rwc under way to end.
func (t *trackedConn) waitWriter() {
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	idle := t.idle
	t.wmu.Unlock()
	<-idle
	t.wmu.Lock()
}

// writeWhole writes b, then the control frames queued meanwhile, with wmu
// held on entry and released on return, but not during the writes. It
// returns b's error: a queued frame's failure is for the next frame. A
// write cut by a deadline, which a Send's context sets (writeCtx), leaves
// the connection unable to write: the client drops it
// (sendInterrupted), unless its close is decided already.
func (t *trackedConn) writeWhole(b []byte) error {
	t.writing = true
	var first error
	for i := 0; ; i++ {
		t.wmu.Unlock()
		_, err := t.rwc.Write(b)
		t.wmu.Lock()
		if err != nil {
			t.writeEnd = err
			t.failed.Or(writeFailed)
			if i == 0 {
				first = err
			}
		}
		if err == nil && len(t.queued)+len(t.pong) > 0 {
			b, t.queued = append(t.queued, t.pong...), nil
			t.pong = t.pong[:0]
			continue
		}
		t.writing, t.queued, t.pong = false, nil, nil
		if t.idle != nil {
			close(t.idle)
			t.idle = nil
		}
		t.wmu.Unlock()
		if errors.Is(err, os.ErrDeadlineExceeded) && t.driver != nil {
			t.driver.c.sendInterrupted()
		}
		return first
	}
}

// Close closes the connection; a Read or Write in progress fails. It
// closes the socket first: over TLS, closing rwc alone sends a
// close_notify alert, which waits up to 5 s for a peer that stopped
// reading. A later Close returns net.ErrClosed once the first has
// returned, without closing again: that second close cost the reader's
// teardown, after the peer's close frame, about 0.7 µs of errors built
// for nobody.
//
// After the peer's close frame, which coder/websocket reads before it
// closes (right after its reply, or after the answer to the client's
// close), Close only half-closes the socket (FIN), unless the peer's end
// of TCP is already there, and a Close after that does nothing: the
// reader's teardown waits for the peer's end and closes the socket
// (finishClose). Only closeNow cuts that wait short.
func (t *trackedConn) Close() error {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	switch f := t.failed.Load(); {
	case f&socketClosed != 0:
		return net.ErrClosed
	case f&halfClosed != 0:
		return nil
	case t.halfClose(f):
		return nil
	}
	return t.closeLocked()
}

// closeNow closes the socket at once, half-closed or not: an abort.
func (t *trackedConn) closeNow() error {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	if t.hasFailed(socketClosed) {
		return net.ErrClosed
	}
	return t.closeLocked()
}

func (t *trackedConn) closeLocked() error {
	t.failed.Or(socketClosed)
	if t.socket != nil {
		t.socket.Close()
	}
	return t.rwc.Close()
}

// halfClose shuts the socket's sending side, under closeMu, when the
// peer's close frame has been read and nothing failed, unless the peer's
// end of TCP has already arrived (usual after the answer to the client's
// close): then it notes a reset and leaves the socket to be closed at
// once. It reports whether it half-closed.
func (t *trackedConn) halfClose(f uint32) bool {
	if f&(closeFrameRead|readFailed|writeFailed|peerReset) != closeFrameRead {
		return false
	}
	s := transportSocket(t.socket)
	if s == nil {
		return false
	}
	if reset, known := socketEnd(t.socketRaw(s)); known {
		if reset {
			t.failed.Or(peerReset)
		}
		return false
	}
	t.failed.Or(halfClosed)
	if s.CloseWrite() != nil {
		t.failed.Or(writeFailed)
	}
	return true
}

// socketRaw returns the raw connection of s, the socket under t: the
// counting wrapper's when it wraps s, without SyscallConn's allocation.
func (t *trackedConn) socketRaw(s halfClosableSocket) syscall.RawConn {
	if cc, ok := t.socket.(*countingConn); ok && cc.Conn == net.Conn(s) && cc.raw != nil {
		return cc.raw
	}
	raw, _ := s.SyscallConn()
	return raw
}

// halfClosableSocket is an operating-system socket that can shut its
// sending side: *net.TCPConn, *net.UnixConn.
type halfClosableSocket interface {
	net.Conn
	syscall.Conn
	CloseWrite() error
}

// transportSocket returns the socket under s, through the counting
// wrapper and TLS (an HTTPClient whose Transport dials TLS itself records
// the *tls.Conn), or nil when there is none. A *tls.Conn's own CloseWrite
// would send a close_notify alert, waiting for its write lock behind a
// Send blocked on a peer that does not read: for ever.
func transportSocket(s net.Conn) halfClosableSocket {
	for s != nil {
		switch c := s.(type) {
		case halfClosableSocket:
			return c
		case *countingConn:
			s = c.Conn
		case interface{ NetConn() net.Conn }:
			s = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// finishClose ends the connection for the reader's teardown and reports
// whether the peer reset it (RFC 6455 7.1.1: the server closes TCP first,
// and a client waits for it): then the close was not clean, as Chromium
// reports it. After the peer's close, a reset means it did not read the
// client's reply. After a half-close it waits, up to limit, for the peer's
// end of TCP, discarding what arrives; a peer that keeps TCP open past
// limit counts as clean, as in Chromium, which waits 2 s. closeNow cuts
// the wait short (an abort, whose status the machine has decided). A
// failed write means the reply did not go out (it waited behind a Send's
// frame that the half-close then failed): the close is not clean whatever
// the peer does, so nothing is awaited.
func (t *trackedConn) finishClose(limit time.Duration) (reset bool) {
	if t.hasFailed(halfClosed) && !t.hasFailed(socketClosed|writeFailed) {
		reset = t.awaitPeerEnd(limit)
	}
	t.closeNow()
	return reset || t.hasFailed(peerReset)
}

// awaitPeerEnd is finishClose's wait, outside closeMu so that closeNow can
// end it.
func (t *trackedConn) awaitPeerEnd(limit time.Duration) (reset bool) {
	s := transportSocket(t.socket) // under TLS: what arrives now is discarded unread
	if reset, known := socketEnd(t.socketRaw(s)); known {
		return reset
	}
	s.SetReadDeadline(time.Now().Add(limit))
	var buf [256]byte
	for {
		_, err := s.Read(buf[:])
		switch {
		case err == nil:
		case err == io.EOF, errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, net.ErrClosed):
			return false
		default:
			return true
		}
	}
}

// protocolViolation is the error trackedConn.Read returns when the server
// breaks a rule coder/websocket does not check.
type protocolViolation struct{ msg string }

func (e *protocolViolation) Error() string { return "protocol violation: " + e.msg }

// frameChecker follows the server's frames in the byte stream, headers
// split across reads included, and reports what coder/websocket v1.8.15
// lets through: a masked frame (RFC 6455 section 5.1: the client must
// fail the connection; coder delivers the payload still masked) and a
// close frame whose reason is not UTF-8 (section 8.1; coder takes it as a
// clean close). Only headers and close payloads are looked at: a data
// frame's payload is skipped by arithmetic.
type frameChecker struct {
	hdr        [10]byte // header bytes gathered so far (the server sends no mask key)
	hdrN       uint8
	hdrLen     uint8 // the header's length, once its second byte is known
	isClose    bool  // the current frame is a close frame of at most 125 bytes
	payN       uint8
	closeRead  bool            // a whole close frame passed; trackedConn.Read moves it into failed
	inMsg      bool            // a fragmented data message is under way
	doomed     bool            // a frame coder/websocket rejects has passed: it fails the connection there
	fragmented bool            // a data frame that is not final has passed; trackedConn.Read moves it into failed
	endsMsg    bool            // the current frame is a message's last: its payload's end counts in msgEnds (payloadDone)
	closeSeen  bool            // the first close frame has passed: what follows it does not count
	sized      atomic.Uint32   // the last data message in one frame longer than the reader's scratch buffer: sizedWord; 0 before the first
	remain     uint64          // payload bytes of the current frame still to come
	payload    *[125]byte      // made by the first close frame with a payload: most connections see one at most
	msgEnds    atomic.Uint64   // data messages whose last frame has passed whole, payload included; the reader reads it outside coder/websocket's read lock (readLoop's batches)
	first      *peerCloseFrame // the first close frame, if coder/websocket takes it as the peer's close
}

// check inspects the next bytes of the stream. On a violation it returns
// how many of them precede the violating frame (those may be passed on)
// and the error.
func (f *frameChecker) check(p []byte) (int, error) {
	start := 0 // where the current frame's header began in p (0 if earlier)
	i := 0
	for i < len(p) {
		if f.remain > 0 {
			n := uint64(len(p) - i)
			if n > f.remain {
				n = f.remain
			}
			if f.isClose {
				f.payN += uint8(copy(f.payload[f.payN:], p[i:i+int(n)]))
			}
			f.remain -= n
			i += int(n)
			if f.remain == 0 && f.isClose {
				if err := f.checkClose(); err != nil {
					return start, err
				}
			}
			if f.remain == 0 {
				f.payloadDone()
			}
			continue
		}
		if f.hdrN == 0 {
			start = i
			// Fast path: a whole header in this read.
			if rest := p[i:]; len(rest) >= 2 && rest[1]&0x80 == 0 {
				var length uint64
				switch l := rest[1] & 0x7F; {
				case l < 126:
					length, i = uint64(l), i+2
				case l == 126 && len(rest) >= 4:
					length, i = uint64(binary.BigEndian.Uint16(rest[2:])), i+4
				case l == 127 && len(rest) >= 10:
					length, i = binary.BigEndian.Uint64(rest[2:]), i+10
				default:
					goto slow
				}
				if rest[0]&0x0F != opClose { // not a close frame: skip its payload
					f.noteFrame(rest[0], length)
					f.isClose, f.remain = false, length
					if length == 0 {
						f.payloadDone()
					}
					continue
				}
				if err := f.startPayload(rest[0], length); err != nil {
					return start, err
				}
				continue
			}
		}
	slow:
		f.hdr[f.hdrN] = p[i]
		f.hdrN++
		i++
		if f.hdrN == 2 {
			if f.hdr[1]&0x80 != 0 {
				return start, &protocolViolation{msg: "the server sent a masked frame (RFC 6455 section 5.1)"}
			}
			switch f.hdr[1] & 0x7F {
			case 126:
				f.hdrLen = 4
			case 127:
				f.hdrLen = 10
			default:
				f.hdrLen = 2
			}
		}
		if f.hdrN < 2 || f.hdrN < f.hdrLen {
			continue
		}
		var length uint64
		switch f.hdrLen {
		case 4:
			length = uint64(binary.BigEndian.Uint16(f.hdr[2:]))
		case 10:
			length = binary.BigEndian.Uint64(f.hdr[2:])
		default:
			length = uint64(f.hdr[1] & 0x7F)
		}
		f.hdrN = 0
		if err := f.startPayload(f.hdr[0], length); err != nil {
			return start, err
		}
	}
	return 0, nil
}

// startPayload starts the payload of a frame whose header is read.
func (f *frameChecker) startPayload(b0 byte, length uint64) error {
	f.isClose = b0&0x0F == opClose && length <= 125
	f.payN, f.remain = 0, length
	f.noteFrame(b0, length)
	if length == 0 {
		f.payloadDone()
	}
	if f.isClose {
		if length == 0 {
			return f.checkClose()
		}
		if f.payload == nil {
			f.payload = new([125]byte)
		}
	}
	return nil
}

func (f *frameChecker) checkClose() error {
	f.isClose = false
	if f.payN > 2 && !utf8.Valid(f.payload[2:f.payN]) {
		return &protocolViolation{msg: "the server's close reason is not valid UTF-8 (RFC 6455 section 8.1)"}
	}
	f.closeRead = true
	if !f.closeSeen {
		f.closeSeen = true
		f.first = f.peerCloseFrame()
	}
	return nil
}

// noteFrame follows a frame header up to the first close frame, for
// peerCloseFrame: a data frame ends its message when final and starts or
// continues one when not; a frame that coder/websocket rejects fails the
// connection there (doomed): a reserved bit (compression is off), a
// reserved opcode, a control frame that is not final or is over 125
// bytes, a continuation outside a message, a new message inside one.
func (f *frameChecker) noteFrame(b0 byte, length uint64) {
	if f.closeSeen {
		return
	}
	op, fin := b0&0x0F, b0&0x80 != 0
	switch {
	case b0&0x70 != 0, op > opPong, op > byte(Binary) && op < opClose:
		f.doomed = true
	case op >= opClose:
		f.doomed = f.doomed || !fin || length > 125
	case (op == opContinuation) != f.inMsg:
		f.doomed = true
	default:
		if fin && op != 0x0 && length > scratchSize {
			f.sized.Store(sizedWord(f.msgEnds.Load(), min(length, presizeMax)))
		}
		f.inMsg = !fin
		f.fragmented = f.fragmented || !fin
		f.endsMsg = fin
	}
}

// inMessage reports whether the stream has stopped inside a data message:
// a frame's header or payload cut short, or a fragmented message under
// way (takenLately).
func (f *frameChecker) inMessage() bool {
	return f.inMsg || f.hdrN > 0 || f.remain > 0 && !f.isClose
}

// payloadDone ends the current frame's payload: a message's last frame
// counts in msgEnds now, once its bytes are in the reader's buffer, so
// that the reader batches only messages it can read without waiting.
func (f *frameChecker) payloadDone() {
	if f.endsMsg {
		f.endsMsg = false
		f.msgEnds.Store(f.msgEnds.Load() + 1) // one writer at a time: the reader, or coder/websocket's closing handshake
	}
}

// takeMessageSize returns the length of the data message after index
// earlier ones, read from its frame header, when it came in one frame
// longer than the reader's scratch buffer and no later such header has
// passed; else 0. It is a capacity hint for the reader (readMessage), used
// once: coder/websocket has read the header before its Reader returns.
// The reader calls it outside coder/websocket's read lock, which the
// client's Close may then take to read on (its closing handshake): hence
// one atomic word.
func (f *frameChecker) takeMessageSize(index uint64) int {
	w := f.sized.Load()
	if w == 0 || w>>sizedLenBits != sizedWord(index, 1)>>sizedLenBits || !f.sized.CompareAndSwap(w, 0) {
		return 0
	}
	return int(w&(1<<sizedLenBits-1)) + 1
}

// sizedWord packs a message's index, modulo 4096, and its length (1 to
// presizeMax) into frameChecker.sized. The checker runs ahead of the reader
// by at most coder/websocket's 4 KiB read buffer, fewer than 4096 frames,
// so the index modulo 4096 names one message.
func sizedWord(index uint64, length uint64) uint32 {
	return uint32(index%4096)<<sizedLenBits | uint32(length-1)
}

const sizedLenBits = 20 // presizeMax-1 fits

// peerCloseFrame returns the close frame that just passed, the first, or
// nil when coder/websocket would not report it as the peer's close: after
// a frame it rejects, with a 1-byte payload or a code it rejects
// (validWireCloseCode). No payload is 1005, as coder/websocket reports it.
// Between the fragments of a message (RFC 6455 5.4 lets control frames
// come there) it counts: coder/websocket answers it and its message reader
// returns the close, and the unfinished message is dropped, as browsers
// drop it.
func (f *frameChecker) peerCloseFrame() *peerCloseFrame {
	if f.doomed || f.payN == 1 {
		return nil
	}
	pc := &peerCloseFrame{after: f.msgEnds.Load(), code: StatusNoStatusRcvd}
	if f.payN >= 2 {
		pc.code, pc.reason = StatusCode(binary.BigEndian.Uint16(f.payload[:2])), string(f.payload[2:f.payN])
		if !peerWireCode(pc.code) {
			return nil
		}
	}
	return pc
}
