// Package browser starts one headless Chromium with chromedp for the
// project's browser tests, demos and benchmarks.
//
// Typical use, once per test binary or command:
//
//	bctx, stop, err := browser.Start(context.Background())
//	if err != nil { ... }
//	defer stop()
//	tab, closeTab := browser.NewTab(bctx)
//	defer closeTab()
//	err = chromedp.Do(tab, chromedp.Navigate(url))
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// DefaultPath is where Debian's chromium package installs the browser.
const DefaultPath = "/usr/bin/chromium"

// ErrNoChromium is wrapped by Start's error when no Chromium executable is
// found.
var ErrNoChromium = errors.New("chromium not found")

// Path returns the Chromium executable to use: $CHROMIUM if set, else
// DefaultPath. It reports an error wrapping ErrNoChromium, with a hint on
// how to install it, when that file is not an executable.
func Path() (string, error) {
	p := os.Getenv("CHROMIUM")
	if p == "" {
		p = DefaultPath
	}
	if lp, err := exec.LookPath(p); err == nil {
		return lp, nil
	}
	return "", fmt.Errorf("browser: %w at %q: install Debian's chromium package (apt-get install chromium, or `make chromium` as root) or set CHROMIUM to its path", ErrNoChromium, p)
}

// Options tunes Start. The zero value is fine.
type Options struct {
	// Flags are extra Chromium command-line flags (name → value, true for
	// a bare switch).
	Flags map[string]any
	// Logf, if set, receives chromedp's error log lines.
	Logf func(format string, args ...any)
}

// Start launches headless Chromium and returns a context bound to its first
// tab. Derive tabs with NewTab; they share the browser and may be used in
// parallel. cancel closes the browser and waits for it to exit. The
// browser is started before Start returns, so callers may put deadlines on
// later actions without ending the browser.
func Start(ctx context.Context) (browserCtx context.Context, cancel func(), err error) {
	return StartWith(ctx, Options{})
}

// StartWith is Start with options.
func StartWith(ctx context.Context, o Options) (browserCtx context.Context, cancel func(), err error) {
	path, err := Path()
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("disable-gpu", true),
		// Tabs started in the background must keep running their timers.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	)
	for name, v := range o.Flags {
		opts = append(opts, chromedp.Flag(name, v))
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	var copts []chromedp.ContextOption
	if o.Logf != nil {
		copts = append(copts, chromedp.WithErrorf(o.Logf))
	}
	bctx, bcancel := chromedp.NewContext(actx, copts...)
	if err := chromedp.Do(bctx); err != nil {
		bcancel()
		acancel()
		return nil, nil, fmt.Errorf("browser: starting %s: %w", path, err)
	}
	stop := func() {
		_ = chromedp.Cancel(bctx)
		bcancel()
		acancel()
	}
	return bctx, stop, nil
}

// NewTab returns a context for a new tab of the browser that Start
// returned. The tab opens on its first action; cancel closes it.
func NewTab(browserCtx context.Context) (context.Context, context.CancelFunc) {
	return chromedp.NewContext(browserCtx)
}
