package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/dualws/dualws/internal/browser"
	"github.com/dualws/dualws/scenarios"
)

// evalProbeJS is "blocked" when the page's policy forbids eval, else
// "allowed".
const evalProbeJS = `(()=>{try{eval("1");return "allowed"}catch(e){return "blocked"}})()`

// functionProbeJS is the same for the Function constructor.
const functionProbeJS = `(()=>{try{new Function("return 1");return "allowed"}catch(e){return "blocked"}})()`

// page is one tab of a browser with a page loaded in it.
type page struct {
	t   *testing.T
	ctx context.Context // the tab, bounded by BrowserTimeout
	// resp is the HTTP response of the page's document.
	resp *network.Response

	mu      sync.Mutex
	console []string
}

// openPage opens pageURL in a new tab of the browser bctx and waits until
// the JavaScript predicate ready is true. The page's console is logged if
// the test fails.
func openPage(t *testing.T, bctx context.Context, pageURL, ready string) *page {
	t.Helper()
	tab, closeTab := browser.NewTab(bctx)
	t.Cleanup(closeTab)
	// The first action opens the tab; it must not carry a deadline, which
	// would bind the tab's life to it.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, BrowserTimeout)
	t.Cleanup(cancel)
	p := &page{t: t, ctx: ctx}
	lctx, stopListen := context.WithCancel(tab)
	msgs := chromedp.Console(lctx)
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		for m, err := range msgs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, fmt.Sprint(m))
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		stopListen()
		<-listened
		if t.Failed() {
			p.mu.Lock()
			t.Logf("console of %s:\n%s", pageURL, strings.Join(p.console, "\n"))
			p.mu.Unlock()
		}
	})
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(pageURL))
	if err != nil {
		t.Fatalf("loading %s: %v", pageURL, err)
	}
	p.resp = resp
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](ready, chromedp.WithPollingInterval(10*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s to be ready (%s): %v", pageURL, ready, err)
	}
	return p
}

// underPagePolicy makes an evaluation obey the page's Content Security
// Policy: by default DevTools lets evaluated code use eval and the Function
// constructor, and the harness's Go code starts inside such an evaluation.
func underPagePolicy(p *cdpruntime.EvaluateParams) {
	p.AllowUnsafeEvalBlockedByCSP = new(false)
}

// eval evaluates expr in the page under its policy, awaiting a promise.
func (p *page) eval(expr string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise, underPagePolicy))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return s
}

// header returns the response header name of the page's document.
func (p *page) header(name string) string {
	for k, v := range p.resp.Headers {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// runScenario runs scenario name in the harness loaded in p against the
// scenario server at base (ws:// or wss://).
func (p *page) runScenario(name, base string) scenarios.Trace {
	p.t.Helper()
	args, err := json.Marshal([]string{name, base, env.RefusedURL, env.NodeWSURL})
	if err != nil {
		p.t.Fatal(err)
	}
	var tr scenarios.Trace
	if err := json.Unmarshal([]byte(p.eval("dualwsRun(..."+string(args)+")")), &tr); err != nil {
		p.t.Fatalf("decoding the browser's trace: %v", err)
	}
	return tr
}

// checkEcho requires the "echo" trace br, run in the browser, to be the
// native one and to end with a clean close 1000 by the client.
func checkEcho(t *testing.T, br scenarios.Trace) {
	t.Helper()
	native := env.Native(t.Context(), "echo")
	if native.Failure != "" || br.Failure != "" {
		t.Fatalf("echo failed: native %q, browser %q", native.Failure, br.Failure)
	}
	if d := scenarios.Diff(native, br); d != "" {
		t.Errorf("native and browser traces differ (native | browser):\n%s", d)
	}
	if len(br.Received) == 0 {
		t.Errorf("the browser received no echo: %+v", br)
	}
	if n := len(br.Transitions); n == 0 || br.Transitions[n-1].To != "CLOSED" ||
		br.Transitions[n-1].Code != 1000 || !br.Transitions[n-1].WasClean {
		t.Errorf("browser transitions %+v, want the last to be CLOSED 1000 clean", br.Transitions)
	}
}
