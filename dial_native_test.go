//go:build !js

package dualws

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dualws/dualws/internal/testca"
)

// serverFrame builds an unmasked frame (or a masked one when masked).
func serverFrame(b0 byte, masked bool, payload []byte) []byte {
	var m byte
	if masked {
		m = 0x80
	}
	var b []byte
	switch l := len(payload); {
	case l < 126:
		b = []byte{b0, m | byte(l)}
	case l <= 0xFFFF:
		b = binary.BigEndian.AppendUint16([]byte{b0, m | 126}, uint16(l))
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, m | 127}, uint64(l))
	}
	if masked {
		b = append(b, 1, 2, 3, 4)
	}
	return append(b, payload...)
}

func closeFrameBytes(code uint16, reason []byte) []byte {
	return serverFrame(0x88, false, append(binary.BigEndian.AppendUint16(nil, code), reason...))
}

// TestFrameChecker feeds streams to the checker cut at every point, and in
// one byte at a time: valid streams pass whole; a violating stream fails
// at its violating frame, passing on exactly the frames before it.
func TestFrameChecker(t *testing.T) {
	valid := [][]byte{
		serverFrame(0x81, false, []byte("hello")),
		serverFrame(0x82, false, make([]byte, 300)),     // 16-bit length
		serverFrame(0x82, false, make([]byte, 70_000)),  // 64-bit length
		serverFrame(0x01, false, []byte("frag")),        // first fragment
		serverFrame(0x89, false, []byte("ping")),        // control inside a message
		serverFrame(0x80, false, []byte("ment")),        // last fragment
		serverFrame(0x88, false, nil),                   // close without a code
		closeFrameBytes(1000, []byte("bye ✓")),          // close with a UTF-8 reason
		closeFrameBytes(1000, nil),                      // close with a code only
		serverFrame(0x8A, false, make([]byte, 125)),     // largest control frame
		serverFrame(0x88, false, make([]byte, 126))[:4], // close over 125: header only, coder rejects it
	}
	for _, tc := range []struct {
		name   string
		frames [][]byte
		bad    int // index of the violating frame, -1: none
		msg    string
	}{
		{"valid frames", valid[:len(valid)-1], -1, ""},
		{"masked data frame", [][]byte{valid[0], serverFrame(0x81, true, []byte("hello"))}, 1, "masked"},
		{"masked control frame", [][]byte{valid[1], serverFrame(0x89, true, nil)}, 1, "masked"},
		{"masked first frame", [][]byte{serverFrame(0x82, true, make([]byte, 200))}, 0, "masked"},
		{"close reason not UTF-8", [][]byte{valid[0], valid[2], closeFrameBytes(4000, []byte{0xff, 'x'})}, 2, "UTF-8"},
		{"close reason cut UTF-8", [][]byte{closeFrameBytes(1000, []byte("€")[:2])}, 0, "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stream []byte
			before := 0
			for i, f := range tc.frames {
				if i == tc.bad {
					before = len(stream)
				}
				stream = append(stream, f...)
			}
			check := func(chunks [][]byte) {
				t.Helper()
				var f frameChecker
				passed := 0
				for _, c := range chunks {
					ok, err := f.check(c)
					if err != nil {
						assert.Contains(t, err.Error(), tc.msg)
						// The violating frame's bytes are held back, except
						// those of it already passed on in earlier reads.
						assert.Equal(t, max(before, passed), passed+ok, "bytes passed on before the violation")
						return
					}
					passed += len(c)
				}
				assert.Equal(t, -1, tc.bad, "no violation found")
			}
			// One byte at a time, so every header is split.
			var bytes [][]byte
			for i := range stream {
				bytes = append(bytes, stream[i:i+1])
			}
			check(bytes)
			// Two reads, cut at every point (a sample of them for long streams).
			step := 1
			if len(stream) > 2000 {
				step = 97
			}
			for cut := 0; cut <= len(stream); cut += step {
				check([][]byte{stream[:cut], stream[cut:]})
			}
		})
	}
}

// fakeConn is a ReadWriteCloser reading from chunks.
type fakeConn struct {
	chunks [][]byte
	closed bool
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if len(f.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.chunks[0])
	f.chunks[0] = f.chunks[0][n:]
	if len(f.chunks[0]) == 0 {
		f.chunks = f.chunks[1:]
	}
	return n, nil
}
func (f *fakeConn) Write(p []byte) (int, error) { return 0, errors.New("broken pipe") }
func (f *fakeConn) Close() error                { f.closed = true; return nil }

