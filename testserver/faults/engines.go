//go:build !js

package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dualws/dualws/internal/engine"
	"github.com/dualws/dualws/internal/postback"
)

// CaseRunner runs the client's side of cases on one platform other than
// the native one: BrowserRunner (headless Chromium through chromedp) or
// EngineRunner (any engine that internal/engine launches).
type CaseRunner interface {
	// RunCase runs c, or returns nil when c does not run in a browser.
	RunCase(c *Case) *Result
	// Label names the column ("browser", "firefox", ...).
	Label() string
	// Browser returns what applies to c in this runner's engine.
	Browser(c *Case) Browser
	Close()
}

// Label is "browser": the column of headless Chromium through chromedp.
func (b *BrowserRunner) Label() string { return "browser" }

// Browser returns c.Browser: the column is Chromium's.
func (b *BrowserRunner) Browser(c *Case) Browser { return c.Browser }

// Browser returns what applies to c in e's engine (Browser.in).
func (e *EngineRunner) Browser(c *Case) Browser { return c.Browser.in(e.Engine) }

// EngineRunner runs the client's side of cases in one engine launched by
// internal/engine (Chromium, Firefox or WebKit), without DevTools: the
// page (enginePage) loads the same GOOS=js program as BrowserRunner's and
// asks this process for each case with a POST (internal/postback), runs
// it with faultsRun and posts the observation back, together with a log
// of its WebSocket's events as the engine dispatched them (code, reason,
// wasClean, order). The page reloads before each case, so every case gets
// a fresh wasm instance, as with BrowserRunner's fresh page.
//
// What it cannot do that BrowserRunner does: measure the page's array
// buffers (GET /measure answers 0, so rs-send-buffer-released checks the
// Go heap only).
type EngineRunner struct {
	Engine engine.Name
	dir    string
	srv    *http.Server
	base   string // http://127.0.0.1:port
	hub    *postback.Hub[engineReport, engineReply]

	page  *postback.Page[engineReport, engineReply]
	stop  func()
	log   *engine.TailBuffer
	fresh bool // the page has just loaded and waits for a case
	agent string
}

// engineReport is what the page posts: after loading (Loaded), or after a
// case (Obs, or Err when faultsRun failed).
type engineReport struct {
	Token  string          `json:"token"`
	Loaded bool            `json:"loaded,omitempty"`
	Agent  string          `json:"agent,omitempty"`
	Obs    json.RawMessage `json:"obs,omitempty"`
	Err    string          `json:"err,omitempty"`
	WS     []string        `json:"ws,omitempty"`
}

// engineReply is the page's next instruction.
type engineReply struct {
	Program   string `json:"program,omitempty"`
	URL       string `json:"url,omitempty"`
	TimeoutMs int64  `json:"timeoutMs,omitempty"`
	Reload    bool   `json:"reload,omitempty"`
	Done      bool   `json:"done,omitempty"`
}

