//go:build linux

package main

import (
	"encoding/binary"

	"github.com/dualws/dualws/bench/internal/wsserver"
)

// frameParser follows a WebSocket byte stream, optionally after an HTTP
// head, far enough to find where each frame starts: it never looks at
// payloads.
type frameParser struct {
	inHTTP    bool   // still in the HTTP head
	httpMatch int    // bytes of "\r\n\r\n" matched so far
	hdr       []byte // the header read so far of the next frame
	remain    uint64 // payload bytes left of the current frame
	closeSeen bool   // a close frame has started
}

// headerLen is the length of the frame header begun in p.hdr (at least 2
// bytes of it read).
func (p *frameParser) headerLen() int {
	n := 2
	switch p.hdr[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if p.hdr[1]&0x80 != 0 { // masked
		n += 4
	}
	return n
}

// feed consumes b and returns the index in b of a close frame's first
// byte, or -1 when no close frame starts in b.
func (p *frameParser) feed(b []byte) (closeAt int) {
	closeAt = -1
	for i := 0; i < len(b); {
		if p.inHTTP {
			switch c := b[i]; {
			case c == "\r\n\r\n"[p.httpMatch]:
				p.httpMatch++
				p.inHTTP = p.httpMatch < 4
			case c == '\r':
				p.httpMatch = 1
			default:
				p.httpMatch = 0
			}
			i++
			continue
		}
		if p.remain > 0 {
			n := min(uint64(len(b)-i), p.remain)
			p.remain -= n
			i += int(n)
			continue
		}
		if len(p.hdr) == 0 && b[i]&0x0f == wsserver.OpClose {
			closeAt = i
			p.closeSeen = true
		}
		p.hdr = append(p.hdr, b[i])
		i++
		if len(p.hdr) < 2 || len(p.hdr) < p.headerLen() {
			continue
		}
		switch l := p.hdr[1] & 0x7f; l {
		case 126:
			p.remain = uint64(binary.BigEndian.Uint16(p.hdr[2:4]))
		case 127:
			p.remain = binary.BigEndian.Uint64(p.hdr[2:10])
		default:
			p.remain = uint64(l)
		}
		p.hdr = p.hdr[:0]
	}
	return closeAt
}
