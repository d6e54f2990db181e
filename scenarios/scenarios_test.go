//go:build !js

package scenarios

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/dualws/dualws"
	"github.com/dualws/dualws/testserver/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startServer(t *testing.T) string {
	t.Helper()
	s := server.New(server.Options{})
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http")
}

// TestNativeRun runs every scenario natively and checks the parts of its
// trace that the scenario exists to show.
func TestNativeRun(t *testing.T) {
	base := startServer(t)
	traces := map[string]Trace{}
	for _, name := range Names() {
		if cell, ok := ParseSeedCell(name); ok && cell.Peer != "go" {
			continue // needs the Node server; run by the e2e suite
		}
		tr := Run(context.Background(), name, base)
		traces[name] = tr
		t.Logf("%s:\n  %s", name, strings.Join(tr.Lines(), "\n  "))
		assert.Empty(t, tr.Failure, name)
		assert.NotEmpty(t, tr.Ops, name)
	}
	seeds := 0
	for name, tr := range traces {
		if _, ok := ParseSeedCell(name); !ok {
			continue
		}
		seeds++
		assert.Empty(t, tr.Violations(), name)
		assert.Contains(t, tr.Counts, AcceptedAfterClose, name)
		assert.Contains(t, []string{"close 4000", "close 1006"}, tr.Facts["judged_sends_refused_with"], name)
	}
	assert.Equal(t, 54, seeds, "seed cells against the Go testserver")
	assert.Equal(t, "v2", traces["subprotocol"].Facts["subprotocol"])
	assert.Equal(t, 3, traces["server-ping"].Counts["server_pongs"])
	assert.Len(t, traces["burst-close"].Received, 3)
	assert.Equal(t, 1, traces["close-twice"].Counts["distinct_concurrent_results"])
	assert.Equal(t, 32, traces["concurrent-send"].Counts["failures_with_close_code"])
	assert.Equal(t, "true", traces["concurrent-send"].Notes["every_accepted_send_reached_the_server"])
	assert.Equal(t, "true", traces["bad-utf8"].Facts["server_saw_close"])
	assert.Equal(t, "close 4000 reason 123B", traces["close-invalid"].Facts["server_saw"])
	// Core bug: natively the first fragment of a message whose connection
	// dropped is delivered as a complete message (see the parity report).
	assert.Empty(t, traces["drop-fragment"].Received, "a message cut short by a dropped connection must not be delivered")
	assert.Equal(t, 1009, lastCode(traces["read-limit"]))
	assert.Equal(t, 1005, lastCode(traces["pong-empty-close"]))
	assert.Equal(t, 1006, lastCode(traces["close-unanswered"]))
	assert.Equal(t, utf8Reason, traces["server-close-utf8"].Transitions[len(traces["server-close-utf8"].Transitions)-1].Reason)
}

func lastCode(tr Trace) int {
	if len(tr.Transitions) == 0 {
		return 0
	}
	return tr.Transitions[len(tr.Transitions)-1].Code
}

func TestUnknownScenario(t *testing.T) {
	tr := Run(context.Background(), "no-such-scenario", "ws://127.0.0.1:1")
	assert.Contains(t, tr.Failure, "unknown scenario")
}

func TestNamesAreUniqueAndDescribed(t *testing.T) {
	names := Names()
	require.Len(t, names, 19+108+10)
	seen := map[string]bool{}
	for _, n := range names {
		assert.False(t, seen[n], "duplicate %s", n)
		seen[n] = true
		assert.NotEmpty(t, Describe(n), n)
	}
}

func TestCompareIgnoresTimingsOnly(t *testing.T) {
	a := Trace{
		Scenario:      "x",
		Platform:      "linux/amd64",
		Transitions:   []Transition{{From: "OPEN", To: "CLOSED", Code: 1006, Remote: true, AtMS: 3}},
		Ops:           []Op{{Op: "send", Result: "close", Code: 1006}},
		CloseDetectMS: 12,
		DurationMS:    40,
	}
	b := a
	b.Platform = "js/wasm"
	b.Transitions = []Transition{{From: "OPEN", To: "CLOSED", Code: 1006, Remote: true, AtMS: 9}}
	b.CloseDetectMS, b.DurationMS = 99, 120
	assert.True(t, Equal(a, b), Diff(a, b))

	// A JSON round trip keeps the comparable part.
	raw, err := json.Marshal(a)
	require.NoError(t, err)
	var back Trace
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, a.Comparable(), back.Comparable())

	c := a
	c.Transitions = []Transition{{From: "OPEN", To: "CLOSED", Code: 1005, Remote: true}}
	assert.False(t, Equal(a, c))
	assert.Contains(t, Diff(a, c), "!")
	d := a
	d.Ops = []Op{{Op: "send", Result: "ok"}}
	assert.False(t, Equal(a, d))
}

func TestDiffAligns(t *testing.T) {
	a := Trace{Scenario: "x", Received: []Message{{Type: "text", Len: 1, Text: "a"}}, Ops: []Op{{Op: "dial", Result: "ok"}, {Op: "receive", Result: "close", Code: 1006}}}
	b := Trace{Scenario: "x", Ops: []Op{{Op: "dial", Result: "ok"}, {Op: "receive", Result: "close", Code: 1006}}}
	d := Diff(a, b)
	lines := strings.Split(strings.TrimRight(d, "\n"), "\n")
	require.Len(t, lines, 4, d)
	assert.True(t, strings.HasPrefix(lines[1], "! recv text 1B"), d)
	assert.True(t, strings.HasPrefix(lines[2], "  dial -> ok"), d)
	assert.Equal(t, 1, strings.Count(d, "!"), d)
}

