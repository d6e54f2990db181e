package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/dualws/dualws"
	"github.com/dualws/dualws/testserver/server"
)

// fast keeps the reconnecting tests short.
var fast = []string{"-reconnect", "-backoff-initial", "20ms", "-backoff-min", "10ms", "-backoff-max", "50ms"}

func args(extra ...string) []string { return append(append([]string(nil), fast...), extra...) }

// reconnectLine matches the line -reconnect prints before each delay.
var reconnectLine = regexp.MustCompile(`^\+\d+\.\d{3}s reconnecting in (\d+)ms \(attempt (\d+)\): (.+)$`)

// reconnects returns the attempts and delays of the reconnecting lines.
func reconnects(t *testing.T, errOut string) (attempts []int, delays []int, why []string) {
	t.Helper()
	for _, l := range lines(errOut) {
		if !strings.Contains(l, "reconnecting") {
			continue
		}
		m := reconnectLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("reconnecting line %q does not read \"+T reconnecting in Nms (attempt N): error\"", l)
		}
		d, _ := strconv.Atoi(m[1])
		a, _ := strconv.Atoi(m[2])
		attempts, delays, why = append(attempts, a), append(delays, d), append(why, m[3])
	}
	return attempts, delays, why
}

func TestReconnectAfterDrops(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, args(sc.ws+"/ws/flaky?id=drops&n=2&how=drop")...)
	s.stderr.waitFor(t, "stderr", "OPEN")
	s.send(t, "hello")
	s.stdout.waitFor(t, "stdout", "hello\n")
	s.stdin.Close()
	s.expectExit(t, exitClean)

	errOut := s.stderr.String()
	attempts, delays, why := reconnects(t, errOut)
	if want := []int{2, 3}; !equalInts(attempts, want) {
		t.Errorf("attempts %v, want %v\n%s", attempts, want, errOut)
	}
	if len(delays) == 2 && (delays[0] > 20 || delays[1] != 10) {
		t.Errorf("delays %v ms, want at most 20 then 10\n%s", delays, errOut)
	}
	for _, w := range why {
		if !strings.Contains(w, "connection failed") {
			t.Errorf("reconnecting after %q, want the dial error", w)
		}
	}
	if n := strings.Count("\n"+errOut, "\ndualws: dial "); n != 2 {
		t.Errorf("%d dial errors on stderr, want 2:\n%s", n, errOut)
	}
	if n := strings.Count(errOut, " OPEN "); n != 1 {
		t.Errorf("%d OPEN lines, want 1:\n%s", n, errOut)
	}
}

func TestReconnectAfter1012(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, args(sc.ws+"/ws/flaky?id=r1012&n=1&how=close&code=1012&reason=restart")...)
	s.stderr.waitFor(t, "stderr", "reconnecting")
	s.send(t, "again")
	s.stdout.waitFor(t, "stdout", "again\n")
	s.stdin.Close()
	s.expectExit(t, exitClean)

	errOut := s.stderr.String()
	requireLine(t, "stderr", errOut, "CLOSED", `code=1012 reason="restart" clean=true by=server`)
	attempts, _, why := reconnects(t, errOut)
	if !equalInts(attempts, []int{2}) || !strings.Contains(why[0], `1012 (service restart) "restart"`) {
		t.Errorf("reconnecting lines: attempts %v, why %q; want attempt 2 after the 1012\n%s", attempts, why, errOut)
	}
	if n := strings.Count(errOut, " OPEN "); n != 2 {
		t.Errorf("%d OPEN lines, want 2:\n%s", n, errOut)
	}
	last := lines(errOut)[len(lines(errOut))-1]
	if !strings.Contains(last, "CLOSED") || !strings.Contains(last, "code=1000") {
		t.Errorf("last line %q, want the second connection CLOSED with 1000", last)
	}
}

func TestReconnectStopsOn1008(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, args(sc.ws+"/ws/close?after=0&code=1008&reason=no")...)
	s.expectExit(t, exitCode)
	errOut := s.stderr.String()
	requireLine(t, "stderr", errOut, "CLOSED", `code=1008 reason="no" clean=true by=server`)
	if strings.Contains(errOut, "reconnecting") {
		t.Errorf("reconnected after 1008:\n%s", errOut)
	}
}

func TestReconnectStopsOn403(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, args(sc.ws+"/ws/reject?status=403")...)
	s.expectExit(t, exitDial)
	errOut := s.stderr.String()
	if l := lines(errOut); len(l) != 1 || !strings.Contains(l[0], "HTTP 403") {
		t.Errorf("stderr %q, want the one dial error", l)
	}
}

// The end of input stops -reconnect while dials keep failing, as it does
// while connected: it went on dialing until interrupted.
func TestReconnectStopsAtTheEndOfInputWhileDialsFail(t *testing.T) {
	t.Parallel()
	s := start(t, "-reconnect", "-backoff-initial", "5ms", "-backoff-min", "5ms", "-backoff-max", "10ms", "ws://"+closedPort(t)+"/")
	s.stdin.Close()
	s.expectExit(t, exitDial)
}

