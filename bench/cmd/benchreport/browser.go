package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
	"github.com/dualws/dualws/bench/internal/wsserver"
	"github.com/dualws/dualws/internal/engine"
)

// jsResult mirrors bench/browser/wasmbench.Result and bench.js's result.
type jsResult struct {
	Msgs       int       `json:"msgs"`
	Ms         float64   `json:"ms"`
	RTTMs      float64   `json:"rttMs"`
	ClosedMs   float64   `json:"closedMs"`
	ReqWall    float64   `json:"reqWall"`
	ClosedWall float64   `json:"closedWall"`
	SendFailMs float64   `json:"sendFailMs"`
	Accepted   []float64 `json:"accepted"`
	Error      string    `json:"error"`
}

// Impls are the browser implementations in report order: plain JS,
// dualws and coder/websocket compiled to wasm.
var Impls = []string{"js", "dualws", "coder"}

// BrowserSizes are the browser runs' message counts.
type BrowserSizes struct {
	Small, Large int    // messages of 32 B and of 64 KiB
	Reps         int    // throughput runs per case (the report shows medians)
	Warm         int    // on each fresh page, first run every case at 1/Warm of its size (0: no warm-up)
	Closes       int    // close-detection connections per mode
	Profile      string // "impl/case" (e.g. dualws/recv64k): print a CPU profile's top functions (Chromium: DevTools; Firefox: Gecko profiler; WebKit: perf)
	// CoderEngines lists the engines that also measure coder/websocket's
	// wasm build (nil: every engine).
	CoderEngines []engine.Name
}

// implsFor returns the implementations measured in engine n, in report
// order.
func (s BrowserSizes) implsFor(n engine.Name) []string {
	if s.CoderEngines == nil || slices.Contains(s.CoderEngines, n) {
		return Impls
	}
	return []string{"js", "dualws"}
}

// CloseStats summarises the close-detection runs of one implementation.
type CloseStats struct {
	IdleClosedMs  float64 // median, request → CLOSED / onclose, client idle
	EventMs       float64 // median, request → the browser's close event, client idle
	EventToClosed float64 // median, close event → CLOSED seen by the application, client idle
	ServerClosed  float64 // median, the server's close write → CLOSED, client idle (server's and page's clocks)
	BusyClosedMs  float64 // median, request → CLOSED / onclose, client sending
	SendFailMs    float64 // median, request → first refused send
	SeedsP50      int
	SeedsMax      int
	LateMax       int
	RTTMs         float64 // median echo round trip before the request
	Runs          int
	IdleSeedsMax  int // sends accepted after CLOSED was reported (must be 0)
	ClosedReached int // runs where the close was reported
	NoEvent       int // idle runs where CLOSED came before the browser's close event
}

// EngineResults holds one engine's browser figures.
type EngineResults struct {
	Engine      engine.Name
	Version     string
	Agent       string                        // the page's navigator.userAgent
	Isolated    bool                          // the page was cross-origin isolated (fine-grained clock)
	ClockStepMs float64                       // the page clock's smallest step
	ClockOffset []float64                     // each close page's clock offset estimate (driver − page, ms)
	Rate        map[string]map[string]float64 // impl → case (recv32, recv64k, send32, send64k, sendYield32) → msg/s
	Close       map[string]CloseStats         // impl → stats (js, dualws)
	Posts       float64                       // dualws: event-loop turns its shim scheduled during send 32 B
	PostsN      int
	RecvPosts   float64 // dualws: wake-ups (MessageChannel posts) during receive 32 B; PostsN messages
	Elapsed     time.Duration
	Err         string // why the engine's run stopped early, or ""
}

// BrowserResults holds every browser figure of one run, an entry per
// engine in the order run.
type BrowserResults struct {
	Engines []*EngineResults
	Sizes   BrowserSizes
}

// engineTitle is an engine's name in the report.
func engineTitle(n engine.Name) string {
	switch n {
	case engine.Chromium:
		return "Chromium"
	case engine.Firefox:
		return "Firefox"
	case engine.WebKit:
		return "WebKit"
	}
	return string(n)
}

