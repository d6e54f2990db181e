package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dualws/dualws/internal/engine"
)

// firefoxProfiler profiles one case in Firefox with its own (Gecko)
// profiler: started with the browser (MOZ_PROFILER_STARTUP, main threads
// only, 1 ms), stopped by SIGUSR2 to the parent process after the case,
// which makes Firefox gather every process's samples and write
// $MOZ_UPLOAD_DIR/profile_0_<pid>.json while it keeps running. The
// samples of the content processes' main threads that ran the page,
// within the case's time (the driver's clock, which is the same Unix
// clock as the profile's), are summarised.
//
// Firefox writes the file twice, first with the parent process alone, so
// stop waits for a version that holds the page's thread. Frames are the
// profiler's labels (C++ labels such as WebSocket.send, IPC messages such
// as PWebSocket::Msg_SendBinaryMsg) and JS and wasm functions, which
// carry their file (dualws.wasm, wasm_exec.js); native code is an
// address (Debian's libxul has no symbols), so a sample's self function
// is its innermost named frame: XRE_InitChildProcess as self means native
// code under no label (the event loop, IPC dispatch). Set
// BENCHREPORT_KEEP_PROFILE=1 to keep the profile (os.TempDir()/gecko-*.json)
// for the Firefox Profiler.
//
// Tried and dropped: MOZ_PROFILER_SHUTDOWN needs a graceful quit, and
// Firefox 153 exits at once on SIGTERM without writing it (the content
// processes die with the parent: "Exiting due to channel error").
// Starting the profiler with SIGUSR1 just before the case (instead of at
// start-up) was tried once, read before the second write, and not
// retried.
type firefoxProfiler struct {
	dir      string
	pid      int
	host     string // the page's host:port, to pick the page's threads
	from, to time.Time
}

func newFirefoxProfiler(host string, o *engine.Options) (*firefoxProfiler, error) {
	dir, err := os.MkdirTemp("", "geckoprofile")
	if err != nil {
		return nil, err
	}
	f := &firefoxProfiler{dir: dir, host: host}
	o.Env = append(o.Env,
		"MOZ_PROFILER_STARTUP=1",
		"MOZ_UPLOAD_DIR="+dir,
		"MOZ_PROFILER_STARTUP_FEATURES=js,cpu",
		"MOZ_PROFILER_STARTUP_FILTERS=GeckoMain",
		"MOZ_PROFILER_STARTUP_INTERVAL=1",
		"MOZ_PROFILER_STARTUP_ENTRIES=1048576")
	o.Started = func(pid int) { f.pid = pid }
	return f, nil
}

func (f *firefoxProfiler) start(context.Context, string) error {
	f.from = time.Now()
	return nil
}

func (f *firefoxProfiler) stop(ctx context.Context, name string, logf func(string, ...any)) error {
	f.to = time.Now()
	if f.pid == 0 {
		return errors.New("firefox profile: the browser's pid is unknown")
	}
	if err := syscall.Kill(f.pid, syscall.SIGUSR2); err != nil {
		return fmt.Errorf("firefox profile: SIGUSR2: %w", err)
	}
	file := filepath.Join(f.dir, "profile_0_"+strconv.Itoa(f.pid)+".json")
	// Firefox writes the file more than once: first with the parent
	// process alone, then again once the content processes have sent
	// theirs (about 10 s later here). Wait for a version that holds the
	// page's thread.
	var p *geckoProfile
	var err error
	var lastSize int64 = -1
	for deadline := time.Now().Add(90 * time.Second); ; {
		if st, serr := os.Stat(file); serr == nil && st.Size() != lastSize {
			lastSize = st.Size()
			var b []byte
			if b, err = os.ReadFile(file); err == nil {
				if p, err = parseGecko(bytes.NewReader(b)); err == nil && geckoHasThread(p, f.pageThread) {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("firefox profile: no profile with the page's content process in %s after 90s (%v)", file, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if os.Getenv("BENCHREPORT_KEEP_PROFILE") != "" {
		keep := filepath.Join(os.TempDir(), "gecko-"+strings.ReplaceAll(name, "/", "-")+".json")
		os.Rename(file, keep)
		logf("Gecko profile kept in %s", keep)
	}
	os.Remove(file)
	ts, err := geckoSummaries(p, f.pageThread, float64(f.from.UnixNano())/1e6, float64(f.to.UnixNano())/1e6)
	if err != nil {
		return fmt.Errorf("firefox profile: %w", err)
	}
	if len(ts) == 0 {
		return errors.New("firefox profile: no content process main thread loaded the page")
	}
	var others []string
	for _, t := range ts[1:] {
		others = append(others, fmt.Sprintf("%s %d samples, %d busy", t.label, t.total(), t.busy()))
	}
	logf("Gecko profile of %s, %.0f ms window: the busiest content main thread that loaded the page, %s (others: %s)", name, float64(f.to.Sub(f.from).Microseconds())/1000, ts[0].label, strings.Join(others, "; "))
	ts[0].print("Firefox "+name, logf)
	return nil
}

// pageThread accepts the main thread of a content process that loaded the
// page (its strings hold the page's host).
func (f *firefoxProfiler) pageThread(t *geckoThread) bool {
	if t.Name != "GeckoMain" || t.ProcessType == "default" || t.ProcessType == "" {
		return false
	}
	for _, s := range t.StringTable {
		if strings.Contains(s, f.host) {
			return true
		}
	}
	return false
}

func (f *firefoxProfiler) close() { os.RemoveAll(f.dir) }
