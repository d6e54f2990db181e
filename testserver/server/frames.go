package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/dualws/dualws/internal/wsframe"
)

// This file holds the small RFC 6455 implementation the raw scenarios use:
// a hand-made handshake on a hijacked connection, a writer of unmasked
// server frames and a reader of masked client frames.

// maxRawPayload bounds the payload of a frame the raw reader accepts.
const maxRawPayload = 16 << 20

// frame is one WebSocket frame, payload unmasked.
type frame struct {
	fin     bool
	opcode  byte
	payload []byte
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// rawHandshake validates the client's opening handshake, hijacks the
// connection and writes the 101 response without a subprotocol or
// extensions. On a bad request it answers 400 and returns an error.
func rawHandshake(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.Reader, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	switch {
	case r.Method != http.MethodGet:
		return nil, nil, badHandshake(w, "method %s is not GET", r.Method)
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return nil, nil, badHandshake(w, "Connection header lacks upgrade")
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return nil, nil, badHandshake(w, "Upgrade header lacks websocket")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		return nil, nil, badHandshake(w, "Sec-WebSocket-Version is not 13")
	case key == "":
		return nil, nil, badHandshake(w, "missing Sec-WebSocket-Key")
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "connection cannot be hijacked", http.StatusInternalServerError)
		return nil, nil, errors.New("handshake: response writer is not an http.Hijacker")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("handshake: hijacking: %w", err)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + wsframe.AcceptKey(key) + "\r\n\r\n"
	if _, err := io.WriteString(conn, resp); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("handshake: writing response: %w", err)
	}
	return conn, brw.Reader, nil
}

func badHandshake(w http.ResponseWriter, format string, args ...any) error {
	err := fmt.Errorf("handshake: "+format, args...)
	http.Error(w, err.Error(), http.StatusBadRequest)
	return err
}

// writeFrame writes one unmasked (server) frame.
func writeFrame(w io.Writer, fin bool, opcode byte, payload []byte) error {
	b0 := opcode & 0x0F
	if fin {
		b0 |= wsframe.FinBit
	}
	if _, err := w.Write(wsframe.Append(make([]byte, 0, 10+len(payload)), b0, false, payload)); err != nil {
		return fmt.Errorf("writing frame opcode %#x: %w", opcode, err)
	}
	return nil
}

// readFrame reads one client frame, which must be masked, and unmasks its
// payload.
func readFrame(r io.Reader) (frame, error) {
	h, err := wsframe.ReadHeader(r)
	if err != nil {
		return frame{}, fmt.Errorf("reading frame header: %w", err)
	}
	f := frame{fin: h.Fin(), opcode: h.Opcode()}
	switch {
	case h.B0&0x70 != 0:
		return frame{}, fmt.Errorf("frame has reserved bits set: %#x", h.B0)
	case !h.Masked:
		return frame{}, errors.New("client frame is not masked")
	case h.Length > maxRawPayload:
		return frame{}, fmt.Errorf("frame payload of %d bytes exceeds %d", h.Length, maxRawPayload)
	case f.opcode >= wsframe.OpClose && (h.Length > 125 || !f.fin):
		return frame{}, fmt.Errorf("control frame opcode %#x is fragmented or too long", f.opcode)
	}
	f.payload = make([]byte, h.Length)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return frame{}, fmt.Errorf("reading frame payload: %w", err)
	}
	wsframe.Unmask(f.payload, h.Mask)
	return f, nil
}

// parseClosePayload splits a close frame payload; an empty payload yields
// code 1005 (no status received).
func parseClosePayload(p []byte) (code int, reason string, err error) {
	switch len(p) {
	case 0:
		return 1005, "", nil
	case 1:
		return 0, "", errors.New("close payload of 1 byte")
	}
	return int(binary.BigEndian.Uint16(p)), string(p[2:]), nil
}

// sniffer parses the client's frames passively from the bytes a WebSocket
// implementation reads off the wire, reporting each complete frame's
// opcode, FIN bit and (for control frames) unmasked payload. It lets the
// scenarios built on coder/websocket record exactly what the client sent,
// whatever coder's close handshake does with it.
type sniffer struct {
	onFrame func(fin bool, opcode byte, control []byte)
	broken  bool

	hdr     []byte // header bytes gathered so far
	hdrLen  int    // full header length once known, else 0
	fin     bool
	opcode  byte
	mask    [4]byte
	remain  uint64 // payload bytes still to come
	payload []byte // control frame payload gathered so far
}

// feed consumes bytes read from the client.
func (s *sniffer) feed(p []byte) {
	for len(p) > 0 && !s.broken {
		if s.hdrLen == 0 || len(s.hdr) < s.hdrLen {
			p = s.feedHeader(p)
			continue
		}
		n := uint64(len(p))
		if n > s.remain {
			n = s.remain
		}
		if s.opcode >= wsframe.OpClose {
			s.payload = append(s.payload, p[:n]...)
		}
		s.remain -= n
		p = p[n:]
		if s.remain == 0 {
			s.finish()
		}
	}
}

func (s *sniffer) feedHeader(p []byte) []byte {
	need := 2
	if s.hdrLen != 0 {
		need = s.hdrLen
	}
	for len(s.hdr) < need && len(p) > 0 {
		s.hdr = append(s.hdr, p[0])
		p = p[1:]
		if len(s.hdr) == 2 {
			if s.hdr[1]&0x80 == 0 {
				s.broken = true // client frames are always masked
				return nil
			}
			switch s.hdr[1] & 0x7F {
			case 126:
				need = 2 + 2 + 4
			case 127:
				need = 2 + 8 + 4
			default:
				need = 2 + 4
			}
			s.hdrLen = need
		}
	}
	if s.hdrLen == 0 || len(s.hdr) < s.hdrLen {
		return p
	}
	s.fin = s.hdr[0]&0x80 != 0
	s.opcode = s.hdr[0] & 0x0F
	switch s.hdrLen {
	case 8:
		s.remain = uint64(binary.BigEndian.Uint16(s.hdr[2:]))
	case 14:
		s.remain = binary.BigEndian.Uint64(s.hdr[2:])
	default:
		s.remain = uint64(s.hdr[1] & 0x7F)
	}
	copy(s.mask[:], s.hdr[s.hdrLen-4:])
	if s.opcode >= wsframe.OpClose && s.remain > 125 {
		s.broken = true
		return nil
	}
	if s.remain == 0 {
		s.finish()
	}
	return p
}

func (s *sniffer) finish() {
	var control []byte
	if s.opcode >= wsframe.OpClose {
		control = s.payload
		for i := range control {
			control[i] ^= s.mask[i%4]
		}
	}
	s.onFrame(s.fin, s.opcode, control)
	s.hdr, s.hdrLen, s.payload = s.hdr[:0], 0, nil
}

// sniffConn is a hijacked connection whose reads feed a sniffer.
type sniffConn struct {
	net.Conn
	r io.Reader
	s *sniffer
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.s.feed(p[:n])
	return n, err
}

// sniffWriter wraps a ResponseWriter so that the connection it hijacks is
// a sniffConn.
type sniffWriter struct {
	http.ResponseWriter
	s *sniffer
}

func (w *sniffWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer is not an http.Hijacker")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijacking: %w", err)
	}
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	sc := &sniffConn{Conn: conn, r: io.MultiReader(bytes.NewReader(buffered), conn), s: w.s}
	return sc, bufio.NewReadWriter(bufio.NewReader(sc), brw.Writer), nil
}
