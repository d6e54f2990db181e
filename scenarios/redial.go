package scenarios

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dualws/dualws"
)

// The Redial and heartbeat scenarios (registered in all). Delays and
// heartbeat periods are short, so that each ends in well under 2 s; the
// delays themselves are random and only noted, while whether they kept to
// the Backoff bounds is a compared fact.

func init() {
	// After the 20 base scenarios of scenarios.go, in this order.
	all = append(all,
		scenario{"redial-drops", "Redial: the server drops the first 2 connections during the handshake; 3 attempts, delays within Backoff", redialDrops, nil},
		scenario{"redial-503", "Redial: the server answers 503 twice, then accepts", redial503, nil},
		scenario{"redial-1008", "Redial: the server closes with 1008; one client, then the sequence ends", redial1008, nil},
		scenario{"redial-1012", "Redial: the server closes with 1012; Redial connects again", redial1012, nil},
		scenario{"redial-restart", "Redial: the server's listener closes and reopens on the same port; the client reconnects", redialRestart, nil},
		scenario{"redial-break", "Redial: the body breaks out with a client; no dial after, the client stays the caller's", redialBreak, nil},
		scenario{"redial-cancel", "Redial: ctx is cancelled during an hour-long backoff delay; the sequence ends at once", redialCancel, nil},
		scenario{"heartbeat-blackhole", "Heartbeat: the server goes silent; CLOSED 1006 \"heartbeat timeout\" after Interval + Timeout", heartbeatBlackhole, nil},
		scenario{"heartbeat-pingpong", "Heartbeat: the server answers ping with pong; OPEN over 10 intervals, Receive never sees pong", heartbeatPingPong, nil},
		scenario{"heartbeat-redial", "Heartbeat + Redial: a silent server, then a working one; the client moves on", heartbeatRedial, nil},
	)
}

// fastBackoff is the Backoff of the Redial scenarios.
var fastBackoff = dualws.Backoff{Initial: 40 * time.Millisecond, Min: 30 * time.Millisecond, Max: 200 * time.Millisecond, Factor: 2}

// fastHeartbeat is the Heartbeat of the heartbeat scenarios: "ping" after
// 100 ms of silence, dead after 600 ms more (generous: parallel tabs on a
// loaded machine can take a while to answer).
func fastHeartbeat() *dualws.Heartbeat {
	return &dualws.Heartbeat{
		Interval: 100 * time.Millisecond,
		Timeout:  600 * time.Millisecond,
		Message:  []byte("ping"),
		IsReply:  func(typ dualws.MessageType, b []byte) bool { return typ == dualws.Text && string(b) == "pong" },
	}
}

// bodyGuard bounds how long a scenario body waits for a client to end by
// itself: a safety net against hangs, not a measure.
const bodyGuard = 5 * time.Second

// redialRun is one Redial loop of a scenario.
type redialRun struct {
	r  *run
	bo dualws.Backoff

	mu     sync.Mutex
	delays []time.Duration
	calls  int
}

// redial ranges over dualws.Redial(ctx, rawURL, o with the run's
// OnStateChange and bo), recording every iteration as a "redial" op and
// every OnRedial call as an "onredial" op (attempt and the last outcome),
// and calls body for each iteration until it returns false. It returns the
// number of iterations.
func (r *run) redial(ctx context.Context, rawURL string, o dualws.Options, bo dualws.Backoff, body func(i int, c *dualws.Client, err error) bool) (*redialRun, int) {
	rr := &redialRun{r: r, bo: bo}
	opts := r.options(o)
	opts.Backoff = &rr.bo
	opts.OnRedial = func(attempt int, delay time.Duration, last error) {
		rr.mu.Lock()
		rr.calls++
		rr.delays = append(rr.delays, delay)
		rr.mu.Unlock()
		r.op(opOf("onredial", "attempt "+strconv.Itoa(attempt), last))
		if o.OnRedial != nil {
			o.OnRedial(attempt, delay, last)
		}
	}
	i := 0
	for c, err := range dualws.Redial(ctx, rawURL, opts) {
		i++
		r.op(opOf("redial", "iteration "+strconv.Itoa(i), err))
		if c != nil {
			r.mu.Lock()
			r.clients = append(r.clients, c)
			r.mu.Unlock()
		}
		if !body(i, c, err) {
			break
		}
	}
	return rr, i
}

