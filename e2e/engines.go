package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dualws/dualws/internal/engine"
	"github.com/dualws/dualws/internal/postback"
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
	// Relaunches counts the browsers that exited before the page's first
	// report, each replaced by a fresh one.
	Relaunches int

	env     *Env
	page    *postback.Page[scenarios.RemoteReport, scenarios.RemoteReply]
	log     *engine.TailBuffer
	stop    func()
	agent   string     // the page's navigator.userAgent
	mu      sync.Mutex // one Run at a time
	broken  error      // set when the page stopped answering
	closeMu sync.Once

	launchTime time.Duration // from Launch to the page's first report
	runs       int           // successful Runs
	runTime    time.Duration // their total time
}

// maxRelaunches bounds how many times Launch launches a browser again that
// exited before the harness page's first report.
const maxRelaunches = 2

// Launch starts engine n on the harness page in remote mode and waits for
// the page's first report (LoadTimeout). A browser that exits before that
// report (Chromium now and then segfaults while starting up) is launched
// again, at most maxRelaunches times, and Relaunches counts it. Close it
// when done; Env.Close closes every Browser it launched.
func (e *Env) Launch(ctx context.Context, n engine.Name) (*Browser, error) {
	for relaunches := 0; ; relaunches++ {
		b, err := e.launch(ctx, n)
		var exit *postback.ExitError
		if err == nil || !errors.As(err, &exit) || relaunches == maxRelaunches {
			if b != nil {
				b.Relaunches = relaunches
			}
			return b, err
		}
	}
}

func (e *Env) launch(ctx context.Context, n engine.Name) (*Browser, error) {
	b := &Browser{
		Engine:     n,
		RunTimeout: BrowserTimeout,
		env:        e,
		page:       e.hub().NewPage(),
		log:        engine.NewTailBuffer(16 << 10),
	}
	e.mu.Lock()
	if e.browsers == nil {
		e.browsers = map[string]*Browser{}
	}
	e.browsers[b.page.Token] = b
	e.mu.Unlock()
	u := e.PageURL + "?" + url.Values{"post": {reportPath}, "token": {b.page.Token}}.Encode()
	var args []string
	if n == engine.Chromium {
		// The page's console on stderr, for the diagnosis of a failure.
		args = []string{"--enable-logging=stderr", "--v=0"}
	}
	stop, err := engine.Launch(context.Background(), n, u, &engine.Options{
		Log:    b.log,
		Args:   args,
		OnExit: b.page.Exited,
	})
	if err != nil {
		b.page.Close()
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
	if settle := engine.Settle(n); settle > 0 {
		// A close still in the browser's parent process is beyond any
		// page's reach (see the README); the seed matrix measures what the
		// page can see.
		select {
		case <-time.After(settle):
		case <-ctx.Done():
			b.Close()
			return nil, ctx.Err()
		}
	}
	return b, nil
}

func (e *Env) forget(b *Browser) {
	e.mu.Lock()
	delete(e.browsers, b.page.Token)
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
	if err := b.page.Send(ctx, r, min(10*time.Second, b.RunTimeout)); err != nil {
		return b.pageErr(ctx, err, "")
	}
	return nil
}

// await waits for the page's next report.
func (b *Browser) await(ctx context.Context, d time.Duration, what string) (scenarios.RemoteReport, error) {
	r, err := b.page.Await(ctx, d)
	if err != nil {
		return r, b.pageErr(ctx, err, fmt.Sprintf(" (waiting %v %s)", d, what))
	}
	if r.Agent != "" {
		b.agent = r.Agent
	}
	return r, nil
}

// pageErr names the engine and adds the end of the browser's log to an
// error of the page, but leaves the context's own error as it is.
func (b *Browser) pageErr(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("e2e: %s: %w%s; its log ends:\n%s", b.Engine, err, what, b.log)
}

// Log returns the end of the browser's own output (with Firefox and
// Chromium, the page's console lines are in it).
func (b *Browser) Log() string { return b.log.String() }

// Close tells the page to stop and ends the browser.
func (b *Browser) Close() {
	b.closeMu.Do(func() {
		b.page.Close()
		if b.stop != nil {
			b.stop()
		}
		b.env.forget(b)
	})
}

// hub serves the harness pages' POSTs (reportPath).
func (e *Env) hub() *postback.Hub[scenarios.RemoteReport, scenarios.RemoteReply] {
	e.hubOnce.Do(func() {
		e.reports = postback.NewHub(func(r scenarios.RemoteReport) string { return r.Token }, scenarios.RemoteReply{Done: true})
	})
	return e.reports
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
