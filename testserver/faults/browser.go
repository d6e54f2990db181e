//go:build !js

package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/dualws/dualws/internal/browser"
)

// BrowserRunner runs the client's side of cases in one headless Chromium,
// a fresh page per case, against the native fault server.
type BrowserRunner struct {
	dir      string
	srv      *http.Server
	pageURL  string
	bctx     context.Context
	stopBrow func()
	tab      context.Context
	closeTab context.CancelFunc

	mu      sync.Mutex
	console []string // the page's console since the case's page loaded; mu also guards tab
}

// browserPage loads the Go glue and the program; faultsRun is then ready.
const browserPage = `<!doctype html>
<meta charset="utf-8">
<title>dualws fault suite</title>
<script src="/wasm_exec.js"></script>
<script>
"use strict";
const go = new Go();
WebAssembly.instantiateStreaming(fetch("/faults.wasm"), go.importObject)
	.then((r) => go.run(r.instance))
	.catch((e) => { window.faultsLoadError = String(e); });
</script>
`

// StartBrowser builds the browser program (testserver/faults/wasm) for
// GOOS=js, serves it on 127.0.0.1 and starts headless Chromium
// (internal/browser: $CHROMIUM or /usr/bin/chromium). Call Close when
// done.
func StartBrowser(ctx context.Context) (*BrowserRunner, error) {
	dir, err := os.MkdirTemp("", "dualws-faults-")
	if err != nil {
		return nil, fmt.Errorf("faults: temporary directory: %w", err)
	}
	b := &BrowserRunner{dir: dir}
	if err := b.build(ctx); err != nil {
		b.Close()
		return nil, err
	}
	var base string
	b.srv, base, err = servePage(ctx, browserPage, dir, func(mux *http.ServeMux) { mux.HandleFunc("/measure", b.measure) })
	if err != nil {
		b.Close()
		return nil, err
	}
	b.pageURL = base + "/"
	if b.bctx, b.stopBrow, err = browser.Start(context.Background()); err != nil {
		b.Close()
		return nil, fmt.Errorf("faults: %w", err)
	}
	return b, nil
}