func goEnv(key string) (string, error) {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", key, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// stageWWW builds the wasm programs and copies the page into a new
// directory.
func stageWWW(dir string) error {
	for _, name := range []string{"index.html", "bench.js"} {
		b, err := os.ReadFile(filepath.Join("browser", "www", name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	for _, prog := range []string{"dualws", "coder"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, prog+".wasm"), "./browser/"+prog+"bench")
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s.wasm: %w\n%s", prog, err, out)
		}
	}
	return nil
}

// isolate serves h with the headers that make a page cross-origin
// isolated, which lets every engine give the page a fine-grained
// performance.now() (Chromium otherwise coarsens it to 100 µs, Firefox
// and WebKit to 1 ms), so close detection is timed alike in all three.
func isolate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		w.Header().Set("Cross-Origin-Embedder-Policy", "require-corp")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// runBrowser runs the browser benchmarks in each engine, one after the
// other, against one server. An engine that fails is recorded (Err) and
// the others still run; the error names every failure.
func runBrowser(ctx context.Context, sizes BrowserSizes, engines []engine.Name, logf func(string, ...any)) (*BrowserResults, error) {
	if len(engines) == 0 {
		return nil, errNoEngine
	}
	dir, err := os.MkdirTemp("", "benchwww")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := stageWWW(dir); err != nil {
		return nil, err
	}
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hub := newPageHub(ln.Addr().String())
	static := http.NewServeMux()
	static.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(goroot, "lib", "wasm", "wasm_exec.js"))
	})
	static.Handle(nextPath, hub)
	static.HandleFunc(clockPath, serveClock)
	static.Handle("/", http.FileServer(http.Dir(dir)))
	srv := wsserver.New(isolate(static))
	defer srv.Close()
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()

	res := &BrowserResults{Sizes: sizes}
	var errs []error
	for _, n := range engines {
		start := time.Now()
		er := &EngineResults{Engine: n, Version: engine.Version(n), Rate: map[string]map[string]float64{}, Close: map[string]CloseStats{}}
		res.Engines = append(res.Engines, er)
		logf("browser: %s (%s)", n, er.Version)
		err := runEngine(ctx, hub, srv, n, sizes, er, logf)
		er.Elapsed = time.Since(start)
		if err != nil {
			er.Err = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
		logf("browser: %s took %s", n, er.Elapsed.Round(time.Second))
	}
	return res, errors.Join(errs...)
}

