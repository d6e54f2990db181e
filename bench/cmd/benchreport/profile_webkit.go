package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dualws/dualws/internal/engine"
)

// webkitHz is perf's sampling rate for WebKit profiles.
const webkitHz = 4000

// webkitProfiler profiles one case in WebKitGTK with Linux perf: JSC
// writes a JIT dump (JSC_useJITDump, one jit-<pid>.dump per process) that
// `perf inject --jit` turns into symbols for JIT code (JS, wasm, thunks);
// perf records the web processes (cpu-clock, call chains, the monotonic
// clock the JIT dump uses) from before the case until after it. The web
// process main thread with the most samples is summarised; the time it
// did not run counts as idle. WebKit's own C++ (libwebkit2gtk) has no
// symbols in Debian's build, so it is named by file only.
type webkitProfiler struct {
	dir      string
	pid      int // MiniBrowser
	impl     string
	network  []int
	perf     *exec.Cmd
	perfErr  *bytes.Buffer
	from, to float64 // monotonic s
}

func newWebKitProfiler(o *engine.Options) (*webkitProfiler, error) {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil, fmt.Errorf("webkit profile: perf is not installed (Debian's linux-perf): %w", err)
	}
	dir, err := os.MkdirTemp("", "webkitprofile")
	if err != nil {
		return nil, err
	}
	w := &webkitProfiler{dir: dir}
	o.Env = append(o.Env, "JSC_useJITDump=1", "JSC_jitDumpDirectory="+dir)
	o.Started = func(pid int) { w.pid = pid }
	return w, nil
}

// webProcesses returns the pids of MiniBrowser's web processes, then of
// its network processes (which carry WebSocket traffic and, in WebKit,
// MessagePort messages).
func (w *webkitProfiler) webProcesses() (web, network []int) {
	for _, p := range engine.Descendants(w.pid) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/comm")
		switch c := strings.TrimSpace(string(b)); {
		case err != nil:
		case strings.HasPrefix(c, "WebKitWebProces"):
			web = append(web, p)
		case strings.HasPrefix(c, "WebKitNetworkPr"):
			network = append(network, p)
		}
	}
	return web, network
}

func (w *webkitProfiler) start(ctx context.Context, impl string) error {
	w.impl = impl
	web, network := w.webProcesses()
	w.network = network
	pids := append(web, network...)
	if len(web) == 0 {
		return errors.New("webkit profile: MiniBrowser has no web process")
	}
	var ps []string
	for _, p := range pids {
		ps = append(ps, strconv.Itoa(p))
	}
	w.perfErr = &bytes.Buffer{}
	w.perf = exec.Command("perf", "record", "-e", "cpu-clock", "-F", strconv.Itoa(webkitHz), "-g", "-k", "1",
		"-p", strings.Join(ps, ","), "-o", filepath.Join(w.dir, "perf.data"))
	w.perf.Stdout, w.perf.Stderr = w.perfErr, w.perfErr
	if err := w.perf.Start(); err != nil {
		return fmt.Errorf("webkit profile: %w", err)
	}
	// perf prints nothing once attached; give it time to.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(700 * time.Millisecond):
	}
	w.from = monotonicSeconds()
	return nil
}

func (w *webkitProfiler) stop(ctx context.Context, name string, logf func(string, ...any)) error {
	w.to = monotonicSeconds()
	if w.perf == nil {
		return errors.New("webkit profile: perf was not started")
	}
	w.perf.Process.Signal(syscall.SIGINT)
	data, jit := filepath.Join(w.dir, "perf.data"), filepath.Join(w.dir, "perf.jit.data")
	// perf re-raises the SIGINT once it has written its data.
	if err := w.perf.Wait(); err != nil && !strings.Contains(w.perfErr.String(), "Captured and wrote") {
		return fmt.Errorf("webkit profile: perf record: %w\n%s", err, w.perfErr)
	}
	if out, err := exec.CommandContext(ctx, "perf", "inject", "--jit", "-i", data, "-o", jit).CombinedOutput(); err != nil {
		return fmt.Errorf("webkit profile: perf inject --jit: %w\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, "perf", "script", "-i", jit, "-F", "comm,pid,tid,time,ip,sym,dso")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("webkit profile: perf script: %w\n%s", err, stderr.Bytes())
	}
	samples, err := parsePerfScript(bytes.NewReader(out))
	if err != nil {
		return fmt.Errorf("webkit profile: %w", err)
	}
	// The busiest main thread (tid = pid) of a web process.
	perPid := map[int]int{}
	for _, s := range samples {
		if s.tid == s.pid && !slices.Contains(w.network, s.pid) && s.time >= w.from && s.time <= w.to {
			perPid[s.pid]++
		}
	}
	var pids []int
	for p := range perPid {
		pids = append(pids, p)
	}
	if len(pids) == 0 {
		return fmt.Errorf("webkit profile: no samples of a web process main thread in the case (%d samples in all)\n%s", len(samples), w.perfErr)
	}
	slices.SortFunc(pids, func(a, b int) int { return perPid[b] - perPid[a] })
	threads := map[int]int{}
	for _, s := range samples {
		if s.pid == pids[0] && s.time >= w.from && s.time <= w.to {
			threads[s.tid]++
		}
	}
	logf("perf profile of %s, %.0f ms window at %d Hz: web process %d's main thread; %d samples in that process's %d threads", name, (w.to-w.from)*1000, webkitHz, pids[0], sum(threads), len(threads))
	perfSummary(samples, pids[0], w.from, w.to, webkitHz, w.impl).print("WebKit "+name, logf)
	// The network process, all threads: how busy, and where.
	net := map[string]int{}
	n := 0
	for _, s := range samples {
		if slices.Contains(w.network, s.pid) && s.time >= w.from && s.time <= w.to && len(s.frames) > 0 {
			net[s.frames[0].name()]++
			n++
		}
	}
	logf("WebKit network process during %s: %d samples in all its threads, %.0f%% of one core; top self time:", name, n, 100*float64(n)/((w.to-w.from)*webkitHz))
	for _, e := range top(net, 12) {
		logf("  %5.1f%% %6d  %s", 100*float64(e.n)/float64(max(n, 1)), e.n, e.name)
	}
	os.Remove(data)
	os.Remove(jit)
	return nil
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (w *webkitProfiler) close() {
	if w.perf != nil && w.perf.ProcessState == nil {
		w.perf.Process.Kill()
		w.perf.Wait()
	}
	os.RemoveAll(w.dir)
}
