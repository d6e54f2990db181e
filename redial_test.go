//go:build !js

package dualws

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redialGuard bounds every wait in the Redial tests: a safety net against
// hangs, never a measure of speed.
const redialGuard = 20 * time.Second

// fastBackoff keeps the Redial tests short.
var fastBackoff = Backoff{Initial: 20 * time.Millisecond, Min: 10 * time.Millisecond, Max: 40 * time.Millisecond, Factor: 2}

func TestBackoffDelaySequence(t *testing.T) {
	maxRnd := func(n int64) int64 { return n - 1 }
	zeroRnd := func(int64) int64 { return 0 }
	for _, tc := range []struct {
		name string
		b    *Backoff
		rnd  func(int64) int64
		want []time.Duration // delays after dial 1, 2, 3, ...
	}{
		{"defaults, top of the jitter", nil, maxRnd,
			[]time.Duration{time.Second, time.Second, 1618 * time.Millisecond, 2617924 * time.Microsecond}},
		{"defaults, bottom of the jitter", &Backoff{}, zeroRnd,
			[]time.Duration{0, time.Second, 1618 * time.Millisecond}},
		{"grows by Factor up to Max", &fastBackoff, maxRnd,
			[]time.Duration{20 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond}},
		{"Initial above Max is capped", &Backoff{Initial: time.Minute, Min: time.Second, Max: 5 * time.Second, Factor: 10}, maxRnd,
			[]time.Duration{5 * time.Second, time.Second, 5 * time.Second, 5 * time.Second}},
		{"negative durations mean 0", &Backoff{Initial: -1, Min: -1, Max: time.Second}, maxRnd,
			[]time.Duration{0, 0, 0}},
		{"a Factor below 1 means 1", &Backoff{Min: 3 * time.Second, Max: 10 * time.Second, Factor: 0.5}, zeroRnd,
			[]time.Duration{0, 3 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"huge factors do not overflow", &Backoff{Min: time.Second, Max: time.Hour, Factor: 1e300}, zeroRnd,
			[]time.Duration{0, time.Second, time.Hour, time.Hour}},
		{"the longest durations do not overflow", &Backoff{Initial: math.MaxInt64, Min: math.MaxInt64, Max: math.MaxInt64}, maxRnd,
			[]time.Duration{math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64}},
		{"the longest Initial is capped at Max", &Backoff{Initial: math.MaxInt64, Max: time.Second}, maxRnd,
			[]time.Duration{time.Second}},
		{"a Min of 1 ns grows", &Backoff{Min: 1, Max: time.Second, Factor: 1.5}, zeroRnd,
			[]time.Duration{0, 1, 1, 2, 3, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bo := tc.b.settings()
			var got []time.Duration
			for n := 1; n <= len(tc.want); n++ {
				got = append(got, bo.delay(n, tc.rnd))
			}
			assert.Equal(t, tc.want, got)
		})
	}
	// The first delay is uniform in [0, Initial], both ends included.
	bo := fastBackoff.settings()
	var asked int64
	bo.delay(1, func(n int64) int64 { asked = n; return 0 })
	assert.Equal(t, int64(20*time.Millisecond)+1, asked)
	// A long run stays at Max without looping for ever.
	assert.Equal(t, 40*time.Millisecond, bo.delay(1<<40, maxRnd))
	// The jitter's source gets a bound it accepts for the longest Initial
	// (rand.Int64N panicked on the overflowed one).
	huge := (&Backoff{Initial: math.MaxInt64, Max: math.MaxInt64}).settings()
	assert.NotPanics(t, func() { huge.delay(1, rand.Int64N) })
}

func TestRetryable(t *testing.T) {
	dialErr := func(reason string, status int) outcome {
		return outcome{err: &DialError{URL: "ws://x", Reason: reason, HTTPStatus: status}}
	}
	closed := func(code StatusCode, remote bool, openFor time.Duration) outcome {
		st := CloseStatus{Code: code, Remote: remote}
		return outcome{status: st, final: st, openFor: openFor}
	}
	long := time.Minute
	for _, tc := range []struct {
		name string
		o    outcome
		want bool
	}{
		{"refused", dialErr("connection refused", 0), true},
		{"failed (the browser's only reason)", dialErr("connection failed", 0), true},
		{"handshake timed out", dialErr("handshake timed out", 0), true},
		{"HTTP 503", dialErr("handshake rejected", 503), true},
		{"HTTP 500", dialErr("handshake rejected", 500), true},
		{"HTTP 429", dialErr("handshake rejected", 429), true},
		{"HTTP 403", dialErr("handshake rejected", 403), false},
		{"HTTP 404", dialErr("handshake rejected", 404), false},
		{"HTTP 200 without upgrade", dialErr("handshake rejected", 200), false},
		{"invalid URL in the browser", dialErr("invalid URL or subprotocol", 0), false},
		{"usage error", outcome{err: &UsageError{Op: "dial", Msg: "bad"}}, false},
		{"some other error", outcome{err: errors.New("?")}, false},

		{"application's Close 1000", closed(1000, false, long), false},
		{"application's Close 4000", closed(4000, false, 0), false},
		{"application's Close 3000 right after opening", closed(3000, false, 0), false},
		{"peer 1000", closed(1000, true, long), false},
		{"peer 1000 right after opening", closed(1000, true, 0), false},
		{"peer 1001", closed(1001, true, long), true},
		{"dropped", closed(1006, true, long), true},
		{"keepalive or heartbeat timeout", closed(1006, false, long), true},
		{"peer 1011", closed(1011, true, long), true},
		{"peer 1012", closed(1012, true, long), true},
		{"peer 1013", closed(1013, true, long), true},
		{"peer 1002", closed(1002, true, 0), false},
		{"peer 1003", closed(1003, true, 0), false},
		{"peer 1007", closed(1007, true, 0), false},
		{"peer 1008 right after opening", closed(1008, true, 0), false},
		{"receive queue overflow 1008", closed(1008, false, long), false},
		{"message too big 1009", closed(1009, false, long), false},
		{"peer 1010", closed(1010, true, 0), false},
		{"peer 4000 right after opening", closed(4000, true, 0), false},
		{"peer 4999", closed(4999, true, long), false},
		{"peer 1005 within 5 s", closed(1005, true, 4*time.Second), true},
		{"peer 1005 after 5 s", closed(1005, true, 5*time.Second), false},
		{"peer 3000 within 5 s", closed(3000, true, time.Second), true},
		{"peer 3000 after a minute", closed(3000, true, long), false},
		{"peer 1014 within 5 s", closed(1014, true, 0), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, retryable(tc.o))
			assert.Equal(t, tc.want, shouldRetry(nil, tc.o), "no Retry: the default rule")
		})
	}
}