// runEngine fills er with engine n's figures: throughput of every
// implementation, then close detection of plain JS and dualws.
func runEngine(ctx context.Context, hub *pageHub, srv *wsserver.Server, n engine.Name, sizes BrowserSizes, er *EngineResults, logf func(string, ...any)) error {
	profileImpl, profileCase, _ := strings.Cut(sizes.Profile, "/")
	p, err := hub.launch(ctx, n, sizes.Profile != "")
	if err != nil {
		return err
	}
	defer p.close()
	er.Agent, er.Isolated, er.ClockStepMs = p.ready.Agent, p.ready.Isolated, p.ready.ClockStepMs
	base := hub.base

	// Throughput: the implementations take turns, sizes.Reps times, each
	// on a freshly loaded page, in reverse order every other turn, and the
	// report shows each case's median.
	type tput struct {
		name, op string
		n, size  int
	}
	cases := func(impl string, div int) []tput {
		cs := []tput{
			{"recv32", "recv", max(1, sizes.Small/div), 32},
			{"recv64k", "recv", max(1, sizes.Large/div), 64 << 10},
			{"send32", "send", max(1, sizes.Small/div), 32},
			{"send64k", "send", max(1, sizes.Large/div), 64 << 10},
		}
		if impl == "js" {
			cs = append(cs, tput{"sendYield32", "sendYield", max(1, sizes.Small/div), 32})
		}
		return cs
	}
	spec := func(c tput) map[string]any {
		u := fmt.Sprintf("ws://%s/sink?n=%d", base, c.n)
		if c.op == "recv" {
			u = fmt.Sprintf("ws://%s/push?n=%d&size=%d&wait=1", base, c.n, c.size)
		}
		return map[string]any{"op": c.op, "url": u, "n": c.n, "size": c.size}
	}
	samples := map[string]map[string][]float64{}
	for rep := range sizes.Reps {
		impls := sizes.implsFor(n)
		if rep%2 == 1 {
			// Every other turn in reverse, so that no implementation
			// always runs first on a freshly launched engine.
			impls = slices.Clone(impls)
			slices.Reverse(impls)
		}
		for _, impl := range impls {
			if err := p.use(ctx, impl); err != nil {
				return err
			}
			if samples[impl] == nil {
				samples[impl] = map[string][]float64{}
			}
			if sizes.Warm > 0 {
				// A fresh page: run every case at 1/Warm of its size first
				// (JIT and wasm tier-up), results dropped.
				for _, c := range cases(impl, sizes.Warm) {
					if _, _, err := p.run(ctx, spec(c)); err != nil {
						return fmt.Errorf("warm-up: %w", err)
					}
				}
			}
			for _, c := range cases(impl, 1) {
				profiling := (p.tab != nil || p.prof != nil) && profileImpl == impl && profileCase == c.name && rep == 0
				if profiling {
					if err := p.profileStart(ctx, impl); err != nil {
						return err
					}
				}
				r, prep, err := p.run(ctx, spec(c))
				if err != nil {
					return err
				}
				if profiling {
					if err := p.profileStop(ctx, sizes.Profile, logf); err != nil {
						return err
					}
				}
				if r.Msgs != c.n || r.Ms <= 0 {
					return fmt.Errorf("%s %s: %d messages in %.1f ms, want %d", impl, c.name, r.Msgs, r.Ms, c.n)
				}
				if impl == "dualws" && c.name == "send32" && rep == 0 {
					er.Posts, er.PostsN = prep.Posts, c.n
				}
				if impl == "dualws" && c.name == "recv32" && rep == 0 {
					er.RecvPosts = prep.Posts
				}
				rate := float64(c.n) / (r.Ms / 1000)
				samples[impl][c.name] = append(samples[impl][c.name], rate)
				logf("browser %s %s %s: %.0f msg/s", n, impl, c.name, rate)
			}
		}
	}
	for impl, cs := range samples {
		er.Rate[impl] = map[string]float64{}
		for name, v := range cs {
			er.Rate[impl][name] = median(v)
		}
	}

	// Close detection: plain JS and dualws.
	for _, impl := range []string{"js", "dualws"} {
		if err := p.use(ctx, impl); err != nil {
			return err
		}
		er.ClockOffset = append(er.ClockOffset, p.ready.ClockOffsetMs)
		var runs []closeRun
		for _, op := range []string{"closeIdle", "closeBusy"} {
			for range sizes.Closes {
				id := newCloseID()
				r, prep, err := p.run(ctx, map[string]any{"op": op, "url": "ws://" + base + "/closer?id=" + id})
				if err != nil {
					return err
				}
				info, err := waitCloseInfo(srv, id)
				if err != nil {
					return err
				}
				runs = append(runs, closeRun{Busy: op == "closeBusy", R: r, CloseEvent: prep.CloseEvent, Info: info, Offset: p.ready.ClockOffsetMs})
			}
		}
		st := closeStats(runs)
		er.Close[impl] = st
		logf("browser %s %s close: %+v", n, impl, st)
	}
	return nil
}

var closeSeq atomic.Int64

// newCloseID names a /closer connection, unique within the process.
func newCloseID() string { return "b" + strconv.FormatInt(closeSeq.Add(1), 10) }

// closeRun is one close-detection run as the page and the server saw it.
type closeRun struct {
	Busy       bool
	R          jsResult
	CloseEvent float64 // wall ms of the browser's close event, 0 if none
	Info       wsserver.CloseInfo
	Offset     float64 // the driver's clock minus the page's, ms
}

// closeSentMs is when the server wrote its close frame, on the page's
// clock.
func (c closeRun) closeSentMs() float64 {
	return float64(c.Info.CloseSentUnixNano)/1e6 - c.Offset
}

// closeStats summarises close-detection runs. A busy run's seeds are the
// sends accepted that started more than one echo round trip after the
// server wrote its close frame.
func closeStats(runs []closeRun) CloseStats {
	var st CloseStats
	var idle, busy, fail, rtts, evToClosed, toEvent, serverClosed []float64
	var seeds []int
	for _, c := range runs {
		r := c.R
		rtts = append(rtts, r.RTTMs)
		st.Runs++
		if r.ClosedMs > 0 {
			st.ClosedReached++
		}
		if !c.Busy {
			if c.CloseEvent == 0 {
				st.NoEvent++
			} else {
				evToClosed = append(evToClosed, r.ClosedWall-c.CloseEvent)
				toEvent = append(toEvent, c.CloseEvent-r.ReqWall)
			}
			idle = append(idle, r.ClosedMs)
			if c.Info.CloseSentUnixNano > 0 && r.ClosedWall > 0 {
				serverClosed = append(serverClosed, r.ClosedWall-c.closeSentMs())
			}
			st.IdleSeedsMax = max(st.IdleSeedsMax, len(r.Accepted))
			continue
		}
		arrived := c.closeSentMs() + r.RTTMs
		n := 0
		for _, t := range r.Accepted {
			if t > arrived {
				n++
			}
		}
		busy = append(busy, r.ClosedMs)
		fail = append(fail, r.SendFailMs)
		seeds = append(seeds, n)
		st.LateMax = max(st.LateMax, c.Info.Late)
	}
	st.IdleClosedMs, st.BusyClosedMs, st.SendFailMs, st.RTTMs = median(idle), median(busy), median(fail), median(rtts)
	st.EventMs, st.EventToClosed, st.ServerClosed = median(toEvent), median(evToClosed), median(serverClosed)
	if len(seeds) > 0 {
		slices.Sort(seeds)
		st.SeedsP50, st.SeedsMax = seeds[len(seeds)/2], seeds[len(seeds)-1]
	}
	return st
}

