//go:build !js

package faults

import (
	"bufio"
	"context"
	"fmt"
	"github.com/dualws/dualws/internal/engine"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dualws/dualws"
	"go.uber.org/goleak"
)

// Case is one fault.
type Case struct {
	Name   string
	Group  string // handshake, framing, closing, liveness, abrupt, resources
	Defect int    // the defect of issue 9 this case reproduces, or 0
	// Promise is what RFC 6455 or the README promises here.
	Promise string
	// Program is the client's side (program.go); nil: receiveProgram.
	Program *Program
	// Server handles each accepted connection.
	Server func(p *Peer) error
	Want   Want
	// Browser is the case in headless Chromium.
	Browser Browser
}

// Browser says how a case runs in headless Chromium.
type Browser struct {
	// NA, when set, says why a script cannot observe the case: it does
	// not run in the browser and is not counted.
	NA string
	// Program, if set, replaces the case's program in the browser.
	Program *Program
	// Want, if set, replaces the native Want in the browser, for a
	// difference by nature that Why states.
	Want *Want
	Why  string
	// Abandons: the client abandons its socket by design (scripts cannot
	// abort a WebSocket; the browser ends it on its own time), so the
	// server does not wait for the client to close it.
	Abandons bool
	// Firefox and WebKit, when set, replace all of the above in that
	// engine (EngineRunner), where it shows scripts something other than
	// Chromium does; Why says what.
	Firefox, WebKit *Browser
}

// in returns what applies in engine e: its override, if any, else b.
func (b Browser) in(e engine.Name) Browser {
	switch {
	case e == engine.Firefox && b.Firefox != nil:
		return *b.Firefox
	case e == engine.WebKit && b.WebKit != nil:
		return *b.WebKit
	}
	return b
}

// Want is the expected outcome.
type Want struct {
	// DialReason, when set, means Dial must fail with a *dualws.DialError
	// of this Reason, HTTPStatus and a cause containing DialCause.
	DialReason string
	HTTPStatus int
	DialCause  string

	// Trace is the transitions after CONNECTING>OPEN, as
	// "FROM>TO code [clean] [remote]".
	Trace []string
	// Reason is the final close reason; "*" means any.
	Reason string
	// Messages is how many messages the client received; -1: any.
	Messages int
	// ServerSaw is the close code the server must read from the client;
	// 0: not checked, -1: none.
	ServerSaw int
	// Requests is how many HTTP requests the server must see; 0: not checked.
	Requests int
	// Within bounds the time from Dial to CLOSED (or to Dial's error):
	// a check that nothing hangs, generous on purpose. Default 5s.
	Within time.Duration
	// HeapMiB bounds the peak heap growth during the case. Default 64.
	// Native only.
	HeapMiB int
	// Check, if set, adds checks; it returns the problems found.
	Check func(o *Observation) []string
	// Or, when set, is another outcome accepted: the engine's timing
	// decides between them (Why says how).
	Or *Want
}

// Result is a case's outcome on one platform.
type Result struct {
	Case     *Case
	Problems []string      // empty: passed
	Summary  string        // what happened, one line
	Elapsed  time.Duration // Dial to CLOSED or to Dial's error
	PeakHeap int64         // peak heap growth in bytes
	// Observation is what the client observed (nil when it did not end),
	// ServerSaw the first close code the server read (-1 none).
	Observation *Observation `json:",omitempty"`
	ServerSaw   int
	// Events is the page's log of its WebSocket (EngineRunner only).
	Events []string `json:",omitempty"`
	// Rerun says why the case ran twice (EngineRunner only: a page that
	// did not report at all); the result is the second run's.
	Rerun string `json:",omitempty"`
	lost  error  // the first run's errPageLost
}

// OK reports whether the case passed.
func (r *Result) OK() bool { return len(r.Problems) == 0 }

// watchdog bounds a whole case (or twice its Within, if more): a client
// that has not ended by then hung.
const watchdog = 20 * time.Second

// RunCase runs one case natively and checks it. Cases must run one at a
// time: goroutines and sockets are counted for the whole process.
func RunCase(c *Case) *Result {
	res := &Result{Case: c}
	leakOpt := goleak.IgnoreCurrent()
	socketsBefore := countSockets()
	heap := startHeapSampler()

	cs, err := newCaseServer(c)
	if err != nil {
		res.Problems = append(res.Problems, "starting the server: "+err.Error())
		heap.stop()
		return res
	}
	limit := max(watchdog, 2*c.Want.Within)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	r := NewRun(ctx, c.Program, cs.url())
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		r.Exec(c.Program)
	}()
	select {
	case <-ended:
	case <-ctx.Done():
		res.Problems = append(res.Problems, fmt.Sprintf("hung: the client program had not ended after %v", limit))
	}
	<-ended
	obs := Observe(r)
	close(cs.clientDone)
	res.Problems = append(res.Problems, cs.finish(&leakOpt, 3*time.Second, false)...)
	cancel()
	res.Elapsed = obs.Elapsed
	res.Observation, res.ServerSaw = obs, cs.closeSeen()
	res.PeakHeap = heap.stop()
	res.Problems = append(res.Problems, check(c.Want, obs, cs, res)...)
	heapMiB := c.Want.HeapMiB
	if heapMiB == 0 {
		heapMiB = 64
	}
	if res.PeakHeap > int64(heapMiB)<<20 {
		res.Problems = append(res.Problems, fmt.Sprintf("peak heap grew by %.1f MiB, more than %d MiB", float64(res.PeakHeap)/(1<<20), heapMiB))
	}
	if err := goleak.Find(leakOpt); err != nil {
		res.Problems = append(res.Problems, "goroutines left: "+leakSummary(err))
	}
	if n := waitSockets(socketsBefore); n > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d socket(s) left open in the process", n))
	}
	return res
}

