package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/dualws/dualws/testserver/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// guard bounds every wait in these tests; it is a safety net against
// hangs, never a measure of speed.
const guard = 10 * time.Second

// logSink collects the server's log lines; each connection logs one line
// when its scenario has finished, after recording its observation.
type logSink struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *logSink) count(id string) (int, []string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	var matched []string
	for _, line := range l.lines {
		if strings.Contains(line, fmt.Sprintf("id=%q ", id)) {
			n++
			matched = append(matched, line)
		}
	}
	return n, matched, l.changed
}

// waitEnded waits until n connections with id have finished and returns
// their log lines.
func (l *logSink) waitEnded(t *testing.T, id string, n int) []string {
	t.Helper()
	timer := time.NewTimer(guard)
	defer timer.Stop()
	for {
		got, lines, changed := l.count(id)
		if got >= n {
			return lines
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("scenario for id %q did not finish %d connection(s); log: %q", id, n, lines)
		}
	}
}

type env struct {
	srv  *server.Server
	ts   *httptest.Server
	logs *logSink
}

func newEnv(t *testing.T, opts server.Options) *env {
	t.Helper()
	logs := newLogSink()
	opts.Logf = logs.logf
	srv := server.New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return &env{srv: srv, ts: ts, logs: logs}
}

func (e *env) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(e.ts.URL, "http") + path
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) dialOpts(t *testing.T, path string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.HTTPClient = e.ts.Client()
	c, resp, err := websocket.Dial(ctxT(t), e.wsURL(path), opts)
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func (e *env) dial(t *testing.T, path string) *websocket.Conn {
	t.Helper()
	c, _, err := e.dialOpts(t, path, nil)
	require.NoError(t, err, "dialing %s", path)
	return c
}

func (e *env) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := e.ts.Client().Get(e.ts.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func closeError(t *testing.T, err error) websocket.CloseError {
	t.Helper()
	var ce websocket.CloseError
	require.True(t, errors.As(err, &ce), "want a close frame, got %v", err)
	return ce
}

func TestEcho(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	c := e.dial(t, "/ws/echo?id=echo")
	c.SetReadLimit(-1)
	ctx := ctxT(t)

	msgs := []struct {
		typ  websocket.MessageType
		data []byte
	}{
		{websocket.MessageText, []byte("hello")},
		{websocket.MessageBinary, []byte{0, 1, 2, 0xff}},
		{websocket.MessageText, []byte("")},
		{websocket.MessageText, bytes.Repeat([]byte("é"), 150)},
		{websocket.MessageBinary, bytes.Repeat([]byte{7}, 70000)},
	}
	for _, m := range msgs {
		require.NoError(t, c.Write(ctx, m.typ, m.data))
		typ, data, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, m.typ, typ)
		assert.Equal(t, m.data, data)
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"), "the server answers the close frame")
	e.logs.waitEnded(t, "echo", 1)
	assert.Equal(t, server.Observation{CloseReceived: true, CloseCode: 1000, CloseReason: "bye", Messages: 5}, e.srv.Observed("echo"))
	assert.Equal(t, server.Observation{}, e.srv.Observed("unknown"))
}

// TestEchoAsBinary: with as=binary a text message comes back binary,
// byte for byte.
func TestEchoAsBinary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	c := e.dial(t, "/ws/echo?id=echobin&as=binary")
	ctx := ctxT(t)
	msg := []byte("\uFEFFhello")
	require.NoError(t, c.Write(ctx, websocket.MessageText, msg))
	typ, data, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, websocket.MessageBinary, typ)
	assert.Equal(t, msg, data)
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	e.logs.waitEnded(t, "echobin", 1)
}

func TestEchoClientCodeAnswered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	c := e.dial(t, "/ws/echo?id=e4000")
	// coder's Close returns nil only if the peer answers with the same code.
	require.NoError(t, c.Close(4000, "custom"))
	e.logs.waitEnded(t, "e4000", 1)
	o := e.srv.Observed("e4000")
	assert.Equal(t, 4000, o.CloseCode)
	assert.Equal(t, "custom", o.CloseReason)
}