// A violation found in a read returns the frames before it first, then
// the error; readFailed is only set with the error, so the message before
// it is complete.
func TestTrackedConnViolation(t *testing.T) {
	good := serverFrame(0x81, false, []byte("first"))
	fc := &fakeConn{chunks: [][]byte{append(append([]byte{}, good...), serverFrame(0x82, true, []byte("x"))...)}}
	tc := &trackedConn{rwc: fc}
	p := make([]byte, 64)
	n, err := tc.Read(p)
	require.NoError(t, err)
	assert.Equal(t, good, p[:n])
	assert.False(t, tc.hasFailed(readFailed))
	_, err = tc.Read(p)
	var pv *protocolViolation
	require.ErrorAs(t, err, &pv)
	assert.True(t, tc.hasFailed(readFailed))
	_, err = tc.Read(p)
	assert.ErrorAs(t, err, &pv, "the violation sticks")

	_, err = tc.Write([]byte("x"))
	assert.Error(t, err)
	assert.True(t, tc.hasFailed(writeFailed))
	tc.Close()
	assert.True(t, fc.closed)
}

// trackedConn marks the peer's close frame once a Read has returned all
// of it, and not for data frames or a close frame still in parts: a Send
// refuses to go out behind a close the reader has yet to act on.
func TestTrackedConnMarksTheCloseFrame(t *testing.T) {
	closing := serverFrame(0x88, false, []byte{0x0f, 0xa0, 'b', 'y', 'e'})
	fc := &fakeConn{chunks: [][]byte{serverFrame(0x82, false, []byte("data")), closing[:3], closing[3:]}}
	tc := &trackedConn{rwc: fc}
	p := make([]byte, 64)
	for i, want := range []bool{false, false, true} {
		if _, err := tc.Read(p); err != nil {
			t.Fatal(err)
		}
		if got := tc.hasFailed(closeFrameRead); got != want {
			t.Fatalf("after read %d the close frame is marked %v, want %v", i+1, got, want)
		}
	}
	assert.False(t, tc.hasFailed(readFailed))
}

// closeCounter counts Close calls; release, when set, holds the first
// Close until it is closed.
type closeCounter struct {
	net.Conn
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (c *closeCounter) Close() error {
	if c.calls.Add(1) == 1 && c.release != nil {
		close(c.entered)
		<-c.release
	}
	return nil
}

// trackedConn closes once: coder/websocket closes it after the peer's
// close frame and the reader's teardown closes it again. A Close that
// comes while the first is under way returns only after it.
func TestTrackedConnClosesOnce(t *testing.T) {
	socket := &closeCounter{}
	rwc := &closeCounter{entered: make(chan struct{}), release: make(chan struct{})}
	tc := &trackedConn{rwc: rwc, socket: socket}
	firstDone := make(chan error)
	go func() { firstDone <- tc.Close() }()
	<-rwc.entered
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	secondDone := make(chan error)
	go func() {
		err := tc.Close()
		note("second returned")
		secondDone <- err
	}()
	time.Sleep(10 * time.Millisecond) // room for a second Close that does not wait
	note("first released")
	close(rwc.release)
	require.NoError(t, <-firstDone)
	assert.ErrorIs(t, <-secondDone, net.ErrClosed)
	assert.Equal(t, []string{"first released", "second returned"}, order)
	assert.ErrorIs(t, tc.Close(), net.ErrClosed, "a third Close")
	assert.Equal(t, int32(1), socket.calls.Load(), "the socket is closed once")
	assert.Equal(t, int32(1), rwc.calls.Load(), "rwc is closed once")
}

func TestCheckHandshakeResponse(t *testing.T) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	const accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" // RFC 6455 section 1.3
	good := func() http.Header {
		h := http.Header{}
		h.Set("Upgrade", "websocket")
		h.Set("Connection", "Upgrade")
		h.Set("Sec-WebSocket-Accept", accept)
		return h
	}
	require.NoError(t, checkHandshakeResponse(key, nil, good()))
	for _, tc := range []struct {
		name    string
		offered []string
		edit    func(http.Header)
		want    string // "" means valid
	}{
		{"chosen subprotocol", []string{"a", "b"}, func(h http.Header) { h.Set("Sec-WebSocket-Protocol", "b") }, ""},
		{"token lists", nil, func(h http.Header) { h.Set("Connection", "keep-alive, upgrade"); h.Set("Upgrade", "WebSocket") }, ""},
		{"wrong accept", nil, func(h http.Header) { h.Set("Sec-WebSocket-Accept", "x") }, "Sec-WebSocket-Accept"},
		{"no accept", nil, func(h http.Header) { h.Del("Sec-WebSocket-Accept") }, "Sec-WebSocket-Accept"},
		{"no upgrade", nil, func(h http.Header) { h.Del("Upgrade") }, "Upgrade"},
		{"no connection", nil, func(h http.Header) { h.Set("Connection", "close") }, "Connection"},
		{"unoffered subprotocol", []string{"a"}, func(h http.Header) { h.Set("Sec-WebSocket-Protocol", "evil") }, "subprotocol"},
		{"subprotocol none offered", nil, func(h http.Header) { h.Set("Sec-WebSocket-Protocol", "a") }, "subprotocol"},
		{"two subprotocols", []string{"a", "b"}, func(h http.Header) { h.Add("Sec-WebSocket-Protocol", "a"); h.Add("Sec-WebSocket-Protocol", "b") }, "subprotocol"},
		{"extension", nil, func(h http.Header) { h.Set("Sec-WebSocket-Extensions", "permessage-deflate") }, "extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := good()
			tc.edit(h)
			err := checkHandshakeResponse(key, tc.offered, h)
			if tc.want == "" {
				assert.NoError(t, err)
			} else if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.want)
			}
		})
	}
}

