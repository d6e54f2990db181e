//go:build !js

package faults

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dualws/dualws/internal/engine"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestFaults runs every case natively, one at a time.
func TestFaults(t *testing.T) {
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) {
			res := RunCase(c)
			for _, p := range res.Problems {
				t.Errorf("%s\n  promise: %s", p, c.Promise)
			}
		})
	}
}

// TestTableCoversIssue9 checks the table's size, that names are unique,
// that every case states a promise, and that each group and each defect
// of issue 9 has cases.
func TestTableCoversIssue9(t *testing.T) {
	if len(Cases) < 40 {
		t.Errorf("%d cases, want at least 40", len(Cases))
	}
	names := map[string]bool{}
	groups := map[string]int{}
	defects := map[int]int{}
	for _, c := range Cases {
		if names[c.Name] {
			t.Errorf("case %q appears twice", c.Name)
		}
		names[c.Name] = true
		if strings.TrimSpace(c.Promise) == "" {
			t.Errorf("case %q states no promise", c.Name)
		}
		if c.Server == nil {
			t.Errorf("case %q has no server", c.Name)
		}
		groups[c.Group]++
		defects[c.Defect]++
	}
	for _, g := range []string{"handshake", "framing", "closing", "liveness", "abrupt", "resources"} {
		if groups[g] == 0 {
			t.Errorf("no case in group %q", g)
		}
	}
	for d := 1; d <= 9; d++ {
		if defects[d] == 0 {
			t.Errorf("no case for defect %d", d)
		}
	}
}

// TestHarnessCatchesLeaks runs a client program that leaves a goroutine
// and a socket behind, and a case whose expectation is wrong: the harness
// must report all three.
func TestHarnessCatchesLeaks(t *testing.T) {
	release := make(chan struct{})
	var leaked net.Conn
	c := &Case{
		Name:   "leaky",
		Server: upgradeThen(closeBytes(1000, "")),
		Program: &Program{Name: "leaky", Client: func(r *Run) {
			receiveAndWait(r)
			go func() { <-release }()
			leaked, _ = net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(r.URL, "ws://"), "/ws"))
		}},
		Want: Want{Trace: dropped, Messages: 0},
	}
	res := RunCase(c)
	close(release)
	if leaked != nil {
		leaked.Close()
	}
	var gotGoroutine, gotSocket, gotTrace bool
	for _, p := range res.Problems {
		gotGoroutine = gotGoroutine || strings.Contains(p, "goroutines left")
		gotSocket = gotSocket || strings.Contains(p, "did not close its socket") || strings.Contains(p, "socket(s) left open")
		gotTrace = gotTrace || strings.Contains(p, "transitions")
	}
	if !gotGoroutine || !gotSocket || !gotTrace {
		t.Errorf("problems %q: want a leaked goroutine, a socket left open and a wrong trace reported", res.Problems)
	}
}

