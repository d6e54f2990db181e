package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dualws/dualws/internal/engine"
	"github.com/dualws/dualws/scenarios"
)

// reportPath is where a harness page in remote mode posts its traces
// (wasm/harness/remote.go).
const reportPath = "/e2e/report"

// LoadTimeout bounds a browser's start-up: from the launch to the harness
// page's first report.
const LoadTimeout = 90 * time.Second

// Browser is one engine running the harness page in remote mode: the page
// asks this process for a scenario, runs it and posts its trace back. Runs
// are serialised: one scenario at a time per Browser.
type Browser struct {
	// Engine is the browser engine.
	Engine engine.Name
	// RunTimeout bounds one Run: from handing the page the scenario to its
	// trace. Launch sets BrowserTimeout.
	RunTimeout time.Duration

	env     *Env
	token   string
	log     *engine.TailBuffer
	stop    func()
	exited  chan struct{}               // closed when the browser process ended before stop
	exitErr error                       // why, set before exited is closed
	ask     chan scenarios.RemoteReply  // the next instruction, taken by the waiting POST
	reports chan scenarios.RemoteReport // what the page posted
	closed  chan struct{}               // closed by Close
	agent   string                      // the page's navigator.userAgent
	mu      sync.Mutex                  // one Run at a time
	broken  error                       // set when the page stopped answering
	closeMu sync.Once

	launchTime time.Duration // from Launch to the page's first report
	runs       int           // successful Runs
	runTime    time.Duration // their total time
}

// Launch starts engine n on the harness page in remote mode and waits for
// the page's first report (LoadTimeout). Close it when done; Env.Close
// closes every Browser it launched.
func (e *Env) Launch(ctx context.Context, n engine.Name) (*Browser, error) {
	tok := make([]byte, 16)
	rand.Read(tok)
	b := &Browser{
		Engine:     n,
		RunTimeout: BrowserTimeout,
		env:        e,
		token:      hex.EncodeToString(tok),
		log:        engine.NewTailBuffer(16 << 10),
		exited:     make(chan struct{}),
		ask:        make(chan scenarios.RemoteReply),
		reports:    make(chan scenarios.RemoteReport),
		closed:     make(chan struct{}),
	}
	e.mu.Lock()
	if e.browsers == nil {
		e.browsers = map[string]*Browser{}
	}
	e.browsers[b.token] = b
	e.mu.Unlock()
	u := e.PageURL + "?" + url.Values{"post": {reportPath}, "token": {b.token}}.Encode()
	var args []string
	if n == engine.Chromium {
		// The page's console on stderr, for the diagnosis of a failure.
		args = []string{"--enable-logging=stderr", "--v=0"}
	}
	stop, err := engine.Launch(context.Background(), n, u, &engine.Options{
		Log:  b.log,
		Args: args,
		OnExit: func(err error) {
			b.exitErr = err
			close(b.exited)
		},
	})
	if err != nil {
		e.forget(b)
		return nil, fmt.Errorf("e2e: %w", err)
	}
	b.stop = stop
	start := time.Now()
	if _, err := b.await(ctx, LoadTimeout, "to load the harness"); err != nil {
		b.Close()
		return nil, err
	}
	b.launchTime = time.Since(start)
	return b, nil
}

func (e *Env) forget(b *Browser) {
	e.mu.Lock()
	delete(e.browsers, b.token)
	e.mu.Unlock()
}

// Agent is the page's navigator.userAgent.
func (b *Browser) Agent() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.agent
}

// Run runs scenario name in the page and returns its trace. It fails when
// the page does not report within BrowserTimeout, or the browser exited;
// the Browser is then broken and every later Run fails at once (launch
// another).
func (b *Browser) Run(ctx context.Context, name string) (scenarios.Trace, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken != nil {
		return scenarios.Trace{}, b.broken
	}
	start := time.Now()
	tr, err := b.run(ctx, name)
	if err != nil {
		b.broken = fmt.Errorf("e2e: %s is unusable after a failed run: %w", b.Engine, err)
		return tr, err
	}
	b.runs++
	b.runTime += time.Since(start)
	return tr, nil
}

// Err returns why the Browser is unusable (a Run failed: the page stopped
// answering or the browser exited), or nil.
func (b *Browser) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.broken
}

// Stats returns how long the launch took (to the page's first report), and
// the number and total time of the successful Runs.
func (b *Browser) Stats() (launch time.Duration, runs int, runTime time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.launchTime, b.runs, b.runTime
}

