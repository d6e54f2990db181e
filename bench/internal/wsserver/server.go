// Package wsserver is the benchmarks' WebSocket server: a purpose-built
// peer that speaks the wire protocol on the hijacked connection with
// pre-built frames and fixed buffers, so that it pushes and drains faster
// than any client under test and allocates nothing per message (its
// allocations would otherwise count in the in-process benchmarks).
//
// Endpoints (every one answers the client's close frame and then closes
// the TCP connection):
//
//	/push?n=N&size=S&type=binary|text  send N messages of S bytes, then wait for the client's close;
//	                                   with wait=1 start once the client sent one message
//	/sink?n=N                          read N data messages, then send the text message "N"
//	/echo                              echo every data message with its type
//	/closer?id=X                       echo; on the text message "close" send close 1000 "bye",
//	                                   then count the data messages that still arrive
//	/closeinfo?id=X                    JSON CloseInfo of the /closer connection X (once it ended)
//	/hold                              handshake, then keep the connection without a goroutine
//	/release                           close every /hold connection; answers how many
package wsserver

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// WebSocket opcodes.
const (
	OpText   = 1
	OpBinary = 2
	OpClose  = 8
	OpPing   = 9
	OpPong   = 10
)

// CloseInfo is what the /closer endpoint saw on one connection.
type CloseInfo struct {
	// CloseSentUnixNano is the wall-clock time just before the server's
	// close frame was written to the socket.
	CloseSentUnixNano int64 `json:"closeSentUnixNano"`
	// Late counts the data messages received after the close frame was
	// written (messages in flight plus messages the client accepted after
	// the close had arrived).
	Late int `json:"late"`
	// ClientClosed reports whether the client answered with a close frame.
	ClientClosed bool `json:"clientClosed"`
	// Done reports that the connection has ended.
	Done bool `json:"done"`
}

// Server is an http.Handler serving the endpoints above.
type Server struct {
	mux *http.ServeMux

	mu     sync.Mutex
	closes map[string]*CloseInfo
	held   []net.Conn
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// New returns a Server. Static, if not nil, serves every path that is not
// an endpoint.
func New(static http.Handler) *Server {
	s := &Server{mux: http.NewServeMux(), closes: map[string]*CloseInfo{}, conns: map[net.Conn]struct{}{}}
	s.mux.HandleFunc("/push", s.handle(s.push))
	s.mux.HandleFunc("/sink", s.handle(s.sink))
	s.mux.HandleFunc("/echo", s.handle(s.echo))
	s.mux.HandleFunc("/closer", s.handle(s.closer))
	s.mux.HandleFunc("/closeinfo", s.closeInfo)
	s.mux.HandleFunc("/hold", s.hold)
	s.mux.HandleFunc("/release", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, s.Release())
	})
	if static != nil {
		s.mux.Handle("/", static)
	}
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Held returns how many /hold connections the server keeps.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// Release closes every /hold connection and returns how many there were.
func (s *Server) Release() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.held)
	for _, c := range s.held {
		c.Close()
	}
	s.held = nil
	return n
}

// Close ends every connection the server holds or serves and waits for
// its goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	for _, c := range s.held {
		c.Close()
	}
	s.held = nil
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Conn is one server-side WebSocket connection.
type Conn struct {
	nc  net.Conn
	r   *bufio.Reader
	hdr [14]byte
	buf []byte
}

// upgrade answers the handshake on the hijacked connection.
func upgrade(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		http.Error(w, "not a WebSocket handshake", http.StatusBadRequest)
		return nil, errors.New("wsserver: no Sec-WebSocket-Key")
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("wsserver: hijack: %w", err)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		AcceptKey(key) + "\r\n\r\n"
	if _, err := nc.Write([]byte(resp)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("wsserver: writing the handshake: %w", err)
	}
	// Reads bigger than its buffer go straight to the connection, so the
	// larger reader on top fills 64 KiB at a time.
	return &Conn{nc: nc, r: bufio.NewReaderSize(brw.Reader, 1<<16)}, nil
}

func (s *Server) handle(f func(*Conn, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrade(w, r)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c.nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		defer func() {
			c.nc.Close()
			s.mu.Lock()
			delete(s.conns, c.nc)
			s.mu.Unlock()
			s.wg.Done()
		}()
		_ = f(c, r)
	}
}

// AcceptKey returns the Sec-WebSocket-Accept value for a
// Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// AppendFrame appends an unmasked server frame to dst.
func AppendFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// CloseFrame returns a close frame with code and reason.
func CloseFrame(code int, reason string) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return AppendFrame(nil, OpClose, append(p, reason...))
}

// readFrame reads one frame's header. When keep is false and the frame
// is a data frame the payload is skipped; otherwise it is read, unmasked,
// into c.buf and returned.
func (c *Conn) readFrame(keep bool) (fin bool, op byte, payload []byte, err error) {
	if _, err = io.ReadFull(c.r, c.hdr[:2]); err != nil {
		return
	}
	fin, op = c.hdr[0]&0x80 != 0, c.hdr[0]&0x0f
	masked := c.hdr[1]&0x80 != 0
	n := uint64(c.hdr[1] & 0x7f)
	switch n {
	case 126:
		if _, err = io.ReadFull(c.r, c.hdr[:2]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(c.hdr[:2]))
	case 127:
		if _, err = io.ReadFull(c.r, c.hdr[:8]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(c.hdr[:8])
	}
	var mask [4]byte
	if masked {
		if _, err = io.ReadFull(c.r, mask[:]); err != nil {
			return
		}
	}
	if n > 1<<30 {
		return false, 0, nil, errors.New("wsserver: frame too large")
	}
	if !keep && op < 8 {
		_, err = c.r.Discard(int(n))
		return
	}
	if uint64(cap(c.buf)) < n {
		c.buf = make([]byte, n)
	}
	payload = c.buf[:n]
	if _, err = io.ReadFull(c.r, payload); err != nil {
		return
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i&3]
		}
	}
	return
}

