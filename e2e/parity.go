// Package e2e runs the parity scenarios (package scenarios) natively and in
// headless browsers of three engines (Chromium, Firefox, WebKit) and
// compares their traces. Its tests are the e2e suite; e2e/demo is the
// `make demo` command. Both use Env.
//
// A browser is started without a driver (internal/engine) on the harness
// page in remote mode (wasm/harness/remote.go): the page asks this process
// for a scenario, runs it and posts the trace back, one scenario at a
// time, so one launch per engine serves a whole run (Env.Launch, Browser).
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dualws/dualws/internal/postback"
	"github.com/dualws/dualws/scenarios"
	"github.com/dualws/dualws/testserver/server"
)

// Env is a running parity environment: the harness bundle, the scenario
// server serving it (and collecting the pages' traces), the Node ws server
// of the seed matrix, and the browsers launched with Launch.
type Env struct {
	// BaseURL is the scenario server's ws:// base URL.
	BaseURL string
	// NodeWSURL is the Node ws server's ws:// base URL.
	NodeWSURL string
	// PageURL is the harness page.
	PageURL string
	// RefusedURL is a ws:// URL where nothing listens.
	RefusedURL string

	dir    string
	nodews *NodeWS
	srv    *server.Server
	hs     *httptest.Server

	mu       sync.Mutex
	browsers map[string]*Browser // by their page's token
	hubOnce  sync.Once
	reports  *postback.Hub[scenarios.RemoteReport, scenarios.RemoteReply]

	// bctx is a headless Chromium driven by chromedp (internal/browser),
	// for the tests that inspect a page (CSP, wss://, dial errors); the
	// e2e tests' TestMain starts it, Close stops it.
	bctx     context.Context
	stopBrow func()
}

// BrowserTimeout bounds one scenario in the browser (Browser.RunTimeout).
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

// Start builds the harness into a temporary directory and starts the
// scenario server and the Node ws server (StartNodeWS) on 127.0.0.1; no
// browser yet (Launch). Call Close when done.
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
	mux := http.NewServeMux()
	mux.Handle("POST "+reportPath, e.hub())
	mux.Handle("/", e.srv)
	e.hs = httptest.NewUnstartedServer(mux)
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
	return e, nil
}

// Close stops the browsers and the servers and removes the bundle.
func (e *Env) Close() {
	if e.stopBrow != nil {
		e.stopBrow()
	}
	e.mu.Lock()
	var bs []*Browser
	for _, b := range e.browsers {
		bs = append(bs, b)
	}
	e.mu.Unlock()
	for _, b := range bs {
		b.Close()
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
