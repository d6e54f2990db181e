package e2e

import (
	"maps"
	"path"
	"slices"

	"github.com/dualws/dualws/internal/engine"
	"github.com/dualws/dualws/scenarios"
)

// A quirk is a way one engine differs from the native client by nature: a
// behaviour of the browser's WebSocket that no script can change. expect
// rewrites a native trace into what the engine shows instead; Compare
// accepts the engine's trace when it equals that, and reports note.
type quirk struct {
	engine engine.Name
	// scenarios are the scenario names (path.Match globs) it may apply to.
	scenarios []string
	// applies reports whether the native trace has the shape the quirk
	// rewrites.
	applies func(native scenarios.Trace) bool
	expect  func(native scenarios.Trace) scenarios.Trace
	note    string
}

// quirks are every known by-nature difference of an engine, each measured
// with a plain-JS page as well (see the report of issue 13).
var quirks = []quirk{
	{
		// Firefox 153: when the server ends the connection right after its
		// 101 (a message and a TCP drop, or a frame the browser rejects),
		// the page gets error and close 1006 without an open event, so a
		// script sees a failed dial; what came with the 101 is lost.
		engine:    engine.Firefox,
		scenarios: []string{"drop-fragment", "bad-utf8", "seed-*-idle-drop1-*"},
		applies: func(n scenarios.Trace) bool {
			tr := n.Transitions
			if len(tr) < 2 || tr[0].To != "OPEN" {
				return false
			}
			last := tr[len(tr)-1]
			if last.From != "OPEN" || last.To != "CLOSED" || last.Code != 1006 || last.WasClean || !last.Remote {
				return false
			}
			// The client did nothing that succeeded: the server's end did
			// not wait for it.
			for _, o := range n.Ops[1:] {
				if o.Result == "ok" {
					return false
				}
			}
			return len(n.Ops) > 0 && n.Ops[0].Op == "dial" && n.Ops[0].Result == "ok"
		},
		expect: func(n scenarios.Trace) scenarios.Trace {
			e := scenarios.Trace{Scenario: n.Scenario, ByNature: n.ByNature, Failure: n.Failure}
			e.Transitions = []scenarios.Transition{{From: "CONNECTING", To: "CLOSED", Code: 1006, Remote: true}}
			e.Ops = []scenarios.Op{{Op: "dial", Arg: n.Ops[0].Arg, Result: "dial"}}
			return e
		},
		note: "the server ends the connection right after the 101: Firefox fires error and close 1006 without open, so Dial fails (connection failed) and what came with the 101 is lost",
	},
	{
		// Firefox 153: invalid UTF-8 in a text message fails the
		// connection without a close frame: the server sees the TCP
		// connection end (Chromium sends 1002, WebKit 1007).
		engine:    engine.Firefox,
		scenarios: []string{"bad-utf8"},
		applies:   func(n scenarios.Trace) bool { return n.Facts["server_saw_close"] == "true" },
		expect: func(n scenarios.Trace) scenarios.Trace {
			e := n
			e.Facts = maps.Clone(n.Facts)
			e.Facts["server_saw_close"] = "false"
			return e
		},
		note: "Firefox fails the connection on invalid UTF-8 without sending a close frame: the server sees no close (Chromium sends 1002, WebKit 1007)",
	},
	{
		// WebKitGTK 2.50: a close frame with code 1012, 1013 or 1014 fails
		// the connection: error, then close 1006, not clean, reason "".
		engine:    engine.WebKit,
		scenarios: []string{"*"},
		applies: func(n scenarios.Trace) bool {
			return slices.ContainsFunc(n.Transitions, func(t scenarios.Transition) bool {
				return t.Remote && t.Code >= 1012 && t.Code <= 1014
			})
		},
		expect: func(n scenarios.Trace) scenarios.Trace {
			e := n
			e.Transitions = nil
			for i := 0; i < len(n.Transitions); i++ {
				t := n.Transitions[i]
				if t.Remote && t.Code >= 1012 && t.Code <= 1014 && t.To == "CLOSING" {
					// OPEN->CLOSING(code) + CLOSING->CLOSED(code) become
					// OPEN->CLOSED 1006.
					e.Transitions = append(e.Transitions, scenarios.Transition{From: t.From, To: "CLOSED", Code: 1006, Remote: true})
					if i+1 < len(n.Transitions) && n.Transitions[i+1].From == "CLOSING" {
						i++
					}
					continue
				}
				e.Transitions = append(e.Transitions, t)
			}
			e.Ops = slices.Clone(n.Ops)
			for i := range e.Ops {
				if c := e.Ops[i].Code; c >= 1012 && c <= 1014 {
					e.Ops[i].Code = 1006
				}
			}
			return e
		},
		note: "WebKitGTK fails the connection on a close frame with code 1012, 1013 or 1014: error and close 1006, not clean, no reason (the client sees a drop)",
	},
}

// Compare compares the trace of a scenario in engine n with the native one.
// same is true when they record the same behaviour, either exactly or
// once a known by-nature difference of the engine is taken into account;
// note then names that difference. diff shows what differs from native
// (scenarios.Diff) when same is false.
func Compare(n engine.Name, native, br scenarios.Trace) (same bool, note, diff string) {
	d := scenarios.Diff(native, br)
	if d == "" {
		return true, "", ""
	}
	for _, q := range quirks {
		if q.engine != n || !matchAny(q.scenarios, native.Scenario) || !q.applies(native) {
			continue
		}
		if scenarios.Diff(q.expect(native), br) == "" {
			return true, q.note, ""
		}
	}
	return false, "", d
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}
