// Package postback drives pages that drive themselves: a page POSTs a
// report (JSON carrying its token) and the reply to that POST, held until
// the driver has one, is the page's next instruction. So a driver needs no
// DevTools or WebDriver connection, and the same code serves every browser
// engine. The parity suite (e2e) and the browser benchmarks (bench) use it.
package postback

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// ErrNotWaiting is returned by Send when the page did not ask for an
// instruction in time.
var ErrNotWaiting = errors.New("the page is not waiting for an instruction")

// ErrNoReport is returned by Await when the page did not report in time.
var ErrNoReport = errors.New("no report from the page in time")

// ExitError is returned by Send and Await once the browser has exited.
type ExitError struct{ Err error }

func (e *ExitError) Error() string { return fmt.Sprintf("the browser exited (%v)", e.Err) }

func (e *ExitError) Unwrap() error { return e.Err }

// Hub serves the POSTs of every page it made (ServeHTTP). Rep is what a
// page posts, Reply what it is told.
type Hub[Rep, Reply any] struct {
	token func(Rep) string
	done  Reply // the reply that ends a page
	mu    sync.Mutex
	pages map[string]*Page[Rep, Reply]
}

// NewHub returns a Hub whose reports carry their page's token (token
// returns it) and whose pages are ended with the reply done.
func NewHub[Rep, Reply any](token func(Rep) string, done Reply) *Hub[Rep, Reply] {
	return &Hub[Rep, Reply]{token: token, done: done, pages: map[string]*Page[Rep, Reply]{}}
}

// Page is one page of a Hub: a fresh random token and the hand-over of its
// reports and instructions.
type Page[Rep, Reply any] struct {
	// Token identifies the page's reports; give it to the page (in its URL).
	Token string

	hub       *Hub[Rep, Reply]
	reports   chan Rep
	ask       chan Reply
	closed    chan struct{}
	exited    chan struct{}
	exitErr   error
	closeOnce sync.Once
	exitOnce  sync.Once
}

// NewPage registers a page. Close it when done.
func (h *Hub[Rep, Reply]) NewPage() *Page[Rep, Reply] {
	tok := make([]byte, 16)
	rand.Read(tok)
	p := &Page[Rep, Reply]{
		Token:   hex.EncodeToString(tok),
		hub:     h,
		reports: make(chan Rep),
		ask:     make(chan Reply),
		closed:  make(chan struct{}),
		exited:  make(chan struct{}),
	}
	h.mu.Lock()
	h.pages[p.Token] = p
	h.mu.Unlock()
	return p
}

// Exited records that the page's browser has ended with err: Send and
// Await waiting now or later return an *ExitError.
func (p *Page[Rep, Reply]) Exited(err error) {
	p.exitOnce.Do(func() {
		p.exitErr = err
		close(p.exited)
	})
}

// Send hands the page its next instruction, waiting at most d for the page
// to ask for one (a page asks with each report).
func (p *Page[Rep, Reply]) Send(ctx context.Context, r Reply, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case p.ask <- r:
		return nil
	case <-p.exited:
		return &ExitError{p.exitErr}
	case <-t.C:
		return ErrNotWaiting
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Await waits at most d for the page's next report.
func (p *Page[Rep, Reply]) Await(ctx context.Context, d time.Duration) (Rep, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	var zero Rep
	select {
	case r := <-p.reports:
		return r, nil
	case <-p.exited:
		return zero, &ExitError{p.exitErr}
	case <-t.C:
		return zero, ErrNoReport
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Close offers the page the Hub's done reply for 100 ms, answers its later
// reports with it, and forgets the page. It is safe to call more than once.
func (p *Page[Rep, Reply]) Close() {
	p.closeOnce.Do(func() {
		select {
		case p.ask <- p.hub.done:
		case <-time.After(100 * time.Millisecond):
		}
		close(p.closed)
		p.hub.mu.Lock()
		delete(p.hub.pages, p.Token)
		p.hub.mu.Unlock()
	})
}

// ServeHTTP takes a page's report (a POST of at most 16 MiB of JSON),
// hands it to the page's Await, then holds the request until the page's
// next instruction (Send) and writes it as JSON.
func (h *Hub[Rep, Reply]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var rep Rep
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&rep); err != nil {
		http.Error(w, "bad report: "+err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	p := h.pages[h.token(rep)]
	h.mu.Unlock()
	if p == nil {
		http.Error(w, "unknown token", http.StatusForbidden)
		return
	}
	select {
	case p.reports <- rep:
	case <-p.closed:
		writeJSON(w, h.done)
		return
	case <-r.Context().Done():
		return
	}
	select {
	case next := <-p.ask:
		writeJSON(w, next)
	case <-p.closed:
		writeJSON(w, h.done)
	case <-r.Context().Done():
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
