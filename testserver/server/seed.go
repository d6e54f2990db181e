package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/dualws/dualws/internal/wsframe"
)

// Seed behaviours: what /ws/seed does before it ends the connection
// (parameter before) and how it ends it (parameter end), delay
// milliseconds later (parameter delay, default 0).
const (
	SeedBeforeEcho  = "echo"  // read one data message and echo it
	SeedBeforePush  = "push"  // send the text "first" without waiting for the client
	SeedBeforeBurst = "burst" // send n texts (default SeedBurst) of size bytes (BurstMessage) without waiting for the client
	SeedBeforeNone  = "none"  // nothing: end right after the handshake

	SeedEndClose = "close" // write a close frame with code and reason
	SeedEndDrop  = "drop"  // close TCP without a close frame
)

// SeedBurst is the number of messages /ws/seed sends with before=burst
// when its parameter n is absent.
const SeedBurst = 3

// wsSeed: the server side of the seed matrix. It records when its 101
// response was written (Observation.OpenedAt), does what before says, then
// ends as end says and records when (Observation.EndedAt, Ended): right
// after the write of the close frame, or the close of TCP, returned. After a
// close frame it keeps reading, counting data messages, until the client's
// close frame, then closes TCP.
func (s *Server) wsSeed(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	before, end := q.Get("before"), q.Get("end")
	switch before {
	case SeedBeforeEcho, SeedBeforePush, SeedBeforeBurst, SeedBeforeNone:
	default:
		badRequest(w, r, fmt.Errorf("parameter before=%q is not echo, push, burst or none", before))
		return
	}
	if end != SeedEndClose && end != SeedEndDrop {
		badRequest(w, r, fmt.Errorf("parameter end=%q is not close or drop", end))
		return
	}
	code, reason, err := closeParams(r)
	p := params{r: r}
	n, size, delay := p.int("n", SeedBurst, 1, 1<<20), p.int("size", 0, 0, 1<<20), p.delay()
	if err == nil {
		err = p.err
	}
	if err != nil {
		badRequest(w, r, err)
		return
	}
	// Taken before the 101 response is written: the client cannot have
	// seen the handshake earlier, whatever the scheduler does next.
	opened := time.Now().UnixNano()
	rc, err := s.rawAccept(w, r, id)
	if err != nil {
		return
	}
	defer rc.Close()
	s.record(id, func(o *Observation) { o.OpenedAt = opened })
	switch before {
	case SeedBeforeEcho:
		err = s.echoOne(rc, id)
	case SeedBeforePush:
		err = writeFrame(rc, true, wsframe.OpText, []byte("first"))
	case SeedBeforeBurst:
		for i := 1; i <= n && err == nil; i++ {
			err = writeFrame(rc, true, wsframe.OpText, []byte(BurstMessage(i, size)))
		}
	}
	if err == nil {
		err = s.wait(delay)
	}
	if err != nil {
		s.logf("%s id=%q %s: %v", r.URL.Path, id, r.RemoteAddr, err)
		return
	}
	if end == SeedEndDrop {
		err = rc.Close()
		s.recordEnd(id, SeedEndDrop)
		s.logf("%s id=%q %s: dropped after %s: %s", r.URL.Path, id, r.RemoteAddr, before, outcome(err))
		return
	}
	err = writeFrame(rc, true, wsframe.OpClose, wsframe.ClosePayload(int(code), reason))
	if err == nil {
		s.recordEnd(id, SeedEndClose)
		_, err = s.readUntilClose(rc, id, true)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = nil // the client left without answering: nothing to report
	}
	s.logf("%s id=%q %s: closed with %d after %s: %s", r.URL.Path, id, r.RemoteAddr, code, before, outcome(err))
}

// echoOne reads client frames until one complete single-frame data message
// and echoes it. A close frame from the client first is an error.
func (s *Server) echoOne(rc *rawConn, id string) error {
	for {
		f, err := readFrame(rc.br)
		if err != nil {
			return err
		}
		s.recordFrame(id, f.fin, f.opcode, f.payload)
		switch f.opcode {
		case wsframe.OpText, wsframe.OpBinary:
			if !f.fin {
				return errors.New("fragmented message: not supported by /ws/seed")
			}
			return writeFrame(rc, true, f.opcode, f.payload)
		case wsframe.OpPing:
			if err := writeFrame(rc, true, wsframe.OpPong, f.payload); err != nil {
				return err
			}
		case wsframe.OpClose:
			return errors.New("the client closed before its first message")
		}
	}
}

// recordEnd records that the server has just written its close frame to
// the kernel, or closed TCP.
func (s *Server) recordEnd(id, how string) {
	now := time.Now().UnixNano()
	s.record(id, func(o *Observation) {
		o.EndedAt = now
		o.Ended = how
	})
}