func newTestCA(t *testing.T) *testca.CA {
	t.Helper()
	ca, err := testca.New("dualws test CA")
	require.NoError(t, err)
	return ca
}

// serveTLS starts a wss:// echo server with the CA's certificate, offering
// HTTP/2 too (the client must still get HTTP/1.1), and returns its URL.
func serveTLS(t *testing.T, ca *testca.CA) string {
	t.Helper()
	testCtx, stop := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithCancel(r.Context())
		defer context.AfterFunc(testCtx, cancel)()
		echo(ctx, c)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server}}
	srv.StartTLS()
	t.Cleanup(func() { stop(); srv.Close() })
	return "wss" + strings.TrimPrefix(srv.URL, "https")
}

// connectProxy is an HTTP CONNECT proxy on loopback that records the
// targets it was asked for.
type connectProxy struct {
	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	targets []string
	conns   []net.Conn
}

func newConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &connectProxy{ln: ln}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *connectProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		p.wg.Go(func() { p.handle(c) })
	}
}

func (p *connectProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
}

func (p *connectProxy) handle(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, req.Host)
	p.mu.Unlock()
	up, err := net.Dial("tcp", req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.track(up)
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, br); up.Close(); done <- struct{}{} }()
	go func() { io.Copy(c, up); c.Close(); done <- struct{}{} }()
	<-done
	<-done
}

func (p *connectProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *connectProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// echoOverNative dials with dialNative, echoes one message on the
// coder/websocket connection and closes it.
func echoOverNative(t *testing.T, wsURL string, nopts nativeOptions) {
	t.Helper()
	cfg := (&Options{HandshakeTimeout: 5 * time.Second}).settings()
	ws, raw, err := dialNative(context.Background(), wsURL, &cfg, nopts)
	require.NoError(t, err)
	require.NotNil(t, raw, "the upgraded connection is tracked")
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte("over tls")))
	_, b, err := ws.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, "over tls", string(b))
	assert.NoError(t, ws.Close(websocket.StatusNormalClosure, ""))
}

// wss:// with a certificate from a test CA, trusted through TLSConfig.
func TestDialTLSConfig(t *testing.T) {
	ca := newTestCA(t)
	wsURL := serveTLS(t, ca)
	echoOverNative(t, wsURL, nativeOptions{tlsConfig: &tls.Config{RootCAs: ca.Pool}})

	// The same server without the CA: a *DialError with the x509 cause.
	cfg := (&Options{HandshakeTimeout: 5 * time.Second}).settings()
	_, _, err := dialNative(context.Background(), wsURL, &cfg, nativeOptions{})
	var de *DialError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "connection failed", de.Reason)
	var unknown x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &unknown)
}

// HTTPClient with a proxy: wss:// through an HTTP CONNECT proxy, TLS
// from the client's own Transport or from TLSConfig.
func TestDialHTTPClientProxy(t *testing.T) {
	ca := newTestCA(t)
	wsURL := serveTLS(t, ca)
	proxy := newConnectProxy(t)
	proxyURL := "http://" + proxy.ln.Addr().String()
	target := strings.TrimPrefix(wsURL, "wss://")

	tr := &http.Transport{
		Proxy:           func(*http.Request) (*url.URL, error) { return url.Parse(proxyURL) },
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool, NextProtos: []string{"h2", "http/1.1"}},
	}
	echoOverNative(t, wsURL, nativeOptions{httpClient: &http.Client{Transport: tr}})
	assert.Equal(t, []string{target}, proxy.seen(), "the handshake went through the proxy")

	// TLSConfig replaces the client's TLS settings.
	tr2 := &http.Transport{Proxy: tr.Proxy}
	echoOverNative(t, wsURL, nativeOptions{httpClient: &http.Client{Transport: tr2}, tlsConfig: &tls.Config{RootCAs: ca.Pool}})
	assert.Equal(t, []string{target, target}, proxy.seen())
	// The caller's Transport is not given the TLSConfig (net/http itself
	// may fill in its NextProtos).
	assert.True(t, tr2.TLSClientConfig == nil || tr2.TLSClientConfig.RootCAs == nil, "the caller's Transport is not modified")
}

