package faults

// This file is the client's side of the cases: it compiles for both
// platforms, so that the same client programs run natively (RunCase) and
// in headless Chromium (the GOOS=js program in wasm/, driven by
// RunBrowser). The servers, which misbehave on raw TCP, stay native.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dualws/dualws"
)

// Program is the client's side of a case: its options and what it does.
// It is named, so that the browser runs it by name.
type Program struct {
	Name string
	// Options adjusts the client's options (which start from Base).
	Options func(*dualws.Options)
	// Client is the client program; nil: dial, then receive until the
	// connection ends, then wait for CLOSED.
	Client func(r *Run)
}

var programs = map[string]*Program{}

func program(p *Program) *Program {
	if programs[p.Name] != nil {
		panic("faults: program " + p.Name + " defined twice")
	}
	programs[p.Name] = p
	return p
}

// ProgramByName returns the program of that name, or nil.
func ProgramByName(name string) *Program { return programs[name] }

// Base returns the options every case starts from: small timeouts, so the
// suite runs in seconds.
//
// In the browser the handshake timeout is 3 s: a page's handshake also
// waits for Chromium's network process, which a loaded 2-core machine can
// delay past a second.
func Base() *dualws.Options {
	hs := time.Second
	if runtime.GOOS == "js" {
		hs = 3 * time.Second
	}
	return &dualws.Options{
		Subprotocols:     []string{"v1"},
		HandshakeTimeout: hs,
		CloseTimeout:     500 * time.Millisecond,
		PingInterval:     2 * time.Second,
		PingTimeout:      time.Second,
	}
}

// Run is one run of the client program.
type Run struct {
	URL    string
	Opts   *dualws.Options
	Client *dualws.Client // nil when Dial failed
	// DialErr is Dial's error.
	DialErr error
	// Received are the messages Receive returned, in order.
	Received [][]byte
	// RecvErr is the error that ended the receive loop.
	RecvErr error
	// SendErr and CloseErr are what the program's own Send and Close
	// returned, when it made them.
	SendErr, CloseErr error
	// Note collects facts the program wants checked or printed.
	Note string

	ctx     context.Context // ends at the case's watchdog
	start   time.Time
	elapsed time.Duration // Dial to CLOSED, or to Dial's error
	mu      sync.Mutex
	trace   []string
}

// NewRun prepares a run of p against url; ctx bounds the whole run.
func NewRun(ctx context.Context, p *Program, url string) *Run {
	opts := Base()
	if p != nil && p.Options != nil {
		p.Options(opts)
	}
	return &Run{URL: url, Opts: opts, ctx: ctx}
}

// Exec runs p's client program on r.
func (r *Run) Exec(p *Program) {
	if p == nil || p.Client == nil {
		receiveAndWait(r)
		return
	}
	p.Client(r)
}

// Dial dials with the case's options and records transitions.
func (r *Run) Dial() bool {
	r.Opts.OnStateChange = r.record
	r.start = time.Now()
	r.Client, r.DialErr = dualws.Dial(r.ctx, r.URL, r.Opts)
	if r.DialErr != nil {
		r.elapsed = time.Since(r.start)
		return false
	}
	return true
}

// ReceiveAll receives until Receive fails.
func (r *Run) ReceiveAll() {
	for i := 0; i < 1_000_000; i++ {
		_, b, err := r.Client.Receive(r.ctx)
		if err != nil {
			r.RecvErr = err
			return
		}
		r.Received = append(r.Received, b)
	}
}

// WaitClosed waits for CLOSED (at most until the watchdog) and records
// the time since Dial.
func (r *Run) WaitClosed() {
	select {
	case <-r.Client.Done():
		r.elapsed = time.Since(r.start)
	case <-r.ctx.Done():
	}
}

func (r *Run) record(ev dualws.StateChange) {
	s := ev.From.String() + ">" + ev.To.String()
	if ev.To >= dualws.Closing {
		s += fmt.Sprintf(" %d", int(ev.Status.Code))
		if ev.Status.WasClean {
			s += " clean"
		}
		if ev.Status.Remote {
			s += " remote"
		}
	}
	r.mu.Lock()
	r.trace = append(r.trace, s)
	r.mu.Unlock()
}

