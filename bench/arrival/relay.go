//go:build linux

package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// record is what the child process saw of one connection, in Unix
// nanoseconds of the wall clock, which the parent shares (0: not seen).
type record struct {
	Write     int64   // the server is about to write its close frame
	Arrive    int64   // the relay's Read that returned the close's first byte returned
	HandStart int64   // the relay's Write to the client that carries the close began
	Deliver   int64   // that Write returned: the close is in the client's kernel
	Writes    []write // every Write of the relay to the client
}

// write is one Write of the relay to the client.
type write struct {
	Start, End int64
	Unsent     int // the client-facing socket's SIOCOUTQ after it
}

// stamps collects one connection's record.
type stamps struct {
	mu   sync.Mutex
	r    record
	done chan struct{} // closed when the relay has finished with the connection
}

func newStamps() *stamps { return &stamps{done: make(chan struct{})} }

func (s *stamps) update(f func(r *record)) {
	s.mu.Lock()
	f(&s.r)
	s.mu.Unlock()
}

func (s *stamps) snapshot() record {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.r
	r.Writes = append([]write(nil), r.Writes...)
	return r
}

// relay forwards each connection it accepts to the server, reading the
// server as fast as it sends (into memory, without bound) so that the
// moment it reads the close frame is the moment the close left the
// server's kernel, and writing to the client as fast as the client's
// window lets it.
type relay struct {
	server string

	mu  sync.Mutex
	cur *stamps // the newest connection's
}

func (rl *relay) current() *stamps {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return rl.cur
}

func (rl *relay) serve(ln net.Listener) {
	for {
		cc, err := ln.Accept()
		if err != nil {
			return
		}
		st := newStamps()
		rl.mu.Lock()
		rl.cur = st
		rl.mu.Unlock()
		go rl.forward(cc, st)
	}
}

// forward relays one client connection, cc.
func (rl *relay) forward(cc net.Conn, st *stamps) {
	defer close(st.done)
	defer cc.Close()
	sc, err := net.Dial("tcp", rl.server)
	if err != nil {
		return
	}
	defer sc.Close()

	var (
		mu     sync.Mutex
		cond   = sync.NewCond(&mu)
		queue  [][]byte
		eof    bool
		closeN = -1 // the index among the chunks read of the one holding the close
	)
	go func() { // server -> memory
		p := &frameParser{inHTTP: true}
		buf := make([]byte, 256<<10)
		for chunks := 0; ; {
			n, err := sc.Read(buf)
			t := time.Now().UnixNano()
			if n > 0 {
				at := p.feed(buf[:n])
				if at >= 0 {
					st.update(func(r *record) { r.Arrive = t })
				}
				mu.Lock()
				if at >= 0 {
					closeN = chunks
				}
				chunks++
				queue = append(queue, append([]byte(nil), buf[:n]...))
				cond.Signal()
				mu.Unlock()
			}
			if err != nil {
				mu.Lock()
				eof = true
				cond.Signal()
				mu.Unlock()
				return
			}
		}
	}()
	down := make(chan struct{})
	go func() { // memory -> client
		defer close(down)
		for i := 0; ; i++ {
			mu.Lock()
			for len(queue) == 0 && !eof {
				cond.Wait()
			}
			if len(queue) == 0 {
				mu.Unlock()
				break
			}
			b := queue[0]
			queue[0] = nil
			queue = queue[1:]
			isClose := i == closeN
			mu.Unlock()
			start := time.Now().UnixNano()
			if isClose {
				st.update(func(r *record) { r.HandStart = start })
			}
			_, err := cc.Write(b)
			end := time.Now().UnixNano()
			w := write{start, end, unsent(cc)}
			st.update(func(r *record) {
				r.Writes = append(r.Writes, w)
				if isClose {
					r.Deliver = end
				}
			})
			if err != nil {
				break
			}
		}
		cc.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(sc, cc)
	sc.(*net.TCPConn).CloseWrite()
	select {
	case <-down:
	case <-time.After(3 * time.Second):
	}
}

// serveControl answers GET /last with the newest connection's record as
// JSON, once the relay has finished with it (or after 5 s).
func (rl *relay) serveControl(ln net.Listener) {
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := rl.current()
		if st == nil {
			http.Error(w, "no connection yet", http.StatusNotFound)
			return
		}
		select {
		case <-st.done:
		case <-time.After(5 * time.Second):
		}
		json.NewEncoder(w).Encode(st.snapshot())
	}))
}