// roundTripperFunc is an http.RoundTripper that is not an *http.Transport.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A RoundTripper that is not an *http.Transport is used as it is, and the
// connection it returns is still tracked and checked: a masked frame from
// the server fails the connection. TLSConfig cannot apply to it.
func TestDialCustomRoundTripper(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
			acceptFor(r.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
		conn.Write(serverFrame(0x82, true, []byte("hello")))
		io.Copy(io.Discard, brw) // until the client closes
	}))
	defer srv.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http")
	base := &http.Transport{DisableKeepAlives: true}
	defer base.CloseIdleConnections()
	calls := 0
	hc := &http.Client{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return base.RoundTrip(r)
	})}
	cfg := (&Options{HandshakeTimeout: 5 * time.Second}).settings()
	ws, raw, err := dialNative(context.Background(), wsURL, &cfg, nativeOptions{httpClient: hc})
	require.NoError(t, err)
	defer raw.Close()
	assert.Equal(t, 1, calls)
	_, _, err = ws.Read(context.Background())
	var pv *protocolViolation
	assert.ErrorAs(t, err, &pv, "the masked frame is refused")
	ws.CloseNow()

	_, _, err = dialNative(context.Background(), wsURL, &cfg, nativeOptions{httpClient: hc, tlsConfig: &tls.Config{}})
	var ue *UsageError
	assert.ErrorAs(t, err, &ue)
}

// Options.TLSConfig and Options.HTTPClient through the public API: an echo
// and a clean close on a dualws Client. This needs settings to carry both
// options (see options_native.go).
func TestDialOptionsTLSAndHTTPClient(t *testing.T) {
	ca := newTestCA(t)
	wsURL := serveTLS(t, ca)
	proxy := newConnectProxy(t)
	proxyURL := "http://" + proxy.ln.Addr().String()
	for _, opts := range []*Options{
		{TLSConfig: &tls.Config{RootCAs: ca.Pool}},
		{HTTPClient: &http.Client{Transport: &http.Transport{
			Proxy:           func(*http.Request) (*url.URL, error) { return url.Parse(proxyURL) },
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
		}}},
	} {
		opts.HandshakeTimeout = 5 * time.Second
		c, err := Dial(context.Background(), wsURL, opts)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		require.NoError(t, c.SendText(ctx, "public"))
		_, b, err := c.Receive(ctx)
		cancel()
		require.NoError(t, err)
		assert.Equal(t, "public", string(b))
		assert.NoError(t, c.Close(StatusNormalClosure, ""))
	}
	assert.Len(t, proxy.seen(), 1, "the HTTPClient's proxy was used once")
}

func acceptFor(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// BenchmarkFrameChecker measures the checker on 4 KiB reads of small and
// large messages (its cost per read is on the receive path).
func BenchmarkFrameChecker(b *testing.B) {
	for _, size := range []int{32, 64 << 10} {
		var stream []byte
		for len(stream) < 1<<20 {
			stream = append(stream, serverFrame(0x82, false, make([]byte, size))...)
		}
		b.Run(itoa(size)+"B", func(b *testing.B) {
			b.SetBytes(4096)
			var f frameChecker
			off := 0
			for b.Loop() {
				if off+4096 > len(stream) {
					f, off = frameChecker{}, 0
				}
				if _, err := f.check(stream[off : off+4096]); err != nil {
					b.Fatal(err)
				}
				off += 4096
			}
		})
	}
}

// closeNotifyConn's Close blocks until its socket is closed, as a TLS
// connection's does while its close_notify alert cannot be written.
type closeNotifyConn struct {
	fakeConn
	socketClosed chan struct{}
}

func (c *closeNotifyConn) Close() error { <-c.socketClosed; return nil }

type fakeSocket struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (s *fakeSocket) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

// trackedConn.Close closes the socket before the connection over it, so
// that aborting a wss:// connection whose peer stopped reading does not
// wait for TLS's close_notify.
func TestTrackedConnClosesSocketFirst(t *testing.T) {
	sock := &fakeSocket{closed: make(chan struct{})}
	tc := &trackedConn{rwc: &closeNotifyConn{socketClosed: sock.closed}, socket: sock}
	done := make(chan struct{})
	go func() { tc.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		sock.Close() // release the goroutine
		<-done
		t.Fatal("Close waited on the connection before closing its socket")
	}
}

// The socket recorder sits under any *http.Transport dualws dials with,
// its DialContext or the deprecated Dial, and under DialTLSContext.
func TestSocketRecorderWrapsDials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	for name, tr := range map[string]*http.Transport{
		"default":        {},
		"DialContext":    {DialContext: (&net.Dialer{}).DialContext},
		"Dial":           {Dial: net.Dial},
		"DialTLSContext": {DialTLSContext: (&net.Dialer{}).DialContext},
	} {
		var r socketRecorder
		r.wrap(tr)
		dial := tr.DialContext
		if name == "DialTLSContext" {
			dial = tr.DialTLSContext
		}
		c, err := dial(context.Background(), "tcp", addr)
		require.NoError(t, err, name)
		assert.Same(t, c, r.last(), name)
		c.Close()
	}
}