func TestRetryOverridesTheRule(t *testing.T) {
	var gotSt CloseStatus
	var gotErr error
	always := func(st CloseStatus, err error) bool { gotSt, gotErr = st, err; return true }
	never := func(CloseStatus, error) bool { return false }

	ue := &UsageError{Op: "dial", Msg: "bad"}
	assert.True(t, shouldRetry(always, outcome{err: ue}))
	assert.Equal(t, CloseStatus{}, gotSt)
	assert.Same(t, ue, gotErr)

	closing := CloseStatus{Code: 1008, Remote: true}
	final := CloseStatus{Code: 1008, Remote: true, WasClean: true}
	assert.True(t, shouldRetry(always, outcome{status: closing, final: final}))
	assert.Equal(t, final, gotSt, "Retry gets the final status")
	assert.NoError(t, gotErr)

	assert.False(t, shouldRetry(never, outcome{err: &DialError{Reason: "connection refused"}}))
	assert.False(t, shouldRetry(never, outcome{status: CloseStatus{Code: 1006, Remote: true}}))
}

// redialServer is an in-process WebSocket server whose i-th connection
// (from 1) is handled by behave. A listener on a fixed port can be taken
// down and brought back, as a restarting server would.
type redialServer struct {
	t      *testing.T
	addr   string
	behave func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context)
	ctx    context.Context
	stop   context.CancelFunc
	dials  atomic.Int32

	mu       sync.Mutex
	srv      *http.Server
	served   chan struct{}
	hijacked []net.Conn
	handlers sync.WaitGroup
}

func newRedialServer(t *testing.T, behave func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context)) *redialServer {
	t.Helper()
	s := &redialServer{t: t, behave: behave}
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.up("127.0.0.1:0")
	t.Cleanup(func() {
		s.stop()
		s.down()
		s.handlers.Wait()
	})
	return s
}

