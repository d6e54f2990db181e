package main

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
	"strconv"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dualws/dualws/internal/browser"
	"github.com/dualws/dualws/internal/engine"
)

// The browser benchmark page drives itself (bench/browser/www/bench.js):
// it POSTs a pageReport to nextPath and runs what the reply says. So one
// code path serves every engine: engine.Launch only opens the page, and no
// DevTools or WebDriver connection is needed. Chromium is started through
// chromedp (internal/browser) instead only for -browser-profile, to reach
// its DevTools profiler.
const nextPath = "/bench/next"

// clockPath answers the driver's clock, Unix ms, for the page to estimate
// how far its own clock is off.
const clockPath = "/bench/clock"

func serveClock(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(strconv.FormatFloat(float64(time.Now().UnixNano())/1e6, 'f', 4, 64)))
}

// Bounds on the page: its start-up (launch to the first report, wasm
// compiled) and one run.
const (
	pageLoadTimeout = 90 * time.Second
	pageRunTimeout  = 3 * time.Minute
)

// pageReport is what the page POSTs.
type pageReport struct {
	Token string `json:"token"`
	Impl  string `json:"impl"`
	// Ready: the page has loaded (first report of each page load).
	Ready       bool    `json:"ready"`
	Agent       string  `json:"agent"`
	Isolated    bool    `json:"isolated"`    // window.crossOriginIsolated
	ClockStepMs float64 `json:"clockStepMs"` // smallest step of performance.now() seen
	// ClockOffsetMs is the driver's clock minus the page's, estimated from
	// the quickest of 20 round trips to clockPath (ClockRttMs).
	ClockOffsetMs float64 `json:"clockOffsetMs"`
	ClockRttMs    float64 `json:"clockRttMs"`
	// Result is the previous run's result JSON (jsResult).
	Result string `json:"result"`
	// Posts is the MessageChannel postMessage calls during the run.
	Posts float64 `json:"posts"`
	// CloseEvent is the wall-clock ms of the browser's close event on the
	// run's WebSocket (its URL is the spec's), or 0 if none fired.
	CloseEvent float64 `json:"closeEvent"`
	Error      string  `json:"error"`
}

// pageReply tells the page what to do next: exactly one field is set.
type pageReply struct {
	Spec     map[string]any `json:"spec,omitempty"`
	Navigate string         `json:"navigate,omitempty"`
	Done     bool           `json:"done,omitempty"`
}

// pageHub serves nextPath for every page it launched.
type pageHub struct {
	base  string // host:port of the server the pages come from
	mu    sync.Mutex
	pages map[string]*benchPage
}

func newPageHub(base string) *pageHub {
	return &pageHub{base: base, pages: map[string]*benchPage{}}
}

// benchPage is one browser running the benchmark page. Its methods are not
// safe for concurrent use.
type benchPage struct {
	hub     *pageHub
	engine  engine.Name
	token   string
	impl    string // the implementation the page has loaded
	ready   pageReport
	reports chan pageReport
	ask     chan pageReply
	closed  chan struct{}
	exited  chan struct{} // closed when the browser exited before close
	exitErr error
	log     *engine.TailBuffer
	stop    func()
	tab     context.Context // chromedp tab, only when launched for a profile
	broken  error
	once    sync.Once
}

// newPage registers a page that is not started yet.
func (h *pageHub) newPage(n engine.Name) *benchPage {
	tok := make([]byte, 16)
	rand.Read(tok)
	p := &benchPage{
		hub:     h,
		engine:  n,
		token:   hex.EncodeToString(tok),
		reports: make(chan pageReport),
		ask:     make(chan pageReply),
		closed:  make(chan struct{}),
		exited:  make(chan struct{}),
		log:     engine.NewTailBuffer(16 << 10),
		stop:    func() {},
	}
	h.mu.Lock()
	h.pages[p.token] = p
	h.mu.Unlock()
	return p
}

// pageURL is the page for implementation impl.
func (p *benchPage) pageURL(impl string) string {
	return "http://" + p.hub.base + "/index.html?" + url.Values{"impl": {impl}, "token": {p.token}}.Encode()
}