// enginePage loads the Go glue and the program, wraps the WebSocket
// constructor to log what the engine dispatches (listeners added before
// dualws's own, so they see each event first; send and close calls are
// logged with the readyState they met), and then runs the post-back loop.
const enginePage = `<!doctype html>
<meta charset="utf-8">
<title>dualws fault suite (engines)</title>
<script src="/wasm_exec.js"></script>
<script>
"use strict";
(() => {
const q = new URLSearchParams(location.search);
const token = q.get("token"), post = q.get("post");
let log = [], t0 = performance.now();
const ms = () => (performance.now() - t0).toFixed(1);
const add = (s) => { if (log.length < 400) log.push(ms() + " " + s); };
const Native = window.WebSocket;
if (q.get("wslog") !== "0") {
	class LoggedWebSocket extends Native {
		constructor(...a) {
			super(...a);
			t0 = performance.now();
			add("new " + a[0] + " protocols=" + JSON.stringify(a[1] || []));
			let msgs = 0, bytes = 0, sends = 0, sendBytes = 0;
			const flush = () => {
				if (msgs) { add("message x" + msgs + " (" + bytes + " B)"); msgs = 0; bytes = 0; }
				if (sends) { add("send() x" + sends + " (" + sendBytes + " B)"); sends = 0; sendBytes = 0; }
			};
			this._flush = flush;
			this._count = (n) => { sends++; sendBytes += n; };
			this.addEventListener("open", () => { flush(); add("open url=" + this.url + " protocol=" + JSON.stringify(this.protocol) + " extensions=" + JSON.stringify(this.extensions)); });
			this.addEventListener("error", () => { flush(); add("error readyState=" + this.readyState); });
			this.addEventListener("close", (e) => { flush(); add("close code=" + e.code + " reason=" + JSON.stringify(e.reason.length > 40 ? e.reason.slice(0, 40) + "..." : e.reason) + " (" + e.reason.length + " chars) wasClean=" + e.wasClean + " bufferedAmount=" + this.bufferedAmount); });
			this.addEventListener("message", (e) => {
				if (sends) flush();
				msgs++; bytes += typeof e.data === "string" ? e.data.length : e.data.byteLength;
			});
		}
		send(d) {
			if (this.readyState !== 1) { this._flush(); add("send() in readyState=" + this.readyState); }
			else this._count(typeof d === "string" ? d.length : d.byteLength);
			const r = super.send(d), n = typeof d === "string" ? d.length : d.byteLength;
			if (n >= 1 << 20) { this._flush(); add("after send() of " + n + " B: bufferedAmount=" + this.bufferedAmount); }
			return r;
		}
		close(...a) {
			this._flush();
			add("close(" + a.map((x) => JSON.stringify(x)).join(", ") + ") in readyState=" + this.readyState + " bufferedAmount=" + this.bufferedAmount);
			return super.close(...a);
		}
	}
	window.WebSocket = LoggedWebSocket;
}
async function report(r) {
	r.token = token;
	for (let i = 0; ; i++) {
		try {
			const resp = await fetch(post, {method: "POST", body: JSON.stringify(r), cache: "no-store"});
			if (!resp.ok) throw new Error("HTTP " + resp.status);
			return await resp.json();
		} catch (e) {
			if (i === 2) throw e;
			await new Promise((ok) => setTimeout(ok, 200));
		}
	}
}
async function loop() {
	let r = {loaded: true, agent: navigator.userAgent};
	for (;;) {
		const next = await report(r);
		if (next.done) return;
		if (next.reload) { location.reload(); return; }
		log = [];
		try {
			r = {obs: JSON.parse(await faultsRun(next.program, next.url, next.timeoutMs))};
		} catch (e) {
			r = {err: String(e)};
		}
		r.ws = log;
	}
}
const go = new Go();
WebAssembly.instantiateStreaming(fetch("/faults.wasm"), go.importObject)
	.then((res) => { go.run(res.instance); return loop(); })
	.catch((e) => { console.error("faults page: " + e); report({err: "loading: " + String(e)}).catch(() => {}); });
})();
</script>
`

// StartEngine builds the browser program and serves it for engine n; the
// engine itself starts with the first case. Call Close when done.
func StartEngine(ctx context.Context, n engine.Name) (*EngineRunner, error) {
	if err := engine.Check(n); err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	dir, err := os.MkdirTemp("", "dualws-faults-"+string(n)+"-")
	if err != nil {
		return nil, fmt.Errorf("faults: temporary directory: %w", err)
	}
	e := &EngineRunner{Engine: n, dir: dir}
	if err := (&BrowserRunner{dir: dir}).build(ctx); err != nil {
		e.Close()
		return nil, err
	}
	e.hub = postback.NewHub(func(r engineReport) string { return r.Token }, engineReply{Done: true})
	e.srv, e.base, err = servePage(ctx, enginePage, dir, func(mux *http.ServeMux) {
		mux.Handle("/report", e.hub)
		// Array buffers cannot be measured without DevTools: 0.
		mux.HandleFunc("/measure", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "0") })
	})
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Label is the engine's name.
func (e *EngineRunner) Label() string { return string(e.Engine) }