func (s *redialServer) url(path string) string { return "ws://" + s.addr + path }

// up listens on addr and serves.
func (s *redialServer) up(addr string) {
	s.t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(s.t, err)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.handlers.Add(1)
			defer s.handlers.Done()
			s.behave(int(s.dials.Add(1)), w, r, s.ctx)
		}),
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateHijacked {
				s.mu.Lock()
				s.hijacked = append(s.hijacked, c)
				s.mu.Unlock()
			}
		},
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	s.mu.Lock()
	s.addr, s.srv, s.served = ln.Addr().String(), srv, served
	s.mu.Unlock()
}

// down closes the listener, then every connection, without close frames.
func (s *redialServer) down() {
	s.mu.Lock()
	srv, served, conns := s.srv, s.served, s.hijacked
	s.srv, s.hijacked = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	<-served
	for _, c := range conns {
		c.Close()
	}
}

// behaviours of a redialServer connection

func rdDrop(w http.ResponseWriter) {
	if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
		c.Close()
	}
}

func rdEcho(w http.ResponseWriter, r *http.Request, ctx context.Context) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, b, err := c.Read(ctx)
		if err != nil || c.Write(ctx, typ, b) != nil {
			return
		}
	}
}

func rdClose(w http.ResponseWriter, r *http.Request, ctx context.Context, code StatusCode, hold time.Duration) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	if hold > 0 {
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			return
		}
	}
	c.Close(websocket.StatusCode(code), "")
}

// redialCall is one OnRedial call.
type redialCall struct {
	attempt int
	delay   time.Duration
	last    error
}

// redialLog runs Redial and records every iteration and OnRedial call.
type redialLog struct {
	mu    sync.Mutex
	calls []redialCall
}

func (l *redialLog) onRedial(attempt int, delay time.Duration, last error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, redialCall{attempt, delay, last})
}

func (l *redialLog) get() []redialCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]redialCall(nil), l.calls...)
}

// rangeRedial ranges over Redial in a goroutine, calling body for each
// iteration, and fails the test if the sequence has not ended within the
// guard. It returns what the iterations yielded ("ok" or the error kind).
func rangeRedial(t *testing.T, ctx context.Context, url string, opts *Options, body func(i int, c *Client, err error) bool) []string {
	t.Helper()
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		i := 0
		for c, err := range Redial(ctx, url, opts) {
			i++
			switch {
			case err == nil && c != nil:
				got = append(got, "ok")
			case c == nil && err != nil:
				got = append(got, kind(err))
			default:
				got = append(got, "BAD: client and error together")
			}
			if !body(i, c, err) {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(redialGuard):
		t.Fatal("the Redial sequence did not end")
	}
	return got
}

func kind(err error) string {
	var (
		de *DialError
		ue *UsageError
	)
	switch {
	case errors.As(err, &de) && de.HTTPStatus != 0:
		return "http " + itoa(de.HTTPStatus)
	case errors.As(err, &de):
		return de.Reason
	case errors.As(err, &ue):
		return "usage"
	}
	return err.Error()
}

// echoOnce sends text on c and checks that it comes back.
func echoOnce(t *testing.T, c *Client, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), redialGuard)
	defer cancel()
	require.NoError(t, c.SendText(ctx, text))
	_, b, err := c.Receive(ctx)
	require.NoError(t, err)
	assert.Equal(t, text, string(b))
}

// closeAndEnd closes c with 1000 and returns false to break the loop.
func closeAndEnd(c *Client) bool {
	c.Close(StatusNormalClosure, "")
	return false
}