// Reload makes the page load itself again (a fresh wasm instance) and
// waits for it.
func (b *Browser) Reload(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken != nil {
		return b.broken
	}
	if err := b.send(ctx, scenarios.RemoteReply{Reload: true}); err != nil {
		b.broken = err
		return err
	}
	_, err := b.await(ctx, LoadTimeout, "to reload the harness")
	if err != nil {
		b.broken = err
	}
	return err
}

func (b *Browser) run(ctx context.Context, name string) (scenarios.Trace, error) {
	if err := b.send(ctx, scenarios.RemoteReply{Run: name, Config: b.env.Config()}); err != nil {
		return scenarios.Trace{}, err
	}
	rep, err := b.await(ctx, b.RunTimeout, "to run "+name)
	if err != nil {
		return scenarios.Trace{}, err
	}
	if rep.Trace == nil {
		return scenarios.Trace{}, fmt.Errorf("e2e: %s reloaded instead of reporting %s; its log ends:\n%s", b.Engine, name, b.log)
	}
	return *rep.Trace, nil
}

// send hands the page its next instruction: the page has a POST waiting
// for it since its last report.
func (b *Browser) send(ctx context.Context, r scenarios.RemoteReply) error {
	t := time.NewTimer(min(10*time.Second, b.RunTimeout))
	defer t.Stop()
	select {
	case b.ask <- r:
		return nil
	case <-b.exited:
		return fmt.Errorf("e2e: %s exited (%v); its log ends:\n%s", b.Engine, b.exitErr, b.log)
	case <-t.C:
		return fmt.Errorf("e2e: %s is not waiting for a scenario; its log ends:\n%s", b.Engine, b.log)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await waits for the page's next report.
func (b *Browser) await(ctx context.Context, d time.Duration, what string) (scenarios.RemoteReport, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-b.reports:
		if r.Agent != "" {
			b.agent = r.Agent
		}
		return r, nil
	case <-b.exited:
		return scenarios.RemoteReport{}, fmt.Errorf("e2e: %s exited (%v); its log ends:\n%s", b.Engine, b.exitErr, b.log)
	case <-t.C:
		return scenarios.RemoteReport{}, fmt.Errorf("e2e: %s took more than %v %s; its log ends:\n%s", b.Engine, d, what, b.log)
	case <-ctx.Done():
		return scenarios.RemoteReport{}, ctx.Err()
	}
}

// Log returns the end of the browser's own output (with Firefox and
// Chromium, the page's console lines are in it).
func (b *Browser) Log() string { return b.log.String() }

// Close tells the page to stop and ends the browser.
func (b *Browser) Close() {
	b.closeMu.Do(func() {
		select {
		case b.ask <- scenarios.RemoteReply{Done: true}:
		case <-time.After(100 * time.Millisecond):
		}
		close(b.closed)
		if b.stop != nil {
			b.stop()
		}
		b.env.forget(b)
	})
}

// handleReport serves the harness pages' POSTs: it hands the report to the
// Browser it belongs to, then holds the request until the Browser has the
// page's next instruction.
func (e *Env) handleReport(w http.ResponseWriter, r *http.Request) {
	var rep scenarios.RemoteReport
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&rep); err != nil {
		http.Error(w, "bad report: "+err.Error(), http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	b := e.browsers[rep.Token]
	e.mu.Unlock()
	if b == nil {
		http.Error(w, "unknown token", http.StatusForbidden)
		return
	}
	select {
	case b.reports <- rep:
	case <-b.closed:
		writeReply(w, scenarios.RemoteReply{Done: true})
		return
	case <-r.Context().Done():
		return
	}
	select {
	case next := <-b.ask:
		writeReply(w, next)
	case <-b.closed:
		writeReply(w, scenarios.RemoteReply{Done: true})
	case <-r.Context().Done():
	}
}

func writeReply(w http.ResponseWriter, r scenarios.RemoteReply) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(r)
}

// errNoEngines is returned by ParseEngines for an empty selection.
var errNoEngines = errors.New("e2e: no engine selected")

// ParseEngines parses a comma-separated list of engines (chromium,
// firefox, webkit); "" means all three.
func ParseEngines(s string) ([]engine.Name, error) {
	ns, err := engine.ParseList(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, errNoEngines
	}
	return ns, nil
}
