//go:build !js

package faults

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dualws/dualws/internal/wsframe"
)

// This file is the misbehaving server's side of RFC 6455, on
// internal/wsframe: a handshake read and answered by hand on a raw TCP
// connection, a writer of arbitrary server frames and a reader of the
// client's masked frames.

// frameBytes builds one unmasked server frame: b0 is the first byte (FIN,
// RSV bits and opcode).
func frameBytes(b0 byte, payload []byte) []byte {
	return wsframe.Append(nil, b0, false, payload)
}

// maskedFrameBytes builds a frame with the mask bit set, which a server
// must never send.
func maskedFrameBytes(b0 byte, payload []byte) []byte {
	return wsframe.Append(nil, b0, true, payload)
}

// closeBytes is a close frame with code and reason; code 1005 gives an
// empty payload.
func closeBytes(code int, reason string) []byte {
	return frameBytes(wsframe.FinBit|wsframe.OpClose, wsframe.ClosePayload(code, reason))
}

// clientFrame is one frame from the client, payload unmasked and kept up
// to 1 KiB (data beyond is discarded).
type clientFrame struct {
	fin     bool
	opcode  byte
	length  uint64
	payload []byte
}

// readClientFrame reads one masked client frame.
func readClientFrame(r *bufio.Reader) (clientFrame, error) {
	h, err := wsframe.ReadHeader(r)
	if err != nil {
		return clientFrame{}, err
	}
	if !h.Masked {
		return clientFrame{}, errors.New("client frame is not masked")
	}
	f := clientFrame{fin: h.Fin(), opcode: h.Opcode(), length: h.Length}
	keep := min(f.length, 1024)
	f.payload = make([]byte, keep)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return clientFrame{}, err
	}
	wsframe.Unmask(f.payload, h.Mask)
	if rest := f.length - keep; rest > 0 {
		if _, err := io.CopyN(io.Discard, r, int64(rest)); err != nil {
			return clientFrame{}, err
		}
	}
	return f, nil
}

func closeCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(p))
}

// Peer is the server's side of one accepted connection. A case's Server
// function drives it; when the function returns without closing the
// connection, the harness keeps reading (frames, once upgraded) until the
// client closes its socket, which is how a socket the client forgets is
// found.
type Peer struct {
	conn *net.TCPConn
	br   *bufio.Reader
	cs   *caseServer

	// Req is the last handshake request read.
	Req *http.Request
	// ClientDone is closed once the client program has ended (Dial failed
	// or the client reached CLOSED).
	ClientDone <-chan struct{}

	mu       sync.Mutex
	upgraded bool
	closed   bool   // the server closed the connection itself
	endedBy  string // "client" when the client closed its socket, else why reading stopped
}

// ReadRequest reads the client's HTTP request.
func (p *Peer) ReadRequest() error {
	req, err := http.ReadRequest(p.br)
	if err != nil {
		return fmt.Errorf("reading the handshake request: %w", err)
	}
	p.Req = req
	p.cs.countRequest(req.URL.Path)
	return nil
}

// Upgrade reads the request and answers a valid 101, with extra header
// lines ("Name: value") appended. Unless extra names a subprotocol, it
// selects the first one offered, as browsers require (WHATWG WebSocket:
// a handshake that offered subprotocols fails without the header).
func (p *Peer) Upgrade(extra ...string) error {
	if err := p.ReadRequest(); err != nil {
		return err
	}
	if offered := p.Req.Header.Get("Sec-WebSocket-Protocol"); offered != "" && !slices.ContainsFunc(extra, func(h string) bool {
		return strings.HasPrefix(strings.ToLower(h), "sec-websocket-protocol:")
	}) {
		first, _, _ := strings.Cut(offered, ",")
		extra = append(extra, "Sec-WebSocket-Protocol: "+strings.TrimSpace(first))
	}
	return p.Answer101(wsframe.AcceptKey(p.Req.Header.Get("Sec-WebSocket-Key")), extra...)
}

// Answer101 writes a 101 response with the given accept key and extra
// header lines.
func (p *Peer) Answer101(accept string, extra ...string) error {
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	if accept != "" {
		resp += "Sec-WebSocket-Accept: " + accept + "\r\n"
	}
	for _, h := range extra {
		resp += h + "\r\n"
	}
	p.mu.Lock()
	p.upgraded = true
	p.mu.Unlock()
	return p.Write([]byte(resp + "\r\n"))
}

// Write writes raw bytes.
func (p *Peer) Write(b []byte) error {
	_, err := p.conn.Write(b)
	return err
}

// Text writes an unfragmented text frame.
func (p *Peer) Text(s string) error {
	return p.Write(frameBytes(wsframe.FinBit|wsframe.OpText, []byte(s)))
}

// Close writes a close frame.
func (p *Peer) Close(code int, reason string) error { return p.Write(closeBytes(code, reason)) }

// AwaitClose reads the client's frames until its close frame, answering
// pings if asked, and returns the close code (recorded for the case).
func (p *Peer) AwaitClose(answerPings bool) (int, error) {
	for {
		f, err := readClientFrame(p.br)
		if err != nil {
			return 0, err
		}
		switch f.opcode {
		case wsframe.OpPing:
			if answerPings {
				if err := p.Write(frameBytes(wsframe.FinBit|wsframe.OpPong, f.payload)); err != nil {
					return 0, err
				}
			}
		case wsframe.OpClose:
			code := closeCode(f.payload)
			p.cs.sawClose(code)
			return code, nil
		}
	}
}

// Echo answers the client's close with the same code and closes the
// connection, as a correct server does.
func (p *Peer) EchoCloseAndEnd() error {
	code, err := p.AwaitClose(true)
	if err != nil {
		return err
	}
	if code == 1005 {
		err = p.Write(frameBytes(wsframe.FinBit|wsframe.OpClose, nil))
	} else {
		err = p.Close(code, "")
	}
	p.End()
	return err
}

// RST resets the connection (SO_LINGER 0, then close).
func (p *Peer) RST() {
	p.conn.SetLinger(0)
	p.End()
}

// FIN half-closes the connection: the client reads EOF; the harness then
// waits for the client to close its side.
func (p *Peer) FIN() error { return p.conn.CloseWrite() }

// End closes the connection.
func (p *Peer) End() {
	p.mu.Lock()
	p.closed = true
	p.endedBy = "server"
	p.mu.Unlock()
	p.conn.Close()
}

// WaitClient blocks until the client program has ended.
func (p *Peer) WaitClient() { <-p.ClientDone }

// hold reads until the client closes its socket or the harness closes the
// connection, recording close frames; it records who ended it.
func (p *Peer) hold() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	upgraded := p.upgraded
	p.mu.Unlock()
	var err error
	if upgraded {
		for {
			var f clientFrame
			if f, err = readClientFrame(p.br); err != nil {
				break
			}
			if f.opcode == wsframe.OpClose {
				p.cs.sawClose(closeCode(f.payload))
			}
		}
	}
	if err == nil || !isEOF(err) {
		_, err = io.Copy(io.Discard, p.br)
		if err == nil {
			err = io.EOF
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if isEOF(err) {
		p.endedBy = "client"
	} else if p.endedBy == "" {
		p.endedBy = err.Error()
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// sleepOrDone sleeps d unless the client ends first; it reports whether
// the client is still running.
func (p *Peer) sleepOrDone(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ClientDone:
		return false
	}
}