func TestRedialServerDropsFirstTwo(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		if i <= 2 {
			rdDrop(w)
			return
		}
		rdEcho(w, r, ctx)
	})
	var log redialLog
	opts := &Options{Backoff: &fastBackoff, OnRedial: log.onRedial}
	got := rangeRedial(t, context.Background(), srv.url("/"), opts, func(i int, c *Client, err error) bool {
		if c == nil {
			return true
		}
		echoOnce(t, c, "third time lucky")
		return closeAndEnd(c)
	})
	assert.Equal(t, []string{"connection failed", "connection failed", "ok"}, got)
	assert.Equal(t, int32(3), srv.dials.Load(), "attempts")
	calls := log.get()
	require.Len(t, calls, 2)
	assert.Equal(t, 2, calls[0].attempt)
	assert.Equal(t, 3, calls[1].attempt)
	assert.GreaterOrEqual(t, calls[0].delay, time.Duration(0))
	assert.LessOrEqual(t, calls[0].delay, fastBackoff.Initial, "the first delay is within [0, Initial]")
	assert.Equal(t, fastBackoff.Min, calls[1].delay, "the second delay is Min")
	for _, c := range calls {
		var de *DialError
		assert.ErrorAs(t, c.last, &de, "OnRedial gets the failed Dial's error")
	}
}

func TestRedial503TwiceThenAccept(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		if i <= 2 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		rdEcho(w, r, ctx)
	})
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff}, func(i int, c *Client, err error) bool {
		if c == nil {
			return true
		}
		echoOnce(t, c, "available")
		return closeAndEnd(c)
	})
	assert.Equal(t, []string{"http 503", "http 503", "ok"}, got)
}

func TestRedialStopsOn403(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		http.Error(w, "no", http.StatusForbidden)
	})
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff}, func(int, *Client, error) bool { return true })
	assert.Equal(t, []string{"http 403"}, got)
	assert.Equal(t, int32(1), srv.dials.Load())
}

func TestRedialStopsOnUsageError(t *testing.T) {
	got := rangeRedial(t, context.Background(), "http://127.0.0.1:1/", nil, func(int, *Client, error) bool { return true })
	assert.Equal(t, []string{"usage"}, got)
}

// waitClosed is a body that waits for the client to end by itself.
func waitClosed(t *testing.T) func(int, *Client, error) bool {
	return func(_ int, c *Client, _ error) bool {
		if c != nil {
			select {
			case <-c.Done():
			case <-time.After(redialGuard):
				t.Error("the client did not close")
				return false
			}
		}
		return true
	}
}

func TestRedialStopsOn1008(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		rdClose(w, r, ctx, StatusPolicyViolation, 0)
	})
	var log redialLog
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff, OnRedial: log.onRedial}, waitClosed(t))
	assert.Equal(t, []string{"ok"}, got, "one client, then the sequence ends")
	assert.Equal(t, int32(1), srv.dials.Load())
	assert.Empty(t, log.get())
}

func TestRedialReconnectsAfter1012(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		if i == 1 {
			rdClose(w, r, ctx, StatusServiceRestart, 0)
			return
		}
		rdEcho(w, r, ctx)
	})
	var log redialLog
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff, OnRedial: log.onRedial}, func(i int, c *Client, err error) bool {
		if i == 1 {
			return waitClosed(t)(i, c, err)
		}
		echoOnce(t, c, "back")
		return closeAndEnd(c)
	})
	assert.Equal(t, []string{"ok", "ok"}, got)
	calls := log.get()
	require.Len(t, calls, 1)
	var ce *CloseError
	require.ErrorAs(t, calls[0].last, &ce, "OnRedial gets the close as a *CloseError")
	assert.Equal(t, StatusServiceRestart, ce.Status.Code)
	assert.True(t, ce.Status.Remote)
}

func TestRedialAcrossServerRestart(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		rdEcho(w, r, ctx)
	})
	addr := srv.addr
	var log redialLog
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff, OnRedial: log.onRedial}, func(i int, c *Client, err error) bool {
		switch i {
		case 1:
			echoOnce(t, c, "before")
			srv.down() // the listener first, then the connection
			return waitClosed(t)(i, c, err)
		case 2:
			srv.up(addr) // the same port
			return true
		}
		echoOnce(t, c, "after")
		return closeAndEnd(c)
	})
	assert.Equal(t, []string{"ok", "connection refused", "ok"}, got)
	calls := log.get()
	require.Len(t, calls, 2)
	var ce *CloseError
	require.ErrorAs(t, calls[0].last, &ce)
	assert.Equal(t, StatusAbnormalClosure, ce.Status.Code, "the restart dropped the connection")
}

