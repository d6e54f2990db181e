package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// session is one run of the command in-process, with its standard input
// held open until the test closes it.
type session struct {
	stdin  *io.PipeWriter
	stdout *syncBuffer
	stderr *syncBuffer
	sigs   chan os.Signal
	done   chan int
}

func start(t *testing.T, args ...string) *session {
	t.Helper()
	pr, pw := io.Pipe()
	s := &session{
		stdin:  pw,
		stdout: newSyncBuffer(),
		stderr: newSyncBuffer(),
		sigs:   make(chan os.Signal, 2),
		done:   make(chan int, 1),
	}
	// Closing stdin lets the input goroutine end once the run is over.
	t.Cleanup(func() { pw.Close() })
	go func() { s.done <- runSignals(args, pr, s.stdout, s.stderr, s.sigs) }()
	return s
}

func (s *session) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		t.Fatalf("writing %q to stdin: %v", line, err)
	}
}

// wait returns the exit status.
func (s *session) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.done:
		return code
	case <-time.After(guard):
		t.Fatalf("the command did not end; stderr:\n%s", s.stderr)
		return -1
	}
}

func (s *session) expectExit(t *testing.T, want int) {
	t.Helper()
	if got := s.wait(t); got != want {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", got, want, s.stdout, s.stderr)
	}
}

func TestCleanCloseAtEndOfInput(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, sc.ws+"/ws/echo?id=clean")
	s.send(t, "hello")
	s.stdout.waitFor(t, "stdout", "hello\n")
	s.send(t, "wörld ✓")
	s.stdout.waitFor(t, "stdout", "wörld ✓\n")
	s.stdin.Close()
	s.expectExit(t, exitClean)

	if got, want := s.stdout.String(), "hello\nwörld ✓\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	errOut := s.stderr.String()
	requireLine(t, "stderr", errOut, "+", "OPEN", sc.ws+"/ws/echo?id=clean")
	requireLine(t, "stderr", errOut, "CLOSING", `code=1000 reason="" clean=false by=client`)
	last := lines(errOut)[len(lines(errOut))-1]
	if !strings.Contains(last, "CLOSED") || !strings.Contains(last, `code=1000 reason="" clean=true by=client`) {
		t.Errorf("last stderr line = %q, want CLOSED with code=1000 clean=true by=client", last)
	}
	obs := sc.observed(t, "clean")
	if !obs.CloseReceived || obs.CloseCode != 1000 || obs.Messages != 2 {
		t.Errorf("server observed %+v, want a close with 1000 after 2 messages", obs)
	}
}

func TestServerClosesWith4000(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, sc.ws+"/ws/close?after=1&code=4000&reason=bye%20%C3%A9")
	s.send(t, "only")
	s.expectExit(t, exitCode)

	if got := s.stdout.String(); got != "only\n" {
		t.Errorf("stdout = %q, want the one echo", got)
	}
	errOut := s.stderr.String()
	requireLine(t, "stderr", errOut, "CLOSING", `code=4000 reason="bye é" clean=false by=server`)
	requireLine(t, "stderr", errOut, "CLOSED", `code=4000 reason="bye é" clean=true by=server`)
}

func TestServerDrops(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, sc.ws+"/ws/drop?after=1")
	s.send(t, "x")
	s.expectExit(t, exitDropped)

	errOut := s.stderr.String()
	requireLine(t, "stderr", errOut, "CLOSED", `code=1006 reason="" clean=false by=network (abnormal closure)`)
	if _, ok := lineWith(errOut, "CLOSING"); ok {
		t.Errorf("a dropped connection went through CLOSING:\n%s", errOut)
	}
}

func TestDialFailures(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	for _, tc := range []struct {
		name string
		url  string
		want string
	}{
		{"rejected", sc.ws + "/ws/reject?status=403", "handshake rejected (HTTP 403)"},
		{"refused", "ws://" + closedPort(t) + "/", "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.url)
			s.expectExit(t, exitDial)
			if out := s.stdout.String(); out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			errLines := lines(s.stderr.String())
			if len(errLines) != 1 || !strings.Contains(errLines[0], tc.want) || !strings.Contains(errLines[0], tc.url) {
				t.Errorf("stderr = %q, want one line naming %s and %q", errLines, tc.url, tc.want)
			}
		})
	}
}

