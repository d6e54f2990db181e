//go:build !js

package dualws

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// A native Send writes its data frames itself, masked, each in one Write
// of the socket; coder/websocket still reads, answers pings and closes,
// and writes its control frames through the same trackedConn, which
// keeps frames whole (writeWhole). Through coder/websocket's Write, a 32 B
// Send took two channel locks, a mutex, a crypto/rand read for the mask
// key and a copy through a 4 KiB bufio.Writer, and a 64 KiB Send sixteen
// system calls: the close check (readiness_native.go) made a Send 5%
// slower than coder/websocket's own, and the direct write pays for it.

// frameHeaderMax is the longest header of a client's frame: 2 bytes, an
// 8-byte length, a 4-byte mask key.
const frameHeaderMax = 14

// ownFrameMax bounds the frames built in the connection's own buffer
// (nativeConn.frameBuf, grown to fit, so a connection keeps no more than
// this); longer ones, up to a fragment, use a buffer from largeFrames,
// held while the frame is written (a Send to a peer that does not read
// holds it): 8, 16 or 32 KiB, or a whole fragment's.
const ownFrameMax = 4 << 10

var largeFrames [4]sync.Pool

// largeFrameClass returns the class in largeFrames of a frame of n bytes,
// and its buffers' size.
func largeFrameClass(n int) (class, size int) {
	for size = 2 * ownFrameMax; size < n && class < len(largeFrames)-1; size *= 2 {
		class++
	}
	if class == len(largeFrames)-1 {
		size = frameHeaderMax + fragmentSize
	}
	return class, size
}

// errCloseWritten is a data frame's error once a close frame has been
// written: nothing may follow it.
var errCloseWritten = errors.New("a close frame has been written")

// The opcodes named by the frame writer and the frame checker (Text and
// Binary are the others).
const (
	opContinuation = 0x0
	opClose        = 0x8
	opPong         = 0xA
)

// writeDataFrame writes one data frame (op Text, Binary or
// opContinuation) with payload p, masked with a fresh key. It runs under
// the send lock, which guards frameBuf and maskKeys.
func (d *nativeConn) writeDataFrame(fin bool, op byte, p []byte) error {
	n := frameHeaderLen(len(p)) + len(p)
	var buf []byte
	var pooled *[]byte
	if n <= ownFrameMax {
		if cap(d.frameBuf) < n {
			d.frameBuf = make([]byte, max(64, 1<<bits.Len(uint(n-1)))) // the next power of two
		}
		buf = d.frameBuf[:n]
	} else {
		class, size := largeFrameClass(n)
		if pooled, _ = largeFrames[class].Get().(*[]byte); pooled == nil {
			b := make([]byte, size)
			pooled = &b
		}
		buf = (*pooled)[:n]
		defer largeFrames[class].Put(pooled)
	}
	if d.maskKeys == nil {
		var seed [32]byte
		crand.Read(seed[:])
		d.maskKeys = rand.NewChaCha8(seed)
	}
	key := uint32(d.maskKeys.Uint64())
	h := putFrameHeader(buf, fin, op, len(p), key)
	maskCopy(buf[h:], p, key)
	return d.raw.writeFrame(buf)
}

// frameHeaderLen returns the length of a masked frame's header for a
// payload of n bytes.
func frameHeaderLen(n int) int {
	switch {
	case n <= 125:
		return 6
	case n <= 0xffff:
		return 8
	}
	return 14
}

// putFrameHeader writes a masked frame's header into b and returns its
// length.
func putFrameHeader(b []byte, fin bool, op byte, n int, key uint32) int {
	b[0] = op
	if fin {
		b[0] |= 0x80
	}
	var h int
	switch {
	case n <= 125:
		b[1] = 0x80 | byte(n)
		h = 2
	case n <= 0xffff:
		b[1] = 0x80 | 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		h = 4
	default:
		b[1] = 0x80 | 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		h = 10
	}
	binary.LittleEndian.PutUint32(b[h:], key)
	return h + 4
}

// maskCopy writes src into dst XORed with the mask key, the key's bytes
// taken in wire order (key's little-endian bytes, as putFrameHeader writes
// it).
func maskCopy(dst, src []byte, key uint32) {
	dst = dst[:len(src)]
	k := uint64(key) | uint64(key)<<32
	i := 0
	for ; len(src)-i >= 32; i += 32 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k)
		binary.LittleEndian.PutUint64(dst[i+8:], binary.LittleEndian.Uint64(src[i+8:])^k)
		binary.LittleEndian.PutUint64(dst[i+16:], binary.LittleEndian.Uint64(src[i+16:])^k)
		binary.LittleEndian.PutUint64(dst[i+24:], binary.LittleEndian.Uint64(src[i+24:])^k)
	}
	for ; len(src)-i >= 8; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ byte(key>>(8*(i&3)))
	}
}