func TestRedialBreakKeepsTheClientAndDialsNoMore(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		rdEcho(w, r, ctx)
	})
	var kept *Client
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff}, func(i int, c *Client, err error) bool {
		kept = c
		return false
	})
	assert.Equal(t, []string{"ok"}, got)
	require.NotNil(t, kept)
	assert.Equal(t, Open, kept.State(), "the client the body broke out with stays open, the caller's")
	echoOnce(t, kept, "still mine")
	require.NoError(t, kept.Close(StatusNormalClosure, ""))
	assert.Equal(t, int32(1), srv.dials.Load(), "no dial after the break")
	// TestMain's goleak check finds any goroutine or timer Redial left.
}

func TestRedialBreakOnAnError(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) { rdDrop(w) })
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff}, func(int, *Client, error) bool { return false })
	assert.Equal(t, []string{"connection failed"}, got)
	assert.Equal(t, int32(1), srv.dials.Load())
}

func TestRedialCancelDuringDelay(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) { rdDrop(w) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waiting := make(chan time.Duration, 10)
	opts := &Options{
		// No first delay, then an hour.
		Backoff:  &Backoff{Initial: -1, Min: time.Hour, Max: time.Hour},
		OnRedial: func(_ int, d time.Duration, _ error) { waiting <- d },
	}
	go func() {
		for d := range waiting {
			if d == time.Hour {
				cancel()
				return
			}
		}
	}()
	got := rangeRedial(t, ctx, srv.url("/"), opts, func(int, *Client, error) bool { return true })
	assert.Equal(t, []string{"connection failed", "connection failed"}, got)
	assert.Equal(t, int32(2), srv.dials.Load())
	close(waiting)
}

func TestRedialCancelWhileOpenClosesTheClient(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		rdEcho(w, r, ctx)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var kept *Client
	got := rangeRedial(t, ctx, srv.url("/"), &Options{Backoff: &fastBackoff}, func(i int, c *Client, err error) bool {
		kept = c
		cancel()
		return true // returns with the client open
	})
	assert.Equal(t, []string{"ok"}, got)
	require.NotNil(t, kept)
	assert.Equal(t, Closed, kept.State())
	st, _ := kept.CloseStatus()
	assert.Equal(t, CloseStatus{Code: StatusNormalClosure, WasClean: true}, st)
	assert.Equal(t, int32(1), srv.dials.Load())
}

func TestRedialStopsAfterTheApplicationsClose(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		rdEcho(w, r, ctx)
	})
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff}, func(i int, c *Client, err error) bool {
		c.Close(4000, "done with it")
		return true
	})
	assert.Equal(t, []string{"ok"}, got)
	assert.Equal(t, int32(1), srv.dials.Load())
}

func TestRedialWaitsForClosedBeforeDialling(t *testing.T) {
	release := make(chan struct{})
	srv := newRedialServer(t, firstThenEcho(func(c *websocket.Conn, ctx context.Context) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		c.Close(websocket.StatusServiceRestart, "")
	}))
	var first *Client
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff}, func(i int, c *Client, err error) bool {
		if i == 1 {
			first = c
			// Return at once with the client open; Redial must wait for it.
			go func() {
				time.Sleep(50 * time.Millisecond)
				assert.Equal(t, int32(1), srv.dials.Load(), "dialled while the previous client was open")
				close(release)
			}()
			return true
		}
		assert.Equal(t, Closed, first.State(), "the previous client is CLOSED before the next Dial")
		return closeAndEnd(c)
	})
	assert.Equal(t, []string{"ok", "ok"}, got)
}

func TestRedialResetsBackoffAfterALongConnection(t *testing.T) {
	bo := Backoff{Initial: time.Millisecond, Min: 30 * time.Millisecond, Max: 40 * time.Millisecond, Factor: 2}
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		switch i {
		case 1, 3:
			rdClose(w, r, ctx, StatusServiceRestart, 0)
		case 2:
			rdClose(w, r, ctx, StatusServiceRestart, 3*bo.Max) // stays OPEN longer than Max
		default:
			rdEcho(w, r, ctx)
		}
	})
	var log redialLog
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &bo, OnRedial: log.onRedial}, func(i int, c *Client, err error) bool {
		if i < 4 {
			return waitClosed(t)(i, c, err)
		}
		return closeAndEnd(c)
	})
	assert.Equal(t, []string{"ok", "ok", "ok", "ok"}, got)
	var attempts []int
	for _, c := range log.get() {
		attempts = append(attempts, c.attempt)
	}
	// 1 quick: attempt 2; 2 long: start over, attempt 2; 3 quick: attempt 3.
	assert.Equal(t, []int{2, 2, 3}, attempts)
	calls := log.get()
	assert.LessOrEqual(t, calls[1].delay, bo.Initial, "after a long connection the delay starts from Initial")
	assert.Equal(t, bo.Min, calls[2].delay)
}

