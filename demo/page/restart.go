//go:build js && wasm

package main

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/dualws/dualws"
	"github.com/dualws/dualws/internal/jsfetch"
)

// restartDown is how long "Server restarts" keeps the listener closed.
const restartDown = 3 * time.Second

// restartBackoff makes the reconnection visible: delays of about half a
// second, growing to a few seconds.
var restartBackoff = dualws.Backoff{Initial: 500 * time.Millisecond, Min: 500 * time.Millisecond, Max: 4 * time.Second}

// restartable is a Redial loop to a listener of the scenario server that
// the page can close and reopen (GET /redial).
type restartable struct {
	id     string
	ctx    context.Context
	opened chan struct{} // closed when the first client is OPEN

	mu      sync.Mutex
	attempt *conn     // the attempt whose transitions come next
	dialAt  time.Time // when its Dial starts, after the delay
}

func (r *restartable) current() *conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempt
}

func (r *restartable) next(c *conn, dialAt time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempt, r.dialAt = c, dialAt
}

// restartServer is the "Server restarts" button: connect with Redial to a
// restartable listener unless already connected to one, then close the
// listener and its connection, and reopen it after restartDown.
func (p *page) restartServer() {
	p.mu.Lock()
	r := p.restart
	p.mu.Unlock()
	if r == nil {
		var err error
		if r, err = p.startRestartable(); err != nil {
			p.row(p.current(), row{kind: "error", what: "server restarts", detail: err.Error()})
			return
		}
	}
	select {
	case <-r.opened:
	case <-r.ctx.Done():
		return
	case <-time.After(2 * handshakeTimeout):
		p.row(p.current(), row{kind: "error", what: "server restarts", detail: "the connection did not open"})
		return
	}
	dropped := r.current()
	p.row(dropped, row{kind: "info", what: "server down", detail: "closing the listener and the connection; back in " + secs(restartDown)})
	if _, err := fetchText(r.ctx, p.httpBase+"/redial?do=down&id="+r.id); err != nil {
		p.row(dropped, row{kind: "error", what: "server restarts", detail: err.Error()})
		return
	}
	select {
	case <-time.After(restartDown):
	case <-r.ctx.Done():
		return
	}
	if _, err := fetchText(r.ctx, p.httpBase+"/redial?do=up&id="+r.id); err != nil {
		p.row(r.current(), row{kind: "error", what: "server restarts", detail: err.Error()})
		return
	}
	p.row(r.current(), row{kind: "info", what: "server up", detail: "listening again on the same port"})
}

// startRestartable opens a restartable listener and starts a Redial loop
// to its echo endpoint.
func (p *page) startRestartable() (*restartable, error) {
	p.mu.Lock()
	p.restartSeq++
	id := "demo-restart-" + strconv.FormatInt(time.Now().UnixMilli(), 36) + "-" + strconv.Itoa(p.restartSeq)
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := fetchText(ctx, p.httpBase+"/redial?do=listen&ttl=600&id="+id)
	if err != nil {
		cancel()
		return nil, err
	}
	url := "ws://" + addr + "/ws/echo?id=" + id
	p.byID("url").Set("value", url)
	r := &restartable{id: id, ctx: ctx, opened: make(chan struct{})}
	now := time.Now()
	r.next(p.newConn(url, cancel, now, true), now)
	p.mu.Lock()
	p.restart = r
	p.mu.Unlock()
	go p.redialLoop(r, url)
	return r, nil
}

// redialLoop ranges over dualws.Redial: every attempt is a connection of
// its own in the timeline, and OnRedial shows the delay on the badge.
func (p *page) redialLoop(r *restartable, url string) {
	var openOnce sync.Once
	opts := &dualws.Options{
		HandshakeTimeout: handshakeTimeout,
		Backoff:          &restartBackoff,
		OnStateChange: func(ev dualws.StateChange) {
			r.mu.Lock()
			c, dialAt := r.attempt, r.dialAt
			r.mu.Unlock()
			if ev.From == dualws.Connecting {
				p.row(c, row{kind: "state", to: "CONNECTING", what: "CONNECTING", detail: url, at: dialAt})
			}
			if ev.To == dualws.Open {
				p.showRedial(nil)
				openOnce.Do(func() { close(r.opened) })
			}
			p.stateChanged(c, ev)
		},
		OnRedial: func(attempt int, delay time.Duration, last error) {
			prev := r.current()
			p.row(prev, row{kind: "info", what: "reconnecting", detail: "in " + secs(delay) + " (attempt " + strconv.Itoa(attempt) + "): " + last.Error()})
			now := time.Now()
			next := p.newConn(url, prev.cancel, now, false)
			r.next(next, now.Add(delay))
			p.showRedial(&redialInfo{conn: next, attempt: attempt, delay: delay})
		},
	}
	for client, err := range dualws.Redial(r.ctx, url, opts) {
		c := r.current()
		if err != nil {
			p.row(c, row{kind: "error", what: "dial failed", detail: err.Error()})
			continue
		}
		c.mu.Lock()
		c.client = client
		c.mu.Unlock()
		p.receive(c, client) // until the connection ends; Redial then decides
	}
}

// redialInfo is what the reconnecting badge shows.
type redialInfo struct {
	conn    *conn
	attempt int
	delay   time.Duration
}

// showRedial shows "reconnecting in 1.3 s" under the badge while the
// attempt it announces is the current connection; nil hides it.
func (p *page) showRedial(info *redialInfo) {
	el := p.byID("redial")
	if info == nil || p.current() != info.conn {
		el.Set("hidden", true)
		return
	}
	el.Set("textContent", "reconnecting in "+secs(info.delay))
	small := p.doc.Call("createElement", "small")
	small.Set("textContent", "attempt "+strconv.Itoa(info.attempt)+" · dualws.Redial")
	el.Call("appendChild", small)
	el.Set("hidden", false)
}

// secs formats d as "1.3 s".
func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// fetchText GETs url with the browser's fetch and returns the body of a
// 2xx response.
func fetchText(ctx context.Context, url string) (string, error) {
	b, err := jsfetch.Get(ctx, url)
	return string(b), err
}