// TestConcurrentDialsTrackTheirOwnSockets: each of 16 concurrent Dials
// tracks the socket it dialed. The server tells each client the address
// it sees; the client's tracked socket must have it as its local address.
func TestConcurrentDialsTrackTheirOwnSockets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if c.Write(r.Context(), websocket.MessageText, []byte(r.RemoteAddr)) == nil {
			c.Read(r.Context()) // until the client's close
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c, err := Dial(context.Background(), url, nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close(StatusNormalClosure, "")
			_, p, err := c.Receive(context.Background())
			if err != nil {
				errs[i] = err
				return
			}
			socket := c.t.(*nativeConn).raw.socket
			if socket == nil {
				errs[i] = errors.New("no tracked socket")
			} else if got := socket.LocalAddr().String(); got != string(p) {
				errs[i] = errors.New("tracked socket " + got + ", the server saw " + string(p))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "dial %d", i)
	}
}

// TestStalledTLSDialLeavesNoSocket: a wss:// Dial to a server that never
// answers the TLS handshake fails at HandshakeTimeout, or when its context
// ends, and leaves nothing behind: net/http detaches a dial from the
// request's cancellation, so only the Dial's own transport, whose dials
// Dial cancels on its way out, ends it. The server must see the client's
// end close.
func TestStalledTLSDialLeavesNoSocket(t *testing.T) {
	for _, byCtx := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		accepted := make(chan net.Conn, 1)
		go func() {
			if c, err := ln.Accept(); err == nil {
				accepted <- c
			}
		}()
		opts, ctx := &Options{HandshakeTimeout: 200 * time.Millisecond}, context.Background()
		if byCtx {
			var cancel context.CancelFunc
			opts.HandshakeTimeout = 0
			ctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
		}
		_, err = Dial(ctx, "wss://"+ln.Addr().String(), opts)
		require.Error(t, err)
		ln.Close()
		var srv net.Conn
		select {
		case srv = <-accepted:
		case <-time.After(5 * time.Second):
			t.Fatal("no connection accepted")
		}
		srv.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err = srv.Read(buf); err != nil { // the ClientHello first
				break
			}
		}
		srv.Close()
		var ne net.Error
		assert.False(t, errors.As(err, &ne) && ne.Timeout(), "by ctx %v: 3 s after Dial failed, its socket was still open", byCtx)
	}
}

// bodyOver stands for the upgraded connection's body over a socket:
// closing it leaves the socket to trackedConn.
type bodyOver struct{ net.Conn }

func (bodyOver) Close() error { return nil }

// After the peer's close frame, trackedConn's first Close only half-closes
// the socket, and finishClose tells a peer that ends TCP (or keeps it past
// the limit) from one that resets it, even when the reply was written
// before the reset arrived: then the close is not clean.
func TestTrackedConnAwaitsThePeersEnd(t *testing.T) {
	closing := serverFrame(0x88, false, []byte{0x0f, 0xa2, 'b', 'y', 'e'})
	reply := []byte{0x88, 0x82, 0, 0, 0, 0, 0x0f, 0xa2}
	// handshake has the server write its close frame and the client read
	// it and write its reply, which the server reads.
	// first, if not nil, runs on the server's end before the client's Close.
	handshake := func(t *testing.T, first func(*net.TCPConn)) (*trackedConn, *net.TCPConn) {
		client, s := tcpPair(t)
		server := s.(*net.TCPConn)
		cc := newCountingConn(client)
		tc := &trackedConn{rwc: bodyOver{cc}, socket: cc}
		_, err := server.Write(closing)
		require.NoError(t, err)
		_, err = io.ReadFull(tc, make([]byte, len(closing)))
		require.NoError(t, err)
		require.True(t, tc.hasFailed(closeFrameRead))
		_, err = tc.Write(reply)
		require.NoError(t, err)
		_, err = io.ReadFull(server, make([]byte, len(reply)))
		require.NoError(t, err)
		if first != nil {
			first(server)
			for deadline := time.Now().Add(5 * time.Second); tcpState(t, cc.raw) == tcpEstablished && time.Now().Before(deadline); {
				runtime.Gosched() // until the end has crossed loopback
			}
		}
		require.NoError(t, tc.Close())
		return tc, server
	}
	// serverSees reads what the server gets after the reply: io.EOF after
	// a half-close or a close.
	serverSees := func(server *net.TCPConn) error {
		server.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := server.Read(make([]byte, 1))
		return err
	}

	t.Run("the peer resets", func(t *testing.T) {
		tc, server := handshake(t, nil)
		require.ErrorIs(t, serverSees(server), io.EOF, "the client's FIN")
		server.SetLinger(0)
		server.Close()
		assert.True(t, tc.finishClose(5*time.Second), "a reset after the reply is seen")
		assert.ErrorIs(t, tc.Close(), net.ErrClosed, "finishClose closed the socket")
	})
	t.Run("the peer ends TCP", func(t *testing.T) {
		tc, server := handshake(t, nil)
		require.ErrorIs(t, serverSees(server), io.EOF, "the client's FIN")
		server.Close()
		assert.False(t, tc.finishClose(5*time.Second))
		assert.ErrorIs(t, tc.Close(), net.ErrClosed, "finishClose closed the socket")
	})
	t.Run("the peer keeps TCP open", func(t *testing.T) {
		tc, server := handshake(t, nil)
		require.ErrorIs(t, serverSees(server), io.EOF, "the client's FIN")
		_, err := server.Write([]byte("ignored"))
		require.NoError(t, err)
		start := time.Now()
		assert.NoError(t, tc.Close(), "a Close after the half-close does nothing")
		assert.False(t, tc.finishClose(50*time.Millisecond))
		assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "it waits the limit")
		assert.ErrorIs(t, tc.Close(), net.ErrClosed, "finishClose closed the socket")
	})
	t.Run("closeNow ends the wait", func(t *testing.T) {
		tc, server := handshake(t, nil)
		require.ErrorIs(t, serverSees(server), io.EOF, "the client's FIN")
		go func() {
			time.Sleep(20 * time.Millisecond) // room for finishClose to wait
			tc.closeNow()
		}()
		start := time.Now()
		assert.False(t, tc.finishClose(time.Minute), "an abort is no reset")
		assert.Less(t, time.Since(start), 30*time.Second, "closeNow ended the wait")
	})
	// The end already there when coder/websocket closes (usual after the
	// answer to the client's close): the socket is closed at once, a reset
	// is still reported, and a later Close neither half-closes nor marks a
	// failed write.
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprintf("the peer ended first, reset %v", reset), func(t *testing.T) {
			tc, _ := handshake(t, func(server *net.TCPConn) {
				if reset {
					server.SetLinger(0)
				}
				server.Close()
			})
			assert.False(t, tc.hasFailed(halfClosed), "closed, not half-closed")
			assert.ErrorIs(t, tc.Close(), net.ErrClosed, "the first Close closed the socket")
			assert.Equal(t, reset, tc.finishClose(5*time.Second))
			assert.False(t, tc.hasFailed(halfClosed|writeFailed), "a later Close changes nothing")
		})
	}
}

