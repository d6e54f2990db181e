package scenarios

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dualws/dualws"
)

// all lists the scenarios in their canonical order.
var all = slices.Concat([]scenario{
	{"echo", "echo text and binary of 0 B, 125 B, 126 B, 64 KiB and 1 MiB, then Close(1000)", echo, nil},
	{"server-close", "server closes 1000 with a reason after the first message", serverClose, nil},
	{"server-close-utf8", "server closes 4000 with a 123-byte multi-byte UTF-8 reason", serverCloseUTF8, nil},
	{"server-going-away", "server closes 1001 (going away)", serverGoingAway, nil},
}, seedScenarios(), []scenario{
	{"drop", "server drops TCP without a close frame: 1006", drop, nil},
	{"drop-fragment", "server drops TCP in the middle of a fragmented message: 1006", dropFragment, nil},
	{"close-unanswered", "Close(1000) that the server never answers: CLOSED after CloseTimeout, 1006, not clean", closeUnanswered, nil},
	{"close-invalid", "Close with codes 1001, 1005, 2999, 5000 or a 124-byte reason: usage error, still OPEN; then a valid Close", closeInvalid, nil},
	{"reject", "handshake rejected with HTTP 403", reject, nil},
	{"refused", "connection refused: nothing listens on the port", refused, nil},
	{"dial-cancel", "Dial cancelled by its context while the server stalls the handshake", dialCancel, nil},
	{"read-limit", "message over ReadLimit: 1009", readLimit, nil},
	{"bad-utf8", "server sends invalid UTF-8 in a text message: 1006 for the application, a close frame for the server", badUTF8, nil},
	{"subprotocol", "offer v1, v2: the server picks v2", subprotocol, nil},
	{"burst-close", "server sends 3 messages then closes at once: all 3 received before the close", burstClose, nil},
	{"concurrent-send", "8 goroutines send 8 KiB messages while the server closes: every failed send carries the close code", concurrentSend, []string{ByNatureCleanEnd}},
	{"server-ping", "server pings 3 times: the client answers every ping", serverPing, nil},
	{"pong-empty-close", "unsolicited pong, then a close frame without a code: 1005", pongEmptyClose, nil},
	{"close-twice", "Close called twice and concurrently: one handshake, the same result for every caller", closeTwice, nil},
})