func startProfile(tab context.Context) error {
	if _, err := chromedp.Call(tab, profiler.Enable, cdp.Empty{}); err != nil {
		return fmt.Errorf("profiler: %w", err)
	}
	if _, err := chromedp.Call(tab, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 100}); err != nil {
		return fmt.Errorf("profiler: %w", err)
	}
	if _, err := chromedp.Call(tab, profiler.Start, cdp.Empty{}); err != nil {
		return fmt.Errorf("profiler: %w", err)
	}
	return nil
}

// stopProfile prints the functions with the most self samples.
func stopProfile(tab context.Context, name string, logf func(string, ...any)) error {
	res, err := chromedp.Call(tab, profiler.Stop, cdp.Empty{})
	if err != nil {
		return fmt.Errorf("profiler: %w", err)
	}
	self := map[string]int{}
	total := 0
	for _, n := range res.Profile.Nodes {
		fn := "(anonymous)"
		if n.CallFrame != nil {
			fn = n.CallFrame.FunctionName
			if fn == "" {
				fn = "(anonymous " + filepath.Base(n.CallFrame.URL) + ":" + strconv.FormatInt(n.CallFrame.LineNumber, 10) + ")"
			}
		}
		self[fn] += int(n.HitCount)
		total += int(n.HitCount)
	}
	logf("DevTools CPU profile of %s: %d samples, top self time:", name, total)
	for _, e := range top(self, 30) {
		logf("  %5.1f%%  %s", 100*float64(e.n)/float64(total), e.name)
	}
	return nil
}

func waitCloseInfo(srv *wsserver.Server, id string) (wsserver.CloseInfo, error) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if info, ok := srv.CloseInfo(id); ok && info.Done {
			return info, nil
		}
	}
	return wsserver.CloseInfo{}, errors.New("server did not finish /closer connection " + id)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// Browser targets (issues 12 and 13), each checked in every engine
// against plain JS in the same engine and run.
const (
	browserRateMin      = 0.95 // dualws / plain JS msg/s, at least
	browserIdleCloseMax = 1.2  // dualws close → CLOSED / plain JS onclose, idle, at most
	browserSendFailMax  = 1.1  // dualws / plain JS close → first refused send, at most
	browserSeedsDiv     = 10   // dualws seeds at most plain JS's seeds / browserSeedsDiv
	browserYieldCost    = 0.05 // the 1 ms yield rule's cost on plain JS send 32 B, at most
)

// browserCases are the throughput cases in report order.
var browserCases = []struct{ key, label string }{
	{"recv32", "receive 32 B"}, {"recv64k", "receive 64 KiB"}, {"send32", "send 32 B"}, {"send64k", "send 64 KiB"},
}

