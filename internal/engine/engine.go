// Package engine starts a headless browser of one of three engines
// (Chromium, Firefox, WebKit) on a URL, each with a fresh profile, and
// stops it without leaving processes or files behind.
//
// It only launches: the page is expected to report back to whoever serves
// it (for example by posting to its own HTTP server), so the same code
// drives all three engines and no WebDriver or DevTools protocol is needed.
// cmd/wasmbrowser uses it to run js/wasm tests; the parity suite can use it
// for the engines that chromedp does not drive.
//
//	stop, err := engine.Launch(ctx, engine.Firefox, "http://127.0.0.1:1234/", nil)
//	if err != nil { ... } // err names the Debian package to install
//	defer stop()
//
// The executables, and the Debian packages that provide them:
//
//	chromium  $CHROMIUM, else /usr/bin/chromium                (chromium)
//	firefox   $FIREFOX, else firefox-esr or firefox on $PATH   (firefox-esr)
//	webkit    $WEBKIT_MINIBROWSER, else WebKitGTK's MiniBrowser (webkit2gtk-driver
//	          brings it through libwebkit2gtk-4.1-0), on a display
//	          from Xvfb on $PATH                                (xvfb)
//
// Only Linux is supported: the browsers are found where Debian installs
// them, and stop walks /proc to kill every descendant.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Name is a browser engine.
type Name string

// The engines Launch knows.
const (
	Chromium Name = "chromium"
	Firefox  Name = "firefox"
	WebKit   Name = "webkit"
)

// All lists every engine, in the order the project reports them.
var All = []Name{Chromium, Firefox, WebKit}

// Settle is how long a harness should wait, after its page has loaded,
// before it runs anything timing-sensitive in n: 3 s for Firefox, which
// for a few seconds after its first page is still starting up and delivers
// socket events to the page late. The parity suite's first seed cells
// missed a close in 5 of 25 fresh launches without the wait and in 0 of 25
// with it (all 5 Sends accepted, the close event 8 ms or more after the
// server's close); the js seed test, the first test wasmbrowser runs,
// accepted every Send after a drop in 2 of 23 runs without it and 0 of 12
// with it. Other engines need none.
func Settle(n Name) time.Duration {
	if n == Firefox {
		return 3 * time.Second
	}
	return 0
}

// ErrNotInstalled is wrapped by the errors of Check and Launch when an
// engine's executable is missing.
var ErrNotInstalled = errors.New("not installed")

// Parse returns the engine called s (case-insensitive; "chrome" means
// Chromium, "safari" WebKit), or an error listing the known names.
func Parse(s string) (Name, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "chromium", "chrome":
		return Chromium, nil
	case "firefox", "firefox-esr", "gecko":
		return Firefox, nil
	case "webkit", "safari", "minibrowser":
		return WebKit, nil
	}
	return "", fmt.Errorf("engine: unknown browser %q: want chromium, firefox or webkit", s)
}

// ParseList parses a comma-separated list of engines ("" means All).
func ParseList(s string) ([]Name, error) {
	if strings.TrimSpace(s) == "" {
		return slices.Clone(All), nil
	}
	var out []Name
	for _, f := range strings.Split(s, ",") {
		n, err := Parse(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Options tunes Launch. A nil *Options is fine.
type Options struct {
	// Log receives the browser's own stdout and stderr (nil discards
	// them). They are the browser's diagnostics, not the page's output.
	Log io.Writer
	// Args are extra command-line arguments placed before the URL.
	Args []string
	// OnExit, if set, is called (once, from another goroutine) when the
	// browser process exits before stop was called: it crashed or quit.
	OnExit func(error)
	// Env are extra environment variables ("KEY=value") for the browser,
	// after (so overriding) the ones Launch sets. Its child processes
	// inherit them: a profiler's settings, for example.
	Env []string
	// Started, if set, is called with the browser process's pid once it
	// has started, before Launch returns. Descendants(pid) then finds its
	// child processes (content, web or network processes).
	Started func(pid int)
}

// Check reports whether engine n can be launched: nil, or an error that
// wraps ErrNotInstalled and names the Debian package to install.
func Check(n Name) error {
	_, err := executables(n)
	return err
}

// Version returns the engine's version line, e.g. "Chromium 156.0...",
// or "" when it cannot tell.
func Version(n Name) string {
	exe, err := executables(n)
	if err != nil {
		return ""
	}
	switch n {
	case Chromium, Firefox:
		out, err := exec.Command(exe[0], "--version").Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	case WebKit:
		// MiniBrowser needs a display to print anything; the library's
		// file name carries the version instead.
		libs, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(exe[0])), "libwebkit2gtk-4.*.so.*.*"))
		if len(libs) > 0 {
			return "WebKitGTK " + filepath.Base(libs[len(libs)-1])
		}
	}
	return ""
}

func notInstalled(what, pkg, env string) error {
	return fmt.Errorf("engine: %s is %w: install Debian's %s package (apt-get install %s; `make browsers` does it as root) or set %s to its path",
		what, ErrNotInstalled, pkg, pkg, env)
}

