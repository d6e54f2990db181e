//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/dualws/dualws/bench/internal/wsserver"
)

// serveChild is the child process: the server, the relay in front of it
// and the relay's control endpoint, on loopback. It prints their
// addresses on one line and runs until its standard input ends (the
// parent exits).
func serveChild() error {
	var ln [3]net.Listener
	for i := range ln {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		ln[i] = l
	}
	rl := &relay{server: ln[0].Addr().String()}
	srv := &http.Server{
		Handler:     &server{relay: rl},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
	}
	go srv.Serve(ln[0])
	go rl.serve(ln[1])
	go rl.serveControl(ln[2])
	if _, err := fmt.Println(ln[0].Addr(), ln[1].Addr(), ln[2].Addr()); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

// connKey keys the request's net.Conn in its context.
type connKey struct{}

// server answers /<shape key> with the shape then its close frame, and
// /echo by echoing every message.
type server struct{ relay *relay }

func (sv *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/echo" {
		echo(w, r)
		return
	}
	sh, ok := findShape(strings.TrimPrefix(r.URL.Path, "/"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := setPacing(r.Context().Value(connKey{}).(net.Conn), sh.pace); err != nil {
		http.Error(w, "SO_MAX_PACING_RATE: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s := &serverConn{st: sv.relay.current()}
	if sh.raw {
		s.serveRaw(w, r, sh)
	} else {
		s.serveWS(w, r, sh)
	}
}

// serverConn is the server's side of one run.
type serverConn struct {
	st           *stamps
	ws           *websocket.Conn // a coder/websocket shape's
	conn         net.Conn        // a raw shape's
	closeWritten bool
}

func (s *serverConn) messages(n, size int, gap time.Duration) {
	b := make([]byte, size)
	for range n {
		if s.ws.Write(context.Background(), websocket.MessageBinary, b) != nil {
			return
		}
		time.Sleep(gap)
	}
}

func (s *serverConn) write(b []byte) error {
	_, err := s.conn.Write(b)
	return err
}

// writeWithClose writes b and the close frame in one Write.
func (s *serverConn) writeWithClose(b []byte) {
	s.stampWrite()
	s.write(append(b, wsserver.CloseFrame(1000, "")...))
	s.closeWritten = true
}

func (s *serverConn) stampWrite() {
	t := time.Now().UnixNano()
	s.st.update(func(r *record) { r.Write = t })
}

func (s *serverConn) serveWS(w http.ResponseWriter, r *http.Request, sh shape) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	s.ws = c
	c.SetReadLimit(-1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { // discards the client's messages, and reads its close
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	sh.send(s)
	s.stampWrite()
	c.Close(websocket.StatusNormalClosure, "")
}

func (s *serverConn) serveRaw(w http.ResponseWriter, r *http.Request, sh shape) {
	conn, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	s.conn = conn
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + wsserver.AcceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
	if s.write([]byte(resp)) != nil {
		return
	}
	clientClosed := make(chan struct{})
	go func() { // discards the client's messages until its close
		defer close(clientClosed)
		p := &frameParser{}
		buf := make([]byte, 64<<10)
		for !p.closeSeen {
			n, err := brw.Read(buf)
			p.feed(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	sh.send(s)
	if !s.closeWritten {
		s.stampWrite()
		s.write(wsserver.CloseFrame(1000, ""))
	}
	select {
	case <-clientClosed:
	case <-time.After(10 * time.Second):
	}
}

// echo sends every message back.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(-1)
	ctx := context.Background()
	for {
		typ, b, err := c.Read(ctx)
		if err != nil || c.Write(ctx, typ, b) != nil {
			return
		}
	}
}