// checkDelays records whether every delay kept to the Backoff (a fact) and
// the delays themselves (a note).
func (rr *redialRun) checkDelays() {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	ok := true
	var ms []string
	for k, d := range rr.delays {
		ms = append(ms, strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64))
		// The delay after dial k+1: uniform in [0, Initial], then Min,
		// growing by Factor up to Max.
		if k == 0 {
			ok = ok && d >= 0 && d <= rr.bo.Initial
			continue
		}
		want := rr.bo.Min
		for range k - 1 {
			want = time.Duration(float64(want) * rr.bo.Factor)
		}
		ok = ok && d == min(want, rr.bo.Max)
	}
	rr.r.fact("delays_within_backoff", strconv.FormatBool(ok))
	rr.r.note("delays_ms", strings.Join(ms, " "))
}

// echoAndClose sends text on c, receives it back and closes with 1000.
func (r *run) echoAndClose(ctx context.Context, c *dualws.Client, text string) {
	if r.send(ctx, c, dualws.Text, []byte(text)) == nil {
		r.receive(ctx, c)
	}
	r.close(c, dualws.StatusNormalClosure, "")
}

// untilEnd receives on c until it ends, recording everything, and waits for
// CLOSED; false when it did not end within bodyGuard.
func (r *run) untilEnd(ctx context.Context, c *dualws.Client) bool {
	ctx, cancel := context.WithTimeout(ctx, bodyGuard)
	defer cancel()
	r.receiveAll(ctx, c)
	if !r.waitDone(ctx, c) {
		c.Close(dualws.StatusNormalClosure, "") // so that the run ends sooner
		return false
	}
	return true
}

// redialFlaky dials /ws/flaky with params until it works, then echoes once.
func redialFlaky(ctx context.Context, r *run, params ...string) {
	r.markTrigger()
	rr, n := r.redial(ctx, r.url("/ws/flaky", q(params...)), dualws.Options{}, fastBackoff, func(i int, c *dualws.Client, err error) bool {
		if err != nil {
			return true
		}
		r.echoAndClose(ctx, c, "hello")
		return false
	})
	r.count("iterations", n)
	rr.checkDelays()
}

// redialDrops: the server drops the first 2 connections during the
// handshake; the third works.
func redialDrops(ctx context.Context, r *run) {
	redialFlaky(ctx, r, "n", "2", "how", "drop")
	r.serverCount(ctx)
}

// redial503: the server answers 503 twice, then accepts.
func redial503(ctx context.Context, r *run) {
	redialFlaky(ctx, r, "n", "2", "how", "status", "status", "503")
}

// redial1008: a close with 1008 ends the sequence after one client.
func redial1008(ctx context.Context, r *run) {
	r.markTrigger()
	rr, n := r.redial(ctx, r.url("/ws/flaky", q("n", "1000", "how", "close", "code", "1008", "reason", "policy")), dualws.Options{}, fastBackoff,
		func(i int, c *dualws.Client, err error) bool {
			if c != nil && !r.untilEnd(ctx, c) {
				return false
			}
			return true
		})
	r.count("iterations", n)
	r.count("onredial_calls", rr.calls)
	r.serverCount(ctx)
}

// redial1012: a close with 1012 is retried; the second client works.
func redial1012(ctx context.Context, r *run) {
	redialPastFirst(ctx, r, r.url("/ws/flaky", q("n", "1", "how", "close", "code", "1012", "reason", "restart")), dualws.Options{}, "back")
}

// redialPastFirst redials rawURL, whose first connection the server ends
// (the client waits for that end), and has the next connection echo text
// and close.
func redialPastFirst(ctx context.Context, r *run, rawURL string, o dualws.Options, text string) {
	r.markTrigger()
	rr, n := r.redial(ctx, rawURL, o, fastBackoff,
		func(i int, c *dualws.Client, err error) bool {
			switch {
			case err != nil:
				return true
			case i == 1:
				return r.untilEnd(ctx, c)
			}
			r.echoAndClose(ctx, c, text)
			return false
		})
	r.count("iterations", n)
	rr.checkDelays()
}

func (r *run) serverCount(ctx context.Context) {
	body, err := httpGet(ctx, httpBase(r.cfg.BaseURL)+"/redial?do=count&id="+r.id)
	if err != nil {
		r.fail(err.Error())
		return
	}
	n, err := strconv.Atoi(string(body))
	if err != nil {
		r.fail("redial count: " + err.Error())
		return
	}
	r.count("server_connections", n)
}

// control calls GET /redial?do=do for this run and returns the answer.
func (r *run) control(ctx context.Context, do string) (string, bool) {
	body, err := httpGet(ctx, httpBase(r.cfg.BaseURL)+"/redial?do="+do+"&id="+r.id)
	if err != nil {
		r.fail("redial " + do + ": " + err.Error())
		return "", false
	}
	return string(body), true
}

