//go:build !js

package dualws_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/dualws/dualws"
)

// restartingServer closes its first connection with 1012 (service
// restart), then echoes on the next ones.
func restartingServer() (url string, stop func()) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if n.Add(1) == 1 {
			c.Close(websocket.StatusServiceRestart, "restarting")
			return
		}
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), typ, b) != nil {
				return
			}
		}
	}))
	return "ws" + strings.TrimPrefix(srv.URL, "http"), srv.Close
}

// Redial is a loop that reconnects, like python websockets'
// `async for ws in connect(uri)`: a close with 1012 is retried after a
// backoff delay; the body breaks once it is done.
func ExampleRedial() {
	url, stop := restartingServer()
	defer stop()
	ctx := context.Background()
	opts := &dualws.Options{
		Backoff: &dualws.Backoff{Initial: 10 * time.Millisecond, Min: 10 * time.Millisecond, Max: time.Second},
		OnRedial: func(attempt int, delay time.Duration, last error) {
			fmt.Printf("reconnecting (attempt %d): %v\n", attempt, last)
		},
	}
	for c, err := range dualws.Redial(ctx, url, opts) {
		if err != nil {
			fmt.Println(err) // a failed attempt; Redial decides whether to go on
			continue
		}
		c.SendText(ctx, "hello")
		_, msg, err := c.Receive(ctx)
		if err != nil {
			fmt.Println(err)
			continue // Redial waits for CLOSED, then dials again
		}
		fmt.Printf("received %q\n", msg)
		c.Close(dualws.StatusNormalClosure, "")
		break
	}
	// Output:
	// dualws: connection closed by peer: 1012 (service restart) "restarting"
	// reconnecting (attempt 2): dualws: connection closed by peer: 1012 (service restart) "restarting"
	// received "hello"
}

// A heartbeat finds a peer that went silent, in the browser too, where
// scripts cannot ping: this server accepts, then never reads or writes.
func ExampleHeartbeat() {
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		<-quit
	}))
	defer srv.Close()
	defer close(quit)

	c, err := dualws.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &dualws.Options{
		Heartbeat: &dualws.Heartbeat{
			Interval: 50 * time.Millisecond, // nothing received for 50 ms: send "ping"
			Timeout:  50 * time.Millisecond, // then nothing for 50 ms more: the peer is dead
			Message:  []byte("ping"),
			IsReply:  func(_ dualws.MessageType, msg []byte) bool { return string(msg) == "pong" },
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		fmt.Println("still", c.State(), "after 5 s")
		c.Close(dualws.StatusNormalClosure, "")
	}
	st, _ := c.CloseStatus()
	fmt.Println(c.State(), st.Code, st.Reason, "remote:", st.Remote)
	// Output:
	// CLOSED 1006 (abnormal closure) heartbeat timeout remote: false
}
