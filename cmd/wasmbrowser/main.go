// Command wasmbrowser runs a js/wasm test binary in a headless browser, as
// a `go test -exec` program: Chromium, Firefox or WebKit.
//
// Build it for the host (not for js/wasm) and hand it to go test:
//
//	go build -o bin/wasmbrowser github.com/dualws/dualws/cmd/wasmbrowser
//	GOOS=js GOARCH=wasm go test -exec="$PWD/bin/wasmbrowser" ./...
//	GOOS=js GOARCH=wasm go test -exec="$PWD/bin/wasmbrowser -browser firefox" ./...
//
// or without a build step, unsetting GOOS and GOARCH for `go run` alone
// (it would otherwise build the runner itself for js/wasm):
//
//	GOOS=js GOARCH=wasm go test -exec="env -u GOOS -u GOARCH go run github.com/dualws/dualws/cmd/wasmbrowser" ./...
//
// go test runs `wasmbrowser [runner flags] pkg.test [test flags]`: the
// runner's flags come before the binary, everything after it goes to the
// test. The browser is -browser, else $WASMBROWSER, else chromium.
//
// The runner serves a page on 127.0.0.1 with the binary and the
// wasm_exec.js of the Go that runs it ($GOROOT/lib/wasm), opens it in the
// browser with a fresh profile, and exits with the test's exit status. The
// page posts the test's stdout and stderr back as they are written (fd 1
// to stdout, fd 2 and the page's console errors to stderr; go test merges
// them) and forwards every other file operation to the runner, which
// performs it on the host: tests can read testdata/, and
// -test.coverprofile, -test.gocoverdir and -test.cpuprofile are written
// where go test expects them. Paths resolve against the runner's working
// directory, the package directory under go test.
//
// The environment: wasm_exec.js refuses more than about 8 KB of arguments
// and environment together, so only variables whose names start with GO or
// DUALWS_, and TMPDIR, are passed; -env (or $WASMBROWSER_ENV) adds more, as
// a comma-separated list of names or prefixes ending in '*'. The runner
// checks the size first and names the largest variables if it is over.
//
// The runner stops with an error if the page has not started the test
// within -load-timeout, or if the test has not exited 30s after the
// -test.timeout that go test passes (the test itself panics at that
// timeout). A browser that exits before the page has started the test
// (Chromium now and then segfaults while starting up) is launched again,
// at most twice, with a line on stderr; once the test has started, the
// browser's exit is the test's failure. The browser's process tree and profile directory are removed in
// every case, and on SIGINT, SIGTERM and SIGHUP.
//
// With -worker the test runs in a dedicated Web Worker instead of the page
// itself, as many programs run Go wasm: the page starts a Worker that
// loads the same scripts (wasm_exec.js among them) with importScripts, and
// the Worker posts output, file operations and the exit status to the
// runner itself, with the same argv, environment and timeouts. A test can
// tell where it runs: a Worker has no document.
package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dualws/dualws/internal/engine"
)

//go:embed page
var page embed.FS