// redialRestart: the server's listener closes (the connection drops), a
// dial fails while it is down, and the client connects again once it
// listens on the same port.
func redialRestart(ctx context.Context, r *run) {
	addr, ok := r.control(ctx, "listen")
	if !ok {
		return
	}
	rawURL := "ws://" + addr + "/ws/echo?id=" + r.id
	rr, n := r.redial(ctx, rawURL, dualws.Options{}, fastBackoff, func(i int, c *dualws.Client, err error) bool {
		switch i {
		case 1:
			if err != nil {
				return false
			}
			if r.send(ctx, c, dualws.Text, []byte("before")) != nil || r.receive(ctx, c) != nil {
				return false
			}
			r.markTrigger()
			if _, ok := r.control(ctx, "down"); !ok {
				return false
			}
			return r.untilEnd(ctx, c)
		case 2:
			if err == nil {
				r.fail("the dial succeeded while the server was down")
				return false
			}
			_, ok := r.control(ctx, "up")
			return ok
		}
		if err == nil {
			r.echoAndClose(ctx, c, "after")
		}
		return false
	})
	r.count("iterations", n)
	rr.checkDelays()
	r.control(ctx, "down")
}

// redialBreak: the body breaks out with a working client; Redial dials no
// more and the client stays usable until the caller closes it.
func redialBreak(ctx context.Context, r *run) {
	var kept *dualws.Client
	_, n := r.redial(ctx, r.url("/ws/flaky", q("how", "drop")), dualws.Options{}, fastBackoff, func(i int, c *dualws.Client, err error) bool {
		kept = c
		return false
	})
	r.count("iterations", n)
	if kept == nil {
		return
	}
	r.fact("state_after_break", kept.State().String())
	r.markTrigger()
	r.echoAndClose(ctx, kept, "still mine")
	r.serverCount(ctx)
}

// redialCancel: ctx ends during a long backoff delay; the sequence ends at
// once.
func redialCancel(ctx context.Context, r *run) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := dualws.Options{OnRedial: func(_ int, delay time.Duration, _ error) {
		if delay == time.Hour {
			// Cancel while Redial waits.
			go func() {
				r.markTrigger()
				cancel()
			}()
		}
	}}
	bo := dualws.Backoff{Initial: -1, Min: time.Hour, Max: time.Hour} // no first delay, then an hour
	ended := make(chan int, 1)
	go func() {
		_, n := r.redial(rctx, r.url("/ws/flaky", q("n", "1000", "how", "drop")), opts, bo, func(int, *dualws.Client, error) bool { return true })
		ended <- n
	}()
	select {
	case n := <-ended:
		r.count("iterations", n)
		r.fact("ended_after_cancel", strconv.FormatBool(rctx.Err() != nil))
	case <-time.After(bodyGuard):
		r.fail("the Redial sequence did not end after its context was cancelled")
		cancel()
		<-ended
	}
}

// heartbeatBlackhole: the server goes silent; the heartbeat finds it dead
// in about Interval + Timeout.
func heartbeatBlackhole(ctx context.Context, r *run) {
	hb := fastHeartbeat()
	start := time.Now()
	c := r.dial(ctx, "/ws/blackhole", nil, dualws.Options{Heartbeat: hb})
	if c == nil {
		return
	}
	r.markTrigger()
	if !r.untilEnd(ctx, c) {
		return
	}
	r.fact("not_before_interval_plus_timeout", strconv.FormatBool(time.Since(start) >= hb.Interval+hb.Timeout))
	r.send(ctx, c, dualws.Text, []byte("after the heartbeat timeout"))
}

// heartbeatPingPong: the server answers every heartbeat; the connection
// stays OPEN over 10 intervals and Receive never sees a reply.
func heartbeatPingPong(ctx context.Context, r *run) {
	hb := fastHeartbeat()
	c := r.dial(ctx, "/ws/pingpong", nil, dualws.Options{Heartbeat: hb})
	if c == nil {
		return
	}
	select {
	case <-time.After(10 * hb.Interval):
	case <-c.Done():
	}
	r.fact("state_after_10_intervals", c.State().String())
	o, err := r.observed(ctx)
	if err != nil {
		r.fail(err.Error())
		return
	}
	r.fact("server_got_heartbeats", strconv.FormatBool(o.Messages > 0))
	r.note("server_got_messages", strconv.Itoa(o.Messages))
	r.markTrigger()
	// The first message Receive returns is the echo, not a "pong".
	r.echoAndClose(ctx, c, "hello")
}

// heartbeatRedial: the first server goes silent, the heartbeat ends that
// connection and Redial moves on to a working one.
func heartbeatRedial(ctx context.Context, r *run) {
	redialPastFirst(ctx, r, r.url("/ws/flaky", q("n", "1", "how", "blackhole")), dualws.Options{Heartbeat: fastHeartbeat()}, "moved on")
}
