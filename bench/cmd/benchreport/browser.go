package main

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
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
	"github.com/dualws/dualws/bench/internal/wsserver"
	"github.com/dualws/dualws/internal/browser"
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
	Closes       int    // close-detection connections per mode
	Profile      string // "impl/case" (e.g. dualws/recv64k): print its DevTools CPU profile's top functions
}

// CloseStats summarises the close-detection runs of one implementation.
type CloseStats struct {
	IdleClosedMs  float64 // median, request → CLOSED / onclose, client idle
	EventMs       float64 // median, request → the browser's close event, client idle
	EventToClosed float64 // median, close event → CLOSED seen by the application, client idle
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

// BrowserResults holds every browser figure of one run.
type BrowserResults struct {
	Chromium string
	Rate     map[string]map[string]float64 // impl → case (recv32, recv64k, send32, send64k, sendYield32) → msg/s
	Close    map[string]CloseStats         // impl → stats (js, dualws)
	Posts    float64                       // dualws: event-loop turns its shim scheduled during send 32 B
	PostsN   int
}

func chromiumVersion() string {
	path, err := browser.Path()
	if err != nil {
		return "not found"
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
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

func runBrowser(ctx context.Context, sizes BrowserSizes, logf func(string, ...any)) (*BrowserResults, error) {
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
	static := http.NewServeMux()
	static.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(goroot, "lib", "wasm", "wasm_exec.js"))
	})
	static.Handle("/", http.FileServer(http.Dir(dir)))
	srv := wsserver.New(static)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()
	base := ln.Addr().String()

	bctx, stop, err := browser.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()

	res := &BrowserResults{Chromium: chromiumVersion(), Rate: map[string]map[string]float64{}, Close: map[string]CloseStats{}}
	type runner func(spec map[string]any) (jsResult, error)
	runners := map[string]runner{}
	tabs := map[string]context.Context{}
	for _, impl := range Impls {
		tab, closeTab := browser.NewTab(bctx)
		defer closeTab()
		if err := chromedp.Do(tab, chromedp.Navigate("http://"+base+"/index.html?impl="+impl)); err != nil {
			return nil, fmt.Errorf("%s: navigate: %w", impl, err)
		}
		ready, err := chromedp.Run(tab, chromedp.Poll[string]("window.benchReady", chromedp.WithPollingInterval(20*time.Millisecond)))
		if err != nil {
			return nil, fmt.Errorf("%s: page not ready: %w", impl, err)
		}
		if ready != impl {
			return nil, fmt.Errorf("%s: page says %q", impl, ready)
		}
		tabs[impl] = tab
		runners[impl] = func(spec map[string]any) (jsResult, error) {
			b, _ := json.Marshal(spec)
			rctx, cancel := context.WithTimeout(tab, 3*time.Minute)
			defer cancel()
			out, err := chromedp.Run(rctx, chromedp.Evaluate[string]("bench("+strconv.Quote(string(b))+")", chromedp.EvalAwaitPromise))
			if err != nil {
				return jsResult{}, fmt.Errorf("%s %v: %w", impl, spec["op"], err)
			}
			var r jsResult
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				return r, fmt.Errorf("%s %v: result %q: %w", impl, spec["op"], out, err)
			}
			if r.Error != "" {
				return r, fmt.Errorf("%s %v: %s", impl, spec["op"], r.Error)
			}
			return r, nil
		}
	}

	// Throughput: the implementations take turns, sizes.Reps times, and
	// the report shows each case's median.
	type tput struct {
		name, op string
		n, size  int
	}
	samples := map[string]map[string][]float64{}
	for rep := range sizes.Reps {
		for _, impl := range Impls {
			cases := []tput{
				{"recv32", "recv", sizes.Small, 32},
				{"recv64k", "recv", sizes.Large, 64 << 10},
				{"send32", "send", sizes.Small, 32},
				{"send64k", "send", sizes.Large, 64 << 10},
			}
			if impl == "js" {
				cases = append(cases, tput{"sendYield32", "sendYield", sizes.Small, 32})
			}
			if samples[impl] == nil {
				samples[impl] = map[string][]float64{}
			}
			for _, c := range cases {
				url := fmt.Sprintf("ws://%s/sink?n=%d", base, c.n)
				if c.op == "recv" {
					url = fmt.Sprintf("ws://%s/push?n=%d&size=%d&wait=1", base, c.n, c.size)
				}
				countPosts := impl == "dualws" && c.name == "send32" && rep == 0
				var postsBefore float64
				if countPosts {
					postsBefore, _ = chromedp.Run(tabs[impl], chromedp.Evaluate[float64]("benchPosts()"))
				}
				profiling := sizes.Profile == impl+"/"+c.name && rep == 0
				if profiling {
					if err := startProfile(tabs[impl]); err != nil {
						return res, err
					}
				}
				r, err := runners[impl](map[string]any{"op": c.op, "url": url, "n": c.n, "size": c.size})
				if err != nil {
					return res, err
				}
				if profiling {
					if err := stopProfile(tabs[impl], sizes.Profile, logf); err != nil {
						return res, err
					}
				}
				if r.Msgs != c.n || r.Ms <= 0 {
					return res, fmt.Errorf("%s %s: %d messages in %.1f ms, want %d", impl, c.name, r.Msgs, r.Ms, c.n)
				}
				if countPosts {
					after, err := chromedp.Run(tabs[impl], chromedp.Evaluate[float64]("benchPosts()"))
					if err != nil {
						return res, err
					}
					res.Posts, res.PostsN = after-postsBefore, c.n
				}
				rate := float64(c.n) / (r.Ms / 1000)
				samples[impl][c.name] = append(samples[impl][c.name], rate)
				logf("browser %s %s: %.0f msg/s", impl, c.name, rate)
			}
		}
	}
	for impl, cases := range samples {
		res.Rate[impl] = map[string]float64{}
		for name, v := range cases {
			res.Rate[impl][name] = median(v)
		}
	}

	// Close detection: plain JS and dualws.
	closeID := 0
	for _, impl := range []string{"js", "dualws"} {
		var st CloseStats
		var idle, busy, fail, rtts, evToClosed, toEvent []float64
		var seeds []int
		for _, op := range []string{"closeIdle", "closeBusy"} {
			for range sizes.Closes {
				closeID++
				id := "b" + strconv.Itoa(closeID)
				r, err := runners[impl](map[string]any{"op": op, "url": "ws://" + base + "/closer?id=" + id})
				if err != nil {
					return res, err
				}
				info, err := waitCloseInfo(srv, id)
				if err != nil {
					return res, err
				}
				arrived := float64(info.CloseSentUnixNano)/1e6 + r.RTTMs
				n := 0
				for _, t := range r.Accepted {
					if t > arrived {
						n++
					}
				}
				rtts = append(rtts, r.RTTMs)
				st.Runs++
				if r.ClosedMs > 0 {
					st.ClosedReached++
				}
				if op == "closeIdle" {
					ev, err := chromedp.Run(tabs[impl], chromedp.Evaluate[float64]("benchCloseEvent("+strconv.Quote("id="+id)+")"))
					if err != nil {
						return res, err
					}
					if ev == 0 {
						st.NoEvent++
					} else {
						evToClosed = append(evToClosed, r.ClosedWall-ev)
						toEvent = append(toEvent, ev-r.ReqWall)
					}
					idle = append(idle, r.ClosedMs)
					st.IdleSeedsMax = max(st.IdleSeedsMax, len(r.Accepted))
					continue
				}
				busy = append(busy, r.ClosedMs)
				fail = append(fail, r.SendFailMs)
				seeds = append(seeds, n)
				st.LateMax = max(st.LateMax, info.Late)
			}
		}
		st.IdleClosedMs, st.BusyClosedMs, st.SendFailMs, st.RTTMs = median(idle), median(busy), median(fail), median(rtts)
		st.EventMs, st.EventToClosed = median(toEvent), median(evToClosed)
		slices.Sort(seeds)
		st.SeedsP50, st.SeedsMax = seeds[len(seeds)/2], seeds[len(seeds)-1]
		res.Close[impl] = st
		logf("browser %s close: %+v", impl, st)
	}
	return res, nil
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
	self := map[string]int64{}
	var total int64
	for _, n := range res.Profile.Nodes {
		fn := "(anonymous)"
		if n.CallFrame != nil {
			fn = n.CallFrame.FunctionName
			if fn == "" {
				fn = "(anonymous " + filepath.Base(n.CallFrame.URL) + ":" + strconv.FormatInt(n.CallFrame.LineNumber, 10) + ")"
			}
		}
		self[fn] += n.HitCount
		total += n.HitCount
	}
	type kv struct {
		fn string
		n  int64
	}
	var top []kv
	for fn, n := range self {
		top = append(top, kv{fn, n})
	}
	slices.SortFunc(top, func(a, b kv) int { return int(b.n - a.n) })
	logf("DevTools CPU profile of %s: %d samples, top self time:", name, total)
	for i, e := range top {
		if i == 30 {
			break
		}
		logf("  %5.1f%%  %s", 100*float64(e.n)/float64(total), e.fn)
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