// Trace returns the transitions so far.
func (r *Run) Trace() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.trace)
}

// Observation is what a run showed, in a form that crosses from the
// browser as JSON: everything a case checks on the client.
type Observation struct {
	DialErr *ErrInfo `json:",omitempty"`
	// Trace is every transition, CONNECTING>OPEN included.
	Trace []string
	// Elapsed is Dial to CLOSED, or to Dial's error; 0: neither happened.
	Elapsed time.Duration
	// Closed: the client was CLOSED when the program ended; State is its
	// state then.
	Closed bool
	State  string
	// Status and StatusKnown are CloseStatus at the end.
	Status      dualws.CloseStatus
	StatusKnown bool
	// Received are the messages the program received: length and head.
	Received []Msg
	// RecvErr, SendErr and CloseErr are the program's own errors.
	RecvErr, SendErr, CloseErr *ErrInfo `json:",omitempty"`
	// SendAfter and ReceiveAfter are a Send after CLOSED and the Receive
	// after the queue was drained.
	SendAfter, ReceiveAfter *ErrInfo `json:",omitempty"`
	Note                    string   `json:",omitempty"`
}

// Msg is a received message: its length and its first bytes.
type Msg struct {
	Len  int
	Head string
}

// msgHead is how much of a message an Observation keeps.
const msgHead = 16

// ErrInfo describes an error.
type ErrInfo struct {
	Text string
	// CloseStatus is set for a *dualws.CloseError (which also matches
	// ErrClosed when Closed is true).
	CloseStatus *dualws.CloseStatus `json:",omitempty"`
	Closed      bool                `json:",omitempty"`
	// Dial is set for a *dualws.DialError.
	Dial *DialInfo `json:",omitempty"`
	// Deadline: errors.Is(err, context.DeadlineExceeded).
	Deadline bool `json:",omitempty"`
}

// DialInfo is a *dualws.DialError's fields.
type DialInfo struct {
	Reason     string
	HTTPStatus int
	Cause      string
}

func errInfo(err error) *ErrInfo {
	if err == nil {
		return nil
	}
	e := &ErrInfo{Text: err.Error(), Deadline: errors.Is(err, context.DeadlineExceeded)}
	var ce *dualws.CloseError
	if errors.As(err, &ce) {
		st := ce.Status
		e.CloseStatus = &st
		e.Closed = errors.Is(err, dualws.ErrClosed)
	}
	var de *dualws.DialError
	if errors.As(err, &de) {
		e.Dial = &DialInfo{Reason: de.Reason, HTTPStatus: de.HTTPStatus}
		if de.Err != nil {
			e.Dial.Cause = de.Err.Error()
		}
	}
	return e
}

// String describes the error for a report.
func (e *ErrInfo) String() string {
	if e == nil {
		return "nil"
	}
	return e.Text
}

// Observe records what the run showed once its program has ended. A
// client that is CLOSED is then asked to Send (which must fail with its
// status) and drained (Receive must then fail with it); one that is not
// is closed, so that nothing outlives the case.
func Observe(r *Run) *Observation {
	o := &Observation{
		DialErr: errInfo(r.DialErr), Trace: r.Trace(), Elapsed: r.elapsed,
		RecvErr: errInfo(r.RecvErr), SendErr: errInfo(r.SendErr), CloseErr: errInfo(r.CloseErr),
		Note: r.Note,
	}
	for _, m := range r.Received {
		o.Received = append(o.Received, Msg{Len: len(m), Head: string(m[:min(len(m), msgHead)])})
	}
	c := r.Client
	if c == nil {
		return o
	}
	o.State = c.State().String()
	select {
	case <-c.Done():
		o.Closed = true
	default:
		c.Close(dualws.StatusNormalClosure, "")
		return o
	}
	o.Status, o.StatusKnown = c.CloseStatus()
	o.SendAfter = errInfo(c.SendText(context.Background(), "after CLOSED"))
	for range 1_000_000 {
		if _, _, err := c.Receive(context.Background()); err != nil {
			o.ReceiveAfter = errInfo(err)
			break
		}
	}
	return o
}

// The client programs.