// closedPort returns an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing URL"},
		{[]string{"-nope", "ws://x"}, "flag provided but not defined: -nope"},
		{[]string{"-ping", "soon", "ws://x"}, `invalid value "soon" for flag -ping`},
		{[]string{"ws://a", "ws://b"}, "expected one URL, got 2"},
		{[]string{"-header", "no colon", "ws://x"}, `invalid -header "no colon"`},
		{[]string{"http://example.com/"}, "the scheme must be ws:// or wss://"},
		{[]string{"ws://"}, "it has no host"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("run(%q) = %d, want %d", tc.args, code, exitUsage)
		}
		errLines := lines(stderr.String())
		if len(errLines) != 1 || !strings.Contains(errLines[0], tc.want) || !strings.HasPrefix(errLines[0], "dualws: ") {
			t.Errorf("run(%q) stderr = %q, want one line with %q", tc.args, errLines, tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("run(%q) stdout = %q, want nothing", tc.args, stdout.String())
		}
	}
}

// With -json, a usage error found while parsing the flags ends with an
// "error" and a last "exit" event, as other usage errors do (it printed
// no JSON; a helper's attack). -json after a flag's value counts too.
func TestUsageErrorsWithJSON(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-json"},
		{"-json", "ws://a", "ws://b"},
		{"-header", "no colon", "-json", "ws://x"},
		{"-q", "-json", "-ping", "soon", "ws://x"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitUsage {
			t.Errorf("run(%q) = %d, want %d", args, code, exitUsage)
		}
		var evs []map[string]any
		for _, l := range lines(stdout.String()) {
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("run(%q): stdout line %q is not JSON: %v", args, l, err)
			}
			evs = append(evs, ev)
		}
		if len(evs) != 2 || evs[0]["event"] != "error" || evs[0]["op"] != "usage" || evs[1]["event"] != "exit" || evs[1]["status"] != float64(exitUsage) {
			t.Errorf("run(%q) stdout = %q, want an error event, then exit 2", args, stdout.String())
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("run(-h) = %d, want 0", code)
	}
	for _, want := range []string{"usage: dualws", "-subprotocol", "-json", "-binary-raw", "Exit status"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestParseHeadersAndFlagOrder(t *testing.T) {
	t.Parallel()
	cfg, err := parseArgs([]string{"-header", "X-A: 1", "ws://h/p", "-header", "X-A:2", "-subprotocol", "a", "-subprotocol", "b", "-q"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"X-A": {"1", "2"}}; !reflect.DeepEqual(cfg.header, want) {
		t.Errorf("header = %v, want %v", cfg.header, want)
	}
	if !reflect.DeepEqual(cfg.subprotocols, []string{"a", "b"}) || !cfg.quiet || cfg.url != "ws://h/p" {
		t.Errorf("parsed %+v", cfg)
	}
}

func TestJSONEvents(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, "-json", sc.ws+"/ws/burst?n=3&code=4001")
	s.expectExit(t, exitCode)
	if e := s.stderr.String(); e != "" {
		t.Errorf("stderr = %q, want nothing with -json", e)
	}
	var states, texts []string
	var evs []map[string]any
	for _, l := range lines(s.stdout.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		if _, ok := ev["t"].(float64); !ok {
			t.Errorf("event %q has no time", l)
		}
		evs = append(evs, ev)
		switch ev["event"] {
		case "state":
			states = append(states, ev["to"].(string))
			if ev["to"] == "CLOSING" || ev["to"] == "CLOSED" {
				if ev["code"] != 4001.0 || ev["by"] != "server" || ev["clean"] != (ev["to"] == "CLOSED") {
					t.Errorf("close event %q, want code 4001 by server, clean only when CLOSED", l)
				}
			}
		case "message":
			if ev["type"] != "text" {
				t.Errorf("message event %q is not text", l)
			}
			texts = append(texts, ev["text"].(string))
		}
	}
	// Messages that came before the close frame are reported before it.
	var order []string
	for _, ev := range evs {
		order = append(order, ev["event"].(string))
	}
	if got, want := strings.Join(order, " "), "state message message message state state exit"; got != want {
		t.Errorf("events in order %q, want %q", got, want)
	}
	if want := []string{"OPEN", "CLOSING", "CLOSED"}; !reflect.DeepEqual(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
	if want := []string{"1", "2", "3"}; !reflect.DeepEqual(texts, want) {
		t.Errorf("messages %v, want %v", texts, want)
	}
	if last := evs[len(evs)-1]; last["event"] != "exit" || last["status"] != 1.0 {
		t.Errorf("last event %v, want exit with status 1", last)
	}
}

func TestBinaryPreviewAndRaw(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)

	s := start(t, "-q", sc.ws+"/ws/big?size=40&type=binary")
	want := "[binary 40 bytes] 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f ...\n"
	s.stdout.waitFor(t, "stdout", "\n")
	s.stdin.Close()
	s.expectExit(t, exitClean)
	if got := s.stdout.String(); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if e := s.stderr.String(); e != "" {
		t.Errorf("stderr = %q, want nothing with -q", e)
	}

	raw := start(t, "-q", "-binary-raw", sc.ws+"/ws/big?size=5&type=binary")
	raw.stdout.waitFor(t, "stdout", "\x04")
	raw.stdin.Close()
	raw.expectExit(t, exitClean)
	if got := raw.stdout.String(); got != "\x00\x01\x02\x03\x04" {
		t.Errorf("raw stdout = %q, want bytes 0..4", got)
	}
}

func TestSendBinaryLines(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, "-binary", sc.ws+"/ws/echo")
	s.send(t, "ab\r")
	s.stdout.waitFor(t, "stdout", "\n")
	s.stdin.Close()
	s.expectExit(t, exitClean)
	if got, want := s.stdout.String(), "[binary 2 bytes] 6162\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestInvalidUTF8LineIsNotSent(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, sc.ws+"/ws/echo?id=utf8")
	s.send(t, "\xff\xfe")
	s.send(t, "ok")
	s.stdout.waitFor(t, "stdout", "ok\n")
	s.stdin.Close()
	s.expectExit(t, exitClean)
	requireLine(t, "stderr", s.stderr.String(), "input line 1 not sent", "not valid UTF-8")
	if got := s.stdout.String(); got != "ok\n" {
		t.Errorf("stdout = %q, want only the valid line echoed", got)
	}
	if obs := sc.observed(t, "utf8"); obs.Messages != 1 {
		t.Errorf("server received %d messages, want 1", obs.Messages)
	}
}

func TestSubprotocol(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, "-subprotocol", "v1", "-subprotocol", "v2", sc.ws+"/ws/subprotocol")
	s.stderr.waitFor(t, "stderr", "subprotocol")
	s.stdin.Close()
	s.expectExit(t, exitClean)
	requireLine(t, "stderr", s.stderr.String(), `subprotocol "v2"`)
}