// targets returns the browser rows of the targets table: each target once
// per engine that was asked for, "not measured" where the engine's run
// did not get that far. Issue 12's browser rows (64 KiB throughput, idle
// close, seeds) are tagged "12", the other throughput rows "13" (issue 13
// asks for every browser target per engine), the rest as earlier rounds.
func (br *BrowserResults) targets() []target {
	if br == nil {
		return nil
	}
	var ts []target
	for _, e := range br.Engines {
		pre := "browser " + engineTitle(e.Engine) + " "
		for _, c := range browserCases {
			a, okA := e.Rate["dualws"][c.key]
			b, okB := e.Rate["js"][c.key]
			issue := "13"
			if c.key == "recv64k" || c.key == "send64k" {
				issue = "12"
			}
			t := target{issue: issue, name: pre + c.label + ": dualws / plain JS msg/s", want: fmt.Sprintf("≥ %.2f×", browserRateMin), known: okA && okB && b > 0}
			if t.known {
				x := a / b
				t.got, t.ok = fmt.Sprintf("%.3f× (%s vs %s)", x, fnum(a), fnum(b)), x >= browserRateMin
			}
			ts = append(ts, t)
		}
		d, okD := e.Close["dualws"]
		j, okJ := e.Close["js"]
		known := okD && okJ
		atMost := func(issue, name string, a, b, maxR float64) {
			t := target{issue: issue, name: name, want: fmt.Sprintf("≤ %.2f×", maxR), known: known && b > 0}
			if t.known {
				x := a / b
				t.got, t.ok = fmt.Sprintf("%.3f× (%.0f vs %.0f µs)", x, a*1000, b*1000), x <= maxR
			}
			ts = append(ts, t)
		}
		atMost("12", pre+"close → CLOSED, idle client: dualws / plain JS onclose", d.IdleClosedMs, j.IdleClosedMs, browserIdleCloseMax)
		atMost("", pre+"close → first refused send: dualws / plain JS readyState", d.SendFailMs, j.SendFailMs, browserSendFailMax)
		t := target{issue: "12", name: pre + "seeds (max over runs, sending back to back): dualws / plain JS", want: fmt.Sprintf("≤ 1/%d of plain JS", browserSeedsDiv), known: known}
		if known {
			t.got, t.ok = fmt.Sprintf("%d vs %d", d.SeedsMax, j.SeedsMax), d.SeedsMax*browserSeedsDiv <= j.SeedsMax
		}
		ts = append(ts, t)
		t = target{name: pre + "dualws sends accepted after CLOSED", want: "0", known: okD}
		if okD {
			t.got, t.ok = strconv.Itoa(d.IdleSeedsMax), d.IdleSeedsMax == 0
		}
		ts = append(ts, t)
		y, okY := e.Rate["js"]["sendYield32"]
		s, okS := e.Rate["js"]["send32"]
		t = target{name: pre + "1 ms yield rule: cost on plain-JS send 32 B", want: fmt.Sprintf("≤ %.0f%%", 100*browserYieldCost), known: okY && okS && s > 0}
		if t.known {
			cost := 1 - y/s
			t.got, t.ok = fmt.Sprintf("%.1f%% (%s vs %s msg/s)", 100*cost, fnum(y), fnum(s)), cost <= browserYieldCost
		}
		ts = append(ts, t)
	}
	return ts
}

// versions lists the engines' versions for the report's header.
func (br *BrowserResults) versions() string {
	var vs []string
	for _, e := range br.Engines {
		v := e.Version
		if v == "" {
			v = engineTitle(e.Engine) + " (version unknown)"
		}
		vs = append(vs, v)
	}
	return strings.Join(vs, "; ")
}

// command describes the browser part for the report's command list.
func (s BrowserSizes) command(engines []engine.Name) string {
	var names []string
	for _, n := range engines {
		names = append(names, string(n))
	}
	warm := ""
	if s.Warm > 0 {
		warm = fmt.Sprintf(", each load first runs every case at 1/%d of its size", s.Warm)
	}
	return fmt.Sprintf("headless %s (internal/engine; the page drives itself and posts results back), one page load per implementation and repetition%s: %d × 32 B, %d × 64 KiB, implementations taking turns %d times, in reverse order every other turn (medians), %d close runs per mode", strings.Join(names, ", "), warm, s.Small, s.Large, s.Reps, s.Closes)
}

var implNames = map[string]string{"js": "plain JS WebSocket", "dualws": "dualws (wasm)", "coder": "coder/websocket (wasm)"}

// markdown writes the browser sections: the method once, then each
// engine's throughput and close-detection tables.
func (br *BrowserResults) markdown(p func(string, ...any)) {
	p("")
	p("## Browser throughput and close detection")
	p("")
	p("Each engine in turn (Chromium, Firefox ESR and WebKitGTK's MiniBrowser under Xvfb), headless, each against the same server in the driver process, on one page that drives itself and posts each result back (so all engines run the same code): plain JS on the browser's WebSocket, dualws compiled to wasm, coder/websocket compiled to wasm. Throughput: binary messages; receive is timed from the request to the last message, send from the first send to the server's acknowledgement of the last; the implementations take turns, each on a freshly loaded page; medians.")
	p("")
	p("Close detection, as natively: the page sends \"close\", the server closes (1000). idle: wait for CLOSED (dualws: Done; plain JS: onclose). busy: send 32 B back to back until refused; plain JS does its best, checking readyState before each send and yielding once per millisecond like dualws. Seeds: sends accepted that started more than one echo round trip after the server wrote its close frame. The browser's close event is timed by a listener the page adds to every WebSocket before any library's handler. The request is taken before the page's send of \"close\", so request → CLOSED includes any wait of that send (dualws's Send may yield to the event loop first); server's close → CLOSED starts at the server's close write instead (the server's clock against the page's: each page estimates their offset from the quickest of 20 round trips to the server, and the server's times are corrected by it, for seeds too). The page is served cross-origin isolated (COOP/COEP), so that its clock is fine-grained in every engine; each engine's clock step is given.")
	for _, e := range br.Engines {
		e.markdown(p)
	}
}

