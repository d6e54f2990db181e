package scenarios

import (
	"context"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dualws/dualws"
)

// Config says where a run finds its servers.
type Config struct {
	// BaseURL is the scenario server, e.g. "ws://127.0.0.1:8080".
	BaseURL string
	// RefusedURL is a ws:// URL where nothing listens, for the "refused"
	// scenario. When empty, the native runner finds a free port itself;
	// the browser cannot, and that scenario then fails.
	RefusedURL string
	// NodeWSURL is the Node ws server (testserver/nodews), e.g.
	// "ws://127.0.0.1:8081", for the seed matrix's nodews cells; those
	// fail when it is empty.
	NodeWSURL string
}

// RunTimeout bounds one scenario run.
const RunTimeout = 30 * time.Second

type scenario struct {
	name string
	desc string
	fn   func(ctx context.Context, r *run)
	// byNature lists what differs between platforms by nature in this
	// scenario (see Trace.ByNature).
	byNature []string
}

// Names returns the scenario names in their canonical order.
func Names() []string {
	ns := make([]string, len(all))
	for i, s := range all {
		ns[i] = s.name
	}
	return ns
}

// Describe returns a one-line description of the scenario, or "".
func Describe(name string) string {
	for _, s := range all {
		if s.name == name {
			return s.desc
		}
	}
	return ""
}

// Run runs the scenario name against the scenario server at baseURL (like
// "ws://127.0.0.1:8080") and returns its trace. It never panics; a
// scenario that cannot run records why in Trace.Failure.
func Run(ctx context.Context, name, baseURL string) Trace {
	return RunConfig(ctx, name, Config{BaseURL: baseURL})
}

var runSeq atomic.Int64

// RunConfig is Run with a full Config.
func RunConfig(ctx context.Context, name string, cfg Config) Trace {
	r := &run{
		cfg:   cfg,
		start: time.Now(),
		t: Trace{
			Scenario:      name,
			Platform:      runtime.GOOS + "/" + runtime.GOARCH,
			CloseDetectMS: -1,
		},
	}
	r.id = newRunID(name)
	var sc *scenario
	for i := range all {
		if all[i].name == name {
			sc = &all[i]
		}
	}
	if sc == nil {
		r.t.Failure = "unknown scenario " + strconv.Quote(name)
		return r.t
	}
	r.t.ByNature = sc.byNature
	ctx, cancel := context.WithTimeout(ctx, RunTimeout)
	defer cancel()
	func() {
		defer func() {
			if p := recover(); p != nil {
				r.fail("panic: " + anyString(p))
			}
		}()
		sc.fn(ctx, r)
	}()
	r.finish(ctx)
	return r.result()
}

func anyString(v any) string {
	switch v := v.(type) {
	case error:
		return v.Error()
	case string:
		return v
	}
	return "non-string panic value"
}

// run records one scenario run.
type run struct {
	cfg   Config
	id    string
	start time.Time

	mu       sync.Mutex
	t        Trace
	clients  []*dualws.Client
	trigger  time.Time
	closedAt time.Time
}

// reset forgets what the run recorded, for a new attempt on a new
// connection id. Its clients must have reached CLOSED.
func (r *run) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t = Trace{Scenario: r.t.Scenario, Platform: r.t.Platform, CloseDetectMS: -1, ByNature: r.t.ByNature}
	r.clients = nil
	r.trigger, r.closedAt = time.Time{}, time.Time{}
	r.start = time.Now()
	r.id = newRunID(r.t.Scenario)
}

func newRunID(name string) string {
	return name + "-" + runtime.GOOS + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(runSeq.Add(1), 10)
}

func (r *run) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.t.Failure == "" {
		r.t.Failure = msg
	}
}

func (r *run) ms(t time.Time) float64 {
	return float64(t.Sub(r.start).Microseconds()) / 1000
}

// options returns o with OnStateChange recording into the trace.
func (r *run) options(o dualws.Options) *dualws.Options {
	o.OnStateChange = r.onState
	return &o
}

func (r *run) onState(sc dualws.StateChange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t.Transitions = append(r.t.Transitions, Transition{
		From:     sc.From.String(),
		To:       sc.To.String(),
		Code:     int(sc.Status.Code),
		Reason:   sc.Status.Reason,
		WasClean: sc.Status.WasClean,
		Remote:   sc.Status.Remote,
		AtMS:     r.ms(sc.At),
	})
	if sc.To == dualws.Closed && r.closedAt.IsZero() {
		r.closedAt = sc.At
	}
}