func TestReadLimit(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, "-read-limit", "100", sc.ws+"/ws/big?size=101&type=text&id=limit")
	s.expectExit(t, exitCode)
	requireLine(t, "stderr", s.stderr.String(), "CLOSED", `code=1009 reason="message too big" clean=true by=client`)
	if obs := sc.observed(t, "limit"); obs.CloseCode != 1009 {
		t.Errorf("server observed close code %d, want 1009", obs.CloseCode)
	}
}

func TestServerClosesAfterMessagesArrive(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	// Every message sent before the close frame is printed.
	s := start(t, "-q", sc.ws+"/ws/burst?n=50&code=1001")
	s.expectExit(t, exitClean)
	var want strings.Builder
	for i := 1; i <= 50; i++ {
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	if got := s.stdout.String(); got != want.String() {
		t.Errorf("stdout = %q, want 1..50", got)
	}
}

func TestInterruptClosesWith1000(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, sc.ws+"/ws/echo?id=sigint")
	s.stderr.waitFor(t, "stderr", "OPEN")
	s.sigs <- os.Interrupt
	s.expectExit(t, exitClean)
	errOut := s.stderr.String()
	requireLine(t, "stderr", errOut, "interrupt: closing with 1000")
	requireLine(t, "stderr", errOut, "CLOSED", "code=1000", "clean=true by=client")
	if obs := sc.observed(t, "sigint"); obs.CloseCode != 1000 {
		t.Errorf("server observed close code %d, want 1000", obs.CloseCode)
	}
}