// markdown writes one engine's browser section.
func (e *EngineResults) markdown(p func(string, ...any)) {
	p("")
	p("### %s", engineTitle(e.Engine))
	p("")
	v := e.Version
	if v == "" {
		v = "version unknown"
	}
	clock := fmt.Sprintf("page clock step %.3f ms", e.ClockStepMs)
	if len(e.ClockOffset) > 0 {
		var offs []string
		for _, o := range e.ClockOffset {
			offs = append(offs, fmt.Sprintf("%+.2f", o))
		}
		clock += fmt.Sprintf(", driver's clock − page's clock %s ms on the close pages (corrected for)", strings.Join(offs, " / "))
	}
	if !e.Isolated {
		clock += " (the page was not cross-origin isolated)"
	}
	p("%s; %s; this engine's part took %s.", v, clock, e.Elapsed.Round(time.Second))
	if e.Err != "" {
		p("")
		p("**Stopped early:** %s", strings.ReplaceAll(e.Err, "\n", " "))
	}
	if len(e.Rate) > 0 {
		p("")
		p("| implementation | receive 32 B msg/s | receive 64 KiB msg/s | send 32 B msg/s | send 64 KiB msg/s |")
		p("|---|---|---|---|---|")
		for _, impl := range Impls {
			rt, ok := e.Rate[impl]
			if !ok {
				continue
			}
			var row []string
			for _, c := range browserCases {
				cell := fnum(rt[c.key])
				if impl != "js" && e.Rate["js"][c.key] > 0 {
					cell += fmt.Sprintf(" (%.2f×)", rt[c.key]/e.Rate["js"][c.key])
				}
				row = append(row, cell)
			}
			p("| %s | %s |", implNames[impl], strings.Join(row, " | "))
		}
		if v := e.Rate["js"]["sendYield32"]; v > 0 {
			p("")
			p("The 1 ms yield rule: plain JS sending 32 B with dualws's rule (one MessageChannel turn whenever 1 ms has passed since the last) reached %s msg/s against %s without it. During dualws's send 32 B run its shim posted %.0f MessageChannel messages for %d messages sent (counted by wrapping MessageChannel.postMessage in the page: yields plus event batches; timer turns are not counted).", fnum(v), fnum(e.Rate["js"]["send32"]), e.Posts, e.PostsN)
		}
		if e.RecvPosts > 0 {
			p("")
			p("Receiving 32 B, dualws's driver was woken %.0f times for %d messages, %.2f messages per wake-up (each wake-up enters Go from JavaScript once and drains every message that arrived since the last).", e.RecvPosts, e.PostsN, float64(e.PostsN)/e.RecvPosts)
		}
	}
	if len(e.Close) > 0 {
		p("")
		p("| implementation | idle: request → CLOSED ms | of which request → browser's close event / close event → CLOSED ms | idle: server's close → CLOSED ms | busy: request → CLOSED ms | busy: request → first refused send ms | seeds p50 / max | late max | sends accepted after CLOSED | echo RTT ms | runs |")
		p("|---|---|---|---|---|---|---|---|---|---|---|")
		for _, impl := range []string{"js", "dualws"} {
			st, ok := e.Close[impl]
			if !ok {
				continue
			}
			split := fmt.Sprintf("%.2f / %.2f", st.EventMs, st.EventToClosed)
			if st.NoEvent > 0 {
				split += fmt.Sprintf(" (%d runs without a close event seen, left out)", st.NoEvent)
			}
			p("| %s | %.2f | %s | %.2f | %.2f | %.2f | %d / %d | %d | %d | %.2f | %d |", implNames[impl], st.IdleClosedMs, split, st.ServerClosed, st.BusyClosedMs, st.SendFailMs, st.SeedsP50, st.SeedsMax, st.LateMax, st.IdleSeedsMax, st.RTTMs, st.Runs)
		}
	}
}
