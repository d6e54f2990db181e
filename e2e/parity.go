// Package e2e runs the parity scenarios (package scenarios) natively and in
// headless Chromium and compares their traces. Its tests are the e2e
// suite; e2e/demo is the `make demo` command. Both use Env.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/dualws/dualws/internal/browser"
	"github.com/dualws/dualws/scenarios"
	"github.com/dualws/dualws/testserver/server"
)

// Env is a running parity environment: the harness bundle, the scenario
// server serving it, the Node ws server of the seed matrix, and one
// headless Chromium.
type Env struct {
	// BaseURL is the scenario server's ws:// base URL.
	BaseURL string
	// NodeWSURL is the Node ws server's ws:// base URL.
	NodeWSURL string
	// PageURL is the harness page.
	PageURL string
	// RefusedURL is a ws:// URL where nothing listens.
	RefusedURL string

	dir      string
	nodews   *NodeWS
	srv      *server.Server
	hs       *httptest.Server
	bctx     context.Context
	stopBrow func()
}

// BrowserTimeout bounds one scenario in the browser, page load included.
const BrowserTimeout = 60 * time.Second

// ModuleRoot returns the directory of the dualws module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("e2e: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("e2e: not inside the dualws module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// BuildHarness builds wasm/harness for GOOS=js GOARCH=wasm and stages it
// with its page in dir/harness/ (harness.wasm, index.html, harness.js).
func BuildHarness(ctx context.Context, dir string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "harness")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("e2e: staging the harness: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(out, "harness.wasm"), "./wasm/harness")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("e2e: building the harness (GOOS=js GOARCH=wasm go build ./wasm/harness): %w\n%s", err, msg)
	}
	for _, name := range []string{"index.html", "harness.js"} {
		page, err := os.ReadFile(filepath.Join(root, "wasm", "harness", name))
		if err != nil {
			return fmt.Errorf("e2e: reading the harness page: %w", err)
		}
		if err := os.WriteFile(filepath.Join(out, name), page, 0o644); err != nil {
			return fmt.Errorf("e2e: staging the harness page: %w", err)
		}
	}
	return nil
}

// Start builds the harness into a temporary directory, starts the scenario
// server and the Node ws server (StartNodeWS) on 127.0.0.1 and one headless
// Chromium. Call Close when done.
// With DUALWS_E2E_SERVERLOG set in the environment, the server logs one
// line per connection to stderr.
func Start(ctx context.Context) (*Env, error) {
	dir, err := os.MkdirTemp("", "dualws-e2e-")
	if err != nil {
		return nil, fmt.Errorf("e2e: temporary directory: %w", err)
	}
	e := &Env{dir: dir}
	if err := BuildHarness(ctx, dir); err != nil {
		e.Close()
		return nil, err
	}
	refused, err := scenarios.RefusedURL()
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("e2e: %w", err)
	}
	e.RefusedURL = refused
	opts := server.Options{StaticDir: dir}
	if os.Getenv("DUALWS_E2E_SERVERLOG") != "" {
		opts.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "server: "+format+"\n", args...)
		}
	}
	e.srv = server.New(opts)
	e.hs = httptest.NewUnstartedServer(e.srv)
	// httptest listens on 127.0.0.1 with a port of its own; make sure it
	// is not the refused one.
	e.hs.Start()
	e.BaseURL = "ws" + strings.TrimPrefix(e.hs.URL, "http")
	e.PageURL = e.hs.URL + "/harness/"
	if strings.Contains(refused, "://"+e.hs.Listener.Addr().String()+"/") {
		e.Close()
		return nil, errors.New("e2e: the refused port was reused by the scenario server; run again")
	}
	if e.nodews, err = StartNodeWS(ctx); err != nil {
		e.Close()
		return nil, err
	}
	e.NodeWSURL = e.nodews.BaseURL
	e.bctx, e.stopBrow, err = browser.Start(context.Background())
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("e2e: %w", err)
	}
	return e, nil
}

// Close stops the browser and the servers and removes the bundle.
func (e *Env) Close() {
	if e.stopBrow != nil {
		e.stopBrow()
	}
	e.nodews.Stop()
	if e.srv != nil {
		e.srv.Close()
	}
	if e.hs != nil {
		e.hs.Close()
	}
	os.RemoveAll(e.dir)
}

// Config is the scenarios.Config of this environment.
func (e *Env) Config() scenarios.Config {
	return scenarios.Config{BaseURL: e.BaseURL, RefusedURL: e.RefusedURL, NodeWSURL: e.NodeWSURL}
}

// Native runs scenario name natively, in this process.
func (e *Env) Native(ctx context.Context, name string) scenarios.Trace {
	return scenarios.RunConfig(ctx, name, e.Config())
}

// Browser runs scenario name in a new tab of the browser and returns its
// trace, and the page's console output (for diagnosis).
func (e *Env) Browser(ctx context.Context, name string) (scenarios.Trace, []string, error) {
	var tr scenarios.Trace
	tab, closeTab := browser.NewTab(e.bctx)
	defer closeTab()
	// The first action opens the tab; it must not carry a deadline, which
	// would bind the tab's life to it.
	if err := chromedp.Do(tab); err != nil {
		return tr, nil, fmt.Errorf("e2e: opening a tab: %w", err)
	}
	var (
		consoleMu sync.Mutex
		console   []string
	)
	lctx, stopListen := context.WithCancel(tab)
	defer stopListen()
	msgs := chromedp.Console(lctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			consoleMu.Lock()
			console = append(console, fmt.Sprint(m))
			consoleMu.Unlock()
		}
	}()
	consoleLines := func() []string {
		consoleMu.Lock()
		defer consoleMu.Unlock()
		return append([]string(nil), console...)
	}
	tctx, cancel := context.WithTimeout(tab, BrowserTimeout)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-tctx.Done():
		}
	}()
	if err := chromedp.Do(tctx, chromedp.Navigate(e.PageURL)); err != nil {
		return tr, consoleLines(), fmt.Errorf("e2e: loading %s: %w", e.PageURL, err)
	}
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`window.dualwsReady === true`, chromedp.WithPollingInterval(10*time.Millisecond))); err != nil {
		return tr, consoleLines(), fmt.Errorf("e2e: waiting for the harness to load: %w", err)
	}
	args, err := json.Marshal([]string{name, e.BaseURL, e.RefusedURL, e.NodeWSURL})
	if err != nil {
		return tr, nil, fmt.Errorf("e2e: encoding the arguments: %w", err)
	}
	expr := "dualwsRun(..." + string(args) + ")"
	raw, err := chromedp.Run(tctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return tr, consoleLines(), fmt.Errorf("e2e: running %s in the browser: %w", name, err)
	}
	if err := json.Unmarshal([]byte(raw), &tr); err != nil {
		return tr, consoleLines(), fmt.Errorf("e2e: decoding the browser's trace: %w", err)
	}
	return tr, consoleLines(), nil
}