// check compares an observation (native or from the browser) and what
// the server saw with w. It sets res.Summary.
func check(w Want, o *Observation, cs *caseServer, res *Result) []string {
	p := checkOne(w, o, cs, res)
	if len(p) > 0 && w.Or != nil {
		if alt := check(*w.Or, o, cs, res); len(alt) == 0 {
			return nil
		}
	}
	return p
}

// checkOne checks o against w alone.
func checkOne(w Want, o *Observation, cs *caseServer, res *Result) []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	within := w.Within
	if within == 0 {
		within = 5 * time.Second
	}
	if o.Elapsed == 0 {
		bad("never reached CLOSED (or Dial's end)")
	} else if o.Elapsed > within {
		bad("took %v to end, more than the %v bound", o.Elapsed.Round(time.Millisecond), within)
	}
	if w.Requests != 0 && cs.requests() != w.Requests {
		bad("the server saw %d HTTP requests (%s), want %d", cs.requests(), strings.Join(cs.paths(), " "), w.Requests)
	}
	if got := cs.closeSeen(); w.ServerSaw != 0 && got != w.ServerSaw {
		if w.ServerSaw == -1 {
			bad("the server read a close frame with %d from the client, want none", got)
		} else if got == -1 {
			bad("the server read no close frame from the client, want %d", w.ServerSaw)
		} else {
			bad("the server read close code %d from the client, want %d", got, w.ServerSaw)
		}
	}

	if w.DialReason != "" {
		switch de := o.DialErr; {
		case de == nil:
			bad("Dial succeeded (trace %q), want a *DialError %q", o.Trace, w.DialReason)
		case de.Dial == nil:
			bad("Dial returned %v, want a *DialError", de)
		default:
			res.Summary = fmt.Sprintf("DialError %q", de.Dial.Reason)
			if de.Dial.HTTPStatus != 0 {
				res.Summary += fmt.Sprintf(" HTTP %d", de.Dial.HTTPStatus)
			}
			if de.Dial.Reason != w.DialReason {
				bad("DialError reason %q, want %q (%v)", de.Dial.Reason, w.DialReason, de)
			}
			if de.Dial.HTTPStatus != w.HTTPStatus {
				bad("DialError HTTPStatus %d, want %d", de.Dial.HTTPStatus, w.HTTPStatus)
			}
			if w.DialCause != "" && !strings.Contains(de.Dial.Cause, w.DialCause) {
				bad("DialError cause %q does not say %q", de.Dial.Cause, w.DialCause)
			}
		}
		return append(p, checkExtra(w, o)...)
	}

	if o.DialErr != nil {
		bad("Dial failed: %v", o.DialErr)
		return p
	}
	if !o.Closed {
		bad("the client is not CLOSED (state %v)", o.State)
		return p
	}
	st := o.Status
	trace := o.Trace
	if len(trace) > 0 && trace[0] == "CONNECTING>OPEN" {
		trace = trace[1:]
	} else {
		bad("the first transition is %q, want CONNECTING>OPEN", trace)
	}
	res.Summary = strings.Join(trace, ", ")
	if reason := st.Reason; reason != "" {
		if len(reason) > 24 {
			reason = reason[:24] + "..."
		}
		res.Summary += fmt.Sprintf(" %q", reason)
	}
	if !slices.Equal(trace, w.Trace) {
		bad("transitions %q, want %q", trace, w.Trace)
	}
	if !o.StatusKnown {
		bad("CloseStatus is not known after CLOSED")
	}
	if w.Reason != "*" && st.Reason != w.Reason {
		bad("close reason %q, want %q", st.Reason, w.Reason)
	}
	if w.Messages >= 0 && len(o.Received) != w.Messages {
		bad("received %d messages, want %d", len(o.Received), w.Messages)
	}
	// The README's promise for every program shape: after the close, Send
	// sends nothing and returns a *CloseError with the final status, and
	// Receive returns it once the queue is drained.
	if !isCloseErrorWith(o.SendAfter, st) {
		bad("Send after CLOSED returned %v, want a *CloseError with %+v", o.SendAfter, st)
	}
	if o.RecvErr != nil && !o.RecvErr.Closed {
		bad("the receive loop ended with %v, want a *CloseError", o.RecvErr)
	}
	if !isCloseErrorWith(o.ReceiveAfter, st) {
		bad("Receive after CLOSED returned %v, want a *CloseError with %+v", o.ReceiveAfter, st)
	}
	return append(p, checkExtra(w, o)...)
}

