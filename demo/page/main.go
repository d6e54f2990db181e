//go:build js && wasm

// Command page is the dualws live demo: a web page, built to WebAssembly,
// that drives the same dualws.Client as native programs over the
// browser's WebSocket. A large badge shows the connection's readyState,
// updated on every transition (Options.OnStateChange), and a timeline
// lists every transition and message with the close code, reason, clean
// flag and who closed. Buttons connect to the scenario server's endpoints
// that close with 4000, drop the connection, stall the handshake or send
// a message over the read limit. "Server restarts" connects with
// dualws.Redial to a listener of the scenario server that it then closes
// and reopens on the same port: a second badge shows "reconnecting in
// 1.3 s" (Options.OnRedial) until the client is OPEN again.
//
// Build it with GOOS=js GOARCH=wasm go build -o demo.wasm ./demo/page and
// serve it with index.html next to it (make www-demo; make serve).
//
// Event handlers run on the browser's event loop and must not block, so
// each one starts a goroutine and returns.
package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/dualws/dualws"
)

// handshakeTimeout is short so that the stall scenario ends in seconds.
const handshakeTimeout = 5 * time.Second

// Scenario paths on the scenario server; each button connects to one.
// Those that need a message before acting get firstMessage sent at once.
var scenarios = []struct {
	button string
	path   string
	first  bool
}{
	{"scenario-close4000", "/ws/close?after=1&code=4000&reason=server%20says%20bye", true},
	{"scenario-drop", "/ws/drop?after=1", true},
	{"scenario-stall", "/ws/stall", false},
	{"scenario-big", "/ws/big?size=2000000", false},
}

const firstMessage = "hello, scenario"

// conn is one connection attempt; the page numbers them from 1.
type conn struct {
	id     int
	url    string
	start  time.Time
	cancel context.CancelFunc

	mu       sync.Mutex
	client   *dualws.Client
	held     []row // CLOSING and CLOSED rows, until every message is shown
	released bool
}

func (c *conn) get() *dualws.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client
}

// page is the demo's state. Handlers and the connections' goroutines share
// it, so mu guards it.
type page struct {
	doc      js.Value
	httpBase string // the scenario server, e.g. http://127.0.0.1:8080

	mu         sync.Mutex
	cur        *conn
	next       int
	restart    *restartable // the Redial loop of "Server restarts", if current
	restartSeq int
}

func main() {
	p := &page{doc: js.Global().Get("document"), httpBase: js.Global().Get("location").Get("origin").String()}
	loc := js.Global().Get("location")
	scheme := "ws://"
	if loc.Get("protocol").String() == "https:" {
		scheme = "wss://"
	}
	base := scheme + loc.Get("host").String()
	p.byID("url").Set("value", base+"/ws/echo")

	p.onClick("connect", func() { p.connect(p.value("url"), "") })
	p.onClick("send", p.send)
	p.onClick("close", p.close)
	p.onClick("scenario-restart", p.restartServer)
	for _, sc := range scenarios {
		first := ""
		if sc.first {
			first = firstMessage
		}
		url := base + sc.path
		p.onClick(sc.button, func() {
			p.byID("url").Set("value", url)
			p.connect(url, first)
		})
	}
	buttons := p.doc.Call("querySelectorAll", "button")
	for i := 0; i < buttons.Length(); i++ {
		buttons.Index(i).Set("disabled", false)
	}
	if l := p.byID("loading"); !l.IsNull() {
		l.Call("remove")
	}
	p.doc.Get("body").Get("dataset").Set("ready", "1")
	select {}
}

func (p *page) byID(id string) js.Value { return p.doc.Call("getElementById", id) }

func (p *page) value(id string) string { return strings.TrimSpace(p.byID(id).Get("value").String()) }

// onClick runs fn in a goroutine on every click: a js.Func callback must
// return without blocking, and fn may wait on the network.
func (p *page) onClick(id string, fn func()) {
	p.byID(id).Call("addEventListener", "click", js.FuncOf(func(js.Value, []js.Value) any {
		go fn()
		return nil
	}))
}