// TestBrowserCatchesWrongOutcome runs cases in Chromium with expectations
// that the browser must contradict: a wrong transition, a wrong message
// count, what a handshake failure says, and a program that hangs; the
// browser column must report each.
func TestBrowserCatchesWrongOutcome(t *testing.T) {
	b, err := StartBrowser(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	byName := casesByName()
	wrong := func(name string, edit func(w *Want)) *Case {
		c := *byName[name]
		c.Browser = withWrongWant(c, c.Browser, edit)
		return &c
	}
	for _, tc := range []struct {
		c    *Case
		want string
	}{
		{wrong("cl-normal", func(w *Want) { w.Trace = dropped }), "transitions"},
		{wrong("rs-receive-queue-bytes", func(w *Want) { w.Messages = 13 }), "received 14 messages, want 13"},
		{wrong("hs-401-keep-alive", func(w *Want) { w.DialReason, w.HTTPStatus = "handshake rejected", 401 }), "HTTPStatus 0, want 401"},
		{wrong("lv-blackhole", func(w *Want) { w.Reason = "keepalive timeout" }), `close reason "heartbeat timeout"`},
	} {
		res := b.RunCase(tc.c)
		if res == nil || !slices.ContainsFunc(res.Problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
			t.Errorf("%s with a wrong expectation: problems %q, want one saying %q", tc.c.Name, res.Problems, tc.want)
		}
	}
}

// TestEngineCatchesWrongOutcome runs cases in Firefox through EngineRunner
// with expectations the engine must contradict, one of them a case's
// Firefox override: the engine column must report each, and use the
// override.
func TestEngineCatchesWrongOutcome(t *testing.T) {
	e, err := StartEngine(context.Background(), engine.Firefox)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	byName := casesByName()
	wrong := func(name string, edit func(w *Want)) *Case {
		c := *byName[name]
		b := withWrongWant(c, e.Browser(&c), edit)
		c.Browser.Firefox = &b
		return &c
	}
	for _, tc := range []struct {
		c    *Case
		want string
	}{
		{wrong("cl-normal", func(w *Want) { w.Trace = dropped }), "transitions"},
		{wrong("rs-receive-queue-bytes", func(w *Want) { w.Messages = 13 }), "received 14 messages, want 13"},
		// Firefox's override says 1005, clean: a wrong code in it is seen.
		{wrong("cl-code-1005-on-wire", func(w *Want) { w.Trace = peerClosedOK(1000) }), "transitions"},
	} {
		res := e.RunCase(tc.c)
		if res == nil || !slices.ContainsFunc(res.Problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
			t.Errorf("%s with a wrong expectation: problems %v, want one saying %q", tc.c.Name, res, tc.want)
		}
	}
	// The override, not Chromium's column, applies in the engine.
	if b := e.Browser(byName["fr-masked-frame"]); b.NA == "" {
		t.Error("fr-masked-frame runs in Firefox: its override (n/a) is not applied")
	}
	// A page that does not report runs once more in a fresh browser, and
	// fails when it does not report again (hs-never-answered takes the
	// handshake timeout, longer than this wait).
	reportWait = 300 * time.Millisecond
	defer func() { reportWait = 0 }()
	res := e.RunCase(byName["hs-never-answered"])
	if res == nil || res.OK() || !strings.Contains(res.Rerun, "did not report") ||
		!slices.ContainsFunc(res.Problems, func(p string) bool { return strings.Contains(p, errPageLost.Error()) }) {
		t.Errorf("a page that never reports: %+v, want a failure after a rerun", res)
	}
}

// TestEngineOverridesSayWhy: every engine override names what the engine
// shows scripts (Why) or why the case cannot run there (NA).
func TestEngineOverridesSayWhy(t *testing.T) {
	n := 0
	for _, c := range Cases {
		for _, o := range []*Browser{c.Browser.Firefox, c.Browser.WebKit} {
			if o == nil {
				continue
			}
			n++
			if o.Why == "" && o.NA == "" {
				t.Errorf("%s: an engine override says neither Why nor NA", c.Name)
			}
		}
	}
	if n == 0 {
		t.Fatal("no engine overrides: engine_cases.go did not run")
	}
}

// casesByName indexes Cases by name.
func casesByName() map[string]*Case {
	byName := map[string]*Case{}
	for _, c := range Cases {
		byName[c.Name] = c
	}
	return byName
}

// withWrongWant returns b with c's Want in it (b's own, if it has one)
// edited by edit.
func withWrongWant(c Case, b Browser, edit func(*Want)) Browser {
	w := c.Want
	if b.Want != nil {
		w = *b.Want
	}
	edit(&w)
	b.Want = &w
	return b
}

// TestWantOr: an outcome that matches a Want's Or passes; one that matches
// neither fails with the first Want's problems.
func TestWantOr(t *testing.T) {
	c := *casesByName()["cl-normal"]
	right := c.Want
	c.Want = Want{Trace: dropped, Messages: 0, Or: &right}
	if res := RunCase(&c); !res.OK() {
		t.Errorf("an outcome that matches Or failed: %q", res.Problems)
	}
	c.Want = Want{Trace: dropped, Messages: 0, Or: &Want{Trace: peerClosedOK(1000), Messages: 0}}
	if res := RunCase(&c); res.OK() || !slices.ContainsFunc(res.Problems, func(p string) bool { return strings.Contains(p, "transitions") }) {
		t.Errorf("an outcome that matches neither passed, or failed for another reason: %q", res.Problems)
	}
}