var (
	// receiveProgram dials, then receives until the connection ends.
	receiveProgram = program(&Program{Name: "receive"})
	// receiveFastPings is receiveProgram with a ping every 100 ms and a
	// 200 ms pong timeout.
	receiveFastPings = program(&Program{Name: "receive-fast-pings", Options: fastPings})
	// receiveNoPings is receiveProgram with keepalive off.
	receiveNoPings = program(&Program{Name: "receive-no-pings", Options: noPings})
	// receiveHeartbeat is receiveProgram with a fast Heartbeat and
	// keepalive off: the liveness check a browser can make.
	receiveHeartbeat = program(&Program{Name: "receive-heartbeat", Options: func(o *dualws.Options) {
		o.PingInterval = -1
		o.Heartbeat = &dualws.Heartbeat{Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond, Message: []byte("ping?")}
	}})
	// closeAtOnceProgram dials and closes with 1000.
	closeAtOnceProgram = program(&Program{Name: "close-at-once", Client: closeAtOnce})
	slowReader         = program(&Program{Name: "slow-reader", Client: func(r *Run) {
		if !r.Dial() {
			return
		}
		for i := 0; i < 1_000_000; i++ {
			if i%100 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			_, b, err := r.Client.Receive(r.ctx)
			if err != nil {
				r.RecvErr = err
				break
			}
			r.Received = append(r.Received, b)
		}
		r.WaitClosed()
	}})
	// send100MBDeadline sends 100 MB with a 300 ms deadline to a server
	// that does not read.
	send100MBDeadline = program(&Program{Name: "send-100MB-deadline", Options: noPings, Client: func(r *Run) {
		big := make([]byte, 100<<20)
		if !r.Dial() {
			return
		}
		ctx, cancel := context.WithTimeout(r.ctx, 300*time.Millisecond)
		r.SendErr = r.Client.Send(ctx, dualws.Binary, big)
		cancel()
		select {
		case <-r.Client.Done():
		case <-time.After(3 * time.Second):
			r.Note = "the Send's deadline did not end the connection (nothing written yet?); closing it"
			r.Client.Close(dualws.StatusNormalClosure, "")
		}
		r.WaitClosed()
	}})
	// send16MiBDeadline sends 16 MiB with a 300 ms deadline to a server
	// that does not read, then closes: in the browser the message is
	// queued at once and Send waits while more than 4 MiB is buffered.
	send16MiBDeadline = program(&Program{Name: "send-16MiB-deadline", Client: func(r *Run) {
		big := make([]byte, 16<<20)
		if !r.Dial() {
			return
		}
		ctx, cancel := context.WithTimeout(r.ctx, 300*time.Millisecond)
		defer cancel()
		sent := make(chan error, 1)
		go func() { sent <- r.Client.Send(ctx, dualws.Binary, big) }()
		select {
		case r.SendErr = <-sent:
			r.CloseErr = r.Client.Close(dualws.StatusNormalClosure, "")
		case <-time.After(2 * time.Second):
			// Close ends a stuck Send: the case ends, and says so.
			r.CloseErr = r.Client.Close(dualws.StatusNormalClosure, "")
			r.SendErr = <-sent
			r.Note = fmt.Sprintf("Send with a 300 ms deadline had not returned after 2 s (the deadline did not end its wait); after Close it returned %v", r.SendErr)
		}
		r.WaitClosed()
	}})
	// send100MBClose sends 100 MB to a server that does not read and
	// closes from another goroutine while the Send is stuck.
	send100MBClose = program(&Program{Name: "send-100MB-close", Client: sendStuckThenClose(100 << 20)})
	// send16MiBClose is send100MBClose with 16 MiB.
	send16MiBClose = program(&Program{Name: "send-16MiB-close", Client: sendStuckThenClose(16 << 20)})
	// queueBytes64KiB receives nothing for 300 ms with ReceiveQueueBytes
	// at 64 KiB, then receives up to 40 messages and closes.
	queueBytes64KiB = program(&Program{Name: "queue-bytes-64KiB",
		Options: func(o *dualws.Options) { o.ReceiveQueueBytes = 64 << 10 },
		Client: func(r *Run) {
			if !r.Dial() {
				return
			}
			// Receive nothing for a while: natively the client must not
			// close by itself.
			select {
			case <-r.Client.Done():
			case <-time.After(300 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(r.ctx, time.Second)
			for i := 0; i < 40; i++ {
				_, b, err := r.Client.Receive(ctx)
				if err != nil {
					r.RecvErr = err
					break
				}
				r.Received = append(r.Received, b)
			}
			cancel()
			r.CloseErr = r.Client.Close(dualws.StatusNormalClosure, "")
			r.WaitClosed()
		}})
	// send16MiB sends one 16 MiB message, checks that neither the Go heap
	// nor (in the browser) the page's array buffers keep it, sends 1 KiB,
	// checks again, and closes.
	send16MiB = program(&Program{Name: "send-16MiB", Client: func(r *Run) {
		if !r.Dial() {
			return
		}
		big := make([]byte, 16<<20)
		runtime.GC()
		before := heapNow()
		jsBefore, jsErr := backingStore()
		var notes []string
		kept := func(when string) {
			runtime.GC()
			if kept := heapNow() - before; kept > 4<<20 {
				notes = append(notes, fmt.Sprintf("%s: %.1f MiB of Go heap kept", when, float64(kept)/(1<<20)))
			}
			if jsNow, err := backingStore(); err != nil || jsErr != nil {
				notes = append(notes, fmt.Sprintf("%s: measuring the page's array buffers: %v %v", when, jsErr, err))
			} else if kept := jsNow - jsBefore; kept > 4<<20 {
				notes = append(notes, fmt.Sprintf("%s: %.1f MiB of array buffers kept in the page", when, float64(kept)/(1<<20)))
			}
		}
		r.SendErr = r.Client.Send(r.ctx, dualws.Binary, big)
		runtime.KeepAlive(big)
		big = nil
		kept("after the 16 MiB Send")
		if err := r.Client.Send(r.ctx, dualws.Binary, make([]byte, 1024)); err != nil && r.SendErr == nil {
			r.SendErr = err
		}
		kept("after a 1 KiB Send that followed")
		r.Note = strings.Join(notes, "; ")
		r.CloseErr = r.Client.Close(dualws.StatusNormalClosure, "")
		r.WaitClosed()
	}})
)

// BackingStore, when set (by the browser program), returns the bytes of
// the page's array buffers after a full garbage collection, as the
// browser counts them (CDP Runtime.getHeapUsage's backingStorageSize).
var BackingStore func() (int64, error)

func backingStore() (int64, error) {
	if BackingStore == nil {
		return 0, nil
	}
	return BackingStore()
}

// receiveAndWait is the default client program.
func receiveAndWait(r *Run) {
	if !r.Dial() {
		return
	}
	r.ReceiveAll()
	r.WaitClosed()
}

// sendStuckThenClose sends size bytes to a server that does not read and
// closes from another goroutine while the Send is stuck.
func sendStuckThenClose(size int) func(r *Run) {
	return func(r *Run) {
		big := make([]byte, size)
		if !r.Dial() {
			return
		}
		sent := make(chan error, 1)
		go func() { sent <- r.Client.Send(context.Background(), dualws.Binary, big) }()
		for i := 0; i < 500 && r.Client.BufferedAmount() == 0; i++ {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the write is blocked by now
		if n := r.Client.BufferedAmount(); n <= 4<<20 {
			r.Note = fmt.Sprintf("the Send was not stuck when Close was called (BufferedAmount %d)", n)
		}
		r.CloseErr = r.Client.Close(dualws.StatusNormalClosure, "")
		r.SendErr = <-sent
		r.WaitClosed()
	}
}

// closeAtOnce dials and closes with 1000.
func closeAtOnce(r *Run) {
	if !r.Dial() {
		return
	}
	r.CloseErr = r.Client.Close(dualws.StatusNormalClosure, "")
	r.ReceiveAll()
	r.WaitClosed()
}

func fastPings(o *dualws.Options) {
	o.PingInterval = 100 * time.Millisecond
	o.PingTimeout = 200 * time.Millisecond
}

func noPings(o *dualws.Options) { o.PingInterval = -1 }

func heapNow() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