// tlsPair returns a connected TCP pair on loopback and the TLS connections
// over it, handshaken.
func tlsPair(t *testing.T) (client, server net.Conn, tlsClient, tlsServer *tls.Conn) {
	t.Helper()
	ca := newTestCA(t)
	client, server = tcpPair(t)
	tlsServer = tls.Server(server, &tls.Config{Certificates: []tls.Certificate{ca.Server}})
	tlsClient = tls.Client(client, &tls.Config{RootCAs: ca.Pool, ServerName: "127.0.0.1"})
	handshake := make(chan error, 1)
	go func() { handshake <- tlsServer.Handshake() }()
	require.NoError(t, tlsClient.Handshake())
	require.NoError(t, <-handshake)
	return client, server, tlsClient, tlsServer
}

// Under TLS (an HTTPClient whose Transport dials TLS itself records the
// *tls.Conn), the half-close shuts the TCP socket's sending side, not the
// TLS connection's: a *tls.Conn's CloseWrite waits for its write lock,
// which a Send blocked on a peer that does not read holds for ever.
func TestTrackedConnHalfClosesUnderTLS(t *testing.T) {
	client, server, tlsClient, tlsServer := tlsPair(t)
	cc := newCountingConn(tlsClient)
	assert.Same(t, client, transportSocket(cc), "the socket under TLS")
	tc := trackedAfterPeerClose(t, cc, tlsServer)

	blocked := make(chan error, 1)
	go func() { _, err := tlsClient.Write(make([]byte, 64<<20)); blocked <- err }() // the server reads nothing
	raw, err := client.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	for deadline := time.Now().Add(5 * time.Second); socketSendQueue(t, raw) == 0 && time.Now().Before(deadline); {
		runtime.Gosched() // until the write is under way, holding the TLS lock
	}
	closed := make(chan error, 1)
	go func() { closed <- tc.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		server.Close() // releases the test
		t.Fatal("Close waited behind the blocked write")
	}
	select {
	case err := <-blocked:
		assert.Error(t, err, "the half-close fails the blocked write")
	case <-time.After(5 * time.Second):
		t.Fatal("the blocked write goes on after the half-close")
	}
	server.(*net.TCPConn).SetLinger(0)
	server.Close()
	assert.True(t, tc.finishClose(5*time.Second), "the reset under TLS is seen")
}