// The end of input ends a long backoff delay at once (it waited the
// delay out, and dialed once more; a helper's review).
func TestReconnectEndOfInputEndsTheDelay(t *testing.T) {
	t.Parallel()
	s := start(t, "-reconnect", "-backoff-initial=-1ns", "-backoff-min", "1h", "-backoff-max", "1h", "ws://"+closedPort(t)+"/")
	s.stderr.waitFor(t, "stderr", "reconnecting in 3600.0s (attempt 3)")
	s.stdin.Close()
	s.expectExit(t, exitDial)
}

// Lines piped while the server refuses are sent once it accepts: the end
// of input behind them does not stop the dialing (a first version stopped
// at the first failed dial and dropped them; a helper's review).
func TestReconnectSendsLinesPipedBeforeTheServerAccepts(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, args("-linger", "300ms", sc.ws+"/ws/flaky?id=piped&n=2&how=status&status=503")...)
	go func() {
		for i := 1; i <= 10; i++ {
			io.WriteString(s.stdin, strconv.Itoa(i)+"\n")
		}
		s.stdin.Close()
	}()
	s.expectExit(t, exitClean)
	var want strings.Builder
	for i := 1; i <= 10; i++ {
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	if got := s.stdout.String(); got != want.String() {
		t.Errorf("stdout %q, want the 10 lines echoed", got)
	}
}

// An interrupt during a long delay ends the command at once, with the
// status of the last outcome.
func TestReconnectInterruptDuringDelay(t *testing.T) {
	t.Parallel()
	s := start(t, "-reconnect", "-backoff-initial=-1ns", "-backoff-min", "1h", "-backoff-max", "1h", "ws://"+closedPort(t)+"/")
	s.stderr.waitFor(t, "stderr", "reconnecting in 3600.0s (attempt 3)")
	s.sigs <- os.Interrupt
	s.expectExit(t, exitDial)
}

func TestReconnectJSON(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	s := start(t, args("-json", sc.ws+"/ws/flaky?id=json&n=1&how=status&status=503")...)
	s.stdout.waitFor(t, "stdout", `"to":"OPEN"`)
	s.stdin.Close()
	s.expectExit(t, exitClean)
	var events []string
	for _, l := range lines(s.stdout.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		events = append(events, ev["event"].(string))
		if ev["event"] == "redial" {
			d, ok := ev["delay"].(float64)
			if ev["attempt"] != 2.0 || !ok || d > 0.02 || !strings.Contains(ev["error"].(string), "HTTP 503") {
				t.Errorf("redial event %s, want attempt 2, a delay within 20ms and the 503", l)
			}
		}
	}
	if got, want := strings.Join(events, " "), "error redial state state state exit"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeCert writes the certificate of a TLS test server as PEM.
func writeCert(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTLSFlagsBuildTheConfig(t *testing.T) {
	t.Parallel()
	ts := httptest.NewTLSServer(nil)
	defer ts.Close()
	caFile := writeCert(t, ts)

	cfg, err := tlsConfig("", false)
	if cfg != nil || err != nil {
		t.Errorf("no flags: %v, %v; want nil (the system's roots)", cfg, err)
	}

	cfg, err = tlsConfig(caFile, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InsecureSkipVerify {
		t.Error("-cacert alone must verify")
	}
	// The pool verifies the server's certificate, for the server's name.
	if _, err := ts.Certificate().Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("the -cacert pool does not verify the server: %v", err)
	}
	other := httptest.NewTLSServer(nil)
	defer other.Close()
	if _, err := tlsConfig(writeCert(t, other), false); err != nil {
		t.Fatal(err)
	}

	cfg, err = tlsConfig("", true)
	if err != nil || !cfg.InsecureSkipVerify || cfg.RootCAs != nil {
		t.Errorf("-insecure: %+v, %v; want InsecureSkipVerify and no pool", cfg, err)
	}
	cfg, err = tlsConfig(caFile, true)
	if err != nil || !cfg.InsecureSkipVerify || cfg.RootCAs == nil {
		t.Errorf("-cacert with -insecure: %+v, %v", cfg, err)
	}

	notPEM := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, tc := range []struct{ file, want string }{
		{notPEM, "no PEM certificate"},
		{filepath.Join(t.TempDir(), "missing.pem"), "no such file"},
	} {
		if _, err := tlsConfig(tc.file, false); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "-cacert") {
			t.Errorf("tlsConfig(%s) = %v, want an error naming -cacert and %q", tc.file, err, tc.want)
		}
	}
	var stdout, stderr strings.Builder
	if code := run([]string{"-cacert", notPEM, "wss://127.0.0.1:1/"}, strings.NewReader(""), &stdout, &stderr); code != exitUsage {
		t.Errorf("a bad -cacert exits %d, want %d (usage); stderr %q", code, exitUsage, stderr.String())
	}
}

// wss:// end to end: needs Options.TLSConfig in the native dial.
func TestWSSWithCACertAndInsecure(t *testing.T) {
	t.Parallel()
	srv := server.New(server.Options{})
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close)
	url := "wss://" + ts.Listener.Addr().String() + "/ws/echo"
	for _, flags := range [][]string{{"-cacert", writeCert(t, ts)}, {"-insecure"}} {
		s := start(t, append(flags, url)...)
		s.send(t, "secure")
		s.stdout.waitFor(t, "stdout "+flags[0], "secure\n")
		s.stdin.Close()
		s.expectExit(t, exitClean)
	}
	// Without either, the test CA is not trusted.
	s := start(t, url)
	s.expectExit(t, exitDial)
	requireLine(t, "stderr", s.stderr.String(), "certificate")
}