func TestByNatureMasksOnlyTheCleanEnd(t *testing.T) {
	native := Trace{
		Scenario: "x",
		Transitions: []Transition{
			{From: "OPEN", To: "CLOSING", Code: 4001, Remote: true},
			{From: "CLOSING", To: "CLOSED", Code: 4001, Remote: true, WasClean: true},
		},
		Notes: map[string]string{"every_accepted_send_reached_the_server": "true"},
	}
	browser := native
	browser.Transitions = []Transition{native.Transitions[0], native.Transitions[1]}
	browser.Transitions[1].WasClean = false
	browser.Notes = map[string]string{"every_accepted_send_reached_the_server": "false"}

	assert.False(t, Equal(native, browser), "without ByNature the clean flag is compared")
	native.ByNature = []string{ByNatureCleanEnd}
	browser.ByNature = []string{ByNatureCleanEnd}
	assert.True(t, Equal(native, browser), Diff(native, browser))
	// The code of the CLOSED transition is still compared.
	browser.Transitions[1].Code = 1006
	assert.False(t, Equal(native, browser))
}

// TestSeedInstrumentCanFail checks that the seed matrix can report a
// violation: with a margin far in the past, the sends accepted before the
// server's close count as accepted after it.
func TestSeedInstrumentCanFail(t *testing.T) {
	base := startServer(t)
	defer func(m time.Duration) { seedMargin = m }(seedMargin)
	seedMargin = -time.Hour
	tr := Run(context.Background(), "seed-go-send-close1-5ms", base)
	require.Empty(t, tr.Failure)
	assert.GreaterOrEqual(t, tr.Counts[AcceptedAfterClose], 1, "the send of \"first\", accepted before the close, judged as after it")
	assert.NotEmpty(t, tr.Violations())
}

func TestSeedNamesParse(t *testing.T) {
	n := 0
	for _, name := range Names() {
		c, ok := ParseSeedCell(name)
		if !ok {
			continue
		}
		n++
		assert.Equal(t, name, c.Name())
		assert.True(t, strings.HasPrefix(name, SeedPrefix))
	}
	assert.Equal(t, len(SeedPeers())*len(SeedShapes())*len(SeedServers())*len(SeedComputes()), n)
	_, ok := ParseSeedCell("seed-go-send-close1-7ms")
	assert.False(t, ok)
}

// TestSeedJudgeCatchesABlindClient runs the seed matrix's judgement on a
// client that does not read in the background (raw coder/websocket): its
// writes after the server's close are accepted, and the judgement must
// count them.
func TestSeedJudgeCatchesABlindClient(t *testing.T) {
	s := server.New(server.Options{})
	hs := httptest.NewServer(s)
	defer hs.Close()
	defer s.Close()
	ctx := t.Context()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws/seed?before=echo&end=close&code=4000&id=blind", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	var sends []timedSend
	write := func(label string) {
		start := wallNow()
		sends = append(sends, timedSend{label, start, c.Write(ctx, websocket.MessageText, []byte(label))})
	}
	write("first")
	_, _, err = c.Read(ctx) // the echo; the close frame follows it
	require.NoError(t, err)
	busy(50 * time.Millisecond)
	for range SeedSends {
		write("after")
	}
	o := s.Observed("blind")
	require.NotZero(t, o.EndedAt)
	accepted, judged, refused, detail, early := judgeSends(sends, o.EndedAt, SeedMargin)
	assert.Equal(t, SeedSends, judged, detail)
	assert.Equal(t, SeedSends, accepted, detail)
	assert.Equal(t, "none", refused)
	assert.False(t, early)
}

// TestSeedJudgeEarlyDecision: an attempt whose sends all started within the
// margin measured something only if the last was refused with a close code
// (the status was decided, so every later Send is refused); one accepted,
// or refused otherwise, measured nothing.
func TestSeedJudgeEarlyDecision(t *testing.T) {
	const end = int64(1e9)
	closed := &dualws.CloseError{Status: dualws.CloseStatus{Code: 4000, Reason: "seed", Remote: true}}
	before := func(errs ...error) []timedSend {
		var ss []timedSend
		for i, err := range errs {
			ss = append(ss, timedSend{"s", end + int64(i)*int64(time.Millisecond) - int64(2*time.Millisecond), err})
		}
		return ss
	}
	_, judged, refused, detail, early := judgeSends(before(nil, closed, closed), end, SeedMargin)
	assert.Equal(t, 0, judged, detail)
	assert.True(t, early, detail)
	assert.Equal(t, "close 4000", refused)

	_, _, refused, detail, early = judgeSends(before(closed, nil), end, SeedMargin)
	assert.False(t, early, "the last send was accepted: %s", detail)
	assert.Equal(t, "none", refused)

	_, _, _, detail, early = judgeSends(before(nil, context.Canceled), end, SeedMargin)
	assert.False(t, early, "refused without a close code: %s", detail)

	late := append(before(nil), timedSend{"late", end + int64(SeedMargin), closed})
	_, judged, _, detail, early = judgeSends(late, end, SeedMargin)
	assert.Equal(t, 1, judged, detail)
	assert.False(t, early, "a send was judged: %s", detail)
}