func checkExtra(w Want, o *Observation) []string {
	if w.Check == nil {
		return nil
	}
	return w.Check(o)
}

func isCloseErrorWith(e *ErrInfo, st dualws.CloseStatus) bool {
	return e != nil && e.Closed && e.CloseStatus != nil && *e.CloseStatus == st
}

// leakSummary names each leaked goroutine by what created it.
func leakSummary(err error) string {
	var created []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(line), "created by "); ok {
			created = append(created, f)
		}
	}
	if len(created) == 0 {
		return err.Error()
	}
	return fmt.Sprintf("%d, created by: %s", len(created), strings.Join(created, "; "))
}

// caseServer is the raw TCP server of one case.
type caseServer struct {
	c          *Case
	ln         *net.TCPListener
	clientDone chan struct{}
	wg         sync.WaitGroup

	mu      sync.Mutex
	peers   []*Peer
	reqs    []string
	closeBy int // first close code read from the client; -1 none
}

func newCaseServer(c *Case) (*caseServer, error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	cs := &caseServer{c: c, ln: ln, clientDone: make(chan struct{}), closeBy: -1}
	cs.wg.Go(cs.accept)
	return cs, nil
}

func (cs *caseServer) accept() {
	for {
		conn, err := cs.ln.AcceptTCP()
		if err != nil {
			return
		}
		p := &Peer{conn: conn, br: bufio.NewReader(conn), cs: cs, ClientDone: cs.clientDone}
		cs.mu.Lock()
		cs.peers = append(cs.peers, p)
		cs.mu.Unlock()
		cs.wg.Go(func() {
			if err := cs.c.Server(p); err != nil {
				p.mu.Lock()
				p.endedBy = "server error: " + err.Error()
				p.mu.Unlock()
			}
			p.hold()
		})
	}
}

// finish waits (at most wait) for the client to close every connection
// the server left open, then closes everything. It returns the sockets
// the client left, unless abandoned says the client leaves them by design.
//
// With leakOpt, while a connection is still open, the goroutines behind
// it are listed too: closing the server's side would end them before the
// final check.
func (cs *caseServer) finish(leakOpt *goleak.Option, wait time.Duration, abandoned bool) []string {
	cs.ln.Close()
	done := make(chan struct{})
	go func() { cs.wg.Wait(); close(done) }()
	var problems []string
	select {
	case <-done:
	case <-time.After(wait):
		if leakOpt == nil {
			break
		}
		err := goleak.Find(*leakOpt,
			goleak.IgnoreAnyFunction("github.com/dualws/dualws/testserver/faults.(*caseServer).accept.func1"),
			goleak.IgnoreAnyFunction("github.com/dualws/dualws/testserver/faults.(*caseServer).finish.func1"),
			goleak.IgnoreAnyFunction("github.com/dualws/dualws/testserver/faults.startHeapSampler.func1"))
		if err != nil {
			problems = append(problems, "goroutines left while a socket was open: "+leakSummary(err))
		}
	}
	cs.mu.Lock()
	peers := slices.Clone(cs.peers)
	cs.mu.Unlock()
	for i, p := range peers {
		p.mu.Lock()
		closed, by := p.closed, p.endedBy
		p.mu.Unlock()
		if !closed && by != "client" && !abandoned {
			if by == "" {
				by = "still open"
			}
			problems = append(problems, fmt.Sprintf("connection %d: the client did not close its socket (%s)", i+1, by))
		}
		p.conn.Close()
	}
	<-done
	return problems
}

func (cs *caseServer) url() string { return "ws://" + cs.ln.Addr().String() + "/ws" }

func (cs *caseServer) countRequest(path string) {
	cs.mu.Lock()
	cs.reqs = append(cs.reqs, path)
	cs.mu.Unlock()
}

func (cs *caseServer) requests() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.reqs)
}

func (cs *caseServer) paths() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Clone(cs.reqs)
}

func (cs *caseServer) sawClose(code int) {
	cs.mu.Lock()
	if cs.closeBy == -1 {
		cs.closeBy = code
	}
	cs.mu.Unlock()
}

func (cs *caseServer) closeSeen() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.closeBy
}

// countSockets counts the process's open sockets (Linux); -1 elsewhere.
func countSockets() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// waitSockets waits up to 2s for the socket count to fall back to before
// and returns how many more there are.
func waitSockets(before int) int {
	if before < 0 {
		return 0
	}
	extra := 0
	for i := 0; i < 100; i++ {
		if extra = countSockets() - before; extra <= 0 {
			return 0
		}
		time.Sleep(20 * time.Millisecond)
	}
	return extra
}

// heapSampler records the peak of the live heap above its value at start.
type heapSampler struct {
	base int64
	peak int64
	quit chan struct{}
	done chan struct{}
}

func startHeapSampler() *heapSampler {
	runtime.GC()
	h := &heapSampler{base: heapNow(), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := heapNow() - h.base; v > h.peak {
				h.peak = v
			}
			select {
			case <-t.C:
			case <-h.quit:
				return
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() int64 {
	close(h.quit)
	<-h.done
	return h.peak
}
