//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/dualws/dualws"
)

// slack is how long after the close's arrival a Send may still be
// accepted: the time for the client to see the bytes that reached its
// machine.
const slack = 3 * time.Millisecond

// judge is what an accepted Send's start is measured against.
type judge int

const (
	byArrival  judge = iota // the close reached the relay (left the server's kernel)
	byDelivery              // the relay's Write carrying the close returned
	byWrite                 // the server was about to write the close
	judges                  // how many
)

func (j judge) String() string {
	return [judges]string{"arrival", "delivery", "write stamp"}[j]
}

// stamp returns the record's time for judge j.
func (r record) stamp(j judge) int64 {
	return [judges]int64{r.Arrive, r.Deliver, r.Write}[j]
}

// sending is how the client sends.
type sending struct {
	backToBack bool          // no pause between Sends (else one every 100 µs)
	delay      time.Duration // the first Send waits a uniform random time in [0, delay)
	limit      time.Duration // a run stops sending after this long
}

// runResult is one run's verdict.
type runResult struct {
	sends int
	late  [judges]int      // accepted Sends that started slack or more after the stamp
	worst [judges]lateness // of the accepted Sends
	diag  string           // where the close was when the first arrival-late Send started
	err   string           // why the run could not be judged (fully)
}

// lateness is the latest start of an accepted Send after a stamp (negative:
// before it); ok is false while no Send was accepted.
type lateness struct {
	d  time.Duration
	ok bool
}

func (l *lateness) add(d time.Duration) {
	if !l.ok || d > l.d {
		l.d, l.ok = d, true
	}
}

func (l lateness) String() string {
	if !l.ok {
		return "-"
	}
	return fmt.Sprintf("%+.2fms", float64(l.d)/1e6)
}

// runOnce dials the shape through the relay, receives while it Sends until
// a Send fails, and judges every Send against the relay's record.
func runOnce(ctx context.Context, sh shape, relayAddr, controlAddr string, how sending) runResult {
	c, err := dualws.Dial(ctx, "ws://"+relayAddr+"/"+sh.key, &dualws.Options{ReadLimit: -1, ReceiveQueue: sh.receiveQueue})
	if err != nil {
		return runResult{err: err.Error()}
	}
	var draining atomic.Bool // the sender is done: receive without pauses
	received := make(chan struct{})
	go func() {
		defer close(received)
		for i := 0; ; i++ {
			if _, _, err := c.Receive(ctx); err != nil {
				return
			}
			if sh.pause != nil && !draining.Load() {
				sh.pause(i)
			}
		}
	}()

	if how.delay > 0 {
		time.Sleep(rand.N(how.delay))
	}
	type send struct {
		start int64
		ok    bool
	}
	sends := make([]send, 0, 1<<16) // no growth while sending, mostly
	msg := make([]byte, 16)
	t0 := time.Now()
	next := t0
	for {
		start := time.Now()
		ok := c.Send(ctx, dualws.Binary, msg) == nil
		sends = append(sends, send{start.UnixNano(), ok})
		if !ok || time.Since(t0) > how.limit {
			break
		}
		if how.backToBack {
			continue
		}
		// The next Send 100 µs after this one's slot: sleep while that is
		// far off (a sleep can overshoot by 100 µs or more), then yield.
		next = next.Add(100 * time.Microsecond)
		d := time.Until(next)
		if d <= 0 {
			next = time.Now()
			continue
		}
		if d > 300*time.Microsecond {
			time.Sleep(d - 200*time.Microsecond)
		}
		for time.Now().Before(next) {
			runtime.Gosched()
		}
	}
	draining.Store(true)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		c.Close(dualws.StatusNormalClosure, "")
	}
	<-received

	res := runResult{sends: len(sends)}
	if sends[len(sends)-1].ok {
		res.err = fmt.Sprintf("Send still accepted %v in; ", how.limit)
	}
	rec, err := fetchRecord(ctx, controlAddr)
	if err != nil {
		res.err += err.Error()
		return res
	}
	for j := range judges {
		t := rec.stamp(j)
		if t == 0 {
			res.err += "no " + j.String() + " stamp; "
			continue
		}
		for _, s := range sends {
			if !s.ok {
				continue
			}
			d := time.Duration(s.start - t)
			res.worst[j].add(d)
			if d < slack {
				continue
			}
			if res.late[j]++; j == byArrival && res.late[j] == 1 {
				res.diag = fmt.Sprintf("first late Send started %.3fms after the close arrived (written %+.3fms, delivered %+.3fms from its arrival); the close then: %s",
					float64(d)/1e6, ms(rec.Write-rec.Arrive), ms(rec.Deliver-rec.Arrive), where(rec, s.start))
			}
		}
	}
	return res
}

// ms converts nanoseconds to milliseconds.
func ms(ns int64) float64 { return float64(ns) / 1e6 }

// fetchRecord asks the child for the newest connection's record.
func fetchRecord(ctx context.Context, controlAddr string) (record, error) {
	var rec record
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+controlAddr+"/last", nil)
	if err != nil {
		return rec, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rec, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return rec, fmt.Errorf("control endpoint: %s", resp.Status)
	}
	return rec, json.NewDecoder(resp.Body).Decode(&rec)
}

// where tells, from the relay's record, where the close was at time t.
func where(r record, t int64) string {
	if r.Deliver != 0 && r.Deliver <= t {
		unsent := 0
		for _, w := range r.Writes {
			if w.End <= t {
				unsent = w.Unsent
			}
		}
		if unsent > 0 {
			return fmt.Sprintf("handed to the client-facing socket %.3fms before, %d B unacknowledged after the relay's last write (the client's window closing)", ms(t-r.Deliver), unsent)
		}
		return fmt.Sprintf("handed to the client-facing socket %.3fms before, all acknowledged: in the client's socket", ms(t-r.Deliver))
	}
	for _, w := range r.Writes {
		if w.Start <= t && t < w.End {
			return fmt.Sprintf("in the relay's memory, its write blocked for %.3fms (the client's window closed)", ms(t-w.Start))
		}
	}
	if r.HandStart != 0 && r.HandStart <= t {
		return "being written to the client by the relay"
	}
	var last int64
	for _, w := range r.Writes {
		if w.End <= t {
			last = w.End
		}
	}
	return fmt.Sprintf("in the relay's memory, the relay not scheduled since its last write %.3fms before", ms(t-last))
}