// message reads the next data message, answering pings and stopping at a
// close frame (returned as op OpClose). Fragments are joined.
func (c *Conn) message(keep bool) (op byte, payload []byte, err error) {
	var msg []byte
	var msgOp byte
	for {
		fin, fop, p, err := c.readFrame(keep)
		if err != nil {
			return 0, nil, err
		}
		switch fop {
		case OpClose:
			return OpClose, p, nil
		case OpPing:
			if _, err := c.nc.Write(AppendFrame(nil, OpPong, p)); err != nil {
				return 0, nil, err
			}
			continue
		case OpPong:
			continue
		case 0:
		default:
			msgOp = fop
		}
		if fin && msg == nil {
			return msgOp, p, nil
		}
		msg = append(msg, p...)
		if fin {
			return msgOp, msg, nil
		}
	}
}

// finish completes the closing handshake: it answers the client's close
// frame (unless the server sent its own first) and closes the TCP
// connection at once, as RFC 6455 asks of servers; browsers otherwise wait
// for the server's TCP close before reporting CLOSED.
func (c *Conn) finish(closePayload []byte, alreadySent bool) error {
	if !alreadySent {
		if _, err := c.nc.Write(AppendFrame(nil, OpClose, closePayload)); err != nil {
			return err
		}
	}
	return c.nc.Close()
}

func intParam(r *http.Request, name string, def int) int {
	if v, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil {
		return v
	}
	return def
}

func (s *Server) push(c *Conn, r *http.Request) error {
	n, size := intParam(r, "n", 1), intParam(r, "size", 32)
	op := byte(OpBinary)
	if r.URL.Query().Get("type") == "text" {
		op = OpText
	}
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'x'
	}
	frame := AppendFrame(nil, op, payload)
	per := max(1, (256<<10)/len(frame))
	batch := make([]byte, 0, per*len(frame))
	for range per {
		batch = append(batch, frame...)
	}
	if r.URL.Query().Get("wait") == "1" {
		op, p, err := c.message(false)
		if err != nil {
			return err
		}
		if op == OpClose {
			return c.finish(p, false)
		}
	}
	pushed := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(pushed)
		for left := n; left > 0; {
			k := min(left, per)
			if _, err := c.nc.Write(batch[:k*len(frame)]); err != nil {
				return
			}
			left -= k
		}
	}()
	for {
		op, p, err := c.message(false)
		if err != nil {
			return err
		}
		if op == OpClose {
			// The close reply must not interleave with a pushed batch.
			select {
			case <-pushed:
			case <-time.After(time.Second):
				return errors.New("wsserver: client closed before reading every message")
			}
			return c.finish(p, false)
		}
	}
}

func (s *Server) sink(c *Conn, r *http.Request) error {
	n := intParam(r, "n", 1)
	got := 0
	for {
		op, p, err := c.message(false)
		if err != nil {
			return err
		}
		if op == OpClose {
			return c.finish(p, false)
		}
		got++
		if got == n {
			if _, err := c.nc.Write(AppendFrame(nil, OpText, strconv.AppendInt(nil, int64(got), 10))); err != nil {
				return err
			}
		}
	}
}

func (s *Server) echo(c *Conn, r *http.Request) error {
	var out []byte
	for {
		op, p, err := c.message(true)
		if err != nil {
			return err
		}
		if op == OpClose {
			return c.finish(p, false)
		}
		out = AppendFrame(out[:0], op, p)
		if _, err := c.nc.Write(out); err != nil {
			return err
		}
	}
}

func (s *Server) closer(c *Conn, r *http.Request) error {
	info := &CloseInfo{}
	id := r.URL.Query().Get("id")
	s.mu.Lock()
	s.closes[id] = info
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		info.Done = true
		s.mu.Unlock()
	}()
	var out []byte
	sent := false
	for {
		op, p, err := c.message(true)
		if err != nil {
			return err
		}
		if op == OpClose {
			s.mu.Lock()
			info.ClientClosed = true
			s.mu.Unlock()
			return c.finish(p, sent)
		}
		if sent {
			s.mu.Lock()
			info.Late++
			s.mu.Unlock()
			continue
		}
		if op == OpText && string(p) == "close" {
			// Taken before the write: after it, this goroutine may wait
			// for a processor while the frame is already with the client.
			s.mu.Lock()
			info.CloseSentUnixNano = time.Now().UnixNano()
			s.mu.Unlock()
			if _, err := c.nc.Write(CloseFrame(1000, "bye")); err != nil {
				return err
			}
			sent = true
			continue
		}
		out = AppendFrame(out[:0], op, p)
		if _, err := c.nc.Write(out); err != nil {
			return err
		}
	}
}

// CloseInfo returns what /closer saw on connection id.
func (s *Server) CloseInfo(id string) (CloseInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.closes[id]
	if !ok {
		return CloseInfo{}, false
	}
	return *info, true
}

func (s *Server) closeInfo(w http.ResponseWriter, r *http.Request) {
	info, ok := s.CloseInfo(r.URL.Query().Get("id"))
	if !ok {
		http.Error(w, "unknown id", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}

func (s *Server) hold(w http.ResponseWriter, r *http.Request) {
	c, err := upgrade(w, r)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.held = append(s.held, c.nc)
	s.mu.Unlock()
}