func TestObservationsAccumulateConcurrently(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	const conns, perConn = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		c := e.dial(t, "/ws/echo?id=shared")
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			for j := 0; j < perConn; j++ {
				if err := c.Write(ctx, websocket.MessageText, []byte("x")); err != nil {
					errs <- err
					return
				}
				if _, _, err := c.Read(ctx); err != nil {
					errs <- err
					return
				}
			}
			errs <- c.Close(websocket.StatusNormalClosure, "")
		}()
	}
	// Reading while the connections record must be safe too (-race).
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for polling := true; polling; {
		select {
		case <-done:
			polling = false
		default:
			assert.LessOrEqual(t, e.srv.Observed("shared").Messages, conns*perConn)
			runtime.Gosched()
		}
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	e.logs.waitEnded(t, "shared", conns)
	o := e.srv.Observed("shared")
	assert.Equal(t, conns*perConn, o.Messages)
	assert.True(t, o.CloseReceived)
}

func TestClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	reason := "fin — ünïcødé ✓ 终"
	c := e.dial(t, "/ws/close?id=close&after=2&code=4001&reason="+url.QueryEscape(reason))
	ctx := ctxT(t)
	for _, m := range []string{"a", "b"} {
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(m)))
		_, data, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, m, string(data))
	}
	_, _, err := c.Read(ctx)
	ce := closeError(t, err)
	assert.Equal(t, websocket.StatusCode(4001), ce.Code)
	assert.Equal(t, reason, ce.Reason)
	assert.True(t, utf8.ValidString(ce.Reason))
	e.logs.waitEnded(t, "close", 1)
	o := e.srv.Observed("close")
	assert.Equal(t, 2, o.Messages)
	assert.True(t, o.CloseReceived, "coder answers the server's close frame")
	assert.Equal(t, 4001, o.CloseCode)
}

func TestCloseDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)

	c := e.dial(t, "/ws/close?after=0")
	_, _, err := c.Read(ctx)
	ce := closeError(t, err)
	assert.Equal(t, websocket.StatusNormalClosure, ce.Code)
	assert.Equal(t, "", ce.Reason)

	c = e.dial(t, "/ws/close")
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, []byte{1}))
	typ, data, err := c.Read(ctx)
	require.NoError(t, err, "after defaults to 1 echoed message")
	assert.Equal(t, websocket.MessageBinary, typ)
	assert.Equal(t, []byte{1}, data)
	_, _, err = c.Read(ctx)
	assert.Equal(t, websocket.StatusNormalClosure, closeError(t, err).Code)
}

func TestCloseBadParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	for _, q := range []string{"close?code=1006", "close?code=999", "close?code=abc", "close?after=-1", "close?delay=-1", "close?delay=10001", "close?reason=" + strings.Repeat("r", 124), "drop?after=-1", "drop?delay=-1", "drop?delay=10001"} {
		_, resp, err := e.dialOpts(t, "/ws/"+q, nil)
		require.Error(t, err, q)
		require.NotNil(t, resp, q)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}
}

func TestBurst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	c := e.dial(t, "/ws/burst?id=burst&n=200&size=6&every=50&code=4002")
	for i := 1; i <= 200; i++ {
		typ, data, err := c.Read(ctx)
		require.NoError(t, err, "message %d", i)
		assert.Equal(t, websocket.MessageText, typ)
		assert.Equal(t, server.BurstMessage(i, 6), string(data))
		switch i {
		case 1:
			assert.Equal(t, "1xxxxx", string(data))
		case 42:
			assert.Equal(t, "42xxxx", string(data))
		case 200:
			assert.Equal(t, "200xxx", string(data))
		}
	}
	_, _, err := c.Read(ctx)
	assert.Equal(t, websocket.StatusCode(4002), closeError(t, err).Code)
	e.logs.waitEnded(t, "burst", 1)
	assert.Equal(t, 4002, e.srv.Observed("burst").CloseCode)

	c = e.dial(t, "/ws/burst?n=3")
	for _, want := range []string{"1", "2", "3"} {
		_, data, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, want, string(data), "no padding without size")
	}
	_, _, err = c.Read(ctx)
	assert.Equal(t, websocket.StatusNormalClosure, closeError(t, err).Code)
}