// executables returns the executables an engine needs: the browser, then
// (WebKit) Xvfb.
func executables(n Name) ([]string, error) {
	look := func(env string, candidates ...string) (string, bool) {
		if p := os.Getenv(env); p != "" {
			candidates = []string{p}
		}
		for _, c := range candidates {
			if strings.ContainsAny(c, "*?[") {
				m, _ := filepath.Glob(c)
				slices.Sort(m)
				if len(m) == 0 {
					continue
				}
				c = m[len(m)-1]
			}
			if p, err := exec.LookPath(c); err == nil {
				return p, true
			}
		}
		return "", false
	}
	switch n {
	case Chromium:
		p, ok := look("CHROMIUM", "/usr/bin/chromium")
		if !ok {
			return nil, notInstalled("chromium", "chromium", "CHROMIUM")
		}
		return []string{p}, nil
	case Firefox:
		p, ok := look("FIREFOX", "firefox-esr", "firefox")
		if !ok {
			return nil, notInstalled("firefox", "firefox-esr", "FIREFOX")
		}
		return []string{p}, nil
	case WebKit:
		p, ok := look("WEBKIT_MINIBROWSER",
			"/usr/lib/*-linux-gnu/webkit2gtk-4.1/MiniBrowser",
			"/usr/lib/*-linux-gnu/webkit2gtk-4.0/MiniBrowser",
			"/usr/libexec/webkit2gtk-4.1/MiniBrowser")
		if !ok {
			return nil, notInstalled("WebKitGTK's MiniBrowser", "webkit2gtk-driver", "WEBKIT_MINIBROWSER")
		}
		x, ok := look("XVFB", "Xvfb")
		if !ok {
			return nil, notInstalled("Xvfb (WebKitGTK needs a display)", "xvfb", "XVFB")
		}
		return []string{p, x}, nil
	}
	return nil, fmt.Errorf("engine: unknown engine %q", n)
}

// Launch starts engine n headless (WebKit on its own Xvfb display) with a
// fresh profile in a new temporary directory, and opens url. It returns
// once the browser process has started, not when the page has loaded.
//
// stop ends the browser: SIGTERM to every process it started, SIGKILL to
// whatever is left after two seconds, then it waits for them and removes
// the temporary directory. stop is safe to call more than once and from
// several goroutines. Cancelling ctx kills the browser too, but only stop
// removes the directory, so always call it. On Linux the browser is also
// killed if the calling process dies first (a SIGKILLed caller leaves the
// profile directory behind).
func Launch(ctx context.Context, n Name, url string, o *Options) (stop func(), err error) {
	l, err := launch(ctx, n, url, o)
	if err != nil {
		return nil, err
	}
	return l.stop, nil
}

func launch(ctx context.Context, n Name, url string, o *Options) (_ *launched, err error) {
	if o == nil {
		o = &Options{}
	}
	exe, err := executables(n)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "engine-"+string(n)+"-")
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	l := &launched{dir: dir}
	defer func() {
		if err != nil {
			l.stop()
		}
	}()
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	env := append(os.Environ(), "HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_RUNTIME_DIR="+dir)
	var args []string
	switch n {
	case Chromium:
		args = []string{exe[0], "--headless", "--user-data-dir=" + filepath.Join(dir, "profile"),
			"--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--disable-breakpad", "--disable-dev-shm-usage", "--password-store=basic", "--use-mock-keychain",
			"--mute-audio", "--remote-debugging-pipe",
			// A page in the background must keep running its timers.
			"--disable-background-timer-throttling", "--disable-renderer-backgrounding",
			"--disable-backgrounding-occluded-windows"}
		if os.Geteuid() == 0 {
			args = append(args, "--no-sandbox") // Chromium refuses to run as root otherwise
		}
	case Firefox:
		profile := filepath.Join(dir, "profile")
		if err := os.MkdirAll(profile, 0o700); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(firefoxPrefs), 0o600); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		args = []string{exe[0], "--headless", "--no-remote", "--new-instance", "--profile", profile}
		env = append(env, "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_HEADLESS=1")
	case WebKit:
		display, err := l.startXvfb(exe[1], logw)
		if err != nil {
			return nil, err
		}
		args = []string{exe[0]}
		env = append(env, "DISPLAY="+display, "WEBKIT_DISABLE_COMPOSITING_MODE=1", "GDK_BACKEND=x11",
			"LIBGL_ALWAYS_SOFTWARE=1", "NO_AT_BRIDGE=1")
		if os.Geteuid() == 0 {
			// WebKit's bubblewrap sandbox does not start as root in a container.
			env = append(env, "WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS=1")
		}
	}
	args = append(append(args, o.Args...), url)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(env, o.Env...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logw, logw
	if n == Chromium {
		// --remote-debugging-pipe keeps headless Chromium running until
		// the pipe closes; nothing is spoken on it.
		r3, w3, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		r4, w4, err := os.Pipe()
		if err != nil {
			r3.Close()
			w3.Close()
			return nil, fmt.Errorf("engine: %w", err)
		}
		cmd.ExtraFiles = []*os.File{r3, w4}
		l.closers = append(l.closers, w3, r4)
		defer r3.Close()
		defer w4.Close()
		go io.Copy(io.Discard, r4) //nolint:errcheck // drained until the browser exits
	}
	if err := l.start(cmd); err != nil {
		return nil, fmt.Errorf("engine: starting %s: %w", args[0], err)
	}
	if o.Started != nil {
		o.Started(cmd.Process.Pid)
	}
	if o.OnExit != nil {
		p := l.procs[len(l.procs)-1]
		go func() {
			<-p.waited
			select {
			case <-l.done:
			default:
				o.OnExit(fmt.Errorf("%s: %v", n, p.err))
			}
		}()
	}
	go func() {
		select {
		case <-ctx.Done():
			l.stop()
		case <-l.done:
		}
	}()
	return l, nil
}

