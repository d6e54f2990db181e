//go:build js && wasm

package dualws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall/js"
	"testing"
	"time"
)

// These tests run in Chromium, Firefox and WebKit through cmd/wasmbrowser
// (`make test-js`), against the scenario server whose ws:// base URL is in
// DUALWS_SERVER; `make test-js` starts it.

func server(t *testing.T) string {
	t.Helper()
	u := os.Getenv("DUALWS_SERVER")
	if u == "" {
		t.Fatal("DUALWS_SERVER is not set: run these tests with `make test-js`")
	}
	return u
}

// dialPath dials an endpoint of the scenario server.
func dialPath(t *testing.T, path string, opts *Options) (*Client, *recorder) {
	t.Helper()
	return dial(t, server(t)+path, opts)
}

func equal(t *testing.T, got, want any) {
	t.Helper()
	if !equalValues(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}

func equalValues(a, b any) bool {
	as, ok1 := a.([]string)
	bs, ok2 := b.([]string)
	if ok1 && ok2 {
		if len(as) != len(bs) {
			return false
		}
		for i := range as {
			if as[i] != bs[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

func closeErr(t *testing.T, err error) CloseStatus {
	t.Helper()
	var ce *CloseError
	if !errors.As(err, &ce) || !errors.Is(err, ErrClosed) {
		t.Fatalf("want a *CloseError, got %v", err)
	}
	return ce.Status
}

func TestJSPeerCloseSeenWithoutReceive(t *testing.T) {
	c, rec := dialPath(t, "/ws/close?after=0&code=4000&reason=bye", nil)
	waitDone(t, c)
	equal(t, rec.transitions(), []string{"CONNECTING>OPEN", "OPEN>CLOSING 4000 remote", "CLOSING>CLOSED 4000 clean remote"})
	st, ok := c.CloseStatus()
	equal(t, ok, true)
	equal(t, st, CloseStatus{Code: 4000, Reason: "bye", WasClean: true, Remote: true})
}

// TestJSSeedNoSendAcceptedAfterPeerClose: the seed matrix's shapes in
// every runtime the js tests use, Node included: the client sends (and
// Receives the echo) or not, computes 100 ms without yielding while the
// server closes 4000 or drops TCP (at once or 20 ms later), then sends 5
// times. Every Send started 3 ms or more after the server's end, by its own
// timestamp, must be refused with the server's code.
func TestJSSeedNoSendAcceptedAfterPeerClose(t *testing.T) {
	servers := []struct {
		name, query string
		code        StatusCode
	}{
		{"close", "end=close", 4000},
		{"close 20 ms later", "end=close&delay=20", 4000},
		{"drop 20 ms later", "end=drop&delay=20", StatusAbnormalClosure},
	}
	for _, shape := range []string{"send", "receive", "idle"} {
		for _, srv := range servers {
			t.Run(shape+", "+srv.name, func(t *testing.T) {
				before := "echo"
				if shape == "idle" {
					before = "push" // the server sends "first" itself
				}
				id := "seed-" + strconv.FormatInt(time.Now().UnixNano(), 10)
				c, _ := dialPath(t, "/ws/seed?before="+before+"&"+srv.query+"&code=4000&reason=seed&id="+id, nil)
				ctx := context.Background()
				if shape != "idle" {
					if err := c.SendText(ctx, "first"); err != nil {
						t.Fatal(err)
					}
				}
				if shape == "receive" {
					if _, _, err := c.Receive(ctx); err != nil {
						t.Fatal(err)
					}
				}
				for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
					// work without yielding to the event loop
				}
				var starts []int64
				var errs []error
				for i := 0; i < 5; i++ {
					starts = append(starts, time.Now().UnixNano())
					errs = append(errs, c.SendText(ctx, "late"))
				}
				waitDone(t, c)
				judgeAfterEnd(t, observed(t, id).EndedAt, starts, errs, srv.code)
			})
		}
	}
}

// judgeAfterEnd fails the test for each Send started 3 ms or more after
// the server's end (endedAt, Unix ns) that was accepted or refused with
// another code than code, and when no Send started that late: such a run
// measured nothing.
func judgeAfterEnd(t *testing.T, endedAt int64, starts []int64, errs []error, code StatusCode) {
	t.Helper()
	judged := 0
	for i, err := range errs {
		after := time.Duration(starts[i] - endedAt)
		if after < 3*time.Millisecond {
			continue // the end was not yet written, or only just
		}
		judged++
		if err == nil {
			t.Errorf("Send %d started %v after the server's end and was accepted", i, after)
		} else if got := closeErr(t, err).Code; got != code {
			t.Errorf("Send %d: code %v, want %v", i, got, code)
		}
	}
	if judged == 0 {
		t.Fatalf("no Send started 3 ms or more after the server's end (%v after the first Send's start): the run measured nothing", time.Duration(endedAt-starts[0]))
	}
}

// TestJSSeedAfterBacklog: the server sends 512 KiB in 32 KiB messages,
// then its close, while the client computes; the Sends after are judged by
// the server's timestamp of its close. Chromium reads from the network
// only as the page takes data, with gaps of over 2 ms between its
// deliveries: with two quiet turns back to back the yield ended inside
// such a gap, and Sends started 50 ms after the close were accepted.
func TestJSSeedAfterBacklog(t *testing.T) {
	id := "backlog-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	c, _ := dialPath(t, "/ws/seed?before=burst&n=16&size=32768&end=close&code=4000&reason=seed&id="+id, nil)
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		// work without yielding to the event loop
	}
	ctx := context.Background()
	var starts []int64
	var errs []error
	for i := 0; i < 5; i++ {
		starts = append(starts, time.Now().UnixNano())
		errs = append(errs, c.SendText(ctx, "late"))
	}
	got := 0
	for {
		if _, _, err := c.Receive(ctx); err != nil {
			equal(t, closeErr(t, err).Code, StatusCode(4000))
			break
		}
		got++
	}
	equal(t, got, 16)
	waitDone(t, c)
	judgeAfterEnd(t, observed(t, id).EndedAt, starts, errs, 4000)
}

// TestJSDrainCutShortUnderAStream: the page falls 64 KiB behind a stream
// (10 MB/s for 400 ms, then a close) and Sends: the yield's drain ends at
// maxDrain if the stream is never quiet for drainQuietJS (Chromium,
// WebKit; Firefox's deliveries leave such gaps), so the Send does not wait
// out the stream. Without the bound a Send waited a second and more.
func TestJSDrainCutShortUnderAStream(t *testing.T) {
	c, _ := dialPath(t, "/ws/burst?n=4000&size=1024&every=10&code=4000&reason=stream", nil)
	d := c.t
	for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		// work without yielding to the event loop: the stream piles up
	}
	if err := c.SendText(context.Background(), "during the stream"); err != nil {
		t.Fatalf("the Send waited out the stream (%d bytes taken, drain cut short: %v): %v", d.bytesIn.Load(), d.drainOff, err)
	}
	got := 0
	for {
		if _, _, err := c.Receive(context.Background()); err != nil {
			break
		}
		got++
	}
	equal(t, got, 4000)
}

// TestJSFirstYieldDrains: the first Send's yield drains (1 ms timer turns
// until no socket event came for 4 ms), with nothing to take; the next
// Send's does not. See drainsAtOnce.
func TestJSFirstYieldDrains(t *testing.T) {
	c, _ := dialPath(t, "/ws/echo", nil)
	d := c.t
	ctx := context.Background()
	for i, want := range []int{1, 1} {
		time.Sleep(2 * time.Millisecond) // the next Send's yield is due
		if err := c.SendText(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if d.drains != want {
			t.Fatalf("after Send %d: %d drains, want %d", i+1, d.drains, want)
		}
		if _, _, err := c.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

// observation is what the scenario server recorded of a connection
// (testserver's Observation).
type observation struct {
	CloseCode   int
	CloseReason string
	Messages    int
	EndedAt     int64
}

// observed fetches what the scenario server recorded of connection id,
// which /ws/seed ended, with the runtime's fetch (net/http has no
// transport in Node's wasm).
func observed(t *testing.T, id string) observation {
	t.Helper()
	o := observedConn(t, id)
	if o.EndedAt == 0 {
		t.Fatalf("observed %s: no end recorded: %+v", id, o)
	}
	return o
}

// observedConn fetches what the scenario server recorded of connection id.
func observedConn(t *testing.T, id string) (o observation) {
	t.Helper()
	type result struct {
		text string
		err  string
	}
	ch := make(chan result, 1)
	var fail, gotText, gotResp js.Func
	fail = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: args[0].Call("toString").String()}
		return nil
	})
	gotText = js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{text: args[0].String()}
		return nil
	})
	gotResp = js.FuncOf(func(_ js.Value, args []js.Value) any {
		args[0].Call("text").Call("then", gotText, fail)
		return nil
	})
	defer func() { fail.Release(); gotText.Release(); gotResp.Release() }()
	url := strings.Replace(server(t), "ws", "http", 1) + "/observed?id=" + id
	js.Global().Call("fetch", url).Call("then", gotResp, fail)
	r := <-ch
	if r.err == "" {
		if err := json.Unmarshal([]byte(r.text), &o); err != nil {
			r.err = err.Error()
		}
	}
	if r.err != "" {
		t.Fatalf("observed %s: %q, %s", id, r.text, r.err)
	}
	return o
}

