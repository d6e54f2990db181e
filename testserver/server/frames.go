package server

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// This file holds the small RFC 6455 implementation the raw scenarios use:
// a hand-made handshake on a hijacked connection, a writer of unmasked
// server frames and a reader of masked client frames.

// Frame opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxRawPayload bounds the payload of a frame the raw reader accepts.
const maxRawPayload = 16 << 20

// wsGUID is the GUID of RFC 6455 section 1.3.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// frame is one WebSocket frame, payload unmasked.
type frame struct {
	fin     bool
	opcode  byte
	payload []byte
}

// acceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
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
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
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
	var hdr [10]byte
	hdr[0] = opcode & 0x0F
	if fin {
		hdr[0] |= 0x80
	}
	n := 2
	switch l := len(payload); {
	case l < 126:
		hdr[1] = byte(l)
	case l <= 0xFFFF:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(l))
		n = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(l))
		n = 10
	}
	buf := make([]byte, 0, n+len(payload))
	buf = append(buf, hdr[:n]...)
	buf = append(buf, payload...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("writing frame opcode %#x: %w", opcode, err)
	}
	return nil
}

// readFrame reads one client frame, which must be masked, and unmasks its
// payload.
func readFrame(r io.Reader) (frame, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return frame{}, fmt.Errorf("reading frame header: %w", err)
	}
	f := frame{fin: hdr[0]&0x80 != 0, opcode: hdr[0] & 0x0F}
	if hdr[0]&0x70 != 0 {
		return frame{}, fmt.Errorf("frame has reserved bits set: %#x", hdr[0])
	}
	if hdr[1]&0x80 == 0 {
		return frame{}, errors.New("client frame is not masked")
	}
	length := uint64(hdr[1] & 0x7F)
	switch length {
	case 126:
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return frame{}, fmt.Errorf("reading frame length: %w", err)
		}
		length = uint64(binary.BigEndian.Uint16(hdr[:2]))
	case 127:
		if _, err := io.ReadFull(r, hdr[:8]); err != nil {
			return frame{}, fmt.Errorf("reading frame length: %w", err)
		}
		length = binary.BigEndian.Uint64(hdr[:8])
	}
	if length > maxRawPayload {
		return frame{}, fmt.Errorf("frame payload of %d bytes exceeds %d", length, maxRawPayload)
	}
	if f.opcode >= opClose && (length > 125 || !f.fin) {
		return frame{}, fmt.Errorf("control frame opcode %#x is fragmented or too long", f.opcode)
	}
	var mask [4]byte
	if _, err := io.ReadFull(r, mask[:]); err != nil {
		return frame{}, fmt.Errorf("reading frame mask: %w", err)
	}
	f.payload = make([]byte, length)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return frame{}, fmt.Errorf("reading frame payload: %w", err)
	}
	for i := range f.payload {
		f.payload[i] ^= mask[i%4]
	}
	return f, nil
}

// closePayload builds a close frame payload; code 1005 gives an empty one.
func closePayload(code int, reason string) []byte {
	if code == 1005 {
		return nil
	}
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(p, reason...)
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