// A Send blocked on a peer that does not read holds the socket, so the
// reply to the peer's close, which waits for its frame, never goes out; the
// half-close fails the blocked write, and finishClose then does not wait
// for the peer's end: the close is not clean anyway. It waited up to
// min(CloseTimeout, 2 s) more (a helper's attack).
func TestTrackedConnDoesNotWaitAfterAFailedWrite(t *testing.T) {
	client, server := tcpPair(t)
	cc := newCountingConn(client)
	tc := trackedAfterPeerClose(t, cc, server)
	blocked := make(chan error, 1)
	go func() { _, err := tc.Write(make([]byte, 64<<20)); blocked <- err }() // the server reads nothing
	for deadline := time.Now().Add(5 * time.Second); socketSendQueue(t, cc.raw) == 0 && time.Now().Before(deadline); {
		runtime.Gosched() // until the write is under way
	}
	require.NoError(t, tc.Close(), "the half-close")
	require.Error(t, <-blocked, "the half-close fails the blocked write")
	require.True(t, tc.hasFailed(halfClosed|writeFailed))
	start := time.Now()
	tc.finishClose(10 * time.Second)
	assert.Less(t, time.Since(start), 5*time.Second, "finishClose waited for a peer that keeps TCP open")
	assert.ErrorIs(t, tc.Close(), net.ErrClosed)
}

// trackedAfterPeerClose returns a tracked connection over cc that has read
// the close frame the server's end wrote.
func trackedAfterPeerClose(t *testing.T, cc *countingConn, server io.Writer) *trackedConn {
	t.Helper()
	tc := &trackedConn{rwc: bodyOver{cc}, socket: cc}
	closing := serverFrame(0x88, false, []byte{0x0f, 0xa0})
	_, err := server.Write(closing)
	require.NoError(t, err)
	_, err = io.ReadFull(tc, make([]byte, len(closing)))
	require.NoError(t, err)
	require.True(t, tc.hasFailed(closeFrameRead))
	return tc
}

// TestDialRefusesBadArguments: what the browser's WebSocket constructor
// refuses, and header fields net/http would not send, are a *UsageError
// before any network use, on which Redial stops. They were a "connection
// failed" *DialError, which Redial dialed again for ever.
func TestDialRefusesBadArguments(t *testing.T) {
	for _, c := range []struct {
		url  string
		opts Options
		want string
	}{
		{"ws://127.0.0.1:99999/", Options{}, "the port must be 0 to 65535"},
		{"ws://127.0.0.1:abc/", Options{}, "invalid port"},
		{"ws://[::1/", Options{}, "missing ']' in host"},
		{"ws://a<b/", Options{}, "the host has a character browsers refuse"},
		{"ws://a>b/", Options{}, "the host has a character browsers refuse"},
		{"ws://a^b/", Options{}, `invalid character "^" in host name`},
		{"ws://127.0.0.1:1/", Options{Header: map[string][]string{"Bad Name": {"x"}}}, `invalid header name "Bad Name"`},
		{"ws://127.0.0.1:1/", Options{Header: map[string][]string{"X-Ok": {"a\r\nInjected: 1"}}}, "contains a control character"},
		{"ws://127.0.0.1:1/", Options{Header: map[string][]string{"X-Ok": {"a\x01"}}}, "contains a control character"},
		{"ws://127.0.0.1:1/", Options{Subprotocols: []string{"a b"}}, `"a b" is not a token`},
		{"ws://127.0.0.1:1/", Options{Subprotocols: []string{""}}, `"" is not a token`},
		{"ws://127.0.0.1:1/", Options{Subprotocols: []string{"v1", "v2", "v1"}}, `"v1" is offered twice`},
	} {
		_, err := Dial(context.Background(), c.url, &c.opts)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Dial(%s, %v): %v, want a *UsageError with %q", c.url, c.opts, err, c.want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	dials := 0
	for _, err := range Redial(ctx, "ws://127.0.0.1:99999/", &Options{Backoff: &Backoff{Initial: time.Millisecond, Min: time.Millisecond, Max: time.Millisecond}}) {
		dials++
		var ue *UsageError
		require.ErrorAs(t, err, &ue)
	}
	assert.Equal(t, 1, dials, "Redial went on after a *UsageError")
	assert.NoError(t, ctx.Err(), "Redial ended only with its context")
}

// A Dial whose context has already ended attempts no connection and fails
// with the context's error, as in the browser.
func TestDialWithAnEndedContextConnectsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := Dial(ctx, "ws://"+ln.Addr().String()+"/", &Options{HandshakeTimeout: time.Second})
	var de *DialError
	if c != nil || !errors.As(err, &de) || !errors.Is(err, context.Canceled) || de.Reason != "cancelled" {
		t.Errorf("Dial with an ended context: %v, %v; want a *DialError \"cancelled\" wrapping context.Canceled", c, err)
	}
	// A loopback connect completes in the kernel: one would be waiting
	// already (Accept checks a deadline in the past before it looks).
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(50*time.Millisecond)))
	if conn, err := ln.Accept(); err == nil {
		conn.Close()
		t.Error("Dial with an ended context connected")
	}
}

