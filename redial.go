package dualws

import (
	"context"
	"errors"
	"iter"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults of Backoff, used when a field is zero.
const (
	DefaultBackoffInitial = time.Second
	DefaultBackoffMin     = time.Second
	DefaultBackoffMax     = 30 * time.Second
	DefaultBackoffFactor  = 1.618
)

// quickClose is how soon after opening a peer's close counts as a failed
// attempt, retried whatever its code (unless the code says stop).
const quickClose = 5 * time.Second

// Redial connects to url again and again. Each iteration yields a connected
// client, or the error of a failed attempt. The next Dial starts only once
// the previous client is CLOSED and the backoff delay has passed. The
// sequence ends when ctx is done, when the loop body breaks, or when the
// last outcome must not be retried.
//
//	for c, err := range dualws.Redial(ctx, url, opts) {
//		if err != nil {
//			continue // a failed attempt; Redial decides whether to retry
//		}
//		for {
//			_, msg, err := c.Receive(ctx)
//			if err != nil {
//				break // closed: Redial waits for CLOSED, then dials again
//			}
//			handle(msg)
//		}
//	}
//
// Redial dials again after a failed Dial that reports the connection
// refused or failed, the handshake timed out, or HTTP 5xx or 429, and after
// a connection that ended with 1001, 1006 (dropped, or a keepalive,
// heartbeat or close timeout), 1011, 1012 or 1013. It stops after the
// application's own Close (a CLOSING with Remote false and a code the
// application may send), a *UsageError, another HTTP status, and a close
// with 1000 from the peer, 1002, 1003, 1007, 1008, 1009, 1010 or
// 4000–4999. Any other code is retried when the peer closed within 5 s of
// opening, else it stops. Options.Retry, if set, decides instead, for
// every outcome.
//
// Delays follow Options.Backoff: the first is uniform in [0, Initial], the
// second is Min, then each grows by Factor up to Max. After a connection
// that stayed OPEN for at least Max the sequence starts again from
// Initial. Options.OnRedial is called before each delay, on the goroutine
// that ranges over the sequence.
//
// When the body returns (continue) while its client is still open, Redial
// waits for that client to reach CLOSED before it dials again. Natively
// its reading then pauses only at ReceiveQueueBytes, not at ReceiveQueue
// messages, so that the reader reaches a close behind messages nobody
// receives; past ReceiveQueueBytes not received it still waits for a
// Receive (or the keepalive's timeout). If ctx ends meanwhile, Redial
// closes the client with 1000 (which waits at most CloseTimeout for the
// peer's answer) and the sequence ends.
// When the body breaks, Redial returns at once and dials no more; the
// client of that iteration stays the caller's, open or not, and the caller
// closes it (this makes "dial until it works, then keep the connection" a
// loop with a break). When ctx ends during a Dial or a delay, the sequence
// ends without yielding that attempt; ctx.Err says why.
//
// In the browser the failure of a Dial is never explained (the browser
// hides the HTTP status and the cause), so a rejected handshake, 4xx
// included, is retried as "connection failed". Firefox also delays a dial
// to a host and port whose connections failed before opening (up to 60 s,
// its pref network.websocket.delay-failed-reconnects), so there the delays
// are at least the browser's. Range over Redial from a goroutine, never
// from a js.Func callback.
func Redial(ctx context.Context, url string, opts *Options) iter.Seq2[*Client, error] {
	return func(yield func(*Client, error) bool) {
		var base Options
		if opts != nil {
			base = *opts
		}
		bo := base.Backoff.settings()
		// dials counts the Dial calls since the backoff last started over.
		dials := 0
		for {
			dials++
			rec := &lifetime{}
			o := base
			user := base.OnStateChange
			o.OnStateChange = func(ev StateChange) {
				rec.observe(ev)
				if user != nil {
					user(ev)
				}
			}
			c, err := Dial(ctx, url, &o)
			if err != nil && ctx.Err() != nil {
				return
			}
			if !yield(c, err) {
				return
			}
			out := outcome{err: err}
			if c != nil {
				c.handedBack()
				select {
				case <-c.Done():
				case <-ctx.Done():
					c.Close(StatusNormalClosure, "")
					return
				}
				final, _ := c.CloseStatus()
				out = rec.outcome(final)
			}
			if ctx.Err() != nil || !shouldRetry(base.Retry, out) {
				return
			}
			if c != nil && out.openFor >= bo.max {
				dials = 1 // a connection, not a failed Dial, that stayed OPEN Max
			}
			delay := bo.delay(dials, rand.Int64N)
			if base.OnRedial != nil {
				base.OnRedial(dials+1, delay, out.lastError())
			}
			if !sleep(ctx, delay) {
				return
			}
		}
	}
}

// outcome is how one attempt of Redial ended: a failed Dial (err), or a
// client that reached CLOSED.
type outcome struct {
	err error
	// status is the status that ended the connection: the CLOSING
	// transition's when there was one (the reason the close started),
	// else the CLOSED transition's.
	status CloseStatus
	// final is the client's final status.
	final CloseStatus
	// openFor is how long the connection stayed OPEN.
	openFor time.Duration
}

// lastError is the error OnRedial reports for the outcome.
func (o outcome) lastError() error {
	if o.err != nil {
		return o.err
	}
	return &CloseError{Status: o.final}
}

// shouldRetry applies retry, if set, else the default rule.
func shouldRetry(retry func(CloseStatus, error) bool, o outcome) bool {
	if retry != nil {
		if o.err != nil {
			return retry(CloseStatus{}, o.err)
		}
		return retry(o.final, nil)
	}
	return retryable(o)
}

// retryable is Redial's default rule (documented on Redial): whether an
// outcome is worth another Dial.
func retryable(o outcome) bool {
	if o.err != nil {
		var de *DialError
		if !errors.As(o.err, &de) {
			return false // a *UsageError, or anything unexpected
		}
		switch s := de.HTTPStatus; {
		case s == 429 || (s >= 500 && s <= 599):
			return true
		case s != 0:
			return false
		}
		switch de.Reason {
		case "connection refused", "connection failed", "handshake timed out":
			return true
		}
		return false
	}
	st := o.status
	if !st.Remote && validateClose(st.Code, "") == nil {
		return false // the application's own Close
	}
	switch st.Code {
	case StatusGoingAway, StatusAbnormalClosure, StatusInternalError, StatusServiceRestart, StatusTryAgainLater:
		return true
	case StatusNormalClosure, StatusProtocolError, StatusUnsupportedData, StatusInvalidFramePayloadData,
		StatusPolicyViolation, StatusMessageTooBig, StatusMandatoryExtension:
		return false
	}
	if st.Code >= 4000 && st.Code <= 4999 {
		return false
	}
	return o.openFor < quickClose
}

// lifetime records, from OnStateChange, when a client opened and how its
// close started.
type lifetime struct {
	mu       sync.Mutex
	openedAt time.Time
	endedAt  time.Time
	status   CloseStatus
	ended    bool
}

func (l *lifetime) observe(ev StateChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case ev.To == Open:
		l.openedAt = ev.At
	case !l.ended && (ev.To == Closing || ev.To == Closed):
		l.ended, l.endedAt, l.status = true, ev.At, ev.Status
	}
}

