//go:build !js

package demo_test

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/dualws/dualws/internal/browser"
	"github.com/dualws/dualws/internal/testrun"
	"github.com/dualws/dualws/testserver/server"
)

var screenshot = flag.String("screenshot", "", "after TestDemo, save a PNG of the page to this file")

// guard bounds every browser wait; it is a safety net against hangs,
// never a measure of speed.
const guard = 30 * time.Second

// pageDir holds the page built once by TestMain, as make www-demo stages
// it in bin/www; buildErr is why it could not be built.
var (
	pageDir  string
	buildErr error
)

func TestMain(m *testing.M) {
	testrun.Main(m, "dualws-demo-test", func(dir string) {
		pageDir, buildErr = dir, buildPage(dir)
	})
}

// buildPage builds demo/page to WebAssembly and stages it with its
// index.html and demo.js in dir, as make www-demo does.
func buildPage(dir string) error {
	if err := testrun.GoBuild(filepath.Join(dir, "demo.wasm"), "./page", "GOOS=js", "GOARCH=wasm"); err != nil {
		return err
	}
	for _, name := range []string{"index.html", "demo.js"} {
		b, err := os.ReadFile(filepath.Join("page", name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// timelineRow is one row of the page's timeline table.
type timelineRow struct {
	Kind  string   `json:"kind"`
	To    string   `json:"to"`
	Cells []string `json:"cells"`
}

// The cells of a timeline row.
const (
	colConn = iota
	colMs
	colWhat
	colCode
	colReason
	colClean
	colBy
	colDetail
)

func (r timelineRow) String() string { return r.Kind + " " + strings.Join(r.Cells, " | ") }

const rowsJS = `Array.from(document.querySelectorAll("#timeline tbody tr")).map(tr => ({
	kind: tr.dataset.kind || "", to: tr.dataset.to || "",
	cells: Array.from(tr.cells).map(td => td.textContent)}))`

// hasRowJS is a predicate for Poll: some row of connection conn has kind
// and its "event" cell is what.
func hasRowJS(conn int, kind, what string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll("#timeline tbody tr")).some(tr =>
		tr.dataset.kind === %q && tr.cells[0].textContent === "%d" && tr.cells[2].textContent === %q)`, kind, conn, what)
}

func badgeIsJS(state string) string {
	return fmt.Sprintf(`document.getElementById("badge").dataset.state === %q`, state)
}

// find returns the rows of connection conn with kind and event what.
func find(rows []timelineRow, conn int, kind, what string) []timelineRow {
	var out []timelineRow
	for _, r := range rows {
		if r.Kind == kind && r.Cells[colConn] == fmt.Sprint(conn) && r.Cells[colWhat] == what {
			out = append(out, r)
		}
	}
	return out
}

// one returns the only row of connection conn with kind and event what.
func one(t *testing.T, rows []timelineRow, conn int, kind, what string) timelineRow {
	t.Helper()
	found := find(rows, conn, kind, what)
	if len(found) != 1 {
		t.Fatalf("want one %s row %q of connection %d, got %d; timeline:\n%s", kind, what, conn, len(found), dump(rows))
	}
	return found[0]
}

func dump(rows []timelineRow) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r.String() + "\n")
	}
	return b.String()
}

// checkClose checks the close columns of a row.
func checkClose(t *testing.T, r timelineRow, code, reason, clean, by string) {
	t.Helper()
	got := [4]string{r.Cells[colCode], r.Cells[colReason], r.Cells[colClean], r.Cells[colBy]}
	if want := [4]string{code, reason, clean, by}; got != want {
		t.Errorf("row %s: code, reason, clean, by = %q, want %q", r, got, want)
	}
}

// pageSession is the demo page open in a headless Chromium tab, served by
// an in-process scenario server.
type pageSession struct {
	t       *testing.T
	ctx     context.Context
	httpURL string
}

// openPage builds and serves the page and opens it in a new browser.
func openPage(t *testing.T) *pageSession {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	srv := server.New(server.Options{StaticDir: pageDir})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	t.Cleanup(srv.Close)

	bctx, stop, err := browser.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	tab, closeTab := browser.NewTab(bctx)
	t.Cleanup(closeTab)
	// Open the tab before putting a deadline on the actions.
	if err := chromedp.Do(tab); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tab, 3*guard)
	t.Cleanup(cancel)
	p := &pageSession{t: t, ctx: ctx, httpURL: hs.URL}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)); err != nil {
		t.Fatal(err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(hs.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	p.wait("the Go program to start", `document.body.dataset.ready === "1"`)
	p.checkStrictCSP(resp)
	return p
}

// checkStrictCSP checks that the page runs under the scenario server's
// Content-Security-Policy: the header came with the document, and eval
// throws. Everything the page does afterwards is done under that policy.
func (p *pageSession) checkStrictCSP(resp *network.Response) {
	p.t.Helper()
	const want = "script-src 'self' 'wasm-unsafe-eval'"
	if got := fmt.Sprint(resp.Headers["Content-Security-Policy"]); got != want {
		p.t.Fatalf("the demo page came with Content-Security-Policy %q, want %q", got, want)
	}
	// DevTools evaluations may use eval unless told to obey the page's policy.
	obey := func(ep *cdpruntime.EvaluateParams) { ep.AllowUnsafeEvalBlockedByCSP = new(false) }
	got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(()=>{try{eval("1");return "allowed"}catch(e){return "blocked"}})()`, obey))
	if err != nil {
		p.t.Fatal(err)
	}
	if got != "blocked" {
		p.t.Fatalf("eval in the demo page: %s, want blocked by the policy", got)
	}
}

// wait polls the JavaScript predicate js until it is true.
func (p *pageSession) wait(what, js string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(guard))); err != nil {
		p.t.Fatalf("waiting for %s: %v; timeline:\n%s", what, err, dump(p.rows()))
	}
}

