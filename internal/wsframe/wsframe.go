// Package wsframe is the small part of RFC 6455 that the repository's
// hand-made servers share: the accept key, frame bytes as a server (or a
// misbehaving one) writes them, close payloads, and the header of a frame
// read off the wire. It checks nothing: each server decides what it
// accepts.
package wsframe

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
)

// Frame opcodes (RFC 6455 section 5.2) and first-byte flags.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA

	FinBit  = 0x80
	RSV1Bit = 0x40
)

// guid is the GUID of RFC 6455 section 1.3.
const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + guid))
	return base64.StdEncoding.EncodeToString(h[:])
}

// mask is the key Append masks with: any key is valid, and a fixed one
// keeps the bytes reproducible.
var mask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// Append appends one frame to buf: b0 is its first byte (FIN, RSV bits,
// opcode); masked sets the mask bit and masks the payload, which a server
// must never do.
func Append(buf []byte, b0 byte, masked bool, payload []byte) []byte {
	var m byte
	if masked {
		m = 0x80
	}
	switch l := len(payload); {
	case l < 126:
		buf = append(buf, b0, m|byte(l))
	case l <= 0xFFFF:
		buf = append(buf, b0, m|126)
		buf = binary.BigEndian.AppendUint16(buf, uint16(l))
	default:
		buf = append(buf, b0, m|127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(l))
	}
	if !masked {
		return append(buf, payload...)
	}
	buf = append(buf, mask[:]...)
	for i, b := range payload {
		buf = append(buf, b^mask[i%4])
	}
	return buf
}

// ClosePayload is a close frame's payload: code and reason; code 1005
// (no status) gives an empty payload.
func ClosePayload(code int, reason string) []byte {
	if code == 1005 {
		return nil
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// Header is a frame's header as read off the wire.
type Header struct {
	B0     byte // FIN, RSV bits and opcode
	Masked bool
	Length uint64
	Mask   [4]byte // when Masked
}

// Fin reports the FIN bit.
func (h Header) Fin() bool { return h.B0&FinBit != 0 }

// Opcode is the frame's opcode.
func (h Header) Opcode() byte { return h.B0 & 0x0F }

// ReadHeader reads a frame header, up to and including its masking key.
func ReadHeader(r io.Reader) (Header, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return Header{}, err
	}
	h := Header{B0: b[0], Masked: b[1]&0x80 != 0, Length: uint64(b[1] & 0x7F)}
	switch h.Length {
	case 126:
		if _, err := io.ReadFull(r, b[:2]); err != nil {
			return Header{}, err
		}
		h.Length = uint64(binary.BigEndian.Uint16(b[:2]))
	case 127:
		if _, err := io.ReadFull(r, b[:8]); err != nil {
			return Header{}, err
		}
		h.Length = binary.BigEndian.Uint64(b[:8])
	}
	if h.Masked {
		if _, err := io.ReadFull(r, h.Mask[:]); err != nil {
			return Header{}, err
		}
	}
	return h, nil
}

// Unmask unmasks p in place with key; p starts at payload offset 0.
func Unmask(p []byte, key [4]byte) {
	for i := range p {
		p[i] ^= key[i%4]
	}
}
