package server

// Endpoints for reconnecting clients (dualws.Redial) and heartbeats:
//
//	/ws/flaky [n=0 how=drop|status|close|blackhole status=503 code=1012 reason=]
//	                          the first n connections carrying this id fail as how says,
//	                          later ones behave as /ws/pingpong:
//	                          drop: close TCP before answering the handshake;
//	                          status: refuse the handshake with HTTP status;
//	                          close: accept, then close at once with code and reason;
//	                          blackhole: as /ws/blackhole
//	/ws/pingpong              answer the text "ping" with "pong", echo anything else
//	/ws/blackhole             accept, then never write and never answer anything (frames
//	                          are read and discarded), until the client leaves or 30 s
//	GET /redial?id=X&do=...   control, plain HTTP:
//	                          count: the number of /ws/flaky connections seen for id
//	                          listen [ttl=30]: open a second listener on 127.0.0.1 serving
//	                          every endpoint for ttl seconds (at most 600) and answer its
//	                          host:port; one per id
//	                          down: close that listener, then every connection it
//	                          accepted (no close frames); answers once they are closed
//	                          up: listen again on the same port
//
// A browser cannot restart a server, so a scenario that needs one uses
// listen, down and up. Listeners opened this way close with Server.Close
// and after their ttl at the latest.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// redialState is what the Redial endpoints remember per Server.
type redialState struct {
	s *Server

	mu     sync.Mutex
	flaky  map[string]int            // /ws/flaky connections per id
	extras map[string]*extraListener // per id
}

// redialRoutes registers the endpoints above.
func (s *Server) redialRoutes() {
	st := &redialState{s: s, flaky: map[string]int{}, extras: map[string]*extraListener{}}
	s.mux.HandleFunc("/ws/flaky", s.scenario(st.wsFlaky))
	s.mux.HandleFunc("/ws/pingpong", s.scenario(s.wsPingPong))
	s.mux.HandleFunc("/ws/blackhole", s.scenario(s.wsBlackhole))
	s.mux.HandleFunc("GET /redial", s.scenario(st.control))
}