func (p *page) current() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// connect dials url as a new connection, closing the previous one with
// 1000, and sends first once open if it is not empty.
func (p *page) connect(url, first string) {
	ctx, cancel := context.WithCancel(context.Background())
	c := p.newConn(url, cancel, time.Now(), true)

	p.badge(c, dualws.Connecting, nil)
	p.row(c, row{kind: "state", to: "CONNECTING", what: "CONNECTING", detail: url, at: c.start})
	client, err := dualws.Dial(ctx, url, &dualws.Options{
		HandshakeTimeout: handshakeTimeout,
		OnStateChange:    func(ev dualws.StateChange) { p.stateChanged(c, ev) },
	})
	if err != nil {
		p.row(c, row{kind: "error", what: "dial failed", detail: err.Error()})
		var ue *dualws.UsageError
		if errors.As(err, &ue) && p.current() == c {
			// Rejected before any socket existed: there is no readyState.
			b := p.byID("badge")
			b.Get("dataset").Set("state", "NONE")
			b.Set("innerHTML", "NO SOCKET<small>invalid URL</small>")
			p.byID("status").Set("textContent", "")
		}
		return
	}
	c.mu.Lock()
	c.client = client
	c.mu.Unlock()
	if sp := client.Subprotocol(); sp != "" {
		p.row(c, row{kind: "info", what: "subprotocol", detail: sp})
	}
	go p.receive(c, client)
	if first != "" {
		p.sendOn(c, client, first)
	}
}

// newConn makes a new connection attempt the current one. With replace,
// the previous attempt is cancelled and its client closed with 1000; a
// Redial loop passes false for the attempts after its first.
func (p *page) newConn(url string, cancel context.CancelFunc, start time.Time, replace bool) *conn {
	p.mu.Lock()
	old := p.cur
	p.next++
	c := &conn{id: p.next, url: url, start: start, cancel: cancel}
	p.cur = c
	if replace {
		p.restart = nil
	}
	p.mu.Unlock()
	if replace {
		p.showRedial(nil)
		if old != nil {
			old.cancel()
			if oc := old.get(); oc != nil {
				go oc.Close(dualws.StatusNormalClosure, "replaced by a new connection")
			}
		}
	}
	return c
}

// receive adds a row for every message until the connection closes.
func (p *page) receive(c *conn, client *dualws.Client) {
	for {
		typ, data, err := client.Receive(context.Background())
		if err != nil {
			// Every message that came before the close is in the
			// timeline: the close rows can follow.
			c.mu.Lock()
			held := c.held
			c.held, c.released = nil, true
			c.mu.Unlock()
			for _, r := range held {
				p.row(c, r)
			}
			return
		}
		detail := fmt.Sprintf("%d bytes", len(data))
		if typ == dualws.Text {
			detail = strconv.Quote(preview(string(data)))
		}
		p.row(c, row{kind: "received", what: "received " + typ.String(), detail: detail})
	}
}

func (p *page) send() {
	c := p.current()
	if c == nil || c.get() == nil {
		p.row(c, row{kind: "error", what: "send", detail: "not connected: press Connect first"})
		return
	}
	p.sendOn(c, c.get(), p.value("message"))
}

// sendOn sends text and reports the outcome: after the server closed,
// Send returns the close code instead of pretending to send.
func (p *page) sendOn(c *conn, client *dualws.Client, text string) {
	err := client.SendText(context.Background(), text)
	if err == nil {
		p.row(c, row{kind: "sent", what: "sent text", detail: strconv.Quote(preview(text))})
		return
	}
	r := row{kind: "error", what: "send refused", detail: err.Error()}
	var ce *dualws.CloseError
	if errors.As(err, &ce) {
		r.status = &ce.Status
	}
	p.row(c, r)
}

