// Package faults is dualws's fault suite: a raw-TCP server that performs
// the WebSocket upgrade by hand and then misbehaves on request, and a
// table of cases, each stating what RFC 6455 or the README promises and
// checking what the client did: its transitions and close status, the
// errors from Dial, Send and Receive, that it reached CLOSED in bounded
// time (a "did not hang" check, not a speed measurement), that no
// goroutine and no socket outlived it, and its peak heap.
//
// The client is driven through dualws's public API only. `make faults`
// runs the table (testserver/faults/cmd/faults); `go test` runs it too.
package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
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
	// Options adjusts the client's options (which start from Base).
	Options func(*dualws.Options)
	// Server handles each accepted connection.
	Server func(p *Peer) error
	// Client is the client program; nil: dial, then receive until the
	// connection ends (Receive).
	Client func(r *Run)
	Want   Want
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
	HeapMiB int
	// Check, if set, adds checks; it returns the problems found.
	Check func(r *Run) []string
}

// Base returns the options every case starts from: small timeouts, so the
// suite runs in seconds.
func Base() *dualws.Options {
	return &dualws.Options{
		Subprotocols:     []string{"v1"},
		HandshakeTimeout: time.Second,
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
	// Note collects facts the program wants printed.
	Note string

	ctx     context.Context // ends at the case's watchdog
	start   time.Time
	elapsed time.Duration // Dial to CLOSED, or to Dial's error
	mu      sync.Mutex
	trace   []string
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

// receiveAndWait is the default client program.
func receiveAndWait(r *Run) {
	if !r.Dial() {
		return
	}
	r.ReceiveAll()
	r.WaitClosed()
}

// Result is a case's outcome on one platform.
type Result struct {
	Case     *Case
	Problems []string      // empty: passed
	Summary  string        // what happened, one line
	Elapsed  time.Duration // Dial to CLOSED or to Dial's error
	PeakHeap int64         // peak heap growth in bytes
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
	opts := Base()
	if c.Options != nil {
		c.Options(opts)
	}
	limit := max(watchdog, 2*c.Want.Within)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	r := &Run{URL: "ws://" + cs.ln.Addr().String() + "/ws", Opts: opts, ctx: ctx}
	program := c.Client
	if program == nil {
		program = receiveAndWait
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		program(r)
	}()
	select {
	case <-ended:
	case <-ctx.Done():
		res.Problems = append(res.Problems, fmt.Sprintf("hung: the client program had not ended after %v", limit))
	}
	close(cs.clientDone)
	res.Problems = append(res.Problems, cs.finish(leakOpt)...)
	<-ended
	cancel()
	res.Elapsed = r.elapsed
	res.PeakHeap = heap.stop()
	res.Problems = append(res.Problems, check(c, r, cs, res)...)
	if err := goleak.Find(leakOpt); err != nil {
		res.Problems = append(res.Problems, "goroutines left: "+leakSummary(err))
	}
	if n := waitSockets(socketsBefore); n > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d socket(s) left open in the process", n))
	}
	return res
}

// check compares the run with the case's Want.
func check(c *Case, r *Run, cs *caseServer, res *Result) []string {
	w := c.Want
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	within := w.Within
	if within == 0 {
		within = 5 * time.Second
	}
	if r.elapsed == 0 {
		bad("never reached CLOSED (or Dial's end)")
	} else if r.elapsed > within {
		bad("took %v to end, more than the %v bound", r.elapsed.Round(time.Millisecond), within)
	}
	heapMiB := w.HeapMiB
	if heapMiB == 0 {
		heapMiB = 64
	}
	if res.PeakHeap > int64(heapMiB)<<20 {
		bad("peak heap grew by %.1f MiB, more than %d MiB", float64(res.PeakHeap)/(1<<20), heapMiB)
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
		var de *dualws.DialError
		switch {
		case r.DialErr == nil:
			bad("Dial succeeded (trace %q), want a *DialError %q", r.Trace(), w.DialReason)
			if r.Client != nil {
				r.Client.Close(dualws.StatusNormalClosure, "")
			}
		case !errors.As(r.DialErr, &de):
			bad("Dial returned %T %v, want a *DialError", r.DialErr, r.DialErr)
		default:
			res.Summary = fmt.Sprintf("DialError %q", de.Reason)
			if de.HTTPStatus != 0 {
				res.Summary += fmt.Sprintf(" HTTP %d", de.HTTPStatus)
			}
			if de.Reason != w.DialReason {
				bad("DialError reason %q, want %q (%v)", de.Reason, w.DialReason, de)
			}
			if de.HTTPStatus != w.HTTPStatus {
				bad("DialError HTTPStatus %d, want %d", de.HTTPStatus, w.HTTPStatus)
			}
			if w.DialCause != "" && (de.Err == nil || !strings.Contains(de.Err.Error(), w.DialCause)) {
				bad("DialError cause %v does not say %q", de.Err, w.DialCause)
			}
		}
		return append(p, checkExtra(w, r)...)
	}

	if r.DialErr != nil {
		bad("Dial failed: %v", r.DialErr)
		return p
	}
	c0 := r.Client
	select {
	case <-c0.Done():
	default:
		bad("the client is not CLOSED (state %v)", c0.State())
		c0.Close(dualws.StatusNormalClosure, "")
		return p
	}
	st, known := c0.CloseStatus()
	trace := r.Trace()
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
	if !known {
		bad("CloseStatus is not known after CLOSED")
	}
	if w.Reason != "*" && st.Reason != w.Reason {
		bad("close reason %q, want %q", st.Reason, w.Reason)
	}
	if w.Messages >= 0 && len(r.Received) != w.Messages {
		bad("received %d messages, want %d", len(r.Received), w.Messages)
	}
	// The README's promise for every program shape: after the close, Send
	// sends nothing and returns a *CloseError with the final status, and
	// Receive returns it once the queue is drained.
	if err := c0.SendText(context.Background(), "after CLOSED"); !isCloseErrorWith(err, st) {
		bad("Send after CLOSED returned %v, want a *CloseError with %+v", err, st)
	}
	if r.RecvErr != nil && !isCloseError(r.RecvErr) {
		bad("the receive loop ended with %T %v, want a *CloseError", r.RecvErr, r.RecvErr)
	}
	for range 1_000_000 {
		_, _, err := c0.Receive(context.Background())
		if err != nil {
			if !isCloseErrorWith(err, st) {
				bad("Receive after CLOSED returned %v, want a *CloseError with %+v", err, st)
			}
			break
		}
	}
	return append(p, checkExtra(w, r)...)
}

func checkExtra(w Want, r *Run) []string {
	if w.Check == nil {
		return nil
	}
	return w.Check(r)
}

func isCloseError(err error) bool {
	var ce *dualws.CloseError
	return errors.As(err, &ce) && errors.Is(err, dualws.ErrClosed)
}

func isCloseErrorWith(err error, st dualws.CloseStatus) bool {
	var ce *dualws.CloseError
	return errors.As(err, &ce) && ce.Status == st
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

// finish waits for the client to close every connection the server left
// open, then closes everything. It returns the sockets the client left.
//
// While a connection is still open, the goroutines behind it are listed
// too: closing the server's side would end them before the final check.
func (cs *caseServer) finish(leakOpt goleak.Option) []string {
	cs.ln.Close()
	done := make(chan struct{})
	go func() { cs.wg.Wait(); close(done) }()
	var problems []string
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		err := goleak.Find(leakOpt,
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
		if !closed && by != "client" {
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

func heapNow() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
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