// markTrigger records that the server's close (or the client's) is being
// triggered now, for Trace.CloseDetectMS.
func (r *run) markTrigger() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.trigger.IsZero() {
		r.trigger = time.Now()
	}
}

func (r *run) op(o Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t.Ops = append(r.t.Ops, o)
}

func (r *run) count(key string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.t.Counts == nil {
		r.t.Counts = map[string]int{}
	}
	r.t.Counts[key] = n
}

// note records an observation that is not compared (Trace.Notes).
func (r *run) note(key, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.t.Notes == nil {
		r.t.Notes = map[string]string{}
	}
	r.t.Notes[key] = v
}

func (r *run) fact(key, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.t.Facts == nil {
		r.t.Facts = map[string]string{}
	}
	r.t.Facts[key] = v
}

// url returns the scenario server URL of path with query q and this run's id.
func (r *run) url(path string, q url.Values) string {
	return r.urlAt(r.cfg.BaseURL, path, q)
}

// urlAt is url for the server at base (a ws:// base URL).
func (r *run) urlAt(base, path string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	q.Set("id", r.id)
	return strings.TrimRight(base, "/") + path + "?" + q.Encode()
}

// httpBase returns the HTTP base URL of the server at ws:// base.
func httpBase(base string) string {
	b := strings.TrimRight(base, "/")
	switch {
	case strings.HasPrefix(b, "ws://"):
		return "http://" + b[len("ws://"):]
	case strings.HasPrefix(b, "wss://"):
		return "https://" + b[len("wss://"):]
	}
	return b
}

// dial dials rawURL with o, recording the outcome. It returns nil when the
// dial failed.
func (r *run) dialURL(ctx context.Context, rawURL string, o dualws.Options) *dualws.Client {
	c, err := dualws.Dial(ctx, rawURL, r.options(o))
	r.op(opOf("dial", "", err))
	if err != nil {
		return nil
	}
	r.mu.Lock()
	r.clients = append(r.clients, c)
	r.mu.Unlock()
	return c
}

func (r *run) dial(ctx context.Context, path string, q url.Values, o dualws.Options) *dualws.Client {
	return r.dialURL(ctx, r.url(path, q), o)
}

func (r *run) send(ctx context.Context, c *dualws.Client, typ dualws.MessageType, data []byte) error {
	err := c.Send(ctx, typ, data)
	r.op(opOf("send", typ.String()+" "+strconv.Itoa(len(data))+"B", err))
	return err
}

// receive receives one message and records it, or records the error.
func (r *run) receive(ctx context.Context, c *dualws.Client) error {
	typ, data, err := c.Receive(ctx)
	if err != nil {
		r.op(opOf("receive", "", err))
		return err
	}
	r.mu.Lock()
	r.t.Received = append(r.t.Received, messageOf(typ, data))
	r.mu.Unlock()
	return nil
}

// receiveAll receives until an error, recording everything.
func (r *run) receiveAll(ctx context.Context, c *dualws.Client) {
	for r.receive(ctx, c) == nil {
	}
}

func (r *run) close(c *dualws.Client, code dualws.StatusCode, reason string) error {
	err := c.Close(code, reason)
	arg := strconv.Itoa(int(code))
	if reason != "" {
		arg += " reason " + strconv.Itoa(len(reason)) + "B"
	}
	o := opOf("close", arg, err)
	o.State = c.State().String()
	r.op(o)
	return err
}

// finish waits for every client to reach CLOSED, so that the trace holds
// every transition, and closes those that did not.
func (r *run) finish(ctx context.Context) {
	r.mu.Lock()
	clients := r.clients
	r.mu.Unlock()
	for _, c := range clients {
		select {
		case <-c.Done():
		case <-ctx.Done():
			r.fail("the client did not reach CLOSED before the run's deadline")
			c.Close(dualws.StatusNormalClosure, "")
		}
	}
}

func (r *run) result() Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.t
	t.DurationMS = r.ms(time.Now())
	if !r.trigger.IsZero() && !r.closedAt.IsZero() {
		t.CloseDetectMS = float64(r.closedAt.Sub(r.trigger).Microseconds()) / 1000
	}
	return t
}

// busy works for d without blocking or yielding: in the browser this keeps
// the event loop from running, as a CPU-bound application would.
func busy(d time.Duration) int {
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		n++
	}
	return n
}

// waitDone waits for c to reach CLOSED; it records a failure and returns
// false if the run's context ends first.
func (r *run) waitDone(ctx context.Context, c *dualws.Client) bool {
	select {
	case <-c.Done():
		return true
	case <-ctx.Done():
		r.fail("the client did not reach CLOSED (state " + c.State().String() + ")")
		return false
	}
}