// firefoxPrefs make a fresh profile quiet: no first-run pages, updates,
// telemetry or background connections, and page console lines on stdout.
// network.websocket.delay-failed-reconnects off: by default Firefox delays
// a WebSocket to a host and port whose connections failed before opening,
// 200 ms growing by half per failure up to 60 s; a suite that drops many
// connections on one server would otherwise see dials wait for seconds
// (redial-cancel's did, in make demo REPEAT=5).
const firefoxPrefs = `user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("startup.homepage_welcome_url", "");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("app.update.enabled", false);
user_pref("app.update.auto", false);
user_pref("extensions.update.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.tabs.warnOnClose", false);
user_pref("dom.disable_open_during_load", false);
user_pref("devtools.console.stdout.content", true);
user_pref("browser.sessionstore.resume_from_crash", false);
user_pref("toolkit.startup.max_resumed_crashes", -1);
user_pref("network.websocket.delay-failed-reconnects", false);
`

// launched tracks the processes of one Launch.
type launched struct {
	dir     string
	mu      sync.Mutex
	procs   []*proc
	closers []io.Closer
	done    chan struct{} // closed by stop
	once    sync.Once
}

func (l *launched) start(cmd *exec.Cmd) error {
	setProcAttr(cmd)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		l.done = make(chan struct{})
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, waited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.waited)
	}()
	l.procs = append(l.procs, p)
	return nil
}

// proc is one started process; waited is closed once it has been reaped,
// and err is then Wait's result.
type proc struct {
	cmd    *exec.Cmd
	waited chan struct{}
	err    error
}

// startXvfb starts Xvfb on a free display and returns it (":N").
func (l *launched) startXvfb(xvfb string, logw io.Writer) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("engine: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(xvfb, "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "1280x1024x24", "-nolock")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = logw, logw
	err = l.start(cmd)
	w.Close()
	if err != nil {
		return "", fmt.Errorf("engine: starting %s: %w", xvfb, err)
	}
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(r, 64))
		ch <- result{strings.TrimSpace(string(b)), err}
	}()
	select {
	case res := <-ch:
		if res.s == "" {
			return "", fmt.Errorf("engine: Xvfb gave no display number (%v)", res.err)
		}
		// Xvfb writes the number and a newline, then keeps the fd open.
		return ":" + res.s, nil
	case <-time.After(20 * time.Second):
		return "", errors.New("engine: Xvfb did not report a display within 20s")
	}
}

func (l *launched) stop() {
	l.once.Do(func() {
		l.mu.Lock()
		if l.done == nil {
			l.done = make(chan struct{})
		}
		close(l.done)
		procs := slices.Clone(l.procs)
		l.mu.Unlock()
		// Browsers first (they need the display), then Xvfb.
		slices.Reverse(procs)
		for _, p := range procs {
			killTree(p)
		}
		for _, c := range l.closers {
			c.Close()
		}
		os.RemoveAll(l.dir)
	})
}

// Descendants returns the pids of every live descendant of process pid
// (children, their children, ...), read from /proc; nil off Linux.
func Descendants(pid int) []int { return descendants(pid) }

// killTree ends p and every descendant: SIGTERM, then SIGKILL after a
// grace period, then waits for p.
func killTree(p *proc) {
	pid := p.cmd.Process.Pid
	waited := p.waited
	pids := descendants(pid)
	signalAll(pid, pids, syscall.SIGTERM)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		pids = alive(append(pids, descendants(pid)...))
		select {
		case <-waited:
			if len(pids) == 0 {
				return
			}
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	signalAll(pid, append(pids, descendants(pid)...), syscall.SIGKILL)
	<-waited
	// Descendants reparented after their parent died are not ours to
	// wait for, but they were killed above.
	for i := 0; i < 100 && len(alive(pids)) > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

func signalAll(leader int, pids []int, sig syscall.Signal) {
	syscall.Kill(-leader, sig) // the process group started for the browser
	for _, p := range pids {
		syscall.Kill(p, sig)
	}
}