func TestRedialUsesRetry(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		if i == 1 {
			rdClose(w, r, ctx, StatusPolicyViolation, 0) // the default rule stops here
			return
		}
		rdEcho(w, r, ctx)
	})
	var seen []string
	opts := &Options{Backoff: &fastBackoff, Retry: func(st CloseStatus, err error) bool {
		seen = append(seen, st.Code.String())
		return st.Code == StatusPolicyViolation
	}}
	got := rangeRedial(t, context.Background(), srv.url("/"), opts, func(i int, c *Client, err error) bool {
		if i == 1 {
			return waitClosed(t)(i, c, err)
		}
		return closeAndEnd(c)
	})
	assert.Equal(t, []string{"ok", "ok"}, got)
	assert.Equal(t, []string{"1008 (policy violation)"}, seen)
}

func TestRedialKeepsTheUsersOnStateChange(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		rdClose(w, r, ctx, 4000, 0)
	})
	var rec recorder
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{OnStateChange: rec.record}, waitClosed(t))
	assert.Equal(t, []string{"ok"}, got)
	assert.Equal(t, []string{"CONNECTING>OPEN", "OPEN>CLOSING 4000 remote", "CLOSING>CLOSED 4000 clean remote"}, rec.transitions())
	assert.True(t, strings.HasPrefix(rec.transitions()[0], "CONNECTING"))
}

func TestLifetimeOutcome(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ev := func(from, to State, ms int, st CloseStatus) StateChange {
		return StateChange{From: from, To: to, Status: st, At: t0.Add(time.Duration(ms) * time.Millisecond)}
	}
	app := CloseStatus{Code: 1000}
	peer := CloseStatus{Code: 1008, Remote: true}
	for _, tc := range []struct {
		name    string
		evs     []StateChange
		final   CloseStatus
		status  CloseStatus
		openFor time.Duration
		retry   bool
	}{
		{"the application's Close, answered",
			[]StateChange{ev(Connecting, Open, 0, CloseStatus{}), ev(Open, Closing, 300, app), ev(Closing, Closed, 310, CloseStatus{Code: 1000, WasClean: true})},
			CloseStatus{Code: 1000, WasClean: true}, app, 300 * time.Millisecond, false},
		{"the application's Close, unanswered: still the application's",
			[]StateChange{ev(Connecting, Open, 0, CloseStatus{}), ev(Open, Closing, 300, app), ev(Closing, Closed, 5300, statusCloseTimeout)},
			statusCloseTimeout, app, 300 * time.Millisecond, false},
		{"the peer's 1008",
			[]StateChange{ev(Connecting, Open, 0, CloseStatus{}), ev(Open, Closing, 20, peer), ev(Closing, Closed, 21, peer)},
			peer, peer, 20 * time.Millisecond, false},
		{"dropped",
			[]StateChange{ev(Connecting, Open, 0, CloseStatus{}), ev(Open, Closed, 7000, statusDropped)},
			statusDropped, statusDropped, 7 * time.Second, true},
		{"a local timeout after a CLOSING with 4000 is the timeout",
			[]StateChange{ev(Connecting, Open, 0, CloseStatus{}), ev(Open, Closing, 50, CloseStatus{Code: 4000}), ev(Closing, Closed, 60, CloseStatus{Code: 1006, Reason: "heartbeat timeout"})},
			CloseStatus{Code: 1006, Reason: "heartbeat timeout"}, CloseStatus{Code: 1006, Reason: "heartbeat timeout"}, 50 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l lifetime
			for _, e := range tc.evs {
				l.observe(e)
			}
			o := l.outcome(tc.final)
			assert.Equal(t, tc.status, o.status)
			assert.Equal(t, tc.final, o.final)
			assert.Equal(t, tc.openFor, o.openFor)
			assert.Equal(t, tc.retry, retryable(o))
		})
	}
}