// An HTTPClient whose Transport dials TLS itself (DialTLSContext) gives a
// *tls.Conn, whose Reads count decrypted bytes: the look finds the socket
// under it (NetConn), and the reader has caught up only once that socket
// has nothing waiting. Without it the look saw no socket and ended at once:
// with GOMAXPROCS=1, Sends 5 ms after a close were accepted in 19 of 20
// runs, and a flood accepted about 2,600 (a helper's attack).
func TestLookSeesTheSocketUnderTLS(t *testing.T) {
	_, _, tlsClient, tlsServer := tlsPair(t)
	cc := newCountingConn(tlsClient)
	require.True(t, cc.raw != nil && cc.layered, "no socket found under the *tls.Conn")

	_, err := tlsServer.Write([]byte("a record the reader has yet to take"))
	require.NoError(t, err)
	for deadline := time.Now().Add(5 * time.Second); socketPending(cc.raw) == 0; {
		require.True(t, time.Now().Before(deadline), "the record never reached the socket")
		runtime.Gosched()
	}
	var tc trackedConn
	cc.inRead.Store(true) // as if the reader waited in a Read, not yet woken
	assert.False(t, tc.caughtUp(cc, 0), "caught up while a record waits in the socket")
	cc.inRead.Store(false)
	_, err = cc.Read(make([]byte, 64))
	require.NoError(t, err)
	cc.inRead.Store(true)
	assert.True(t, tc.caughtUp(cc, 0), "not caught up once the socket is empty")
}

// Dial with such an HTTPClient records the *tls.Conn, and finds the socket.
func TestDialTLSContextSocketIsLooked(t *testing.T) {
	ca := newTestCA(t)
	url := serveTLS(t, ca)
	hc := &http.Client{Transport: &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&tls.Dialer{Config: &tls.Config{RootCAs: ca.Pool}}).DialContext(ctx, network, addr)
	}}}
	c, _ := dial(t, url, &Options{HTTPClient: hc})
	sock, _ := c.t.(*nativeConn).raw.socket.(*countingConn)
	require.NotNil(t, sock)
	assert.True(t, sock.raw != nil && sock.layered, "the look has no socket under the TLS dial")
	require.NoError(t, c.SendText(context.Background(), "echo"))
	_, b, err := c.Receive(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "echo", string(b))
	require.NoError(t, c.Close(StatusNormalClosure, ""))
}

// TestBytesBeforeAnEndAreRead: a connection whose Read returns its last
// bytes together with io.EOF (a tls.Conn does when the peer's close_notify
// follows them; io.Reader allows it) has them read like a socket's: the
// message whole among them is delivered, and the close frame after it
// decides the status. (Seen failing without trackedConn.nextErr: the
// message was dropped as one cut short by the end, and the close lost.)
func TestBytesBeforeAnEndAreRead(t *testing.T) {
	frames := append(serverFrame(0x82, false, []byte("last")), closeFrameBytes(4000, []byte("bye"))...)
	conn := &scriptedConn{tail: frames}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}}
	c, _ := dial(t, "ws://scripted.test/", &Options{HTTPClient: hc, PingInterval: -1, CloseTimeout: 100 * time.Millisecond})
	_, b, err := c.Receive(context.Background())
	require.NoError(t, err)
	require.Equal(t, "last", string(b))
	_, _, err = c.Receive(context.Background())
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, StatusCode(4000), ce.Status.Code)
}

// scriptedConn answers a WebSocket handshake with a 101, then returns
// tail and io.EOF from one Read. Writes after the handshake are dropped.
type scriptedConn struct {
	mu        sync.Mutex
	req, resp []byte
	tail      []byte
	ready     chan struct{}
	once      sync.Once
}

func (c *scriptedConn) init() { c.once.Do(func() { c.ready = make(chan struct{}) }) }

func (c *scriptedConn) Write(p []byte) (int, error) {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.req == nil || !bytes.Contains(c.req, []byte("\r\n\r\n")) {
		c.req = append(c.req, p...)
		if i := bytes.Index(bytes.ToLower(c.req), []byte("sec-websocket-key: ")); i >= 0 && bytes.Contains(c.req, []byte("\r\n\r\n")) {
			key := c.req[i+len("sec-websocket-key: "):]
			key = key[:bytes.IndexByte(key, '\r')]
			c.resp = []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptFor(string(key)) + "\r\n\r\n")
			close(c.ready)
		}
	}
	return len(p), nil
}

func (c *scriptedConn) Read(p []byte) (int, error) {
	c.init()
	<-c.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.resp) > 0 {
		n := copy(p, c.resp)
		c.resp = c.resp[n:]
		return n, nil
	}
	n := copy(p, c.tail)
	c.tail = c.tail[n:]
	if len(c.tail) == 0 {
		return n, io.EOF
	}
	return n, nil
}

func (c *scriptedConn) Close() error                     { return nil }
func (c *scriptedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptedConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptedConn) SetWriteDeadline(time.Time) error { return nil }
