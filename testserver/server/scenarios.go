package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// stallLimit bounds how long /ws/stall and /ws/noclose hold a connection.
const stallLimit = 30 * time.Second

// maxBigSize bounds the size parameter of /ws/big.
const maxBigSize = 256 << 20

// BigPayload returns the message /ws/big sends for size n: for text, the
// letters 'a'..'z' repeated; for binary, byte i is i mod 256.
func BigPayload(n int, binary bool) []byte {
	p := make([]byte, n)
	for i := range p {
		if binary {
			p[i] = byte(i)
		} else {
			p[i] = 'a' + byte(i%26)
		}
	}
	return p
}

// BurstMessage returns the i-th message (counting from 1) that /ws/burst
// sends when asked for size bytes: the decimal number i padded with 'x' to
// size bytes (never truncated).
func BurstMessage(i, size int) string {
	m := strconv.Itoa(i)
	if len(m) < size {
		m += strings.Repeat("x", size-len(m))
	}
	return m
}

// intParam parses query parameter name, returning def when it is absent.
func intParam(r *http.Request, name string, def, min, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %w", name, err)
	}
	if n < min || n > max {
		return 0, fmt.Errorf("parameter %s=%d out of range [%d, %d]", name, n, min, max)
	}
	return n, nil
}

// validCloseCode reports whether code may be sent in a close frame; 1005
// is accepted too and means a close frame without a code.
func validCloseCode(code int) bool {
	switch {
	case code == 1005:
		return true
	case code == 1004 || code == 1006 || code == 1015:
		return false
	case code >= 1000 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// closeParams reads code (default 1000) and reason from the query.
func closeParams(r *http.Request) (websocket.StatusCode, string, error) {
	code, err := intParam(r, "code", 1000, 0, 65535)
	if err != nil {
		return 0, "", err
	}
	if !validCloseCode(code) {
		return 0, "", fmt.Errorf("parameter code=%d cannot be sent in a close frame", code)
	}
	reason := r.URL.Query().Get("reason")
	if len(reason) > 123 {
		return 0, "", fmt.Errorf("parameter reason is %d bytes, at most 123 fit in a close frame", len(reason))
	}
	if code == 1005 && reason != "" {
		return 0, "", errors.New("parameter reason needs a code other than 1005")
	}
	return websocket.StatusCode(code), reason, nil
}

// params reads several query parameters and keeps the first error, so a
// handler checks once before it accepts the connection.
type params struct {
	r   *http.Request
	err error
}

func (p *params) int(name string, def, min, max int) int {
	if p.err != nil {
		return 0
	}
	n, err := intParam(p.r, name, def, min, max)
	p.err = err
	return n
}

// delay is the delay parameter: milliseconds, 0 to 10000, default 0.
func (p *params) delay() time.Duration {
	return time.Duration(p.int("delay", 0, 0, 10000)) * time.Millisecond
}

func (p *params) close() (websocket.StatusCode, string) {
	if p.err != nil {
		return 0, ""
	}
	code, reason, err := closeParams(p.r)
	p.err = err
	return code, reason
}

func badRequest(w http.ResponseWriter, r *http.Request, err error) {
	http.Error(w, r.URL.Path+": "+err.Error(), http.StatusBadRequest)
}

// accept upgrades the request with coder/websocket. What the client sends
// is recorded for id from the bytes coder reads (see sniffer). onPong, if
// set, is called for each pong coder handles.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, id string, subprotocols []string, onPong func()) (*websocket.Conn, error) {
	sw := &sniffWriter{ResponseWriter: w, s: &sniffer{onFrame: func(fin bool, opcode byte, control []byte) {
		s.recordFrame(id, fin, opcode, control)
	}}}
	c, err := websocket.Accept(sw, r, &websocket.AcceptOptions{
		Subprotocols:       subprotocols,
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
		OnPongReceived: func(context.Context, []byte) {
			if onPong != nil {
				onPong()
			}
		},
	})
	if err != nil {
		s.logf("%s id=%q %s: accept: %v", r.URL.Path, id, r.RemoteAddr, err)
		return nil, fmt.Errorf("accepting WebSocket: %w", err)
	}
	c.SetReadLimit(-1)
	return c, nil
}

// echo reads and echoes n data messages (forever when n < 0) and returns
// the read or write error that ended it, nil after n messages.
func (s *Server) echo(ctx context.Context, c *websocket.Conn, n int) error {
	for i := 0; n < 0 || i < n; i++ {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return fmt.Errorf("reading message %d: %w", i+1, err)
		}
		if err := c.Write(ctx, typ, data); err != nil {
			return fmt.Errorf("echoing message %d: %w", i+1, err)
		}
	}
	return nil
}