func TestJSONSentAndEcho(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, "-json", sc.ws+"/ws/echo")
	s.send(t, "hi")
	s.stdout.waitFor(t, "stdout", `"event":"message"`)
	s.stdin.Close()
	s.expectExit(t, exitClean)
	var kinds []string
	sent := 0
	for _, l := range lines(s.stdout.String()) {
		var ev struct {
			Event string  `json:"event"`
			To    string  `json:"to"`
			Type  string  `json:"type"`
			Len   *int    `json:"len"`
			Text  *string `json:"text"`
			By    string  `json:"by"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		k := ev.Event + ":" + ev.To
		switch ev.Event {
		case "sent":
			sent++
			if ev.Type != "text" || ev.Len == nil || *ev.Len != 2 {
				t.Errorf("sent event %s, want 2 bytes of text", l)
			}
		case "message":
			if ev.Text == nil || *ev.Text != "hi" {
				t.Errorf("message event %s, want the echo", l)
			}
		case "state":
			if ev.To != "OPEN" && ev.By != "client" {
				t.Errorf("state event %s, want the client to close", l)
			}
		}
		kinds = append(kinds, k)
	}
	// "sent" comes before the echo (see TestJSONSentBeforeItsEcho).
	if got, want := strings.Join(kinds, " "), "state:OPEN sent: message: state:CLOSING state:CLOSED exit:"; got != want || sent != 1 {
		t.Errorf("events %s and %d sent, want %s and 1 sent", got, sent, want)
	}
}

// With -json a line's "sent" comes before the "message" of its echo: the
// echo used to be printed first when it arrived before Send's caller
// printed "sent". Lines have distinct lengths, which tie each echo to its
// "sent".
func TestJSONSentBeforeItsEcho(t *testing.T) {
	t.Parallel()
	const n = 200
	sc := newScenario(t)
	s := start(t, "-json", sc.ws+"/ws/echo")
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(strings.Repeat("x", i) + "\n")
	}
	go io.WriteString(s.stdin, b.String())
	s.stdout.waitFor(t, "stdout", `"len":`+strconv.Itoa(n)+`,"text"`)
	s.stdin.Close()
	s.expectExit(t, exitClean)
	sent := map[int]bool{}
	echoes := 0
	for _, l := range lines(s.stdout.String()) {
		var ev struct {
			Event string `json:"event"`
			Len   int    `json:"len"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		switch ev.Event {
		case "sent":
			sent[ev.Len] = true
		case "message":
			echoes++
			if !sent[ev.Len] {
				t.Errorf("the echo of the line of %d bytes came before its \"sent\"", ev.Len)
			}
		}
	}
	if len(sent) != n || echoes != n {
		t.Errorf("%d sent and %d echoes, want %d of each", len(sent), echoes, n)
	}
}

// /ws/noclose never answers pings: the keepalive drops the connection.
func TestPingTimeout(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, "-ping", "20ms", "-ping-timeout", "50ms", sc.ws+"/ws/noclose")
	s.expectExit(t, exitDropped)
	requireLine(t, "stderr", s.stderr.String(), "CLOSED", `code=1006 reason="keepalive timeout" clean=false by=client`)
}

// /ws/noclose never answers a close: the close timeout ends the wait.
func TestCloseTimeout(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, "-ping", "-1s", "-close-timeout", "50ms", sc.ws+"/ws/noclose")
	s.stderr.waitFor(t, "stderr", "OPEN")
	s.sigs <- os.Interrupt
	s.expectExit(t, exitDropped)
	errOut := s.stderr.String()
	requireLine(t, "stderr", errOut, "CLOSING", `code=1000 reason="" clean=false by=client`)
	requireLine(t, "stderr", errOut, "CLOSED", `code=1006 reason="close timeout" clean=false by=client`)
}

// With -json too the second interrupt ends with the connection's CLOSED
// event, then exit 4; it printed no CLOSED.
func TestJSONSecondInterruptEndsWithClosed(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, "-json", "-close-timeout", "1h", sc.ws+"/ws/noclose")
	s.stdout.waitFor(t, "stdout", `"to":"OPEN"`)
	s.sigs <- os.Interrupt
	s.stdout.waitFor(t, "stdout", `"to":"CLOSING"`)
	s.sigs <- os.Interrupt
	s.expectExit(t, exitDropped)
	var got []string
	for _, l := range lines(s.stdout.String()) {
		var ev struct {
			Event  string  `json:"event"`
			To     string  `json:"to"`
			Code   int     `json:"code"`
			Reason *string `json:"reason"`
			Status int     `json:"status"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		switch ev.Event {
		case "state":
			got = append(got, ev.To+":"+strconv.Itoa(ev.Code))
			if ev.To == "CLOSED" && (ev.Reason == nil || *ev.Reason != "") {
				t.Errorf("CLOSED event %s, want no reason (not the close timeout's)", l)
			}
		case "exit":
			got = append(got, "exit:"+strconv.Itoa(ev.Status))
		default:
			got = append(got, ev.Event)
		}
	}
	if got, want := strings.Join(got, " "), "OPEN:0 CLOSING:1000 CLOSED:1006 exit:4"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
}