// Agent is the page's navigator.userAgent, once a page has loaded.
func (e *EngineRunner) Agent() string { return e.agent }

// SocketWait, when set, replaces the 3 s that the server waits for the
// client to close its sockets after the page reported.
var SocketWait time.Duration

// WSLog, when false, leaves the page's WebSocket unwrapped (wslog=0).
var WSLog = true

// engineLoadTimeout bounds a browser's start, to the page's first report.
const engineLoadTimeout = 90 * time.Second

// launch starts the engine on a fresh page and waits for it to load.
func (e *EngineRunner) launch() error {
	e.page = e.hub.NewPage()
	e.log = engine.NewTailBuffer(16 << 10)
	q := url.Values{"post": {"/report"}, "token": {e.page.Token}}
	if !WSLog {
		q.Set("wslog", "0")
	}
	var args []string
	if e.Engine == engine.Chromium {
		args = []string{"--enable-logging=stderr", "--v=0"}
	}
	stop, err := engine.Launch(context.Background(), e.Engine, e.base+"/?"+q.Encode(), &engine.Options{
		Log: e.log, Args: args, OnExit: e.page.Exited,
	})
	if err != nil {
		e.page.Close()
		e.page = nil
		return fmt.Errorf("faults: %w", err)
	}
	e.stop = stop
	if err := e.awaitLoaded(); err != nil {
		e.drop()
		return err
	}
	if s := engine.Settle(e.Engine); s > 0 {
		time.Sleep(s)
	}
	return nil
}

func (e *EngineRunner) awaitLoaded() error {
	r, err := e.page.Await(context.Background(), engineLoadTimeout)
	if err != nil {
		return fmt.Errorf("%s: waiting for the page to load: %w; its log ends:\n%s", e.Engine, err, e.log)
	}
	if !r.Loaded {
		return fmt.Errorf("%s: the page did not load: %s", e.Engine, r.Err)
	}
	e.agent = r.Agent
	e.fresh = true
	return nil
}

// drop ends the browser; the next case launches another.
func (e *EngineRunner) drop() {
	if e.page != nil {
		e.page.Close()
		e.page = nil
	}
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
	e.fresh = false
}

// Close ends the browser and the page server and removes the build.
func (e *EngineRunner) Close() {
	e.drop()
	if e.srv != nil {
		e.srv.Close()
	}
	os.RemoveAll(e.dir)
}

// observe runs program p in a fresh page against url.
func (e *EngineRunner) observe(p *Program, url string, limit time.Duration) (*Observation, []string, error) {
	if e.page == nil {
		if err := e.launch(); err != nil {
			return nil, nil, err
		}
	}
	ctx := context.Background()
	if !e.fresh {
		if err := e.page.Send(ctx, engineReply{Reload: true}, 10*time.Second); err != nil {
			e.drop()
			return nil, nil, fmt.Errorf("%s: asking the page to reload: %w", e.Engine, err)
		}
		if err := e.awaitLoaded(); err != nil {
			e.drop()
			return nil, nil, err
		}
	}
	e.fresh = false
	if err := e.page.Send(ctx, engineReply{Program: p.Name, URL: url, TimeoutMs: limit.Milliseconds()}, 10*time.Second); err != nil {
		e.drop()
		return nil, nil, fmt.Errorf("%s: handing the page %s: %w", e.Engine, p.Name, err)
	}
	// The page's own watchdog ends the program at limit; this one, later,
	// catches a page that hangs.
	wait := limit + 20*time.Second
	if reportWait > 0 {
		wait = reportWait
	}
	r, err := e.page.Await(ctx, wait)
	if err != nil {
		e.drop()
		return nil, nil, fmt.Errorf("%s: running %s: %w (%w); its log ends:\n%s", e.Engine, p.Name, errPageLost, err, e.log)
	}
	if r.Err != "" {
		return nil, r.WS, fmt.Errorf("%s: running %s: %s", e.Engine, p.Name, r.Err)
	}
	o := new(Observation)
	if err := json.Unmarshal(r.Obs, o); err != nil {
		return nil, r.WS, fmt.Errorf("decoding the observation: %w", err)
	}
	return o, r.WS, nil
}