// echoBinary writes back every data message read from c as binary,
// until reading fails.
func (s *Server) echoBinary(ctx context.Context, c *websocket.Conn) error {
	for i := 0; ; i++ {
		_, data, err := c.Read(ctx)
		if err != nil {
			return fmt.Errorf("reading message %d: %w", i+1, err)
		}
		if err := c.Write(ctx, websocket.MessageBinary, data); err != nil {
			return fmt.Errorf("echoing message %d: %w", i+1, err)
		}
	}
}

// drain reads from c in a goroutine, discarding data messages, until the
// connection ends. The returned
// channel is closed when the goroutine has returned.
func (s *Server) drain(ctx context.Context, c *websocket.Conn) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, _, err := c.Read(ctx)
			if err != nil {
				return
			}
		}
	}()
	return done
}

// closeWith performs the close handshake with code and reason while a
// drain goroutine reads the client's answer.
func (s *Server) closeWith(ctx context.Context, c *websocket.Conn, code websocket.StatusCode, reason string, drained <-chan struct{}) error {
	if drained == nil {
		drained = s.drain(ctx, c)
	}
	err := c.Close(code, reason)
	<-drained
	if err != nil {
		return fmt.Errorf("closing with %d: %w", code, err)
	}
	return nil
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// wsEcho: echo every data message with its type until the client closes;
// with as=binary every message comes back binary, so that a client whose
// runtime alters received text (Node's WebSocket drops a leading U+FEFF)
// sees the bytes the server got.
func (s *Server) wsEcho(w http.ResponseWriter, r *http.Request, id string) {
	asBinary := r.URL.Query().Get("as") == "binary"
	c, err := s.accept(w, r, id, nil, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	if asBinary {
		err = s.echoBinary(s.ctx, c)
	} else {
		err = s.echo(s.ctx, c, -1)
	}
	if websocket.CloseStatus(err) != -1 {
		err = nil // the client closed; coder answered its close frame
	}
	s.logf("%s id=%q %s: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// wsClose: echo after=N messages (default 1), wait delay milliseconds
// (default 0; the close then reaches the client in a read of its own),
// then close with code and reason.
func (s *Server) wsClose(w http.ResponseWriter, r *http.Request, id string) {
	p := params{r: r}
	after := p.int("after", 1, 0, 1<<30)
	delay := p.delay()
	code, reason := p.close()
	if p.err != nil {
		badRequest(w, r, p.err)
		return
	}
	c, err := s.accept(w, r, id, nil, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	err = s.echo(s.ctx, c, after)
	if err == nil {
		err = s.wait(delay)
	}
	if err == nil {
		err = s.closeWith(s.ctx, c, code, reason, nil)
	}
	s.logf("%s id=%q %s: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// wsBurst: send n text messages right after the handshake, pausing 1 ms
// after every `every` of them (0: no pause), then close.
func (s *Server) wsBurst(w http.ResponseWriter, r *http.Request, id string) {
	p := params{r: r}
	n := p.int("n", 10, 0, 1<<20)
	size := p.int("size", 0, 0, 16<<20)
	every := p.int("every", 0, 0, 1<<20)
	code, reason := p.close()
	if p.err != nil {
		badRequest(w, r, p.err)
		return
	}
	c, err := s.accept(w, r, id, nil, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	drained := s.drain(s.ctx, c)
	for i := 1; i <= n && err == nil; i++ {
		if werr := c.Write(s.ctx, websocket.MessageText, []byte(BurstMessage(i, size))); werr != nil {
			err = fmt.Errorf("writing message %d: %w", i, werr)
		}
		if every > 0 && i%every == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if err == nil {
		err = s.closeWith(s.ctx, c, code, reason, drained)
	} else {
		c.CloseNow()
		<-drained
	}
	s.logf("%s id=%q %s: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// wsDrop: echo after=N messages (default 0), wait delay milliseconds
// (default 0), then close TCP without a close frame.
func (s *Server) wsDrop(w http.ResponseWriter, r *http.Request, id string) {
	p := params{r: r}
	after := p.int("after", 0, 0, 1<<30)
	delay := p.delay()
	if p.err != nil {
		badRequest(w, r, p.err)
		return
	}
	c, err := s.accept(w, r, id, nil, nil)
	if err != nil {
		return
	}
	err = s.echo(s.ctx, c, after)
	if err == nil {
		err = s.wait(delay)
	}
	c.CloseNow()
	s.logf("%s id=%q %s: dropped: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// wsReject: refuse the handshake with status (default 403).
func (s *Server) wsReject(w http.ResponseWriter, r *http.Request, id string) {
	status, err := intParam(r, "status", http.StatusForbidden, 200, 599)
	if err != nil || status == http.StatusSwitchingProtocols {
		badRequest(w, r, fmt.Errorf("parameter status: %v", r.URL.Query().Get("status")))
		return
	}
	s.logf("%s id=%q %s: rejected with %d", r.URL.Path, id, r.RemoteAddr, status)
	http.Error(w, fmt.Sprintf("rejected by scenario (status %d)", status), status)
}

// wsStall: never answer, until the client gives up, the server closes or
// stallLimit passes.
func (s *Server) wsStall(w http.ResponseWriter, r *http.Request, id string) {
	t := time.NewTimer(stallLimit)
	defer t.Stop()
	var why string
	select {
	case <-r.Context().Done():
		why = "client gave up"
	case <-s.ctx.Done():
		why = "server closed"
	case <-t.C:
		why = "stall limit reached"
	}
	s.logf("%s id=%q %s: %s", r.URL.Path, id, r.RemoteAddr, why)
}

// wsBig: send one message of size bytes (see BigPayload), then echo.
func (s *Server) wsBig(w http.ResponseWriter, r *http.Request, id string) {
	size, err := intParam(r, "size", 1<<20, 0, maxBigSize)
	if err != nil {
		badRequest(w, r, err)
		return
	}
	typ := websocket.MessageBinary
	switch t := r.URL.Query().Get("type"); t {
	case "", "binary":
	case "text":
		typ = websocket.MessageText
	default:
		badRequest(w, r, fmt.Errorf("parameter type=%q is not binary or text", t))
		return
	}
	c, err := s.accept(w, r, id, nil, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	err = c.Write(s.ctx, typ, BigPayload(size, typ == websocket.MessageBinary))
	if err != nil {
		err = fmt.Errorf("writing %d bytes: %w", size, err)
	} else if err = s.echo(s.ctx, c, -1); websocket.CloseStatus(err) != -1 {
		err = nil
	}
	s.logf("%s id=%q %s: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// wsSubprotocol: accept only clients offering subprotocol v2 (others get
// 400 Bad Request), then echo.
func (s *Server) wsSubprotocol(w http.ResponseWriter, r *http.Request, id string) {
	offered := false
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if strings.TrimSpace(p) == "v2" {
				offered = true
			}
		}
	}
	if !offered {
		s.logf("%s id=%q %s: rejected, v2 not offered", r.URL.Path, id, r.RemoteAddr)
		badRequest(w, r, errors.New("subprotocol v2 required"))
		return
	}
	c, err := s.accept(w, r, id, []string{"v2"}, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	if err = s.echo(s.ctx, c, -1); websocket.CloseStatus(err) != -1 {
		err = nil
	}
	s.logf("%s id=%q %s: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// wsPing: send n pings (default 3), then the text "pongs=<count>" and close
// with 1000.
func (s *Server) wsPing(w http.ResponseWriter, r *http.Request, id string) {
	n, err := intParam(r, "n", 3, 0, 1000)
	if err != nil {
		badRequest(w, r, err)
		return
	}
	var pongs atomic.Int64
	c, err := s.accept(w, r, id, nil, func() { pongs.Add(1) })
	if err != nil {
		return
	}
	defer c.CloseNow()
	drained := s.drain(s.ctx, c)
	for i := 0; i < n && err == nil; i++ {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		if perr := c.Ping(ctx); perr != nil {
			err = fmt.Errorf("ping %d: %w", i+1, perr)
		}
		cancel()
	}
	if err == nil {
		err = c.Write(s.ctx, websocket.MessageText, fmt.Appendf(nil, "pongs=%d", pongs.Load()))
	}
	if err == nil {
		err = s.closeWith(s.ctx, c, websocket.StatusNormalClosure, "", drained)
	} else {
		c.CloseNow()
		<-drained
	}
	s.logf("%s id=%q %s: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// wait waits d, or until the server closes.
func (s *Server) wait(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}