// measure answers the page's GET /measure with the bytes of the tab's
// array buffers after a full garbage collection.
func (b *BrowserRunner) measure(w http.ResponseWriter, _ *http.Request) {
	b.mu.Lock()
	tab := b.tab
	b.mu.Unlock()
	if tab == nil {
		http.Error(w, "no tab", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	u, err := chromedp.Call(ctx, cdpruntime.GetHeapUsage, cdp.Empty{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%d", int64(u.BackingStorageSize))
}

func goEnv(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("faults: go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// build compiles the browser program into b.dir/faults.wasm.
func (b *BrowserRunner) build(ctx context.Context) error {
	gomod, err := goEnv(ctx, "GOMOD")
	if err != nil {
		return err
	}
	if gomod == "" || gomod == os.DevNull {
		return errors.New("faults: not inside the dualws module (go env GOMOD is empty)")
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(b.dir, "faults.wasm"), "./testserver/faults/wasm")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("faults: building the browser program (GOOS=js GOARCH=wasm go build ./testserver/faults/wasm): %w\n%s", err, msg)
	}
	return nil
}

// Close stops the browser and the page server and removes the build.
func (b *BrowserRunner) Close() {
	if b.closeTab != nil {
		b.closeTab()
	}
	if b.stopBrow != nil {
		b.stopBrow()
	}
	if b.srv != nil {
		b.srv.Close()
	}
	os.RemoveAll(b.dir)
}

// pageTimeout bounds loading the page and the program.
const pageTimeout = 30 * time.Second

// load opens the page afresh (a new tab after a failure) and waits for the
// program.
func (b *BrowserRunner) load() error {
	if b.tab == nil {
		tab, closeTab := browser.NewTab(b.bctx)
		b.mu.Lock()
		b.tab, b.closeTab = tab, closeTab
		b.mu.Unlock()
		// The first action opens the tab; it must not carry a deadline,
		// which would bind the tab's life to it.
		if err := chromedp.Do(b.tab); err != nil {
			b.dropTab()
			return fmt.Errorf("opening a tab: %w", err)
		}
		msgs := chromedp.Console(b.tab)
		go func() {
			for m, err := range msgs {
				if err != nil {
					return
				}
				b.mu.Lock()
				b.console = append(b.console, m.String())
				b.mu.Unlock()
			}
		}()
	}
	b.mu.Lock()
	b.console = nil
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.tab, pageTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(b.pageURL)); err != nil {
		b.dropTab()
		return fmt.Errorf("loading %s: %w", b.pageURL, err)
	}
	ready, err := chromedp.Run(ctx, chromedp.Poll[string](
		`window.faultsReady === true ? "ready" : (window.faultsLoadError || false)`,
		chromedp.WithPollingInterval(5*time.Millisecond)))
	if err == nil && ready != "ready" {
		err = errors.New(ready)
	}
	if err != nil {
		b.dropTab()
		return fmt.Errorf("loading the program: %w", err)
	}
	return nil
}

func (b *BrowserRunner) consoleLines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.console)
}

func (b *BrowserRunner) dropTab() {
	if b.closeTab != nil {
		b.closeTab()
	}
	b.mu.Lock()
	b.tab, b.closeTab = nil, nil
	b.mu.Unlock()
}

// observe runs program p in a fresh page against url and returns what it
// observed.
func (b *BrowserRunner) observe(p *Program, url string, limit time.Duration) (*Observation, error) {
	if err := b.load(); err != nil {
		return nil, err
	}
	args, err := json.Marshal([]any{p.Name, url, limit.Milliseconds()})
	if err != nil {
		return nil, err
	}
	// The page's own watchdog ends the program at limit; this one, a
	// little later, catches a page that hangs.
	ctx, cancel := context.WithTimeout(b.tab, limit+5*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string]("faultsRun(..."+string(args)+")", chromedp.EvalAwaitPromise))
	if err != nil {
		b.dropTab()
		return nil, fmt.Errorf("running %s in the browser: %w", p.Name, err)
	}
	o := new(Observation)
	if err := json.Unmarshal([]byte(raw), o); err != nil {
		return nil, fmt.Errorf("decoding the browser's observation: %w", err)
	}
	return o, nil
}

// RunCase runs the case's client side in the browser against its native
// server, and checks it with the browser's Want. It returns nil when the
// case does not run in the browser (Browser.NA). Goroutines, sockets and
// heap are not checked: they are the browser's; what a script sees is
// (state, status, errors, messages, time to CLOSED), with what the server
// saw.
func (b *BrowserRunner) RunCase(c *Case) *Result {
	if c.Browser.NA != "" {
		return nil
	}
	res := &Result{Case: c}
	p := c.Program
	if c.Browser.Program != nil {
		p = c.Browser.Program
	}
	if p == nil {
		p = receiveProgram
	}
	want := c.Want
	if c.Browser.Want != nil {
		want = *c.Browser.Want
	}
	cs, err := newCaseServer(c)
	if err != nil {
		res.Problems = append(res.Problems, "starting the server: "+err.Error())
		return res
	}
	o, err := b.observe(p, cs.url(), max(watchdog, 2*want.Within))
	close(cs.clientDone)
	wait := 3 * time.Second
	if c.Browser.Abandons {
		wait = 100 * time.Millisecond
	}
	res.Problems = append(res.Problems, cs.finish(nil, wait, c.Browser.Abandons)...)
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
		for _, l := range b.consoleLines() {
			res.Problems = append(res.Problems, "console: "+l)
		}
		return res
	}
	res.Elapsed = o.Elapsed
	res.Observation, res.ServerSaw = o, cs.closeSeen()
	res.Problems = append(res.Problems, check(want, o, cs, res)...)
	if !res.OK() {
		for _, l := range b.consoleLines() {
			res.Problems = append(res.Problems, "console: "+l)
		}
	}
	return res
}

// servePage serves a runner's page: page at /, the Go glue of the running
// toolchain, the program built into dir, and the runner's own routes. It
// returns the server and its base URL.
func servePage(ctx context.Context, page, dir string, routes func(*http.ServeMux)) (*http.Server, string, error) {
	goroot, err := goEnv(ctx, "GOROOT")
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(page))
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(goroot, "lib", "wasm", "wasm_exec.js"))
	})
	mux.HandleFunc("/faults.wasm", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, "faults.wasm"))
	})
	routes(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("faults: listening for the page: %w", err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}