// payload returns n deterministic bytes; text payloads are ASCII.
func payload(n int, typ dualws.MessageType) []byte {
	p := make([]byte, n)
	for i := range p {
		if typ == dualws.Text {
			p[i] = 'A' + byte(i%26)
		} else {
			p[i] = byte(i*7 + i>>8)
		}
	}
	return p
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func echo(ctx context.Context, r *run) {
	c := r.dial(ctx, "/ws/echo", nil, dualws.Options{})
	if c == nil {
		return
	}
	for _, n := range []int{0, 125, 126, 64 << 10, 1 << 20} {
		for _, typ := range []dualws.MessageType{dualws.Text, dualws.Binary} {
			if r.send(ctx, c, typ, payload(n, typ)) != nil {
				break
			}
			if r.receive(ctx, c) != nil {
				break
			}
		}
	}
	r.markTrigger()
	r.close(c, dualws.StatusNormalClosure, "done")
}

// closeAfterFirst sends one message to /ws/close with code and reason,
// receives until the close, then checks Send and Close afterwards.
func closeAfterFirst(ctx context.Context, r *run, code int, reason string) {
	c := helloUntilEnd(ctx, r, "/ws/close", q("after", "1", "code", strconv.Itoa(code), "reason", reason), "after close")
	if c == nil {
		return
	}
	st, ok := c.CloseStatus()
	r.fact("final_status", statusString(st, ok))
}

// helloUntilEnd sends "hello" to an endpoint that ends the connection after
// one message, receives until the end, then tries one more Send and a
// Close. It returns nil if the scenario stopped early.
func helloUntilEnd(ctx context.Context, r *run, path string, params url.Values, late string) *dualws.Client {
	c := r.dial(ctx, path, params, dualws.Options{})
	if c == nil {
		return nil
	}
	r.markTrigger()
	if r.send(ctx, c, dualws.Text, []byte("hello")) != nil {
		return nil
	}
	r.receiveAll(ctx, c)
	if !r.waitDone(ctx, c) {
		return nil
	}
	r.send(ctx, c, dualws.Text, []byte(late))
	r.close(c, dualws.StatusNormalClosure, "")
	return c
}

func statusString(st dualws.CloseStatus, known bool) string {
	if !known {
		return "unknown"
	}
	return strconv.Itoa(int(st.Code)) + " " + strconv.Quote(st.Reason) + " clean=" + strconv.FormatBool(st.WasClean) + " remote=" + strconv.FormatBool(st.Remote)
}

func serverClose(ctx context.Context, r *run) { closeAfterFirst(ctx, r, 1000, "bye") }

// utf8Reason is 123 bytes of multi-byte UTF-8: 13 × "ü€😀" (9 bytes) and "€€".
var utf8Reason = strings.Repeat("ü€😀", 13) + "€€"

func serverCloseUTF8(ctx context.Context, r *run) {
	if len(utf8Reason) != dualws.MaxCloseReason {
		r.fail("utf8Reason is " + strconv.Itoa(len(utf8Reason)) + " bytes")
		return
	}
	closeAfterFirst(ctx, r, 4000, utf8Reason)
}

func serverGoingAway(ctx context.Context, r *run) { closeAfterFirst(ctx, r, 1001, "going away") }

func drop(ctx context.Context, r *run) {
	helloUntilEnd(ctx, r, "/ws/drop", q("after", "1"), "after drop")
}

func dropFragment(ctx context.Context, r *run) {
	receiveUntilEnd(ctx, r, "/ws/dropfragment", "after drop")
}

// receiveUntilEnd dials an endpoint that ends the connection by itself,
// receives until CLOSED, then tries one more Send. It returns nil if the
// scenario stopped early.
func receiveUntilEnd(ctx context.Context, r *run, path, late string) *dualws.Client {
	r.markTrigger()
	c := r.dial(ctx, path, nil, dualws.Options{})
	if c == nil {
		return nil
	}
	r.receiveAll(ctx, c)
	if !r.waitDone(ctx, c) {
		return nil
	}
	r.send(ctx, c, dualws.Text, []byte(late))
	return c
}

func closeUnanswered(ctx context.Context, r *run) {
	c := r.dial(ctx, "/ws/noclose", nil, dualws.Options{CloseTimeout: 500 * time.Millisecond})
	if c == nil {
		return
	}
	if r.send(ctx, c, dualws.Text, []byte("hello")) != nil {
		return
	}
	r.markTrigger()
	r.close(c, dualws.StatusNormalClosure, "bye")
	r.receive(ctx, c)
	r.send(ctx, c, dualws.Text, []byte("after close"))
}

func closeInvalid(ctx context.Context, r *run) {
	c := r.dial(ctx, "/ws/echo", nil, dualws.Options{})
	if c == nil {
		return
	}
	for _, code := range []dualws.StatusCode{1001, 1005, 2999, 5000} {
		r.close(c, code, "")
	}
	r.close(c, dualws.StatusNormalClosure, strings.Repeat("r", dualws.MaxCloseReason+1))
	if r.send(ctx, c, dualws.Text, []byte("still open")) == nil {
		r.receive(ctx, c)
	}
	r.markTrigger()
	r.close(c, 4000, strings.Repeat("r", dualws.MaxCloseReason))
	o, err := r.observedUntil(ctx, r.cfg.BaseURL, 2*time.Second, func(o observation) bool { return o.CloseReceived })
	if err != nil {
		r.fail(err.Error())
		return
	}
	r.fact("server_saw", "close "+strconv.Itoa(o.CloseCode)+" reason "+strconv.Itoa(len(o.CloseReason))+"B")
}

func reject(ctx context.Context, r *run) {
	r.markTrigger()
	r.dial(ctx, "/ws/reject", q("status", "403"), dualws.Options{})
}

func refused(ctx context.Context, r *run) {
	u := r.cfg.RefusedURL
	if u == "" {
		var err error
		if u, err = RefusedURL(); err != nil {
			r.fail(err.Error())
			return
		}
	}
	r.markTrigger()
	r.dialURL(ctx, u, dualws.Options{})
}

func dialCancel(ctx context.Context, r *run) {
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := time.AfterFunc(200*time.Millisecond, func() {
		r.markTrigger()
		cancel()
	})
	defer t.Stop()
	r.dial(dctx, "/ws/stall", nil, dualws.Options{})
}

func readLimit(ctx context.Context, r *run) {
	c := r.dial(ctx, "/ws/big", q("size", "4096", "type", "binary"), dualws.Options{ReadLimit: 1024})
	if c == nil {
		return
	}
	r.markTrigger()
	r.receiveAll(ctx, c)
	if !r.waitDone(ctx, c) {
		return
	}
	r.close(c, dualws.StatusNormalClosure, "")
	// The code differs by nature: browsers may not send 1009, so the
	// browser client sends 4009.
	r.serverSawClose(ctx)
}

// serverSawClose records that the server received the client's close
// frame; its code, which differs by platform, is only a note.
func (r *run) serverSawClose(ctx context.Context) {
	o, err := r.observedUntil(ctx, r.cfg.BaseURL, 2*time.Second, func(o observation) bool { return o.CloseReceived })
	if err != nil {
		r.fail(err.Error())
		return
	}
	r.fact("server_saw_close", strconv.FormatBool(o.CloseReceived))
	r.note("server_saw_code", strconv.Itoa(o.CloseCode))
}

func badUTF8(ctx context.Context, r *run) {
	c := receiveUntilEnd(ctx, r, "/ws/badutf8", "after failure")
	if c == nil {
		return
	}
	r.close(c, dualws.StatusNormalClosure, "")
	// The code differs by nature: Chromium sends 1002, the native client
	// the RFC's 1007.
	r.serverSawClose(ctx)
}

func subprotocol(ctx context.Context, r *run) {
	c := r.dial(ctx, "/ws/subprotocol", nil, dualws.Options{Subprotocols: []string{"v1", "v2"}})
	if c == nil {
		return
	}
	r.fact("subprotocol", c.Subprotocol())
	if r.send(ctx, c, dualws.Text, []byte("hello v2")) == nil {
		r.receive(ctx, c)
	}
	r.markTrigger()
	r.close(c, dualws.StatusNormalClosure, "")
}

func burstClose(ctx context.Context, r *run) {
	c := r.dial(ctx, "/ws/burst", q("n", "3", "code", "4002"), dualws.Options{})
	if c == nil {
		return
	}
	r.markTrigger()
	r.receiveAll(ctx, c)
	if !r.waitDone(ctx, c) {
		return
	}
	r.close(c, dualws.StatusNormalClosure, "")
}

func concurrentSend(ctx context.Context, r *run) {
	const (
		senders   = 8
		afterFail = 3
		maxSends  = 200000
	)
	c := r.dial(ctx, "/ws/close", q("after", "1", "code", "4001", "reason", "enough"), dualws.Options{})
	if c == nil {
		return
	}
	r.markTrigger()
	var (
		mu                     sync.Mutex
		withCode, otherFailure int
		neverFailed, accepted  int
		wg                     sync.WaitGroup
	)
	for range senders {
		wg.Go(func() {
			msg := payload(8<<10, dualws.Binary)
			failed := 0
			for i := 0; i < maxSends && failed <= afterFail; i++ {
				err := c.Send(ctx, dualws.Binary, msg)
				if err == nil {
					mu.Lock()
					accepted++
					if failed > 0 {
						otherFailure++ // a send accepted after one failed
					}
					mu.Unlock()
					continue
				}
				failed++
				var ce *dualws.CloseError
				mu.Lock()
				if errors.As(err, &ce) && ce.Status.Code == 4001 {
					withCode++
				} else {
					otherFailure++
				}
				mu.Unlock()
			}
			if failed == 0 {
				mu.Lock()
				neverFailed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.count("failures_with_close_code", withCode)
	r.count("other_outcomes_after_a_failure", otherFailure)
	r.count("senders_never_failed", neverFailed)
	r.receiveAll(ctx, c)
	if !r.waitDone(ctx, c) {
		return
	}
	// Close returns nil only for a clean end, which differs by nature here
	// (see ByNatureCleanEnd): its outcome is a note.
	st, _ := c.CloseStatus()
	r.note("close_result", ErrorKind(c.Close(dualws.StatusNormalClosure, ""))+" clean="+strconv.FormatBool(st.WasClean))
	// How many sends succeeded races with the close, but whether every one
	// of them reached the server does not: the server has counted every
	// data frame before the client's close frame. Natively it is always
	// true; a browser discards what it still had queued.
	o, err := r.observedUntil(ctx, r.cfg.BaseURL, 2*time.Second, func(o observation) bool { return o.CloseReceived })
	if err != nil {
		r.fail(err.Error())
		return
	}
	r.fact("server_saw_close", strconv.FormatBool(o.CloseReceived))
	r.note("every_accepted_send_reached_the_server", strconv.FormatBool(o.Messages == accepted))
}

func serverPing(ctx context.Context, r *run) {
	c := r.dial(ctx, "/ws/ping", q("n", "3"), dualws.Options{})
	if c == nil {
		return
	}
	r.markTrigger()
	r.receiveAll(ctx, c)
	if !r.waitDone(ctx, c) {
		return
	}
	o, err := r.observed(ctx)
	if err != nil {
		r.fail(err.Error())
		return
	}
	r.count("server_pongs", o.Pongs)
}

func pongEmptyClose(ctx context.Context, r *run) {
	c := r.dial(ctx, "/ws/pongclose", nil, dualws.Options{})
	if c == nil {
		return
	}
	r.markTrigger()
	r.receiveAll(ctx, c)
	if !r.waitDone(ctx, c) {
		return
	}
	r.send(ctx, c, dualws.Text, []byte("after close"))
	r.close(c, dualws.StatusNormalClosure, "")
}

func closeTwice(ctx context.Context, r *run) {
	c := r.dial(ctx, "/ws/echo", nil, dualws.Options{})
	if c == nil {
		return
	}
	const callers = 4
	results := make([]Op, callers)
	var wg sync.WaitGroup
	r.markTrigger()
	for i := range callers {
		wg.Go(func() {
			err := c.Close(dualws.StatusNormalClosure, "twice")
			results[i] = opOf("close", "", err)
		})
	}
	wg.Wait()
	distinct := map[Op]bool{}
	for _, o := range results {
		distinct[o] = true
	}
	r.count("distinct_concurrent_results", len(distinct))
	r.op(results[0])
	r.close(c, dualws.StatusNormalClosure, "twice")
	o, err := r.observedUntil(ctx, r.cfg.BaseURL, 2*time.Second, func(o observation) bool { return o.CloseReceived })
	if err != nil {
		r.fail(err.Error())
		return
	}
	r.fact("server_saw", "close "+strconv.Itoa(o.CloseCode)+" "+strconv.Quote(o.CloseReason))
}
