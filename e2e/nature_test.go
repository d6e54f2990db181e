package e2e

import (
	"testing"

	"github.com/dualws/dualws/internal/engine"
	"github.com/dualws/dualws/scenarios"
	"github.com/stretchr/testify/assert"
)

// nativeEarlyDrop is a native trace of a server that pushes a message and
// drops TCP right after the 101.
func nativeEarlyDrop(name string) scenarios.Trace {
	return scenarios.Trace{
		Scenario: name,
		Transitions: []scenarios.Transition{
			{From: "CONNECTING", To: "OPEN"},
			{From: "OPEN", To: "CLOSED", Code: 1006, Remote: true},
		},
		Received: []scenarios.Message{{Type: "text", Len: 5, Text: "first"}},
		Ops: []scenarios.Op{
			{Op: "dial", Result: "ok"},
			{Op: "receive", Result: "close", Code: 1006},
			{Op: "close", Arg: "1000", Result: "close", Code: 1006, State: "CLOSED"},
		},
		Counts: map[string]int{scenarios.AcceptedAfterClose: 0},
		Facts:  map[string]string{"judged_sends_refused_with": "close 1006"},
	}
}

// firefoxFailedDial is what Firefox shows of it: close 1006 without open.
func firefoxFailedDial(name string) scenarios.Trace {
	return scenarios.Trace{
		Scenario:    name,
		Transitions: []scenarios.Transition{{From: "CONNECTING", To: "CLOSED", Code: 1006, Remote: true}},
		Ops:         []scenarios.Op{{Op: "dial", Result: "dial"}},
	}
}

func TestCompareAcceptsOnlyKnownDifferences(t *testing.T) {
	const cell = "seed-go-idle-drop1-5ms"
	n := nativeEarlyDrop(cell)

	same, note, diff := Compare(engine.Chromium, n, n)
	assert.True(t, same, diff)
	assert.Empty(t, note, "identical traces need no note")

	same, note, _ = Compare(engine.Firefox, n, firefoxFailedDial(cell))
	assert.True(t, same, "Firefox's failed dial on an early drop is by nature")
	assert.Contains(t, note, "without open")

	same, _, diff = Compare(engine.Chromium, n, firefoxFailedDial(cell))
	assert.False(t, same, "only Firefox fails the dial")
	assert.NotEmpty(t, diff)

	same, _, _ = Compare(engine.Firefox, nativeEarlyDrop("drop"), firefoxFailedDial("drop"))
	assert.False(t, same, "a scenario where the server does not end right after the 101")

	bad := firefoxFailedDial(cell)
	bad.Ops[0].Result = "ok"
	same, _, _ = Compare(engine.Firefox, n, bad)
	assert.False(t, same, "anything but the failed dial still differs")

	sent := nativeEarlyDrop(cell)
	sent.Ops = append(sent.Ops, scenarios.Op{Op: "send", Result: "ok"})
	same, _, _ = Compare(engine.Firefox, sent, firefoxFailedDial(cell))
	assert.False(t, same, "the client did something that succeeded, so the server's end was not right after the 101")

	utf := scenarios.Trace{Scenario: "bad-utf8", Facts: map[string]string{"server_saw_close": "true"}}
	ff := scenarios.Trace{Scenario: "bad-utf8", Facts: map[string]string{"server_saw_close": "false"}}
	same, _, _ = Compare(engine.Firefox, utf, ff)
	assert.True(t, same)
	same, _, _ = Compare(engine.WebKit, utf, ff)
	assert.False(t, same, "WebKit sends its close frame")
	assert.Equal(t, "true", utf.Facts["server_saw_close"], "Compare must not change the native trace")
}

func TestCompareWebKitRestartCodes(t *testing.T) {
	n := scenarios.Trace{
		Scenario: "redial-1012",
		Transitions: []scenarios.Transition{
			{From: "CONNECTING", To: "OPEN"},
			{From: "OPEN", To: "CLOSING", Code: 1012, Reason: "restart", Remote: true},
			{From: "CLOSING", To: "CLOSED", Code: 1012, Reason: "restart", WasClean: true, Remote: true},
			{From: "CONNECTING", To: "OPEN"},
		},
		Ops: []scenarios.Op{{Op: "receive", Result: "close", Code: 1012}, {Op: "send", Result: "ok"}},
	}
	wk := scenarios.Trace{
		Scenario: "redial-1012",
		Transitions: []scenarios.Transition{
			{From: "CONNECTING", To: "OPEN"},
			{From: "OPEN", To: "CLOSED", Code: 1006, Remote: true},
			{From: "CONNECTING", To: "OPEN"},
		},
		Ops: []scenarios.Op{{Op: "receive", Result: "close", Code: 1006}, {Op: "send", Result: "ok"}},
	}
	same, note, diff := Compare(engine.WebKit, n, wk)
	assert.True(t, same, diff)
	assert.Contains(t, note, "1012")
	assert.Equal(t, 1012, n.Ops[0].Code, "Compare must not change the native trace")

	same, _, _ = Compare(engine.Firefox, n, wk)
	assert.False(t, same, "only WebKit turns 1012 into a drop")

	wk.Ops[1].Result = "close"
	same, _, _ = Compare(engine.WebKit, n, wk)
	assert.False(t, same, "other differences remain")

	n4000 := n
	n4000.Transitions = []scenarios.Transition{
		{From: "CONNECTING", To: "OPEN"},
		{From: "OPEN", To: "CLOSING", Code: 4000, Remote: true},
		{From: "CLOSING", To: "CLOSED", Code: 4000, WasClean: true, Remote: true},
		{From: "CONNECTING", To: "OPEN"},
	}
	wk.Ops[1].Result = "ok"
	same, _, _ = Compare(engine.WebKit, n4000, wk)
	assert.False(t, same, "a 4000 close seen as a drop is not by nature")
}