// launch starts engine n on the plain-JS page and waits until it is ready.
// withTab starts Chromium through chromedp instead of engine.Launch, so
// that p.tab can reach its profiler.
func (h *pageHub) launch(ctx context.Context, n engine.Name, withTab bool) (*benchPage, error) {
	p := h.newPage(n)
	p.impl = "js"
	u := p.pageURL(p.impl)
	if withTab && n == engine.Chromium {
		bctx, stop, err := browser.Start(context.Background())
		if err != nil {
			p.close()
			return nil, err
		}
		tab, closeTab := browser.NewTab(bctx)
		p.stop = func() { closeTab(); stop() }
		p.tab = tab
		go func() {
			// Navigate returns at the load event; the page's first report
			// may come before or after it.
			if err := chromedp.Do(tab, chromedp.Navigate(u)); err != nil {
				p.log.Write([]byte("navigate: " + err.Error()))
			}
		}()
	} else {
		var args []string
		if n == engine.Chromium {
			args = []string{"--enable-logging=stderr", "--v=0"} // the page's console, for errors
		}
		stop, err := engine.Launch(context.Background(), n, u, &engine.Options{
			Log:  p.log,
			Args: args,
			OnExit: func(err error) {
				p.exitErr = err
				close(p.exited)
			},
		})
		if err != nil {
			p.close()
			return nil, err
		}
		p.stop = stop
	}
	if err := p.awaitReady(ctx, "js"); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// awaitReady waits for the page of impl to report that it has loaded.
func (p *benchPage) awaitReady(ctx context.Context, impl string) error {
	rep, err := p.await(ctx, pageLoadTimeout, "to load the "+impl+" page")
	if err != nil {
		return err
	}
	switch {
	case rep.Error != "":
		return fmt.Errorf("%s: the %s page failed to load: %s", p.engine, impl, rep.Error)
	case !rep.Ready || rep.Impl != impl:
		return fmt.Errorf("%s: expected the %s page to report ready, got impl %q ready %v", p.engine, impl, rep.Impl, rep.Ready)
	}
	p.impl, p.ready = impl, rep
	return nil
}

// use makes the page run implementation impl: a fresh page load unless it
// is already that implementation's page.
func (p *benchPage) use(ctx context.Context, impl string) error {
	if p.broken != nil {
		return p.broken
	}
	if p.impl == impl {
		return nil
	}
	if err := p.send(ctx, pageReply{Navigate: impl}); err != nil {
		p.broken = err
		return err
	}
	if err := p.awaitReady(ctx, impl); err != nil {
		p.broken = err
		return err
	}
	return nil
}

// run runs spec on the page and returns its result with the page's report.
// A run that fails in the page (Error set) leaves the page usable; a page
// that stops answering is broken for good.
func (p *benchPage) run(ctx context.Context, spec map[string]any) (jsResult, pageReport, error) {
	if p.broken != nil {
		return jsResult{}, pageReport{}, p.broken
	}
	if err := p.send(ctx, pageReply{Spec: spec}); err != nil {
		p.broken = err
		return jsResult{}, pageReport{}, err
	}
	rep, err := p.await(ctx, pageRunTimeout, fmt.Sprintf("to run %s %v", p.impl, spec["op"]))
	if err != nil {
		p.broken = err
		return jsResult{}, rep, err
	}
	var r jsResult
	if err := json.Unmarshal([]byte(rep.Result), &r); err != nil {
		return r, rep, fmt.Errorf("%s %s %v: result %q: %w", p.engine, p.impl, spec["op"], rep.Result, err)
	}
	if r.Error != "" {
		return r, rep, fmt.Errorf("%s %s %v: %s", p.engine, p.impl, spec["op"], r.Error)
	}
	return r, rep, nil
}

// send hands the page its next instruction; the page has a POST waiting
// since its last report.
func (p *benchPage) send(ctx context.Context, r pageReply) error {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case p.ask <- r:
		return nil
	case <-p.exited:
		return fmt.Errorf("%s exited (%v); its log ends:\n%s", p.engine, p.exitErr, p.log)
	case <-t.C:
		return fmt.Errorf("%s: the page is not waiting for an instruction; the browser's log ends:\n%s", p.engine, p.log)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await waits for the page's next report.
func (p *benchPage) await(ctx context.Context, d time.Duration, what string) (pageReport, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-p.reports:
		return r, nil
	case <-p.exited:
		return pageReport{}, fmt.Errorf("%s exited (%v); its log ends:\n%s", p.engine, p.exitErr, p.log)
	case <-t.C:
		return pageReport{}, fmt.Errorf("%s took more than %v %s; the browser's log ends:\n%s", p.engine, d, what, p.log)
	case <-ctx.Done():
		return pageReport{}, ctx.Err()
	}
}

// close tells the page to stop and ends the browser.
func (p *benchPage) close() {
	p.once.Do(func() {
		select {
		case p.ask <- pageReply{Done: true}:
		case <-time.After(100 * time.Millisecond):
		}
		close(p.closed)
		p.stop()
		p.hub.mu.Lock()
		delete(p.hub.pages, p.token)
		p.hub.mu.Unlock()
	})
}

// ServeHTTP serves nextPath: it hands the report to its page, then holds
// the request until that page has its next instruction.
func (h *pageHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var rep pageReport
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&rep); err != nil {
		http.Error(w, "bad report: "+err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	p := h.pages[rep.Token]
	h.mu.Unlock()
	if p == nil {
		http.Error(w, "unknown token", http.StatusForbidden)
		return
	}
	select {
	case p.reports <- rep:
	case <-p.closed:
		writePageReply(w, pageReply{Done: true})
		return
	case <-r.Context().Done():
		return
	}
	select {
	case next := <-p.ask:
		writePageReply(w, next)
	case <-p.closed:
		writePageReply(w, pageReply{Done: true})
	case <-r.Context().Done():
	}
}

func writePageReply(w http.ResponseWriter, r pageReply) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(r)
}

// errNoEngine is returned when -engines selects none.
var errNoEngine = errors.New("no browser engine selected")