func (p *page) close() {
	c := p.current()
	if c == nil || c.get() == nil {
		p.row(c, row{kind: "error", what: "close", detail: "not connected"})
		return
	}
	code, err := strconv.Atoi(p.value("code"))
	if err != nil {
		p.row(c, row{kind: "error", what: "close", detail: "the close code must be a number"})
		return
	}
	reason := p.byID("reason").Get("value").String()
	err = c.get().Close(dualws.StatusCode(code), reason)
	r := row{kind: "info", what: "Close returned", detail: "nil: closed cleanly"}
	var ce *dualws.CloseError
	switch {
	case errors.As(err, &ce):
		r.detail, r.status = err.Error(), &ce.Status
	case err != nil:
		r.kind, r.what, r.detail = "error", "close refused", err.Error()
	}
	p.row(c, r)
}

// stateChanged is OnStateChange: it runs on the browser's event loop and
// only touches the DOM. The badge changes at once.
func (p *page) stateChanged(c *conn, ev dualws.StateChange) {
	var st *dualws.CloseStatus
	if ev.To == dualws.Closing || ev.To == dualws.Closed {
		s := ev.Status
		st = &s
	}
	p.badge(c, ev.To, st)
	r := row{kind: "state", to: ev.To.String(), what: ev.To.String(), detail: ev.From.String() + " → " + ev.To.String(), status: st, at: ev.At}
	// The close is reported as soon as it arrives, while messages that
	// came before it wait for the receive loop; the timeline keeps the
	// order of arrival. A failed dial has no receive loop.
	c.mu.Lock()
	if st != nil && ev.From != dualws.Connecting && !c.released {
		c.held = append(c.held, r)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	p.row(c, r)
}

// badge shows state on the large badge if c is the current connection.
func (p *page) badge(c *conn, state dualws.State, st *dualws.CloseStatus) {
	if p.current() != c {
		return
	}
	b := p.byID("badge")
	b.Get("dataset").Set("state", state.String())
	b.Set("textContent", state.String())
	small := p.doc.Call("createElement", "small")
	small.Set("textContent", "readyState "+strconv.Itoa(int(state))+" · connection #"+strconv.Itoa(c.id))
	b.Call("appendChild", small)
	status := ""
	if st != nil {
		clean := "not clean"
		if st.WasClean {
			clean = "clean"
		}
		status = fmt.Sprintf("%d %q · %s · by %s", int(st.Code), st.Reason, clean, st.ClosedBy())
	}
	p.byID("status").Set("textContent", status)
}

// row is one line of the timeline.
type row struct {
	kind   string // state, sent, received, error, info
	to     string // the new state, for kind state
	what   string
	detail string
	status *dualws.CloseStatus
	at     time.Time
}

// row appends r to the timeline; c may be nil when nothing was connected.
func (p *page) row(c *conn, r row) {
	if r.at.IsZero() {
		r.at = time.Now()
	}
	tr := p.doc.Call("createElement", "tr")
	ds := tr.Get("dataset")
	ds.Set("kind", r.kind)
	if r.to != "" {
		ds.Set("to", r.to)
	}
	connID, ms := "", ""
	if c != nil {
		connID = strconv.Itoa(c.id)
		ms = strconv.FormatFloat(float64(r.at.Sub(c.start).Microseconds())/1000, 'f', 1, 64)
	}
	code, reason, clean, by := "", "", "", ""
	if r.status != nil {
		code = strconv.Itoa(int(r.status.Code))
		reason = r.status.Reason
		clean = strconv.FormatBool(r.status.WasClean)
		by = r.status.ClosedBy()
	}
	for _, cell := range []struct{ class, text string }{
		{"num conn", connID}, {"num ms", ms}, {"what", r.what}, {"num code", code},
		{"reason", reason}, {"clean", clean}, {"by", by}, {"mono detail", r.detail},
	} {
		td := p.doc.Call("createElement", "td")
		td.Set("className", cell.class)
		td.Set("textContent", cell.text)
		tr.Call("appendChild", td)
	}
	p.doc.Call("querySelector", "#timeline tbody").Call("appendChild", tr)
}

// preview shortens long text for the timeline.
func preview(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !isRuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