// observedAfterClose waits for the server to record the client's close
// frame of connection id, and returns what it recorded.
func observedAfterClose(t *testing.T, id string) observation {
	t.Helper()
	for i := 0; ; i++ {
		o := observedConn(t, id)
		if o.CloseCode != 0 || i == 100 {
			return o
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A text message or close reason that starts with U+FEFF arrives as sent:
// wasm_exec.js's string conversion drops one leading U+FEFF (keepBOM). The
// server echoes binary, since Node's WebSocket drops it from received text.
func TestJSLeadingBOMIsKept(t *testing.T) {
	id := "bom-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	c, _ := dialPath(t, "/ws/echo?as=binary&id="+id, nil)
	for _, msg := range []string{"\uFEFFhello", "\uFEFF", "\uFEFF\uFEFFx", "a\uFEFF"} {
		if err := c.SendText(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != msg {
			t.Errorf("sent %q, the echo is %q", msg, got)
		}
	}
	if err := c.Close(4001, "\uFEFFbye"); err != nil {
		t.Fatal(err)
	}
	if o := observedAfterClose(t, id); o.CloseCode != 4001 || o.CloseReason != "\uFEFFbye" {
		t.Errorf("the server got close %d %q, want 4001 %q", o.CloseCode, o.CloseReason, "\uFEFFbye")
	}
}

// A received text message of one byte is the caller's memory: the string
// it came from points into a table the Go runtime shares, which writing
// to the message changed (string([]byte{'a'}) became "z").
func TestJSOneByteTextIsTheCallersMemory(t *testing.T) {
	c, _ := dialPath(t, "/ws/echo", nil)
	if err := c.SendText(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	_, p, err := c.Receive(context.Background())
	if err != nil || string(p) != "a" {
		t.Fatalf("got %q, %v", p, err)
	}
	p[0] = 'z'
	defer func() { p[0] = 'a' }() // undo it if it was the runtime's
	one := []byte{'a'}
	if s := string(one[:len(p)]); s != "a" {
		t.Fatalf("string([]byte{'a'}) is %q after writing to a received message", s)
	}
}

// A subprotocol that starts with U+FEFF is not a token: the browser's
// constructor must get it whole and refuse it (natively Dial refuses it
// too); wasm_exec.js dropped the U+FEFF, and "v2" was offered instead.
func TestJSSubprotocolKeepsALeadingBOM(t *testing.T) {
	c, err := Dial(context.Background(), server(t)+"/ws/subprotocol", &Options{Subprotocols: []string{"\uFEFFv2"}})
	var de *DialError
	if !errors.As(err, &de) || de.Reason != "refused by the browser" {
		if c != nil {
			t.Logf("subprotocol %q", c.Subprotocol())
			c.Close(StatusNormalClosure, "")
		}
		t.Fatalf("Dial offering %q: %v, want a *DialError \"refused by the browser\"", "\uFEFFv2", err)
	}
}

// A Send whose context has ended sends nothing and returns the context's
// error, as natively.
func TestJSSendWithAnEndedContextSendsNothing(t *testing.T) {
	id := "endedctx-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	c, _ := dialPath(t, "/ws/echo?id="+id, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.SendText(ctx, "not to be sent"); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with an ended context: %v, want context.Canceled", err)
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if o := observedAfterClose(t, id); o.CloseCode != 1000 || o.Messages != 0 {
		t.Errorf("the server got %d messages and close %d, want 0 and 1000", o.Messages, o.CloseCode)
	}
}

// A Send's context bounds its yield: a context that ends while the yield
// waits for the event loop ends the Send at once, before any event-loop
// task runs, and nothing is sent. In a WebKit Worker a yield's turn waits
// for the page's main thread, 100 ms and more while the page is busy (a
// helper's attack); a hidden tab's timers wait a second.
func TestJSSendContextEndsItsYield(t *testing.T) {
	id := "yieldctx-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	c, _ := dialPath(t, "/ws/echo?id="+id, nil)
	ran := false
	task := js.FuncOf(func(js.Value, []js.Value) any { ran = true; return nil })
	defer task.Release()
	js.Global().Call("setTimeout", task, 0) // runs before the yield's first turn (5 ms: the first Send's)
	ctx, cancel := context.WithCancel(context.Background())
	go cancel() // runs once the Send waits in its yield, before the event loop does
	if err := c.SendText(ctx, "not to be sent"); !errors.Is(err, context.Canceled) {
		t.Errorf("Send whose context ended in its yield: %v, want context.Canceled", err)
	}
	if ran {
		t.Error("the Send returned only after the event loop ran: its context did not end its yield")
	}
	// The cut-short yield counts as none: the first Send's settle is still
	// to come (it was marked done, and 10 of 30 later Sends were accepted
	// after a close that came with the handshake: a helper's review).
	if c.t.settled || c.t.lastQuiet.Load() != 0 {
		t.Errorf("after a yield cut short: settled %v, last quiet yield %d; want neither", c.t.settled, c.t.lastQuiet.Load())
	}
	// The abandoned turn ends no later yield: the next Send yields afresh.
	if err := c.SendText(context.Background(), "sent"); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Receive(context.Background()); err != nil || string(b) != "sent" {
		t.Fatalf("Receive: %q, %v", b, err)
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if o := observedAfterClose(t, id); o.Messages != 1 {
		t.Errorf("the server got %d messages, want 1", o.Messages)
	}
}

// A yield's turn notifies the yield before it drains: the drain may run
// the application's code (here IsReply) that ends the yielding Send's
// context, and a notify after it stayed pending, so that the next yield's
// first turn ended without the event loop running (a helper's review).
func TestJSTurnNotifiesBeforeItDrains(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c, _ := dialPath(t, "/ws/echo", &Options{Heartbeat: &Heartbeat{Interval: time.Hour, Message: []byte("hb"),
		IsReply: func(_ MessageType, b []byte) bool {
			if string(b) == "cancel" {
				cancel()
				return true
			}
			return false
		}}})
	go func() { // once the Send waits for its first turn: a message for that turn's drain
		c.t.push.Invoke(js.Global().Get("MessageEvent").New("message", map[string]any{"data": "cancel"}))
	}()
	if err := c.SendText(ctx, "not to be sent"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send whose context IsReply ended: %v, want context.Canceled", err)
	}
	if n := len(c.t.turnCh); n != 0 {
		t.Errorf("%d turn notify pending after the Send, want 0", n)
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

// A Dial whose context has already ended opens no socket and fails with
// the context's error, as natively.
func TestJSDialWithAnEndedContextOpensNoSocket(t *testing.T) {
	orig := js.Global().Get("WebSocket")
	opened := 0
	counting := js.FuncOf(func(_ js.Value, args []js.Value) any {
		opened++
		a := make([]any, len(args))
		for i, v := range args {
			a[i] = v
		}
		return orig.New(a...) // a constructor's returned object is what new gives
	})
	js.Global().Set("WebSocket", counting)
	defer func() { js.Global().Set("WebSocket", orig); counting.Release() }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := Dial(ctx, server(t)+"/ws/echo", nil)
	var de *DialError
	if c != nil || !errors.As(err, &de) || !errors.Is(err, context.Canceled) || de.Reason != "cancelled" {
		t.Errorf("Dial with an ended context: %v, %v; want a *DialError \"cancelled\" wrapping context.Canceled", c, err)
	}
	if opened != 0 {
		t.Errorf("Dial with an ended context constructed %d WebSocket(s), want 0", opened)
	}
	// The counting constructor does open sockets: a live context dials.
	c, err = Dial(context.Background(), server(t)+"/ws/echo", nil)
	if err != nil || opened != 1 {
		t.Fatalf("Dial through the counting constructor: %v, %d sockets", err, opened)
	}
	c.Close(StatusNormalClosure, "")
}

// A Send waiting for the browser to drain past 4 MiB when the client's
// own Close starts returns nil: the browser sends the message before the
// close frame, as natively (a *CloseError there invited a second send).
func TestJSSendOverTheWindowOutlivesTheClientsClose(t *testing.T) {
	id := "bigclose-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	c, _ := dialPath(t, "/ws/echo?id="+id, &Options{ReadLimit: -1})
	sent := make(chan error, 1)
	go func() { sent <- c.Send(context.Background(), Binary, make([]byte, 12<<20)) }()
	for i := 0; i < 2000 && c.BufferedAmount() == 0; i++ {
		time.Sleep(100 * time.Microsecond)
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Errorf("Send during the client's Close: %v, want nil", err)
	}
	waitDone(t, c)
	if o := observedAfterClose(t, id); o.Messages != 1 || o.CloseCode != 1000 {
		t.Errorf("the server got %d messages and close %d, want 1 and 1000", o.Messages, o.CloseCode)
	}
}

func TestJSEchoSizes(t *testing.T) {
	c, _ := dialPath(t, "/ws/echo", nil)
	for _, n := range []int{0, 1, 125, 126, 1023, 1024, 1025, 65536, 1 << 20} {
		for _, typ := range []MessageType{Text, Binary} {
			msg := []byte(strings.Repeat("é", n/2) + strings.Repeat("x", n%2))
			if err := c.Send(context.Background(), typ, msg); err != nil {
				t.Fatal(err)
			}
			gotTyp, got, err := c.Receive(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			equal(t, gotTyp, typ)
			equal(t, string(got), string(msg))
		}
	}
	if err := c.Close(StatusNormalClosure, "done"); err != nil {
		t.Fatal(err)
	}
}

func TestJSMessagesBeforeCloseStayReadable(t *testing.T) {
	c, _ := dialPath(t, "/ws/burst?n=3&code=4003", nil)
	waitDone(t, c)
	for _, want := range []string{"1", "2", "3"} {
		_, b, err := c.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		equal(t, string(b), want)
	}
	_, _, err := c.Receive(context.Background())
	equal(t, closeErr(t, err).Code, StatusCode(4003))
}

func TestJSCloseRejectsWhatBrowsersReject(t *testing.T) {
	c, rec := dialPath(t, "/ws/echo", nil)
	for _, code := range []StatusCode{1001, 1005, 2999, 5000} {
		var ue *UsageError
		if err := c.Close(code, ""); !errors.As(err, &ue) {
			t.Fatalf("Close(%d) = %v, want a *UsageError", code, err)
		}
	}
	var ue *UsageError
	if err := c.Close(1000, strings.Repeat("a", 124)); !errors.As(err, &ue) {
		t.Fatalf("124-byte reason: %v", err)
	}
	equal(t, c.State(), Open)
	if err := c.Close(4999, "ok"); err != nil {
		t.Fatal(err)
	}
	equal(t, rec.transitions(), []string{"CONNECTING>OPEN", "OPEN>CLOSING 4999", "CLOSING>CLOSED 4999 clean"})
}

func TestJSCloseTimeout(t *testing.T) {
	c, rec := dialPath(t, "/ws/noclose", &Options{CloseTimeout: 300 * time.Millisecond})
	err := c.Close(StatusNormalClosure, "")
	equal(t, closeErr(t, err), CloseStatus{Code: 1006, Reason: "close timeout"})
	equal(t, rec.transitions(), []string{"CONNECTING>OPEN", "OPEN>CLOSING 1000", "CLOSING>CLOSED 1006"})
	equal(t, c.Close(StatusNormalClosure, "").Error(), err.Error())
}

func TestJSDropped(t *testing.T) {
	rec := &recorder{}
	c, err := Dial(context.Background(), server(t)+"/ws/drop?after=0", &Options{OnStateChange: rec.record})
	if err != nil && firefox() {
		// Firefox fires only close 1006, no open, when the server drops
		// right after the 101: to a script that is a failed connection.
		var de *DialError
		if !errors.As(err, &de) || de.Reason != "connection failed" {
			t.Fatalf("Firefox: want a *DialError \"connection failed\", got %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, c)
	equal(t, rec.transitions(), []string{"CONNECTING>OPEN", "OPEN>CLOSED 1006 remote"})
	equal(t, closeErr(t, c.SendText(context.Background(), "x")), CloseStatus{Code: 1006, Remote: true})
}

// firefox reports whether the tests run in Firefox.
func firefox() bool { return timerTurns }

func TestJSDialErrors(t *testing.T) {
	var ue *UsageError
	for _, u := range []string{"http://x", "", "ws://host/#f"} {
		if _, err := Dial(context.Background(), u, nil); !errors.As(err, &ue) {
			t.Fatalf("Dial(%q) = %v, want a *UsageError", u, err)
		}
	}
	if _, err := Dial(context.Background(), server(t)+"/ws/echo", &Options{Header: map[string][]string{"A": {"b"}}}); !errors.As(err, &ue) {
		t.Fatalf("Header in the browser: %v", err)
	}
	var de *DialError
	rec := &recorder{}
	_, err := Dial(context.Background(), server(t)+"/ws/reject?status=403", &Options{OnStateChange: rec.record})
	if !errors.As(err, &de) || de.HTTPStatus != 0 || !strings.Contains(err.Error(), "does not say why") {
		t.Fatalf("rejected handshake: %v", err)
	}
	equal(t, rec.transitions(), []string{"CONNECTING>CLOSED 1006 remote"})
	if _, err := Dial(context.Background(), "ws://127.0.0.1:1/", nil); !errors.As(err, &de) {
		t.Fatalf("refused: %v", err)
	}
	_, err = Dial(context.Background(), server(t)+"/ws/stall", &Options{HandshakeTimeout: 200 * time.Millisecond})
	if !errors.As(err, &de) || de.Reason != "handshake timed out" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled handshake: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = Dial(ctx, server(t)+"/ws/stall", nil)
	if !errors.As(err, &de) || de.Reason != "cancelled" || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v", err)
	}
}

func TestJSReadLimit(t *testing.T) {
	c, rec := dialPath(t, "/ws/big?size=2000", &Options{ReadLimit: 1000})
	waitDone(t, c)
	equal(t, rec.transitions(), []string{"CONNECTING>OPEN", "OPEN>CLOSING 1009", "CLOSING>CLOSED 1009 clean"})
}

func TestJSConcurrentSendsDuringPeerClose(t *testing.T) {
	c, _ := dialPath(t, "/ws/close?after=1&code=4002", nil)
	codes, others := sendUntilClosed(c, 8)
	if len(others) > 0 {
		t.Fatalf("failures without a close code: %v", others)
	}
	equal(t, len(codes), 8)
	for _, code := range codes {
		equal(t, code, StatusCode(4002))
	}
	waitDone(t, c)
}

func TestJSEmptyCloseFrameIs1005(t *testing.T) {
	c, rec := dialPath(t, "/ws/pongclose", nil)
	waitDone(t, c)
	equal(t, rec.transitions(), []string{"CONNECTING>OPEN", "OPEN>CLOSING 1005 remote", "CLOSING>CLOSED 1005 clean remote"})
}

func TestJSSubprotocol(t *testing.T) {
	c, _ := dialPath(t, "/ws/subprotocol", &Options{Subprotocols: []string{"v1", "v2"}})
	equal(t, c.Subprotocol(), "v2")
}

// holdEventLoop keeps the browser's event loop from running for d, so
// that messages arriving meanwhile are drained in one batch.
func holdEventLoop(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// TestJSReceiveBatches: messages drained together, through the batch path
// (batch_js.go) when all are binary and small, else one by one, arrive
// whole and in order, every byte value included. TestJSBatchBinary says
// which batches the batch path takes.
func TestJSReceiveBatches(t *testing.T) {
	pattern := func(size, seed int) []byte {
		p := make([]byte, size)
		for k := range p {
			p[k] = byte(seed*31 + k*7)
		}
		return p
	}
	type msg struct {
		typ MessageType
		p   []byte
	}
	var small, mixed, large []msg
	for i, size := range []int{0, 1, 2, 127, 128, 255, 256, 300, 1023} {
		small = append(small, msg{Binary, pattern(size, i)})
		mixed = append(mixed, msg{Binary, pattern(size, i)})
		large = append(large, msg{Binary, pattern(size, i)})
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	small = append(small, msg{Binary, all})
	mixed = append(mixed[:4], append([]msg{{Text, []byte("text among binary é")}}, mixed[4:]...)...)
	large = append(large, msg{Binary, pattern(1024, 99)}, msg{Binary, pattern(5000, 98)})
	c, _ := dialPath(t, "/ws/echo", nil)
	d := c.t
	for _, tc := range []struct {
		name    string
		msgs    []msg
		batched bool
	}{{"small binary", small, true}, {"with text", mixed, false}, {"with large", large, false}} {
		t.Run(tc.name, func(t *testing.T) {
			for attempt := 0; ; attempt++ {
				before := d.batched
				for _, m := range tc.msgs {
					if err := c.Send(context.Background(), m.typ, m.p); err != nil {
						t.Fatal(err)
					}
				}
				holdEventLoop(100 * time.Millisecond) // the echoes arrive meanwhile
				for i, m := range tc.msgs {
					typ, p, err := c.Receive(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					if typ != m.typ || string(p) != string(m.p) {
						t.Fatalf("message %d: got %v % x, want %v % x", i, typ, p, m.typ, m.p)
					}
				}
				// Echoes that came during the Sends' yields were drained
				// then, so a batch may hold only part of a set: only the
				// small set must have gone through the batch path.
				// Where the batch path is missing (Node: no x-user-defined
				// decoder, events of another MessageEvent class), every
				// message goes one by one.
				usable := jsBatch.ok && d.byEvent == 1
				if got := d.batched - before; !tc.batched || !usable || got >= batchMinCount {
					if !usable && got != 0 {
						t.Fatalf("batch path took %d messages where it is missing", got)
					}
					return
				}
				if attempt == 2 {
					t.Fatalf("batch path took %d messages", d.batched-before)
				}
			}
		})
	}
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

// TestJSReceiveBatchReadLimit: in a batch, the messages before one over
// ReadLimit are delivered, then the client closes with 1009.
func TestJSReceiveBatchReadLimit(t *testing.T) {
	c, rec := dialPath(t, "/ws/echo", &Options{ReadLimit: 100})
	for i, size := range []int{10, 20, 30, 40, 101, 50} {
		// The 101-byte echo may arrive during a later Send's yield: the
		// client has closed by then and that Send fails.
		if err := c.Send(context.Background(), Binary, make([]byte, size)); err != nil && i < 5 {
			t.Fatal(err)
		}
	}
	holdEventLoop(100 * time.Millisecond)
	for _, size := range []int{10, 20, 30, 40} {
		_, p, err := c.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		equal(t, len(p), size)
	}
	_, _, err := c.Receive(context.Background())
	equal(t, closeErr(t, err).Code, StatusMessageTooBig)
	waitDone(t, c)
	equal(t, rec.transitions(), []string{"CONNECTING>OPEN", "OPEN>CLOSING 1009", "CLOSING>CLOSED 1009 clean"})
}

// TestJSBatchBinary: the batch path takes an array of at least
// batchMinCount ArrayBuffers of at most max bytes each, every byte value
// intact, a large batch in chunks, and leaves any other batch to the
// per-message path.
func TestJSBatchBinary(t *testing.T) {
	buffer := func(p []byte) js.Value {
		u8 := js.Global().Get("Uint8Array").New(len(p))
		js.CopyBytesToJS(u8, p)
		return u8.Get("buffer")
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(255 - i)
	}
	msgs := [][]byte{{}, {0}, {0x7f, 0x80}, all, make([]byte, 1023)}
	arr := js.Global().Get("Array").New()
	for _, p := range msgs {
		arr.Call("push", buffer(p))
	}
	got := batchBinary(arr, len(msgs), 1023)
	if !jsBatch.ok { // Node: TextDecoder has no x-user-defined
		if got != nil {
			t.Fatalf("batch path without its functions took %d messages", len(got))
		}
		return
	}
	if len(got) != len(msgs) {
		t.Fatalf("got %d messages, want %d", len(got), len(msgs))
	}
	for i := range msgs {
		if string(got[i]) != string(msgs[i]) {
			t.Fatalf("message %d: got % x, want % x", i, got[i], msgs[i])
		}
	}
	if got := batchBinary(arr, len(msgs), 1022); got != nil {
		t.Errorf("a message over max was taken: %d messages", len(got))
	}
	three := js.Global().Get("Array").New(buffer([]byte{1}), buffer([]byte{2}), buffer([]byte{3}))
	if got := batchBinary(three, 3, 1023); got != nil {
		t.Errorf("a batch under batchMinCount was taken")
	}
	// A batch over batchChunkBytes crosses in chunks, in order.
	big := js.Global().Get("Array").New()
	var bigMsgs [][]byte
	for i := 0; i < 3*batchChunkBytes/1000; i++ {
		p := make([]byte, 1000)
		for k := range p {
			p[k] = byte(i + k)
		}
		bigMsgs = append(bigMsgs, p)
		big.Call("push", buffer(p))
	}
	got = batchBinary(big, len(bigMsgs), 1023)
	if len(got) != len(bigMsgs) {
		t.Fatalf("chunked batch: got %d messages, want %d", len(got), len(bigMsgs))
	}
	for i := range bigMsgs {
		if string(got[i]) != string(bigMsgs[i]) {
			t.Fatalf("chunked batch, message %d differs", i)
		}
	}
	// A batch of more than batchChunkCount tiny messages crosses in
	// chunks of that many, in order.
	many := js.Global().Get("Array").New()
	for i := 0; i < batchChunkCount*3/2; i++ {
		many.Call("push", buffer([]byte{byte(i), byte(i >> 8)}[:i%3]))
	}
	got = batchBinary(many, batchChunkCount*3/2, 1023)
	if len(got) != batchChunkCount*3/2 {
		t.Fatalf("batch of many: got %d messages, want %d", len(got), batchChunkCount*3/2)
	}
	for i, p := range got {
		if want := []byte{byte(i), byte(i >> 8)}[:i%3]; string(p) != string(want) {
			t.Fatalf("batch of many, message %d: got % x, want % x", i, p, want)
		}
	}
	arr.Call("splice", 2, 0, "text")
	if got := batchBinary(arr, len(msgs)+1, 1023); got != nil {
		t.Errorf("a batch with text was taken: %d messages", len(got))
	}
}

func TestJSSplitUserDefinedRejectsMismatch(t *testing.T) {
	for _, c := range []struct {
		s     string
		sizes []int
	}{
		{"ab", []int{1}},       // bytes left over
		{"a", []int{2}},        // too few
		{"\xef\x9e", []int{1}}, // cut sequence
		{"\xc3\xa9", []int{1}}, // not x-user-defined
	} {
		if got := splitUserDefined(c.s, c.sizes); got != nil {
			t.Errorf("splitUserDefined(%q, %v) = %v, want nil", c.s, c.sizes, got)
		}
	}
	if got := splitUserDefined("a\xef\x9f\xbf", []int{2}); len(got) != 1 || string(got[0]) != "a\xff" {
		t.Errorf("got %q, want [a\\xff]", got)
	}
}

// TestJSBatchBinaryEdges: the batch path keeps zero-length messages (as
// empty, non-nil slices), messages that begin with the bytes of a UTF-8
// or UTF-16 byte order mark (a decoder must not drop them), and a chunk
// that ends exactly at batchChunkBytes; where it is missing (Node), it
// takes nothing.
func TestJSBatchBinaryEdges(t *testing.T) {
	buffer := func(p []byte) js.Value {
		u8 := js.Global().Get("Uint8Array").New(len(p))
		js.CopyBytesToJS(u8, p)
		return u8.Get("buffer")
	}
	check := func(name string, msgs [][]byte) {
		t.Helper()
		arr := js.Global().Get("Array").New()
		for _, p := range msgs {
			arr.Call("push", buffer(p))
		}
		got := batchBinary(arr, len(msgs), batchMaxSize)
		if !jsBatch.ok {
			if got != nil {
				t.Fatalf("%s: batch path without its functions took %d messages", name, len(got))
			}
			return
		}
		if len(got) != len(msgs) {
			t.Fatalf("%s: got %d messages, want %d", name, len(got), len(msgs))
		}
		for i := range msgs {
			if got[i] == nil || string(got[i]) != string(msgs[i]) {
				t.Fatalf("%s: message %d: got % x (nil %v), want % x", name, i, got[i], got[i] == nil, msgs[i])
			}
		}
	}
	check("empty", [][]byte{{}, {}, {}, {}, {}})
	check("byte order marks", [][]byte{
		{0xef, 0xbb, 0xbf}, {0xef, 0xbb, 0xbf, 'a'}, {0xfe, 0xff, 0, 'a'}, {0xff, 0xfe, 'a', 0},
		{'a', 0xef, 0xbb, 0xbf}, {0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf},
	})
	// 256 messages of 1023 bytes and one of 256 fill the first chunk
	// exactly; the rest go in a second.
	var exact [][]byte
	for i := 0; i < 256; i++ {
		p := make([]byte, 1023)
		for k := range p {
			p[k] = byte(i ^ k)
		}
		exact = append(exact, p)
	}
	exact = append(exact, bytes.Repeat([]byte{0xee}, 256), []byte{1}, bytes.Repeat([]byte{0x80}, 1023), []byte{}, []byte{0xff})
	check("chunk boundary", exact)
}

// TestJSReceiveWithoutBatchPath: where the batch path's functions are
// missing (a runtime without x-user-defined), small binary messages
// drained together still arrive whole and in order, one by one.
func TestJSReceiveWithoutBatchPath(t *testing.T) {
	saved := jsBatch.ok
	jsBatch.ok = false
	defer func() { jsBatch.ok = saved }()
	c, _ := dialPath(t, "/ws/echo", nil)
	d := c.t
	var msgs [][]byte
	for i := 0; i < 8; i++ {
		msgs = append(msgs, bytes.Repeat([]byte{byte(0x7c + i)}, i))
	}
	for _, p := range msgs {
		if err := c.Send(context.Background(), Binary, p); err != nil {
			t.Fatal(err)
		}
	}
	holdEventLoop(100 * time.Millisecond)
	for i, want := range msgs {
		typ, p, err := c.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if typ != Binary || p == nil || string(p) != string(want) {
			t.Fatalf("message %d: got %v % x, want % x", i, typ, p, want)
		}
	}
	equal(t, d.batched, 0)
	if err := c.Close(StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

// TestJSYieldClock: a close check is due at each millisecond boundary of
// jsClock, however close the two readings, and never within one
// millisecond; jsClock lies a second past its epoch at least, so a first
// Send (lastQuiet 0, "never") is due however soon after the page loaded.
func TestJSYieldClock(t *testing.T) {
	ms := int64(time.Millisecond)
	for _, c := range []struct {
		last, now int64
		due       bool
	}{
		{5*ms + ms - 1, 6 * ms, true},     // 1 ns apart, across a boundary
		{5 * ms, 5*ms + ms - 1, false},    // almost 1 ms apart, within one
		{5*ms + ms/2, 6*ms + ms/4, true},  // under 1 ms apart, across one
		{5*ms + ms/2, 5*ms + ms/2, false}, // the same reading
	} {
		if got := closeCheckDue(jsMillis(c.now), jsMillis(c.last)); got != c.due {
			t.Errorf("closeCheckDue(jsMillis(%d), jsMillis(%d)) = %v, want %v", c.now, c.last, got, c.due)
		}
	}
	now := jsClock()
	if now < int64(time.Second) {
		t.Fatalf("jsClock() = %d, under a second past its epoch", now)
	}
	if !closeCheckDue(jsMillis(now), jsMillis(0)) {
		t.Fatalf("a first Send at jsClock %d is not due", now)
	}
	if later := jsClock(); later < now {
		t.Fatalf("jsClock went back from %d to %d", now, later)
	}
}

// TestJSBatchAvailable: the batch path is on exactly where the runtime
// has an x-user-defined TextDecoder (every browser; not Node), its trial
// batch included.
func TestJSBatchAvailable(t *testing.T) {
	has := func() (ok bool) {
		defer func() {
			if recover() != nil { // RangeError: unknown encoding
				ok = false
			}
		}()
		td := js.Global().Get("TextDecoder")
		return td.Type() == js.TypeFunction && td.New("x-user-defined").Get("encoding").String() == "x-user-defined"
	}()
	equal(t, jsBatch.ok, has)
}

// TestJSBatchBeforeCloseStaysReadable: small binary messages that arrive
// with the peer's close, drained by the close event through the batch
// path, are all readable in order after CLOSED, then the close code.
func TestJSBatchBeforeCloseStaysReadable(t *testing.T) {
	const n = 8
	for attempt := 0; ; attempt++ {
		c, _ := dialPath(t, "/ws/close?after=8&code=4003", nil)
		d := c.t
		for i := 0; i < n; i++ {
			if err := c.Send(context.Background(), Binary, bytes.Repeat([]byte{0x80 | byte(i)}, i)); err != nil {
				t.Fatal(err)
			}
		}
		holdEventLoop(100 * time.Millisecond) // the echoes and the close arrive meanwhile
		waitDone(t, c)
		for i := 0; i < n; i++ {
			typ, p, err := c.Receive(context.Background())
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if want := bytes.Repeat([]byte{0x80 | byte(i)}, i); typ != Binary || p == nil || string(p) != string(want) {
				t.Fatalf("message %d: got %v % x, want % x", i, typ, p, want)
			}
		}
		_, _, err := c.Receive(context.Background())
		equal(t, closeErr(t, err).Code, StatusCode(4003))
		if !jsBatch.ok || d.byEvent != 1 || d.batched >= batchMinCount {
			return
		}
		if attempt == 2 { // echoes drained during the Sends' yields split the batch
			t.Fatalf("batch path took %d messages in three attempts", d.batched)
		}
	}
}

// TestJSFinishedDriverIgnoresItsSocket: once the client is done, events
// dispatched on its socket (a script's own; a closed socket fires none)
// reach no driver: not the finished one, and not the driver that took its
// slot, which would otherwise take a stray close for its own (seen failing
// with jsOnEvent not checking the dial's serial). A socket that fired its
// close event keeps its listeners (finishClosed); an abandoned one loses
// them (TestJSAbandonedDialSlotReused).
func TestJSFinishedDriverIgnoresItsSocket(t *testing.T) {
	for _, end := range []string{"peer close", "client close"} {
		t.Run(end, func(t *testing.T) {
			path := "/ws/echo"
			if end == "peer close" {
				path = "/ws/close?after=0&code=4000"
			}
			c, _ := dialPath(t, path, nil)
			if end == "client close" {
				if err := c.Close(StatusNormalClosure, ""); err != nil {
					t.Fatal(err)
				}
			}
			waitDone(t, c)
			status, _ := c.CloseStatus()
			next, _ := dialPath(t, "/ws/echo", nil)
			defer next.Close(StatusNormalClosure, "")
			if next.t.id != c.t.id {
				t.Fatalf("the next dial took slot %d, not the finished driver's %d", next.t.id, c.t.id)
			}
			d := c.t
			init := jsObject.New()
			init.Set("data", jsUint8Array.New(4).Get("buffer"))
			d.ws.Call("dispatchEvent", jsGlobal.Get("MessageEvent").New("message", init))
			d.port.Call("postMessage", 0) // a batch wake-up, if the port is still open
			for _, typ := range []string{"open", "error", "close"} {
				d.ws.Call("dispatchEvent", jsGlobal.Get("Event").New(typ))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			msg := []byte("after the stray events") // a round trip lets the posted wake-up run
			if err := next.Send(ctx, Text, msg); err != nil {
				t.Fatalf("send of the driver in the finished one's slot: %v", err)
			}
			if _, got, err := next.Receive(ctx); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("receive of the driver in the finished one's slot: %q, %v", got, err)
			}
			if st := next.State(); st != Open {
				t.Fatalf("the driver in the finished one's slot is %v after events on the old socket", st)
			}
			if st, _ := c.CloseStatus(); st != status {
				t.Fatalf("the finished client's status moved from %+v to %+v", status, st)
			}
		})
	}
}

// TestJSBatchTurnsOffOnMismatch: a batch whose decoder decodes otherwise,
// or whose bound functions throw, is left to the per-message path (nil),
// and the batch path stays off for later batches.
func TestJSBatchTurnsOffOnMismatch(t *testing.T) {
	if !jsBatch.ok {
		t.Skip("no x-user-defined TextDecoder here (Node): the batch path is off from the start")
	}
	saved := jsBatch
	defer func() { jsBatch = saved }()
	arr := js.Global().Get("Array").New()
	for i := 0; i < batchMinCount; i++ {
		u8 := js.Global().Get("Uint8Array").New(2)
		js.CopyBytesToJS(u8, []byte{'a', 0x80 + byte(i)})
		arr.Call("push", u8.Get("buffer"))
	}
	if got := batchBinary(arr, batchMinCount, batchMaxSize); len(got) != batchMinCount {
		t.Fatalf("with x-user-defined: got %d messages, want %d", len(got), batchMinCount)
	}
	td := js.Global().Get("TextDecoder")
	for _, tc := range []struct {
		name  string
		spoil func()
	}{
		{"windows-1252 decoder", func() {
			jsBatch.decode = jsFunctionProto.Get("apply").Call("bind", td.Get("prototype").Get("decode"), td.New("windows-1252"))
		}},
		{"throwing byteLength", func() {
			// String.prototype.valueOf throws on an ArrayBuffer.
			jsBatch.byteLength = jsCall.Call("bind", js.Global().Get("String").Get("prototype").Get("valueOf"))
		}},
	} {
		jsBatch = saved
		tc.spoil()
		if got := batchBinary(arr, batchMinCount, batchMaxSize); got != nil {
			t.Errorf("%s: the batch path took %d messages", tc.name, len(got))
		}
		if jsBatch.ok {
			t.Errorf("%s: the batch path is still on", tc.name)
		}
	}
}

// TestJSDriverSlotsFreed: a finished driver frees its jsConns slot, which
// the next dial takes, so a program that dials again and again does not
// grow the table.
func TestJSDriverSlotsFreed(t *testing.T) {
	a, _ := dialPath(t, "/ws/echo", nil)
	b, _ := dialPath(t, "/ws/echo", nil)
	ida, idb := a.t.id, b.t.id
	if jsConns[ida] != a.t || jsConns[idb] != b.t || ida == idb {
		t.Fatalf("slots %d and %d do not hold the drivers", ida, idb)
	}
	a.Close(StatusNormalClosure, "")
	if jsConns[ida] != nil {
		t.Fatalf("slot %d still holds a finished driver", ida)
	}
	c, _ := dialPath(t, "/ws/echo", nil)
	if c.t.id != ida {
		t.Fatalf("the next dial took slot %d, not the free slot %d", c.t.id, ida)
	}
	b.Close(StatusNormalClosure, "")
	c.Close(StatusNormalClosure, "")
	if jsConns[idb] != nil || jsConns[ida] != nil {
		t.Fatal("a closed driver still holds its slot")
	}
}

// TestJSAbandonedDialSlotReused: a dial whose context ends while the socket
// is still connecting frees its slot; the next dial takes it, and the
// abandoned socket's own failure (its error and close events, which
// ws.close() in CONNECTING sets off) does not reach the driver now in that
// slot (seen failing with finish leaving the listeners attached: the next
// client closed with 1006).
func TestJSAbandonedDialSlotReused(t *testing.T) {
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go cancel() // runs once Dial waits, before the event loop can open the socket
		_, err := Dial(ctx, server(t)+"/ws/echo", nil)
		var de *DialError
		if !errors.As(err, &de) || !errors.Is(err, context.Canceled) {
			t.Fatalf("dial with a cancelled context: %v", err)
		}
		free := -1
		for id, d := range jsConns {
			if d == nil {
				free = id
				break
			}
		}
		if free < 0 {
			t.Fatalf("no free slot after the abandoned dial (%d slots)", len(jsConns))
		}
		c, _ := dialPath(t, "/ws/echo", nil)
		if c.t.id != free {
			t.Fatalf("the next dial took slot %d, not the abandoned dial's %d", c.t.id, free)
		}
		ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		for j := 0; j < 20; j++ { // round trips: the abandoned socket's events come meanwhile
			msg := []byte{byte(i), byte(j), 0x80}
			if err := c.Send(ctx2, Binary, msg); err != nil {
				t.Fatalf("round %d send %d: %v", i, j, err)
			}
			_, got, err := c.Receive(ctx2)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("round %d receive %d: %x, %v", i, j, got, err)
			}
		}
		cancel2()
		if st := c.State(); st != Open {
			t.Fatalf("round %d: the client in the abandoned dial's slot is %v", i, st)
		}
		c.Close(StatusNormalClosure, "")
	}
}

// TestJSManyClientsKeepTheirMessages: clients dialled together and closed in
// an interleaved order, so slots are freed and taken while others are open,
// each receive only their own echoes (seen failing with jsOnEvent sending a
// slot's events to slot 0).
func TestJSManyClientsKeepTheirMessages(t *testing.T) {
	const n, rounds = 6, 3
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	clients := make([]*Client, n)
	for round := 0; round < rounds; round++ {
		for i := range clients {
			if clients[i] == nil || (i+round)%2 == 0 {
				if clients[i] != nil {
					clients[i].Close(StatusNormalClosure, "")
				}
				clients[i], _ = dialPath(t, "/ws/echo", nil)
			}
		}
		errs := make(chan error, n)
		for i, c := range clients {
			go func() {
				for j := 0; j < 10; j++ {
					msg := []byte{byte(round), byte(i), byte(j), 0xff}
					if err := c.Send(ctx, Binary, msg); err != nil {
						errs <- err
						return
					}
					_, got, err := c.Receive(ctx)
					if err == nil && !bytes.Equal(got, msg) {
						err = errors.New("client " + itoa(i) + " got another's message")
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range clients {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	for _, c := range clients {
		c.Close(StatusNormalClosure, "")
	}
}

// TestJSNodeSetImmediateOnlyInNode: the yield takes setImmediate for its
// turns in Node only, not from a page's polyfill (seen failing with the
// global setImmediate taken wherever it exists).
func TestJSNodeSetImmediateOnlyInNode(t *testing.T) {
	proc := jsGlobal.Get("process")
	inNode := proc.Type() == js.TypeObject && proc.Get("versions").Type() == js.TypeObject &&
		proc.Get("versions").Get("node").Type() == js.TypeString
	if !inNode && jsGlobal.Get("setImmediate").IsUndefined() {
		jsGlobal.Set("setImmediate", jsSetTimeout) // a page's polyfill
		defer jsGlobal.Delete("setImmediate")
	}
	equal(t, nodeSetImmediate().Type() == js.TypeFunction, inNode)
}