// stopSignals end the runner, and with it the browser (signals_unix.go adds
// SIGHUP).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func main() {
	if runtime.GOOS == "js" {
		fmt.Fprintln(os.Stderr, `wasmbrowser: this runner was built for js/wasm, but it must run on the host: build it without GOOS=js GOARCH=wasm, e.g. -exec="env -u GOOS -u GOARCH go run github.com/dualws/dualws/cmd/wasmbrowser"`)
		os.Exit(2)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, for the tests.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wasmbrowser", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wasmbrowser [flags] test.wasm [test flags]  (as go test -exec)")
		fs.PrintDefaults()
	}
	browser := fs.String("browser", os.Getenv("WASMBROWSER"), "chromium, firefox or webkit (default $WASMBROWSER, else chromium)")
	extraEnv := fs.String("env", os.Getenv("WASMBROWSER_ENV"), "more environment variables for the test: names or prefixes ending in '*', comma-separated")
	loadTimeout := fs.Duration("load-timeout", 60*time.Second, "how long the browser may take to start the test")
	verbose := fs.Bool("v", os.Getenv("WASMBROWSER_VERBOSE") != "", "print the browser's own log and the runner's steps to stderr")
	worker := fs.Bool("worker", false, "run the test in a dedicated Web Worker that the page starts, not in the page itself")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 2
	}
	if *browser == "" {
		*browser = string(engine.Chromium)
	}
	eng, err := engine.Parse(*browser)
	if err != nil {
		fmt.Fprintln(stderr, "wasmbrowser:", err)
		return 2
	}
	r := &runner{
		engine:      eng,
		wasm:        fs.Arg(0),
		args:        fs.Args()[1:],
		stdout:      stdout,
		stderr:      stderr,
		loadTimeout: *loadTimeout,
		verbose:     *verbose,
		worker:      *worker,
		fds:         map[int]*os.File{},
		nextFD:      100,
		started:     make(chan struct{}),
		exited:      make(chan int, 1),
	}
	env, err := testEnv(os.Environ(), *extraEnv)
	if err != nil {
		fmt.Fprintln(stderr, "wasmbrowser:", err)
		return 2
	}
	r.env = env
	code, err := r.run()
	if err != nil {
		fmt.Fprintln(stderr, "wasmbrowser:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// maxRelaunches bounds how many times a browser that exits before the test
// starts is launched again.
const maxRelaunches = 2

type runner struct {
	engine      engine.Name
	wasm        string
	args        []string
	env         map[string]string
	stdout      io.Writer
	stderr      io.Writer
	loadTimeout time.Duration
	verbose     bool
	worker      bool // -worker

	outMu sync.Mutex // orders writes to stdout and stderr

	fdMu   sync.Mutex
	fds    map[int]*os.File
	nextFD int

	startOnce  sync.Once
	started    chan struct{}
	hasStarted atomic.Bool // started is closed
	exited     chan int
}

func (r *runner) logf(format string, args ...any) {
	if r.verbose {
		r.outMu.Lock()
		fmt.Fprintf(r.stderr, "wasmbrowser: "+format+"\n", args...)
		r.outMu.Unlock()
	}
}

func (r *runner) run() (int, error) {
	wasmBytes, err := os.ReadFile(r.wasm)
	if err != nil {
		return 1, err
	}
	argv := append([]string{r.wasm}, r.args...)
	if err := checkArgSize(argv, r.env); err != nil {
		return 1, err
	}
	glue, err := wasmExec()
	if err != nil {
		return 1, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return 1, err
	}
	settle := engine.Settle(r.engine) // the page waits this long before it runs the test binary
	config, err := json.Marshal(map[string]any{"argv": argv, "env": r.env, "cwd": cwd, "pid": os.Getpid(), "ppid": os.Getppid(), "settleMs": settle.Milliseconds()})
	if err != nil {
		return 1, err
	}
	token := make([]byte, 16)
	rand.Read(token)
	prefix := "/" + hex.EncodeToString(token) + "/"

	mux := http.NewServeMux()
	static := func(body []byte, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "no-store")
			w.Write(body)
		}
	}
	files := []struct{ name, ctype string }{{"index.html", "text/html; charset=utf-8"}, {"shim.js", "text/javascript"}, {"run.js", "text/javascript"}}
	home := "index.html" // served at the prefix itself
	if r.worker {
		// worker.html starts worker.js in a dedicated Worker, which loads
		// shim.js, wasm_exec.js and run.js with importScripts.
		files = append(files, []struct{ name, ctype string }{{"worker.html", "text/html; charset=utf-8"}, {"worker-page.js", "text/javascript"}, {"worker.js", "text/javascript"}}...)
		home = "worker.html"
	}
	for _, f := range files {
		b, _ := page.ReadFile("page/" + f.name)
		name := f.name
		if name == home {
			name = ""
		}
		mux.HandleFunc("GET "+prefix+name, static(b, f.ctype))
	}
	mux.HandleFunc("GET "+prefix+"wasm_exec.js", static(glue, "text/javascript"))
	mux.HandleFunc("GET "+prefix+"config", static(config, "application/json"))
	mux.HandleFunc("GET "+prefix+"test.wasm", static(wasmBytes, "application/wasm"))
	mux.HandleFunc("POST "+prefix+"started", func(w http.ResponseWriter, _ *http.Request) {
		r.startOnce.Do(func() { r.hasStarted.Store(true); close(r.started) })
	})
	mux.HandleFunc("POST "+prefix+"out", r.handleOut)
	mux.HandleFunc("POST "+prefix+"exit", func(w http.ResponseWriter, req *http.Request) {
		code, err := strconv.Atoi(req.URL.Query().Get("code"))
		if err != nil {
			http.Error(w, "bad code", http.StatusBadRequest)
			return
		}
		select {
		case r.exited <- code:
		default:
		}
	})
	mux.HandleFunc("POST "+prefix+"fs/{op}", r.handleFS)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 1, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		r.closeAll()
	}()

	url := "http://" + ln.Addr().String() + prefix
	if r.worker {
		r.logf("serving %s at %s, launching %s, the test to run in a Worker", r.wasm, url, r.engine)
	} else {
		r.logf("serving %s at %s, launching %s", r.wasm, url, r.engine)
	}
	blog := engine.NewTailBuffer(8 << 10)
	var logw io.Writer = blog
	if r.verbose {
		logw = io.MultiWriter(blog, lockedWriter{&r.outMu, r.stderr})
	}
	browserExited := make(chan error, 1)
	launch := func() (stop func(), err error) {
		return engine.Launch(context.Background(), r.engine, url, &engine.Options{
			Log:    logw,
			OnExit: func(err error) { browserExited <- err },
		})
	}
	stop, err := launch()
	if err != nil {
		return 1, err
	}
	defer func() { stop() }()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)

	var deadline <-chan time.Time
	if d := testTimeout(r.args); d > 0 {
		deadline = time.After(d + 30*time.Second)
	}
	load := time.NewTimer(r.loadTimeout)
	defer load.Stop()
	started := r.started
	relaunches := 0
	for {
		select {
		case code := <-r.exited:
			r.logf("test exited with %d", code)
			return code, nil
		case <-started:
			load.Stop()
			started = nil
		case <-load.C:
			return 1, fmt.Errorf("%s did not start the test within %v; its log ends:\n%s", r.engine, r.loadTimeout, blog)
		case err := <-browserExited:
			if !r.hasStarted.Load() && relaunches < maxRelaunches { // not posted just before the browser died, the exit winning the select
				// The browser died before the test began (Chromium
				// sometimes segfaults while starting up): nothing of the
				// test has run, so a fresh browser runs it.
				relaunches++
				fmt.Fprintf(r.stderr, "wasmbrowser: %s exited before it started the test (%v); launching it again (%d of %d)\n", r.engine, err, relaunches, maxRelaunches)
				stop()
				if stop, err = launch(); err != nil {
					stop = func() {}
					return 1, err
				}
				load.Reset(r.loadTimeout)
				continue
			}
			return 1, fmt.Errorf("%s exited before the test did (%v); its log ends:\n%s", r.engine, err, blog)
		case <-deadline:
			return 1, fmt.Errorf("the test did not exit within its -test.timeout and 30s more")
		case s := <-sigs:
			return 1, fmt.Errorf("stopped by %v", s)
		}
	}
}

