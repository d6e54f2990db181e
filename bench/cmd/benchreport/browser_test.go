package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dualws/dualws/bench/internal/wsserver"
	"github.com/dualws/dualws/internal/engine"
)

// twoEngines is a run where Chromium measured everything and Firefox
// stopped before measuring anything.
func twoEngines() *BrowserResults {
	return &BrowserResults{Engines: []*EngineResults{
		{
			Engine: engine.Chromium, Version: "Chromium 1", Isolated: true, ClockStepMs: 0.005,
			Rate: map[string]map[string]float64{
				"js":     {"recv32": 1000, "recv64k": 1000, "send32": 1000, "send64k": 1000, "sendYield32": 960},
				"dualws": {"recv32": 960, "recv64k": 940, "send32": 1000, "send64k": 2000},
			},
			Close: map[string]CloseStats{
				"js":     {IdleClosedMs: 1.0, SendFailMs: 2.0, SeedsMax: 100},
				"dualws": {IdleClosedMs: 1.19, SendFailMs: 2.3, SeedsMax: 11},
			},
		},
		{Engine: engine.Firefox, Version: "Mozilla Firefox 2", Err: "firefox exited"},
	}}
}

func TestBrowserTargetsPerEngine(t *testing.T) {
	rows := map[string]target{}
	for _, tg := range twoEngines().targets() {
		if _, dup := rows[tg.name]; dup {
			t.Errorf("target %q twice", tg.name)
		}
		rows[tg.name] = tg
	}
	for _, c := range []struct {
		name      string
		known, ok bool
	}{
		{"browser Chromium receive 32 B: dualws / plain JS msg/s", true, true},                  // 0.96×
		{"browser Chromium receive 64 KiB: dualws / plain JS msg/s", true, false},               // 0.94×
		{"browser Chromium send 64 KiB: dualws / plain JS msg/s", true, true},                   // 2×
		{"browser Chromium close → CLOSED, idle client: dualws / plain JS onclose", true, true}, // 1.19×
		{"browser Chromium close → first refused send: dualws / plain JS readyState", true, false},
		{"browser Chromium seeds (max over runs, sending back to back): dualws / plain JS", true, false}, // 11 > 100/10
		{"browser Chromium dualws sends accepted after CLOSED", true, true},
		{"browser Chromium 1 ms yield rule: cost on plain-JS send 32 B", true, true}, // 4%
		{"browser Firefox receive 32 B: dualws / plain JS msg/s", false, false},
		{"browser Firefox close → CLOSED, idle client: dualws / plain JS onclose", false, false},
		{"browser Firefox seeds (max over runs, sending back to back): dualws / plain JS", false, false},
	} {
		tg, ok := rows[c.name]
		if !ok {
			t.Errorf("no target %q", c.name)
			continue
		}
		if tg.known != c.known || tg.ok != c.ok {
			t.Errorf("%s: known %v ok %v (%s), want known %v ok %v", c.name, tg.known, tg.ok, tg.got, c.known, c.ok)
		}
	}
	if n := len(rows); n != 2*9 {
		t.Errorf("%d browser targets, want 9 per engine", n)
	}
}

func TestBrowserSeedsTarget(t *testing.T) {
	for _, c := range []struct {
		dualws, js int
		ok         bool
	}{{10, 100, true}, {11, 100, false}, {0, 0, true}, {1, 0, false}, {0, 5, true}, {1, 9, false}} {
		br := &BrowserResults{Engines: []*EngineResults{{Engine: engine.WebKit, Close: map[string]CloseStats{
			"js": {SeedsMax: c.js}, "dualws": {SeedsMax: c.dualws},
		}}}}
		for _, tg := range br.targets() {
			if strings.Contains(tg.name, "seeds") {
				if !tg.known || tg.ok != c.ok {
					t.Errorf("dualws %d seeds vs plain JS %d: known %v ok %v, want ok %v", c.dualws, c.js, tg.known, tg.ok, c.ok)
				}
				if want := fmt.Sprintf("%d vs %d", c.dualws, c.js); tg.got != want {
					t.Errorf("got %q, want %q", tg.got, want)
				}
			}
		}
	}
}