func assertDropped(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var ce websocket.CloseError
	assert.False(t, errors.As(err, &ce), "the server sent no close frame, yet the client got %v", err)
	assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err))
}

func TestDrop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)

	c := e.dial(t, "/ws/drop?id=drop1&after=1")
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("one")))
	_, data, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, "one", string(data))
	_, _, err = c.Read(ctx)
	assertDropped(t, err)

	c = e.dial(t, "/ws/drop?id=drop0")
	_, _, err = c.Read(ctx)
	assertDropped(t, err)

	e.logs.waitEnded(t, "drop1", 1)
	e.logs.waitEnded(t, "drop0", 1)
	assert.False(t, e.srv.Observed("drop1").CloseReceived)
	assert.Equal(t, 1, e.srv.Observed("drop1").Messages)
}

// rawDial performs the opening handshake by hand and returns the
// connection with a reader positioned at the first frame.
func (e *env) rawDial(t *testing.T, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(guard)))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + e.ts.Listener.Addr().String() + "\r\n" +
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	// The accept value for this key is given in RFC 6455 section 1.3.
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	return conn, br
}

// readRawFrame reads one unmasked server frame with a payload under 126
// bytes and returns its first header byte and payload.
func readRawFrame(t *testing.T, br *bufio.Reader) (byte, []byte) {
	t.Helper()
	var hdr [2]byte
	_, err := io.ReadFull(br, hdr[:])
	require.NoError(t, err)
	require.Zero(t, hdr[1]&0x80, "server frames are unmasked")
	require.Less(t, int(hdr[1]), 126)
	p := make([]byte, hdr[1])
	_, err = io.ReadFull(br, p)
	require.NoError(t, err)
	return hdr[0], p
}

// writeRawFrame writes a masked client frame with a payload under 126 bytes.
func writeRawFrame(t *testing.T, conn net.Conn, b0 byte, payload []byte) {
	t.Helper()
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	f := []byte{b0, 0x80 | byte(len(payload))}
	f = append(f, mask[:]...)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	_, err := conn.Write(f)
	require.NoError(t, err)
}

func TestDropFragmentWire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	_, br := e.rawDial(t, "/ws/dropfragment?id=fragwire")
	b0, p := readRawFrame(t, br)
	assert.Equal(t, byte(0x01), b0, "FIN=0, opcode text")
	assert.Equal(t, "first fragment", string(p))
	_, err := br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "then TCP closes, with no close frame")
	e.logs.waitEnded(t, "fragwire", 1)
}

func TestDropFragmentCoder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	c := e.dial(t, "/ws/dropfragment?id=frag")
	ctx := ctxT(t)
	typ, data, err := c.Read(ctx)
	// coder v1.8.15 takes the EOF after an unfinished fragment for the end
	// of the message and returns the fragment as a whole message; the
	// connection is broken for the next read.
	if err == nil {
		assert.Equal(t, websocket.MessageText, typ)
		assert.Equal(t, "first fragment", string(data))
		_, _, err = c.Read(ctx)
	}
	assertDropped(t, err)
	e.logs.waitEnded(t, "frag", 1)
}

func TestNoClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	c := e.dial(t, "/ws/noclose?id=noclose")
	ctx := ctxT(t)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("ignored")))
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, make([]byte, 300)))
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, make([]byte, 70000)))
	// Nothing ever comes back: a short read fails with the context, not
	// with data or a close frame.
	rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, _, err := c.Read(rctx)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)

	c = e.dial(t, "/ws/noclose?id=noclose2")
	// coder waits (5 s, fixed) for the close answer that never comes.
	err = c.Close(4003, "anyone?")
	require.Error(t, err, "the server must not answer the close frame")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	e.logs.waitEnded(t, "noclose2", 1)
	assert.Equal(t, server.Observation{CloseReceived: true, CloseCode: 4003, CloseReason: "anyone?"}, e.srv.Observed("noclose2"))
	e.logs.waitEnded(t, "noclose", 1)
	assert.Equal(t, 3, e.srv.Observed("noclose").Messages)
}

