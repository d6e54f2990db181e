package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dualws/dualws/internal/browser"
	"github.com/dualws/dualws/internal/engine"
	"github.com/dualws/dualws/internal/postback"
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
	base string // host:port of the server the pages come from
	*postback.Hub[pageReport, pageReply]
}

func newPageHub(base string) *pageHub {
	return &pageHub{base: base, Hub: postback.NewHub(func(r pageReport) string { return r.Token }, pageReply{Done: true})}
}

// benchPage is one browser running the benchmark page. Its methods are not
// safe for concurrent use.
type benchPage struct {
	hub    *pageHub
	engine engine.Name
	page   *postback.Page[pageReport, pageReply]
	impl   string // the implementation the page has loaded
	ready  pageReport
	log    *engine.TailBuffer
	stop   func()
	tab    context.Context // chromedp tab, only when launched for a profile
	prof   engineProfiler  // Firefox's or WebKit's profiler, only when launched for a profile
	broken error
	once   sync.Once
}

// newPage registers a page that is not started yet.
func (h *pageHub) newPage(n engine.Name) *benchPage {
	return &benchPage{
		hub:    h,
		engine: n,
		page:   h.NewPage(),
		log:    engine.NewTailBuffer(16 << 10),
		stop:   func() {},
	}
}

// pageURL is the page for implementation impl.
func (p *benchPage) pageURL(impl string) string {
	return "http://" + p.hub.base + "/index.html?" + url.Values{"impl": {impl}, "token": {p.page.Token}}.Encode()
}

// launch starts engine n on the plain-JS page and waits until it is ready.
// withTab starts Chromium through chromedp instead of engine.Launch, so
// that p.tab can reach its profiler; for Firefox and WebKit it sets up
// p.prof (profile_firefox.go, profile_webkit.go).
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
		o := &engine.Options{
			Log:    p.log,
			Args:   args,
			OnExit: p.page.Exited,
		}
		if withTab {
			prof, err := newEngineProfiler(n, h.base, o)
			if err != nil {
				p.close()
				return nil, err
			}
			p.prof = prof
			p.stop = prof.close
		}
		stop, err := engine.Launch(context.Background(), n, u, o)
		if err != nil {
			p.close()
			return nil, err
		}
		if p.prof != nil {
			p.stop = func() { stop(); p.prof.close() }
		} else {
			p.stop = stop
		}
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
	if err := p.page.Send(ctx, r, 10*time.Second); err != nil {
		return p.pageErr(ctx, err, "")
	}
	return nil
}

// await waits for the page's next report.
func (p *benchPage) await(ctx context.Context, d time.Duration, what string) (pageReport, error) {
	r, err := p.page.Await(ctx, d)
	if err != nil {
		return r, p.pageErr(ctx, err, fmt.Sprintf(" (waiting %v %s)", d, what))
	}
	return r, nil
}

// pageErr names the engine and adds the end of the browser's log to an
// error of the page, but leaves the context's own error as it is.
func (p *benchPage) pageErr(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%s: %w%s; the browser's log ends:\n%s", p.engine, err, what, p.log)
}

// close tells the page to stop and ends the browser.
func (p *benchPage) close() {
	p.once.Do(func() {
		p.page.Close()
		p.stop()
	})
}

// errNoEngine is returned when -engines selects none.
var errNoEngine = errors.New("no browser engine selected")