// handleOut writes a chunk of the test's output.
func (r *runner) handleOut(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	dst := r.stdout
	if req.URL.Query().Get("fd") == "2" {
		dst = r.stderr
	}
	r.outMu.Lock()
	dst.Write(body)
	r.outMu.Unlock()
}

// wasmExec returns the wasm_exec.js of the Go that built the test: the one
// in $GOROOT, else in `go env GOROOT` of the go on $PATH (go test puts its
// own first).
func wasmExec() ([]byte, error) {
	root := os.Getenv("GOROOT")
	if root == "" {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return nil, fmt.Errorf("finding GOROOT for wasm_exec.js: %w", err)
		}
		root = strings.TrimSpace(string(out))
	}
	for _, p := range []string{"lib/wasm/wasm_exec.js", "misc/wasm/wasm_exec.js"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("no wasm_exec.js in %s/lib/wasm", root)
}

// testEnv picks the variables the test gets: GO*, DUALWS_*, TMPDIR, and
// the names or prefixes (ending in '*') listed in extra.
func testEnv(environ []string, extra string) (map[string]string, error) {
	patterns := []string{"GO*", "DUALWS_*", "TMPDIR"}
	for _, p := range strings.Split(extra, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if strings.ContainsAny(strings.TrimSuffix(p, "*"), "*=") {
				return nil, fmt.Errorf("-env: %q is neither a name nor a prefix ending in '*'", p)
			}
			patterns = append(patterns, p)
		}
	}
	match := func(name string) bool {
		for _, p := range patterns {
			if pre, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, pre) || name == p {
				return true
			}
		}
		return false
	}
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && match(k) {
			env[k] = v
		}
	}
	if _, ok := env["TMPDIR"]; !ok {
		env["TMPDIR"] = os.TempDir()
	}
	return env, nil
}

// argLimit is the room wasm_exec.js has for argv and the environment:
// strings and pointers must end below 4096+8192 in the wasm memory.
const argLimit = 8192

// argSize is what wasm_exec.js uses for argv and env: each string with a
// NUL, padded to 8 bytes, plus an 8-byte pointer per entry and two
// terminators.
func argSize(argv []string, env map[string]string) int {
	pad := func(n int) int { return (n + 7) &^ 7 }
	n := 0
	for _, a := range argv {
		n += pad(len(a) + 1)
	}
	for k, v := range env {
		n += pad(len(k) + len(v) + 2)
	}
	return n + 8*(len(argv)+len(env)+2)
}

func checkArgSize(argv []string, env map[string]string) error {
	n := argSize(argv, env)
	if n < argLimit {
		return nil
	}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int { return len(env[b]) - len(env[a]) })
	var big []string
	for _, k := range names[:min(5, len(names))] {
		big = append(big, fmt.Sprintf("%s (%d bytes)", k, len(k)+len(env[k])+1))
	}
	return fmt.Errorf("arguments and environment take %d bytes, and wasm_exec.js allows less than %d; the largest variables: %s",
		n, argLimit, strings.Join(big, ", "))
}

// testTimeout returns the -test.timeout among the test's arguments (0 if
// none).
func testTimeout(args []string) time.Duration {
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if v, ok := strings.CutPrefix(a, "test.timeout="); ok {
			d, _ := time.ParseDuration(v)
			return d
		}
		if a == "test.timeout" && i+1 < len(args) {
			d, _ := time.ParseDuration(args[i+1])
			return d
		}
	}
	return 0
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
