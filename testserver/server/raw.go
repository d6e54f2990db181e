package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/dualws/dualws/internal/wsframe"
)

// rawConn is a hijacked connection of a raw-frame scenario. It is closed
// when the server closes and has a deadline of stallLimit.
type rawConn struct {
	net.Conn
	br   *bufio.Reader
	stop func() bool
}

// rawAccept performs the handshake by hand and arranges for the connection
// to end with Server.Close.
func (s *Server) rawAccept(w http.ResponseWriter, r *http.Request, id string) (*rawConn, error) {
	conn, br, err := rawHandshake(w, r)
	if err != nil {
		s.logf("%s id=%q %s: %v", r.URL.Path, id, r.RemoteAddr, err)
		return nil, err
	}
	if err := conn.SetDeadline(time.Now().Add(stallLimit)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("setting deadline: %w", err)
	}
	rc := &rawConn{Conn: conn, br: br}
	rc.stop = context.AfterFunc(s.ctx, func() { conn.Close() })
	return rc, nil
}

func (rc *rawConn) Close() error {
	rc.stop()
	return rc.Conn.Close()
}

// readUntilClose reads client frames, counting data messages, until a
// close frame arrives (returned, and recorded for id) or reading fails.
// It answers pings when answerPings is set.
func (s *Server) readUntilClose(rc *rawConn, id string, answerPings bool) ([]byte, error) {
	for {
		f, err := readFrame(rc.br)
		if err != nil {
			return nil, err
		}
		s.recordFrame(id, f.fin, f.opcode, f.payload)
		switch f.opcode {
		case wsframe.OpText, wsframe.OpBinary, wsframe.OpContinuation, wsframe.OpPong:
		case wsframe.OpPing:
			if answerPings {
				if err := writeFrame(rc, true, wsframe.OpPong, f.payload); err != nil {
					return nil, err
				}
			}
		case wsframe.OpClose:
			if _, _, err := parseClosePayload(f.payload); err != nil {
				return nil, err
			}
			return f.payload, nil
		default:
			return nil, fmt.Errorf("unknown opcode %#x", f.opcode)
		}
	}
}

// wsDropFragment: send the first fragment of a text message, then close
// TCP.
func (s *Server) wsDropFragment(w http.ResponseWriter, r *http.Request, id string) {
	rc, err := s.rawAccept(w, r, id)
	if err != nil {
		return
	}
	err = writeFrame(rc, false, wsframe.OpText, []byte("first fragment"))
	rc.Close()
	s.logf("%s id=%q %s: dropped after a fragment: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// wsNoClose: read and discard frames, never answering (not even a close
// frame or a ping), until the client disconnects, the server closes or
// stallLimit passes. With answer=1 it answers the client's close frame
// with its code, then holds the connection without reading (the client's
// end of TCP goes unnoticed) until the server closes or stallLimit passes.
func (s *Server) wsNoClose(w http.ResponseWriter, r *http.Request, id string) {
	p := params{r: r}
	answer := p.int("answer", 0, 0, 1) == 1
	if p.err != nil {
		badRequest(w, r, p.err)
		return
	}
	rc, err := s.rawAccept(w, r, id)
	if err != nil {
		return
	}
	defer rc.Close()
	for {
		var close []byte
		close, err = s.readUntilClose(rc, id, false)
		if err != nil {
			break
		}
		if answer {
			code, _, _ := parseClosePayload(close)
			if err = writeFrame(rc, true, wsframe.OpClose, wsframe.ClosePayload(code, "")); err == nil {
				// Reading on would see the client's end of TCP and
				// end the connection: hold it instead.
				t := time.NewTimer(stallLimit)
				select {
				case <-s.ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
			break
		}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = nil
	}
	s.logf("%s id=%q %s: ended: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// BadUTF8Payload is the payload of the text frame /ws/badutf8 sends.
var BadUTF8Payload = []byte{0xff, 0xfe, 0xfd}

// wsBadUTF8: send a text frame with invalid UTF-8, then wait for the
// client's close frame, answer it with the same code and close TCP.
func (s *Server) wsBadUTF8(w http.ResponseWriter, r *http.Request, id string) {
	rc, err := s.rawAccept(w, r, id)
	if err != nil {
		return
	}
	defer rc.Close()
	err = writeFrame(rc, true, wsframe.OpText, BadUTF8Payload)
	var p []byte
	if err == nil {
		p, err = s.readUntilClose(rc, id, true)
	}
	if err == nil {
		code, _, _ := parseClosePayload(p)
		err = writeFrame(rc, true, wsframe.OpClose, wsframe.ClosePayload(code, ""))
		if err == nil {
			s.logf("%s id=%q %s: client closed with %d", r.URL.Path, id, r.RemoteAddr, code)
			return
		}
	}
	s.logf("%s id=%q %s: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}

// wsPongClose: send an unsolicited pong, then a close frame without a
// code; read the client's answer and close TCP.
func (s *Server) wsPongClose(w http.ResponseWriter, r *http.Request, id string) {
	rc, err := s.rawAccept(w, r, id)
	if err != nil {
		return
	}
	defer rc.Close()
	err = writeFrame(rc, true, wsframe.OpPong, []byte("unsolicited"))
	if err == nil {
		err = writeFrame(rc, true, wsframe.OpClose, nil)
	}
	var p []byte
	if err == nil {
		p, err = s.readUntilClose(rc, id, false)
	}
	if err == nil {
		code, _, _ := parseClosePayload(p)
		s.logf("%s id=%q %s: client answered with %d", r.URL.Path, id, r.RemoteAddr, code)
		return
	}
	s.logf("%s id=%q %s: %s", r.URL.Path, id, r.RemoteAddr, outcome(err))
}
