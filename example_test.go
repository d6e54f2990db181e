//go:build !js

package dualws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/dualws/dualws"
)

// exampleServer echoes the first message, then closes with 4000 "bye".
func exampleServer() (url string, stop func()) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, b, err := c.Read(r.Context())
		if err != nil {
			return
		}
		c.Write(r.Context(), typ, b)
		c.Close(4000, "bye")
	}))
	return "ws" + strings.TrimPrefix(srv.URL, "http"), srv.Close
}

// A send after the server's close fails with the server's code instead of
// disappearing.
func Example() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := dualws.Dial(ctx, url, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.SendText(ctx, "hello"); err != nil {
		fmt.Println(err)
		return
	}
	_, msg, _ := c.Receive(ctx)
	fmt.Printf("received %q\n", msg)

	<-c.Done() // the server closes; the client reads in the background
	err = c.SendText(ctx, "too late")
	var ce *dualws.CloseError
	if errors.As(err, &ce) {
		fmt.Println(c.State(), ce.Status.Code, ce.Status.Reason, errors.Is(err, dualws.ErrClosed))
	}
	// Output:
	// received "hello"
	// CLOSED 4000 bye true
}

// OnStateChange sees every transition, in order, with the close status.
func ExampleOptions_onStateChange() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := dualws.Dial(ctx, url, &dualws.Options{
		OnStateChange: func(ev dualws.StateChange) {
			fmt.Printf("%v -> %v code=%d reason=%q\n", ev.From, ev.To, ev.Status.Code, ev.Status.Reason)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	c.SendText(ctx, "hi")
	<-c.Done()
	// Output:
	// CONNECTING -> OPEN code=0 reason=""
	// OPEN -> CLOSING code=4000 reason="bye"
	// CLOSING -> CLOSED code=4000 reason="bye"
}

// Close rejects what a browser would reject, then closes cleanly.
func ExampleClient_Close() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Read(r.Context()) // answers the client's close
	}))
	defer srv.Close()

	c, err := dualws.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), &dualws.Options{CloseTimeout: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Close(dualws.StatusGoingAway, ""))
	fmt.Println(c.Close(dualws.StatusNormalClosure, "done"))
	st, _ := c.CloseStatus()
	fmt.Println(c.State(), st.Code, st.WasClean)
	// Output:
	// dualws: close: close code 1001 is not allowed: use 1000 or 3000-4999 (what browsers accept)
	// <nil>
	// CLOSED 1000 (normal closure) true
}