// errPageLost: the page did not report within its own watchdog's limit
// and 20 s more (the browser hung, or left).
var errPageLost = errors.New("the page did not report")

// reportWait, when set, replaces the limit and 20 s that a page is given
// to report (a test's lost page).
var reportWait time.Duration

// RunCase runs the case's client side in the engine against its native
// server and checks it with the case's browser Want (written for
// Chromium: a failure is a difference from Chromium). Result.Events is the
// page's log of its WebSocket.
//
// A case whose page does not report at all (errPageLost) runs once more in
// a fresh browser, and Result.Rerun says why: a WebKit page under load hung
// once in a helper's four runs of the suite. The rerun's outcome is
// checked as any other; a page that hangs twice fails the case.
func (e *EngineRunner) RunCase(c *Case) *Result {
	res := e.runCase(c)
	if res == nil || res.OK() || res.lost == nil {
		return res
	}
	first := res.lost.Error()
	if i := strings.Index(first, "; its log ends"); i >= 0 {
		first = first[:i]
	}
	res = e.runCase(c)
	res.Rerun = "the first run's page did not report (" + first + "); this is a second run, in a fresh browser"
	return res
}

func (e *EngineRunner) runCase(c *Case) *Result {
	b := e.Browser(c)
	if b.NA != "" {
		return nil
	}
	res := &Result{Case: c}
	p := c.Program
	if b.Program != nil {
		p = b.Program
	}
	if p == nil {
		p = receiveProgram
	}
	want := c.Want
	if b.Want != nil {
		want = *b.Want
	}
	cs, err := newCaseServer(c)
	if err != nil {
		res.Problems = append(res.Problems, "starting the server: "+err.Error())
		return res
	}
	o, ws, err := e.observe(p, cs.url(), max(watchdog, 2*want.Within))
	res.Events = ws
	close(cs.clientDone)
	wait := 3 * time.Second
	if SocketWait > 0 {
		wait = SocketWait
	}
	if b.Abandons {
		wait = 100 * time.Millisecond
	}
	t0 := time.Now()
	res.Problems = append(res.Problems, cs.finish(nil, wait, b.Abandons)...)
	if len(res.Events) > 0 || err == nil {
		res.Events = append(res.Events, fmt.Sprintf("(server: every connection ended %v after the page reported)", time.Since(t0).Round(time.Millisecond)))
	}
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
		if errors.Is(err, errPageLost) {
			res.lost = err
		}
		return res
	}
	res.Elapsed = o.Elapsed
	res.Observation = o
	res.ServerSaw = cs.closeSeen()
	res.Problems = append(res.Problems, check(want, o, cs, res)...)
	return res
}

var errNoEngine = errors.New("faults: no engine")

// StartRunner starts the runner of the column named name: "browser" (or
// "") is BrowserRunner (Chromium through chromedp); an engine name
// (chromium, firefox, webkit) is an EngineRunner.
func StartRunner(ctx context.Context, name string) (CaseRunner, error) {
	if name == "" || name == "browser" {
		return StartBrowser(ctx)
	}
	n, err := engine.Parse(name)
	if err != nil {
		return nil, errors.Join(errNoEngine, err)
	}
	return StartEngine(ctx, n)
}

// FormatEvents indents the page's WebSocket log for a report.
func FormatEvents(ev []string) string {
	return "      " + strings.Join(ev, "\n      ")
}