func TestBrowserMarkdownPerEngine(t *testing.T) {
	r := &Report{Browser: twoEngines()}
	md := r.markdown()
	for _, want := range []string{
		"- Browsers: Chromium 1; Mozilla Firefox 2; headless",
		"| browser Chromium receive 32 B: dualws / plain JS msg/s | ≥ 0.95× | 0.960× (960 vs 1000) | met |",
		"| browser Chromium seeds (max over runs, sending back to back): dualws / plain JS | ≤ 1/10 of plain JS | 11 vs 100 | **missed** |",
		"| browser Firefox receive 32 B: dualws / plain JS msg/s | ≥ 0.95× | – | not measured |",
		"### Chromium\n",
		"| dualws (wasm) | 960 (0.96×) | 940 (0.94×) | 1000 (1.00×) | 2000 (2.00×) |",
		"| dualws (wasm) | 1.19 | 0.00 / 0.00 | 0.00 | 0.00 | 2.30 |",
		"### Firefox\n",
		"**Stopped early:** firefox exited",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Index(md, "### Chromium") > strings.Index(md, "### Firefox") {
		t.Error("engines out of order")
	}
}

func TestCloseStats(t *testing.T) {
	closeSent := int64(1_000_000_000_000) * 1e6 // Unix ms 1e12, in ns
	busy := func(rtt float64, accepted ...float64) closeRun {
		r := jsResult{RTTMs: rtt, ClosedMs: 5, SendFailMs: 4}
		for _, a := range accepted {
			r.Accepted = append(r.Accepted, 1e12+a)
		}
		return closeRun{Busy: true, R: r, Info: wsserver.CloseInfo{CloseSentUnixNano: closeSent, Late: int(rtt)}}
	}
	idle := func(ev float64, closed float64) closeRun {
		// The server wrote its close 0.1 ms after the request.
		return closeRun{R: jsResult{ClosedMs: closed, ReqWall: 1e12, ClosedWall: 1e12 + closed}, CloseEvent: ev,
			Info: wsserver.CloseInfo{CloseSentUnixNano: closeSent + 100_000}}
	}
	st := closeStats([]closeRun{
		busy(1, 0.5, 0.9, 1.5, 2, 3), // 3 started more than 1 ms (the RTT) after the close was written
		busy(2, 1, 3),                // 1
		busy(1),                      // 0
		idle(1e12+0.4, 0.6),
		idle(0, 0.8), // no close event seen
		idle(1e12+0.5, 0.7),
	})
	if st.SeedsMax != 3 || st.SeedsP50 != 1 {
		t.Errorf("seeds p50 / max = %d / %d, want 1 / 3", st.SeedsP50, st.SeedsMax)
	}
	if st.Runs != 6 || st.NoEvent != 1 || st.LateMax != 2 {
		t.Errorf("runs %d no-event %d late %d, want 6 1 2", st.Runs, st.NoEvent, st.LateMax)
	}
	if st.IdleClosedMs != 0.7 {
		t.Errorf("idle median = %v, want 0.7", st.IdleClosedMs)
	}
	if d := st.EventMs - 0.5; d > 1e-6 || d < -1e-6 {
		t.Errorf("request → close event median = %v, want 0.5", st.EventMs)
	}
	if d := st.ServerClosed - 0.6; d > 1e-3 || d < -1e-3 {
		t.Errorf("server's close → CLOSED median = %v, want 0.6", st.ServerClosed)
	}
}

func TestCloseStatsClockOffset(t *testing.T) {
	// The server wrote its close at Unix ms 1e12 on its clock; the page's
	// clock runs 2 ms behind (offset +2), so on the page's clock the close
	// went out at 1e12-2 and, with a 1 ms round trip, was in the browser
	// from 1e12-1: sends the page timed at 1e12-0.5 and later are seeds.
	r := jsResult{RTTMs: 1, ClosedWall: 1e12 + 1}
	for _, a := range []float64{-1.5, -0.5, 0, 3} {
		r.Accepted = append(r.Accepted, 1e12+a)
	}
	info := wsserver.CloseInfo{CloseSentUnixNano: 1e12 * 1e6}
	st := closeStats([]closeRun{{Busy: true, R: r, Info: info, Offset: 2}, {R: r, Info: info, Offset: 2}})
	if st.SeedsMax != 3 {
		t.Errorf("seeds = %d, want 3", st.SeedsMax)
	}
	if d := st.ServerClosed - 3; d > 1e-3 || d < -1e-3 {
		t.Errorf("server's close → CLOSED = %v, want 3 ms", st.ServerClosed)
	}
}

// fakePage plays the benchmark page of bench.js against a hub: it posts
// the report it is given and returns the reply.
type fakePage struct {
	t     *testing.T
	url   string
	token string
}

func (f fakePage) post(rep pageReport) pageReply {
	rep.Token = f.token
	b, _ := json.Marshal(rep)
	resp, err := http.Post(f.url, "application/json", bytes.NewReader(b))
	if err != nil {
		f.t.Errorf("post: %v", err)
		return pageReply{Done: true}
	}
	defer resp.Body.Close()
	var r pageReply
	if resp.StatusCode != 200 {
		f.t.Errorf("post: HTTP %d", resp.StatusCode)
		return pageReply{Done: true}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		f.t.Errorf("reply: %v", err)
	}
	return r
}

func TestPageDriver(t *testing.T) {
	hub := newPageHub("127.0.0.1:1")
	srv := httptest.NewServer(hub)
	defer srv.Close()
	p := hub.newPage(engine.Firefox)
	p.impl = "js"
	f := fakePage{t: t, url: srv.URL, token: p.page.Token}

	// The page's side, as bench.js: ready, then run what it is told.
	var seen []string
	pageDone := make(chan struct{})
	go func() {
		defer close(pageDone)
		impl := "js"
		rep := pageReport{Impl: impl, Ready: true, Isolated: true, ClockStepMs: 0.02}
		for range 10 {
			next := f.post(rep)
			switch {
			case next.Done:
				seen = append(seen, "done")
				return
			case next.Navigate != "":
				seen = append(seen, "navigate "+next.Navigate)
				impl = next.Navigate
				rep = pageReport{Impl: impl, Ready: true}
			default:
				seen = append(seen, impl+" "+next.Spec["op"].(string))
				res := `{"msgs":3,"ms":1.5}`
				if next.Spec["op"] == "bad" {
					res = `{"msgs":0,"ms":0,"error":"boom"}`
				}
				rep = pageReport{Impl: impl, Result: res, Posts: 7, CloseEvent: 42}
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.awaitReady(ctx, "js"); err != nil {
		t.Fatal(err)
	}
	if !p.ready.Isolated || p.ready.ClockStepMs != 0.02 {
		t.Errorf("ready report lost: %+v", p.ready)
	}
	r, rep, err := p.run(ctx, map[string]any{"op": "recv"})
	if err != nil || r.Msgs != 3 || r.Ms != 1.5 || rep.Posts != 7 || rep.CloseEvent != 42 {
		t.Errorf("run: %+v %+v %v", r, rep, err)
	}
	if err := p.use(ctx, "js"); err != nil { // already there: no navigation
		t.Error(err)
	}
	if err := p.use(ctx, "dualws"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.run(ctx, map[string]any{"op": "bad"}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a failed run: err %v, want boom", err)
	}
	if _, _, err := p.run(ctx, map[string]any{"op": "send"}); err != nil {
		t.Errorf("the page is usable after a failed run: %v", err)
	}
	p.close()
	<-pageDone
	want := "js recv, navigate dualws, dualws bad, dualws send, done"
	if got := strings.Join(seen, ", "); got != want {
		t.Errorf("the page saw %q, want %q", got, want)
	}

}

func TestPageDriverWrongPage(t *testing.T) {
	hub := newPageHub("127.0.0.1:1")
	srv := httptest.NewServer(hub)
	defer srv.Close()
	p := hub.newPage(engine.WebKit)
	f := fakePage{t: t, url: srv.URL, token: p.page.Token}
	go f.post(pageReport{Impl: "js", Error: "WebAssembly is not defined"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := p.awaitReady(ctx, "js")
	if err == nil || !strings.Contains(err.Error(), "WebAssembly is not defined") {
		t.Errorf("a page that failed to load: err %v", err)
	}
	p.close()
}

func TestImplsFor(t *testing.T) {
	s := BrowserSizes{CoderEngines: []engine.Name{engine.Chromium}}
	if got := strings.Join(s.implsFor(engine.Chromium), ","); got != "js,dualws,coder" {
		t.Errorf("chromium: %s", got)
	}
	if got := strings.Join(s.implsFor(engine.WebKit), ","); got != "js,dualws" {
		t.Errorf("webkit: %s", got)
	}
	if got := strings.Join(BrowserSizes{}.implsFor(engine.Firefox), ","); got != "js,dualws,coder" {
		t.Errorf("default: %s", got)
	}
}