// With answer=1 the client's close frame is answered, and TCP stays open.
func TestNoCloseAnswerWire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	conn, br := e.rawDial(t, "/ws/noclose?id=answer&answer=1")
	writeRawFrame(t, conn, 0x88, []byte{0x0f, 0xa3, 'h', 'i'}) // 4003 "hi"
	b0, p := readRawFrame(t, br)
	assert.Equal(t, byte(0x88), b0)
	assert.Equal(t, []byte{0x0f, 0xa3}, p, "the client's code comes back")
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err := br.ReadByte()
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "TCP must stay open after the answer")
	code, _ := e.get(t, "/ws/noclose?answer=2")
	assert.Equal(t, http.StatusBadRequest, code)
}

func TestReject(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	for _, tc := range []struct {
		query  string
		status int
	}{{"", 403}, {"?status=403", 403}, {"?status=401", 401}, {"?status=503", 503}} {
		c, resp, err := e.dialOpts(t, "/ws/reject"+tc.query, nil)
		require.Error(t, err, tc.query)
		assert.Nil(t, c)
		require.NotNil(t, resp, tc.query)
		assert.Equal(t, tc.status, resp.StatusCode, tc.query)
	}
}

func TestStall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.wsURL("/ws/stall"), &websocket.DialOptions{HTTPClient: e.ts.Client()})
	require.Error(t, err)
	assert.Nil(t, c)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// With the whole request surely sent, the scenario must notice the
	// client leaving.
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /ws/stall?id=stall HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	n, err := conn.Read(make([]byte, 1))
	assert.Zero(t, n, "no answer")
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	require.NoError(t, conn.Close())
	lines := e.logs.waitEnded(t, "stall", 1)
	assert.Contains(t, lines[0], "client gave up")
}

func TestBig(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	for _, tc := range []struct {
		query string
		typ   websocket.MessageType
		size  int
	}{
		{"size=0&type=text", websocket.MessageText, 0},
		{"size=125&type=binary", websocket.MessageBinary, 125},
		{"size=65536&type=text", websocket.MessageText, 65536},
		{"size=3000000&type=binary", websocket.MessageBinary, 3000000},
		{"size=1000", websocket.MessageBinary, 1000},
	} {
		c := e.dial(t, "/ws/big?"+tc.query)
		c.SetReadLimit(-1)
		typ, data, err := c.Read(ctx)
		require.NoError(t, err, tc.query)
		assert.Equal(t, tc.typ, typ, tc.query)
		require.Len(t, data, tc.size, tc.query)
		if tc.typ == websocket.MessageText {
			assert.True(t, utf8.Valid(data))
			if tc.size > 27 {
				assert.Equal(t, "abc", string(data[:3]))
				assert.Equal(t, byte('b'), data[27])
			}
		} else if tc.size > 300 {
			assert.Equal(t, byte(0xff), data[255])
			assert.Equal(t, byte(0x2c), data[300])
		}
		assert.Equal(t, server.BigPayload(tc.size, tc.typ == websocket.MessageBinary), data)

		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("then echo")))
		_, data, err = c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, "then echo", string(data))
		require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
	}
	_, resp, err := e.dialOpts(t, "/ws/big?type=utf16", nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestBadUTF8(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	c := e.dial(t, "/ws/badutf8?id=utf8")
	ctx := ctxT(t)
	typ, data, err := c.Read(ctx)
	require.NoError(t, err, "coder does not validate UTF-8, so the raw bytes arrive")
	assert.Equal(t, websocket.MessageText, typ)
	assert.Equal(t, []byte{0xff, 0xfe, 0xfd}, data)
	assert.False(t, utf8.Valid(data))
	require.NoError(t, c.Close(websocket.StatusInvalidFramePayloadData, "bad utf-8"), "the server answers with the same code")
	e.logs.waitEnded(t, "utf8", 1)
	o := e.srv.Observed("utf8")
	assert.True(t, o.CloseReceived)
	assert.Equal(t, 1007, o.CloseCode)
	assert.Equal(t, "bad utf-8", o.CloseReason)
}

func TestSubprotocol(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	c, _, err := e.dialOpts(t, "/ws/subprotocol", &websocket.DialOptions{Subprotocols: []string{"v1", "v2"}})
	require.NoError(t, err)
	assert.Equal(t, "v2", c.Subprotocol())
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("v2?")))
	_, data, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, "v2?", string(data))

	for _, offered := range [][]string{nil, {"v1"}, {"v3", "v1"}} {
		c, resp, err := e.dialOpts(t, "/ws/subprotocol", &websocket.DialOptions{Subprotocols: offered})
		require.Error(t, err, "offered %q", offered)
		assert.Nil(t, c)
		require.NotNil(t, resp)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "offered %q", offered)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	for _, n := range []int{3, 0, 7} {
		id := fmt.Sprintf("ping%d", n)
		path := fmt.Sprintf("/ws/ping?id=%s&n=%d", id, n)
		if n == 3 {
			path = "/ws/ping?id=" + id // n defaults to 3
		}
		c := e.dial(t, path)
		// coder answers pings while Read runs.
		typ, data, err := c.Read(ctx)
		require.NoError(t, err)
		assert.Equal(t, websocket.MessageText, typ)
		assert.Equal(t, fmt.Sprintf("pongs=%d", n), string(data))
		_, _, err = c.Read(ctx)
		assert.Equal(t, websocket.StatusNormalClosure, closeError(t, err).Code)
		e.logs.waitEnded(t, id, 1)
		assert.Equal(t, n, e.srv.Observed(id).Pongs, id)
	}
}

func TestPongClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	c := e.dial(t, "/ws/pongclose?id=pc")
	_, _, err := c.Read(ctxT(t))
	ce := closeError(t, err)
	assert.Equal(t, websocket.StatusNoStatusRcvd, ce.Code, "an empty close frame carries no code")
	assert.Equal(t, "", ce.Reason)
	e.logs.waitEnded(t, "pc", 1)
	o := e.srv.Observed("pc")
	assert.True(t, o.CloseReceived, "the client answered the close frame")
	assert.Equal(t, 1005, o.CloseCode, "coder answers an empty close frame with an empty one")
}

func TestPongCloseWire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	conn, br := e.rawDial(t, "/ws/pongclose?id=pcwire")
	b0, p := readRawFrame(t, br)
	assert.Equal(t, byte(0x8A), b0, "FIN, pong")
	assert.Equal(t, "unsolicited", string(p))
	b0, p = readRawFrame(t, br)
	assert.Equal(t, byte(0x88), b0, "FIN, close")
	assert.Empty(t, p, "the close frame has no code")
	writeRawFrame(t, conn, 0x88, []byte{0x03, 0xE8, 'o', 'k'})
	_, err := br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "the server closes TCP after the answer")
	e.logs.waitEnded(t, "pcwire", 1)
	assert.Equal(t, server.Observation{CloseReceived: true, CloseCode: 1000, CloseReason: "ok"}, e.srv.Observed("pcwire"))
}

func TestBadUTF8Wire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	conn, br := e.rawDial(t, "/ws/badutf8?id=utf8wire")
	b0, p := readRawFrame(t, br)
	assert.Equal(t, byte(0x81), b0, "FIN, text")
	assert.Equal(t, []byte{0xff, 0xfe, 0xfd}, p)
	writeRawFrame(t, conn, 0x89, []byte("ping?"))
	b0, p = readRawFrame(t, br)
	assert.Equal(t, byte(0x8A), b0, "pings are answered while waiting for the close frame")
	assert.Equal(t, "ping?", string(p))
	writeRawFrame(t, conn, 0x88, nil)
	b0, p = readRawFrame(t, br)
	assert.Equal(t, byte(0x88), b0)
	assert.Empty(t, p, "an empty close frame is answered with an empty one")
	_, err := br.ReadByte()
	assert.ErrorIs(t, err, io.EOF)
	e.logs.waitEnded(t, "utf8wire", 1)
	assert.Equal(t, server.Observation{CloseReceived: true, CloseCode: 1005}, e.srv.Observed("utf8wire"))
}

func TestObservedJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	c := e.dial(t, "/ws/echo?id=json%20id")
	ctx := ctxT(t)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("m")))
	_, _, err := c.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Close(4010, "json"))
	e.logs.waitEnded(t, "json id", 1)

	status, body := e.get(t, "/observed?id="+url.QueryEscape("json id"))
	require.Equal(t, http.StatusOK, status, string(body))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(body, &raw))
	assert.Equal(t, map[string]any{
		"CloseReceived": true, "CloseCode": 4010.0, "CloseReason": "json", "Pongs": 0.0, "Messages": 1.0,
	}, raw)

	status, body = e.get(t, "/observed?id=never")
	require.Equal(t, http.StatusOK, status)
	var o server.Observation
	require.NoError(t, json.Unmarshal(body, &o))
	assert.Equal(t, server.Observation{}, o)

	status, _ = e.get(t, "/observed")
	assert.Equal(t, http.StatusBadRequest, status)
}

func TestWasmExec(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec.js"))
	require.NoError(t, err)

	e := newEnv(t, server.Options{})
	resp, err := e.ts.Client().Get(e.ts.URL + "/wasm_exec.js")
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "javascript")
	assert.Equal(t, want, got, "wasm_exec.js must be the running Go's")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wasm_exec.js"), []byte("// custom glue\n"), 0o644))
	e2 := newEnv(t, server.Options{WasmExecDir: dir})
	status, body := e2.get(t, "/wasm_exec.js")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "// custom glue\n", string(body))

	e3 := newEnv(t, server.Options{WasmExecDir: t.TempDir()})
	status, _ = e3.get(t, "/wasm_exec.js")
	assert.Equal(t, http.StatusInternalServerError, status)
}

func TestStatic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>harness</h1>"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm"), 0o644))
	e := newEnv(t, server.Options{StaticDir: dir})
	status, body := e.get(t, "/")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "<h1>harness</h1>", string(body))
	for _, path := range []string{"/", "/index.html", "/app.wasm", "/missing.html"} {
		resp, err := e.ts.Client().Get(e.ts.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "script-src 'self' 'wasm-unsafe-eval'", resp.Header.Get("Content-Security-Policy"), "CSP of %s", path)
	}

	resp, err := e.ts.Client().Get(e.ts.URL + "/app.wasm")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/wasm", resp.Header.Get("Content-Type"))

	status, _ = e.get(t, "/missing.html")
	assert.Equal(t, http.StatusNotFound, status)

	plain := newEnv(t, server.Options{})
	status, _ = plain.get(t, "/")
	assert.Equal(t, http.StatusNotFound, status, "without StaticDir nothing is served at /")
}

func TestCloseEndsScenarios(t *testing.T) {
	t.Parallel()
	e := newEnv(t, server.Options{})
	ctx := ctxT(t)
	echo := e.dial(t, "/ws/echo?id=open-echo")
	noclose := e.dial(t, "/ws/noclose?id=open-noclose")
	stalled := make(chan error, 1)
	go func() {
		_, _, err := websocket.Dial(ctx, e.wsURL("/ws/stall?id=open-stall"), &websocket.DialOptions{HTTPClient: e.ts.Client()})
		stalled <- err
	}()
	// Make sure every scenario is running before closing.
	require.NoError(t, echo.Write(ctx, websocket.MessageText, []byte("up")))
	_, _, err := echo.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, noclose.Write(ctx, websocket.MessageText, []byte("up")))
	require.Eventually(t, func() bool { return e.srv.Observed("open-noclose").Messages == 1 }, guard, time.Millisecond)

	e.srv.Close() // returns only once every scenario has ended
	for _, id := range []string{"open-echo", "open-noclose"} {
		_, lines, _ := e.logs.count(id)
		assert.Len(t, lines, 1, id)
	}
	_, _, err = echo.Read(ctx)
	assert.Error(t, err)
	_, _, err = noclose.Read(ctx)
	assert.Error(t, err)

	// The stall request may or may not have reached the server before
	// Close; either way it ends without a WebSocket.
	require.Error(t, <-stalled)

	status, _ := e.get(t, "/ws/echo")
	assert.Equal(t, http.StatusServiceUnavailable, status, "scenarios are refused after Close")
}