// wsFlaky: the first n connections per id fail as how says.
func (st *redialState) wsFlaky(w http.ResponseWriter, r *http.Request, id string) {
	s := st.s
	p := params{r: r}
	n := p.int("n", 0, 0, 1<<20)
	status := p.int("status", http.StatusServiceUnavailable, 200, 599)
	code, reason := p.close()
	how := r.URL.Query().Get("how")
	switch {
	case p.err != nil:
	case how != "drop" && how != "status" && how != "close" && how != "blackhole":
		p.err = fmt.Errorf("parameter how=%q is not drop, status, close or blackhole", how)
	case n > 0 && id == "":
		p.err = errors.New("parameter id is needed to count connections")
	case status == http.StatusSwitchingProtocols:
		p.err = errors.New("parameter status=101 would accept")
	case r.URL.Query().Get("code") == "":
		code = websocket.StatusServiceRestart
	}
	if p.err != nil {
		badRequest(w, r, p.err)
		return
	}
	st.mu.Lock()
	st.flaky[id]++
	i := st.flaky[id]
	st.mu.Unlock()
	if i > n {
		s.wsPingPong(w, r, id)
		return
	}
	switch how {
	case "drop":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		s.logf("%s id=%q %s: connection %d dropped during the handshake: %s", r.URL.Path, id, r.RemoteAddr, i, outcome(err))
	case "status":
		s.logf("%s id=%q %s: connection %d refused with %d", r.URL.Path, id, r.RemoteAddr, i, status)
		http.Error(w, fmt.Sprintf("flaky: connection %d of %d refused", i, n), status)
	case "close":
		c, err := s.accept(w, r, id, nil, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		err = s.closeWith(s.ctx, c, code, reason, nil)
		s.logf("%s id=%q %s: connection %d closed with %d: %s", r.URL.Path, id, r.RemoteAddr, i, code, outcome(err))
	case "blackhole":
		s.wsBlackhole(w, r, id)
	}
}

// wsPingPong: answer "ping" with "pong", echo anything else.
func (s *Server) wsPingPong(w http.ResponseWriter, r *http.Request, id string) {
	c, err := s.accept(w, r, id, nil, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	pings := 0
	for {
		typ, data, rerr := c.Read(s.ctx)
		if rerr != nil {
			if websocket.CloseStatus(rerr) == -1 {
				err = rerr
			}
			break
		}
		if typ == websocket.MessageText && string(data) == "ping" {
			pings++
			data = []byte("pong")
		}
		if err = c.Write(s.ctx, typ, data); err != nil {
			break
		}
	}
	s.logf("%s id=%q %s: answered %d pings: %s", r.URL.Path, id, r.RemoteAddr, pings, outcome(err))
}

// wsBlackhole: accept, then stay silent while discarding what arrives.
func (s *Server) wsBlackhole(w http.ResponseWriter, r *http.Request, id string) {
	rc, err := s.rawAccept(w, r, id)
	if err != nil {
		return
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc.br)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	s.logf("%s id=%q %s: blackhole ended after discarding %d bytes: %s", r.URL.Path, id, r.RemoteAddr, n, outcome(err))
}

// control is GET /redial.
func (st *redialState) control(w http.ResponseWriter, r *http.Request, id string) {
	allowAnyOrigin(w)
	w.Header().Set("Cache-Control", "no-store")
	if id == "" {
		http.Error(w, "redial: missing id parameter", http.StatusBadRequest)
		return
	}
	var (
		answer string
		err    error
	)
	switch do := r.URL.Query().Get("do"); do {
	case "count":
		st.mu.Lock()
		answer = strconv.Itoa(st.flaky[id])
		st.mu.Unlock()
	case "listen":
		var ttl int
		if ttl, err = intParam(r, "ttl", int(stallLimit/time.Second), 1, 600); err == nil {
			answer, err = st.listen(id, time.Duration(ttl)*time.Second)
		}
	case "down":
		err = st.extra(id).down()
	case "up":
		err = st.extra(id).up()
	default:
		err = fmt.Errorf("parameter do=%q is not count, listen, down or up", do)
	}
	if err != nil {
		st.s.logf("%s id=%q: %v", r.URL.Path, id, err)
		http.Error(w, "redial: "+err.Error(), http.StatusBadRequest)
		return
	}
	io.WriteString(w, answer)
}

// extraListener is a second listener serving the Server on a fixed port.
type extraListener struct {
	s *Server

	mu      sync.Mutex
	addr    string
	srv     *http.Server // nil while down
	served  chan struct{}
	conns   []net.Conn
	expired bool
	timer   *time.Timer
	stop    func() bool
}

func (st *redialState) extra(id string) *extraListener {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.extras[id] // nil: its methods say so
}

func (st *redialState) listen(id string, ttl time.Duration) (string, error) {
	st.mu.Lock()
	if st.extras[id] != nil {
		st.mu.Unlock()
		return "", errors.New("a listener for this id exists")
	}
	e := &extraListener{s: st.s, addr: "127.0.0.1:0"}
	st.extras[id] = e
	st.mu.Unlock()
	if err := e.up(); err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// The listener lives at most ttl, and not past Server.Close.
	e.timer = time.AfterFunc(ttl, e.expire)
	e.stop = context.AfterFunc(st.s.ctx, e.expire)
	return e.addr, nil
}

func (e *extraListener) expire() {
	e.mu.Lock()
	e.expired = true
	e.mu.Unlock()
	e.down()
}

// up listens on the listener's port and serves until down.
func (e *extraListener) up() error {
	if e == nil {
		return errors.New("no listener: call do=listen first")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.expired:
		return errors.New("the listener expired")
	case e.srv != nil:
		return errors.New("the listener is up already")
	}
	// Count the serving goroutine as a scenario, so that Server.Close
	// waits for it; refuse once the server is closed.
	e.s.mu.Lock()
	if e.s.closed {
		e.s.mu.Unlock()
		return errors.New("the server is closed")
	}
	e.s.active.Add(1)
	e.s.mu.Unlock()
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		e.s.active.Done()
		return fmt.Errorf("listening on %s: %w", e.addr, err)
	}
	e.addr = ln.Addr().String()
	srv := &http.Server{Handler: e.s, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	e.srv, e.served = srv, served
	go func() {
		defer e.s.active.Done()
		defer close(served)
		srv.Serve(&trackingListener{Listener: ln, e: e})
	}()
	e.s.logf("/redial: listening on %s", e.addr)
	return nil
}

// down closes the listener, then every connection it accepted, and waits
// for the serving goroutine.
func (e *extraListener) down() error {
	if e == nil {
		return errors.New("no listener: call do=listen first")
	}
	e.mu.Lock()
	srv, served, conns := e.srv, e.served, e.conns
	e.srv, e.conns = nil, nil
	if e.expired && e.timer != nil {
		e.timer.Stop()
		e.stop()
	}
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	srv.Close() // the listener and the connections still speaking HTTP
	<-served
	for _, c := range conns {
		c.Close() // hijacked WebSocket connections
	}
	e.s.logf("/redial: %s down, %d connections dropped", e.addr, len(conns))
	return nil
}

// trackingListener remembers every accepted connection of e.
type trackingListener struct {
	net.Listener
	e *extraListener
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.e.mu.Lock()
		l.e.conns = append(l.e.conns, c)
		l.e.mu.Unlock()
	}
	return c, err
}