// TestRedialSeesACloseBehindUnreceivedMessages: the body returns without
// receiving, with more messages unread than ReceiveQueue, and the server
// closes with 1000 behind them. Natively the reader had paused on the full
// queue and nobody would receive again, so the close was never read: the
// sequence waited for a keepalive timeout (1006, dialled again) or, with
// keepalive off, forever. Handing the client back lets the reader on.
func TestRedialSeesACloseBehindUnreceivedMessages(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for k := 0; k < 100; k++ {
			if c.Write(ctx, websocket.MessageText, []byte("x")) != nil {
				return
			}
		}
		c.Close(websocket.StatusNormalClosure, "done")
	})
	var log redialLog
	var first *Client
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff, OnRedial: log.onRedial, PingInterval: -1},
		func(i int, c *Client, err error) bool {
			if first == nil {
				first = c
			}
			return i < 3 // returns with the client open and its messages unread
		})
	assert.Equal(t, []string{"ok"}, got, "the peer closed with 1000: Redial stops after one client")
	assert.Empty(t, log.get())
	require.NotNil(t, first)
	<-first.Done()
	final, _ := first.CloseStatus()
	assert.Equal(t, StatusNormalClosure, final.Code)
	assert.True(t, final.Remote)
}

// TestRedialCountsOnAfterFailedDialsWithMaxZero: with Max 0 (a negative
// Max), failed Dials must not start the count over: only a connection
// that stayed OPEN Max does (a failed Dial's OPEN time, 0, did).
func TestRedialCountsOnAfterFailedDialsWithMaxZero(t *testing.T) {
	srv := newRedialServer(t, func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) { rdDrop(w) })
	var log redialLog
	rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &Backoff{Initial: -1, Min: -1, Max: -1}, OnRedial: log.onRedial},
		func(i int, _ *Client, _ error) bool { return i < 4 })
	var attempts []int
	for _, c := range log.get() {
		attempts = append(attempts, c.attempt)
	}
	assert.Equal(t, []int{2, 3, 4}, attempts)
}

// TestRedialKeepsBackpressureForAReceiverTheBodyLeft: the body leaves a
// goroutine receiving slowly and returns; the server sends more than
// ReceiveQueueBytes, then closes with 1012. The reader still pauses at the
// byte bound (backpressure), so nothing is lost and Redial dials again; a
// first version of handedBack read on past it, closed with 1008 and lost
// most messages, and Redial stopped (a helper's review).
func TestRedialKeepsBackpressureForAReceiverTheBodyLeft(t *testing.T) {
	const n = 300
	srv := newRedialServer(t, firstThenEcho(func(c *websocket.Conn, ctx context.Context) {
		for k := 0; k < n; k++ {
			if c.Write(ctx, websocket.MessageBinary, make([]byte, 1000)) != nil {
				return
			}
		}
		c.Close(websocket.StatusServiceRestart, "restart")
	}))
	received := make(chan int, 1)
	var final CloseStatus
	got := rangeRedial(t, context.Background(), srv.url("/"), &Options{Backoff: &fastBackoff, ReceiveQueueBytes: 64 << 10},
		func(i int, c *Client, err error) bool {
			if i == 1 {
				go func() {
					k := 0
					for {
						if _, _, err := c.Receive(context.Background()); err != nil {
							final, _ = c.CloseStatus()
							received <- k
							return
						}
						k++
						time.Sleep(200 * time.Microsecond) // a slow consumer
					}
				}()
				return true
			}
			return closeAndEnd(c)
		})
	assert.Equal(t, []string{"ok", "ok"}, got, "the peer's 1012 is retried")
	assert.Equal(t, n, <-received, "messages received by the goroutine the body left")
	assert.Equal(t, StatusServiceRestart, final.Code)
}

// firstThenEcho is a redialServer behaviour: the first connection is
// accepted and handed to first, every later one echoes.
func firstThenEcho(first func(c *websocket.Conn, ctx context.Context)) func(int, http.ResponseWriter, *http.Request, context.Context) {
	return func(i int, w http.ResponseWriter, r *http.Request, ctx context.Context) {
		if i > 1 {
			rdEcho(w, r, ctx)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		first(c, ctx)
	}
}