// outcome describes the client observed, now CLOSED with final.
func (l *lifetime) outcome(final CloseStatus) outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	o := outcome{status: final, final: final}
	// The close that started it decides, unless the client failed locally
	// (keepalive or heartbeat timeout) with a status of its own: that one
	// wins even if a close frame went out first.
	localFailure := final.Code == StatusAbnormalClosure && !final.Remote && final.Reason != "close timeout"
	if l.ended && !localFailure {
		o.status = l.status
	}
	if !l.openedAt.IsZero() && l.endedAt.After(l.openedAt) {
		o.openFor = l.endedAt.Sub(l.openedAt)
	}
	return o
}

// backoff is a Backoff with its defaults applied.
type backoff struct {
	initial, min, max time.Duration
	factor            float64
}

// settings applies the defaults: a zero field takes its default, a
// negative duration means 0, a Factor below 1 means 1.
func (b *Backoff) settings() backoff {
	var s backoff
	if b != nil {
		s = backoff{initial: b.Initial, min: b.Min, max: b.Max, factor: b.Factor}
	}
	s.initial = durationOr(s.initial, DefaultBackoffInitial)
	s.min = durationOr(s.min, DefaultBackoffMin)
	s.max = durationOr(s.max, DefaultBackoffMax)
	switch {
	case s.factor == 0:
		s.factor = DefaultBackoffFactor
	case s.factor < 1 || s.factor != s.factor: // NaN too
		s.factor = 1
	}
	return s
}

func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// delay returns the wait after the n-th Dial since the backoff started over
// (n ≥ 1): uniform in [0, initial] for n = 1 (rnd(k) returns a number in
// [0, k)), min for n = 2, then min·factor^(n-2), never above max.
func (b backoff) delay(n int, rnd func(int64) int64) time.Duration {
	if n <= 1 {
		d := time.Duration(0)
		if k := min(b.initial, b.max); k > 0 {
			d = time.Duration(rnd(int64(min(k, math.MaxInt64-1)) + 1)) // +1 must not overflow
		}
		return d
	}
	// In float64 throughout: truncating to whole nanoseconds at each step
	// stalled the growth of a Min below 1/(Factor-1) ns (Min: 1 stayed at
	// 1 ns).
	d := float64(b.min)
	for i := 2; i < n && d < float64(b.max) && d > 0 && b.factor > 1; i++ {
		d *= b.factor
	}
	if d >= float64(b.max) {
		return b.max
	}
	return time.Duration(d)
}

// sleep waits d on a timer; it returns false at once when ctx ends.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