func (p *pageSession) click(id string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS("#"+id))); err != nil {
		p.t.Fatalf("clicking #%s: %v", id, err)
	}
}

func (p *pageSession) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// rows returns the timeline; nil if it cannot be read.
func (p *pageSession) rows() []timelineRow {
	rows, _ := chromedp.Run(p.ctx, chromedp.Evaluate[[]timelineRow](rowsJS))
	return rows
}

// TestDemo clicks through the page: connect to the echo endpoint, send,
// then the scenario where the server closes with 4000, then send again.
func TestDemo(t *testing.T) {
	p := openPage(t)
	ctx, wait, click := p.ctx, p.wait, p.click
	url, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#url")))
	if err != nil {
		t.Fatal(err)
	}
	if want := "ws://" + strings.TrimPrefix(p.httpURL, "http://") + "/ws/echo"; url != want {
		t.Errorf("URL field = %q, want %q", url, want)
	}

	click("connect")
	wait("OPEN", badgeIsJS("OPEN"))
	click("send")
	wait("the echo", hasRowJS(1, "received", "received text"))
	click("scenario-close4000")
	wait("the server's close", badgeIsJS("CLOSED")+" && "+hasRowJS(2, "state", "CLOSED"))
	wait("connection 1 to close", hasRowJS(1, "state", "CLOSED"))
	click("send")
	wait("Send to be refused", hasRowJS(2, "error", "send refused"))

	badge := p.text("#badge")
	if !strings.HasPrefix(badge, "CLOSED") || !strings.Contains(badge, "readyState 3") {
		t.Errorf("badge = %q, want CLOSED with readyState 3", badge)
	}
	status := p.text("#status")
	if want := `4000 "server says bye" · clean · by server`; status != want {
		t.Errorf("badge status = %q, want %q", status, want)
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("badge")).backgroundColor`))
	if err != nil {
		t.Fatal(err)
	}
	if bg != "rgb(194, 56, 56)" {
		t.Errorf("CLOSED badge colour = %s, want the red rgb(194, 56, 56)", bg)
	}

	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]timelineRow](rowsJS))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if len(r.Cells) != 8 {
			t.Fatalf("row %s has %d cells, want 8", r, len(r.Cells))
		}
	}

	// Connection 1: echo, then closed by the page when the scenario started.
	one(t, rows, 1, "state", "OPEN")
	if r := one(t, rows, 1, "sent", "sent text"); r.Cells[colDetail] != `"hello from the browser"` {
		t.Errorf("sent row %s, want the message field's text", r)
	}
	if r := one(t, rows, 1, "received", "received text"); r.Cells[colDetail] != `"hello from the browser"` {
		t.Errorf("received row %s, want the echo", r)
	}
	checkClose(t, one(t, rows, 1, "state", "CLOSING"), "1000", "replaced by a new connection", "false", "client")
	checkClose(t, one(t, rows, 1, "state", "CLOSED"), "1000", "replaced by a new connection", "true", "client")

	// Connection 2: the server echoes one message, then closes with 4000.
	if r := one(t, rows, 2, "state", "CONNECTING"); !strings.Contains(r.Cells[colDetail], "/ws/close?after=1&code=4000") {
		t.Errorf("connecting row %s, want the scenario's URL", r)
	}
	one(t, rows, 2, "state", "OPEN")
	one(t, rows, 2, "sent", "sent text")
	one(t, rows, 2, "received", "received text")
	checkClose(t, one(t, rows, 2, "state", "CLOSING"), "4000", "server says bye", "false", "server")
	closed := one(t, rows, 2, "state", "CLOSED")
	checkClose(t, closed, "4000", "server says bye", "true", "server")
	refused := one(t, rows, 2, "error", "send refused")
	checkClose(t, refused, "4000", "server says bye", "true", "server")
	if !strings.Contains(refused.Cells[colDetail], "4000") {
		t.Errorf("refused send row %s, want the error to name 4000", refused)
	}
	// Rows come in the order things happened, each with its time since
	// connect; the echo arrived before the close frame.
	var events []string
	for _, r := range rows {
		if r.Cells[colConn] == "2" {
			events = append(events, r.Cells[colWhat])
			if r.Cells[colMs] == "" {
				t.Errorf("row %s has no time", r)
			}
		}
	}
	if got, want := strings.Join(events, ", "), "CONNECTING, OPEN, sent text, received text, CLOSING, CLOSED, send refused"; got != want {
		t.Errorf("connection 2 timeline: %s, want %s", got, want)
	}

	// "Server restarts": the page reconnects with Redial, and the badge
	// says when it tries again (the screenshot shows it).
	// The first restartable connection is OPEN only for the moment before
	// the server goes down, too short to poll for; the badge shows while
	// the server is down, and a later connection opens once it is back.
	click("scenario-restart")
	wait("the reconnecting badge", redialShownJS)
	if got := p.text("#redial"); !redialText.MatchString(got) {
		t.Errorf("reconnecting badge = %q, want %s", got, redialText)
	}

	if *screenshot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", *screenshot)
	}
	wait("a connection after the restart to open", badgeIsJS("OPEN")+` && !document.getElementById("badge").textContent.includes("connection #3")`)
}

// redialShownJS is true while the reconnecting badge is shown.
const redialShownJS = `!document.getElementById("redial").hidden`

// redialSeenJS records in window.redialSeen the text of the reconnecting
// badge each time it changes while shown.
const redialSeenJS = `(() => {
	const el = document.getElementById("redial");
	window.redialSeen = [];
	new MutationObserver(() => { if (!el.hidden) window.redialSeen.push(el.textContent); })
		.observe(el, {attributes: true, childList: true, subtree: true, characterData: true});
})()`

// redialText is what the reconnecting badge reads.
var redialText = regexp.MustCompile(`^reconnecting in \d+\.\d s` + `attempt \d+ · dualws\.Redial$`)

// TestDemoServerRestarts presses "Server restarts": the connection drops
// with the listener, the badge shows each delay, dials fail while the
// listener is down, and the client is OPEN again on the same port.
func TestDemoServerRestarts(t *testing.T) {
	p := openPage(t)
	// The badge shows only between attempts, about a second: a
	// MutationObserver keeps each text it showed, so that a poll delayed
	// by a loaded machine still sees it.
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](redialSeenJS)); err != nil {
		t.Fatal(err)
	}
	p.click("scenario-restart")
	p.wait("the first connection to open", badgeIsJS("OPEN"))
	p.wait("the reconnecting badge", "window.redialSeen.length > 0")
	got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("window.redialSeen[0]"))
	if err != nil {
		t.Fatal(err)
	}
	if !redialText.MatchString(got) {
		t.Errorf("reconnecting badge = %q, want %s", got, redialText)
	}
	p.wait("the server to come back", hasRowJS(1, "info", "server down")+` && Array.from(document.querySelectorAll("#timeline tbody tr")).some(tr => tr.cells[2].textContent === "server up")`)
	p.wait("the client to be OPEN again", badgeIsJS("OPEN")+" && !"+redialShownJS)
	p.click("send")
	last := p.text("#badge")
	p.wait("the echo on the new connection", `Array.from(document.querySelectorAll("#timeline tbody tr")).some(tr => tr.dataset.kind === "received" && tr.cells[0].textContent !== "1")`)

	rows := p.rows()
	checkClose(t, one(t, rows, 1, "state", "CLOSED"), "1006", "", "false", "network")
	if r := one(t, rows, 1, "info", "reconnecting"); !strings.Contains(r.Cells[colDetail], "(attempt 2)") || !strings.Contains(r.Cells[colDetail], "1006") {
		t.Errorf("reconnecting row %s, want attempt 2 after the 1006", r)
	}
	failed, opened := 0, 0
	for _, r := range rows {
		switch {
		case r.Kind == "error" && r.Cells[colWhat] == "dial failed":
			failed++
		case r.Kind == "state" && r.Cells[colWhat] == "OPEN":
			opened++
		}
	}
	if failed == 0 || opened != 2 {
		t.Errorf("%d failed dials and %d opens, want some while the server was down, then the second open\n%s", failed, opened, dump(rows))
	}
	if !strings.Contains(last, "OPEN") {
		t.Errorf("badge %q, want OPEN", last)
	}
}

// TestDemoScenarios clicks the other scenario buttons; each leaves the
// badge CLOSED with the status the browser's WebSocket reports.
func TestDemoScenarios(t *testing.T) {
	p := openPage(t)
	for i, tc := range []struct {
		button string
		status string // the text under the badge
		rows   []string
	}{
		// The server drops TCP after echoing the first message.
		{"scenario-drop", `1006 "" · not clean · by network`, []string{"CONNECTING", "OPEN", "sent text", "received text", "CLOSED"}},
		// 2 MB is over the 1 MiB read limit: the client closes with 1009.
		{"scenario-big", `1009 "message too big" · clean · by client`, []string{"CONNECTING", "OPEN", "CLOSING", "CLOSED"}},
		// The server never answers the handshake: Dial gives up.
		{"scenario-stall", `1006 "" · not clean · by network`, []string{"CONNECTING", "CLOSED", "dial failed"}},
	} {
		conn := i + 1
		p.click(tc.button)
		p.wait(tc.button+" to end", fmt.Sprintf(`document.getElementById("badge").textContent.includes("connection #%d") && `, conn)+
			badgeIsJS("CLOSED")+" && "+hasRowJS(conn, "state", "CLOSED"))
		if tc.button == "scenario-stall" {
			p.wait("the dial error", hasRowJS(conn, "error", "dial failed"))
		}
		if got := p.text("#status"); got != tc.status {
			t.Errorf("%s: badge status = %q, want %q", tc.button, got, tc.status)
		}
		var got []string
		for _, r := range p.rows() {
			if r.Cells[colConn] == fmt.Sprint(conn) {
				got = append(got, r.Cells[colWhat])
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.rows, ",") {
			t.Errorf("%s: timeline events %q, want %q\n%s", tc.button, got, tc.rows, dump(p.rows()))
		}
	}
	// A URL the client rejects leaves no socket, and the badge says so.
	if err := chromedp.Do(p.ctx, chromedp.SetValue(chromedp.CSS("#url"), "http://example.com/")); err != nil {
		t.Fatal(err)
	}
	p.click("connect")
	p.wait("the invalid URL to be refused", hasRowJS(4, "error", "dial failed"))
	if b := p.text("#badge"); !strings.HasPrefix(b, "NO SOCKET") {
		t.Errorf("badge after an invalid URL = %q, want NO SOCKET", b)
	}

	rows := p.rows()
	if r := one(t, rows, 4, "error", "dial failed"); !strings.Contains(r.Cells[colDetail], "ws:// or wss://") {
		t.Errorf("invalid URL row %s, want the scheme rule", r)
	}
	if r := one(t, rows, 3, "error", "dial failed"); !strings.Contains(r.Cells[colDetail], "handshake timed out") {
		t.Errorf("stall: dial error row %s, want a handshake timeout", r)
	}
	checkClose(t, one(t, rows, 2, "state", "CLOSING"), "1009", "message too big", "false", "client")
}