// Each connection's messages are printed before its CLOSING and CLOSED
// lines, the second connection's too.
func TestReconnectKeepsTheOrderOfEachConnection(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		i := n.Add(1)
		for j := 1; j <= 3; j++ {
			c.Write(r.Context(), websocket.MessageText, []byte(strconv.Itoa(int(i))+"."+strconv.Itoa(j)))
		}
		code := websocket.StatusServiceRestart
		if i > 1 {
			code = websocket.StatusPolicyViolation // stops Redial
		}
		c.Close(code, "")
	}))
	t.Cleanup(ts.Close)
	s := start(t, args("-json", "ws://"+ts.Listener.Addr().String()+"/")...)
	s.expectExit(t, exitCode)
	var got []string
	for _, l := range lines(s.stdout.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		switch ev["event"] {
		case "state":
			got = append(got, ev["to"].(string))
		case "message":
			got = append(got, ev["text"].(string))
		default:
			got = append(got, ev["event"].(string))
		}
	}
	want := "OPEN 1.1 1.2 1.3 CLOSING CLOSED redial OPEN 2.1 2.2 2.3 CLOSING CLOSED exit"
	if strings.Join(got, " ") != want {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
}

// A line that a closing connection refused (Send sent nothing) goes first
// to the next connection; it was reported not sent, and lost.
//
// The order is forced, without timing: the session runs as runSignals
// sets it up for -reconnect, but its OnStateChange waits in the first
// connection's CLOSING, once the close is decided, until the test lets it
// go. Until then that client cannot reach CLOSED, so the second line can
// only go to it, and its Send refuses it. Writing a third line returns
// once the input reader has handed the second on.
func TestReconnectSendsARefusedLineOnTheNextConnection(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	closeFirst := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if n.Add(1) == 1 {
			typ, data, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), typ, data) != nil {
				return
			}
			<-closeFirst
			c.Close(websocket.StatusServiceRestart, "") // Redial retries 1012
			return
		}
		for {
			typ, data, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), typ, data) != nil {
				return
			}
		}
	}))
	t.Cleanup(ts.Close)

	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	finished := make(chan struct{})
	t.Cleanup(func() { close(finished) })
	s := &session{stdin: pw, stdout: newSyncBuffer(), stderr: newSyncBuffer(), done: make(chan int, 1)}
	cfg, err := parseArgs(args("ws://"+ts.Listener.Addr().String()+"/"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := newPrinter(time.Now(), s.stdout, s.stderr, cfg)
	sess := &connSession{out: out, in: readInput(pr, finished), carry: cfg.reconnect, interrupted: make(chan struct{}), drop: make(chan struct{}), socket: &lastSocket{}}
	closing, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	opts := &dualws.Options{OnStateChange: func(ev dualws.StateChange) {
		out.state(ev)
		if ev.To == dualws.Closing {
			once.Do(func() {
				close(closing)
				<-release
			})
		}
	}}
	go func() { s.done <- sess.reconnect(context.Background(), cfg, opts) }()

	s.send(t, "1")
	s.stdout.waitFor(t, "stdout", "1\n")
	close(closeFirst)
	select {
	case <-closing:
	case <-time.After(guard):
		t.Fatalf("the first connection was not closed; stderr:\n%s", s.stderr)
	}
	s.send(t, "2")
	s.send(t, "3")
	close(release)
	s.stdout.waitFor(t, "stdout", "3\n")
	s.stdin.Close()
	s.expectExit(t, exitClean)

	errOut := s.stderr.String()
	if got := s.stdout.String(); got != "1\n2\n3\n" {
		t.Errorf("stdout %q, want the 3 lines echoed\nstderr:\n%s", got, errOut)
	}
	requireLine(t, "stderr", errOut, "input line 2 not sent", "1012", "it goes first to the next connection")
	if n := strings.Count(errOut, " OPEN "); n != 2 {
		t.Errorf("%d OPEN lines, want 2:\n%s", n, errOut)
	}
}
