package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dualws/dualws"
)

// hexPreview is how many bytes of a binary message are shown in hex.
const hexPreview = 32

// printer writes the command's output. State changes come from the
// client's goroutines and messages from the receive loop, so every write
// holds mu; each event is one write, never split.
type printer struct {
	mu        sync.Mutex
	start     time.Time
	stdout    io.Writer
	stderr    io.Writer
	json      bool
	quiet     bool
	binaryRaw bool
	url       string

	held     []dualws.StateChange // CLOSING and CLOSED, until release
	released bool

	// With -json, messages that arrive while a Send is in progress wait
	// here, at most maxHeldMessages and maxHeldBytes, until its "sent"
	// event: see send.
	sending   bool
	heldMsgs  []*event
	heldBytes int
}

// maxHeldMessages and maxHeldBytes (of the messages' own bytes) bound what
// is held while a Send is in progress: the client's ReceiveQueueBytes
// default, so that holding adds at most what the client's own queue holds.
const (
	maxHeldMessages = 1024
	maxHeldBytes    = 16 << 20
)

func newPrinter(start time.Time, stdout, stderr io.Writer, cfg *config) *printer {
	return &printer{start: start, stdout: stdout, stderr: stderr, json: cfg.json, quiet: cfg.quiet, binaryRaw: cfg.binaryRaw, url: cfg.url}
}

// event is one line of -json output. Fields that do not apply are left out.
type event struct {
	T           float64  `json:"t"`
	Event       string   `json:"event"`
	From        string   `json:"from,omitempty"`
	To          string   `json:"to,omitempty"`
	URL         string   `json:"url,omitempty"`
	Code        *int     `json:"code,omitempty"`
	Reason      *string  `json:"reason,omitempty"`
	Clean       *bool    `json:"clean,omitempty"`
	By          string   `json:"by,omitempty"`
	Subprotocol string   `json:"subprotocol,omitempty"`
	Type        string   `json:"type,omitempty"`
	Len         *int     `json:"len,omitempty"`
	Text        *string  `json:"text,omitempty"`
	Base64      *string  `json:"base64,omitempty"`
	Op          string   `json:"op,omitempty"`
	Error       string   `json:"error,omitempty"`
	Status      *int     `json:"status,omitempty"`
	Attempt     *int     `json:"attempt,omitempty"`
	Delay       *float64 `json:"delay,omitempty"`
}

func (p *printer) since(t time.Time) float64 {
	return t.Sub(p.start).Seconds()
}

// stamp is the relative timestamp that starts every line on stderr.
func (p *printer) stamp(t time.Time) string {
	return fmt.Sprintf("+%.3fs", p.since(t))
}

func (p *printer) emit(ev *event) {
	b, err := json.Marshal(ev)
	if err != nil {
		// Not expected: every field marshals.
		b = []byte(`{"event":"error","error":` + strconv.Quote(err.Error()) + `}`)
	}
	b = append(b, '\n')
	p.stdout.Write(b)
}

// state reports a transition. A failed dial (CONNECTING to CLOSED) is not
// reported here: the dial error says more.
//
// CLOSING and CLOSED are held until release: the client reports them as
// soon as the close arrives, while messages that came before it are still
// waiting for the receive loop, and the output keeps the order of arrival.
func (p *printer) state(ev dualws.StateChange) {
	if ev.From == dualws.Connecting && ev.To == dualws.Closed {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.To != dualws.Open && !p.released {
		p.held = append(p.held, ev)
		return
	}
	p.printState(ev)
}

// hold starts holding CLOSING and CLOSED again, for the next connection;
// the printer starts holding them.
func (p *printer) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.released = false
}

// redial reports, with -reconnect, the delay before the next attempt and
// why: "reconnecting in 1.3s (attempt 2): <last error>".
func (p *printer) redial(attempt int, delay time.Duration, last error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	msg := ""
	if last != nil {
		msg = oneLine(last.Error())
	}
	if p.json {
		secs := delay.Seconds()
		p.emit(&event{T: p.since(now), Event: "redial", Attempt: &attempt, Delay: &secs, Error: msg})
		return
	}
	if !p.quiet {
		fmt.Fprintf(p.stderr, "%s reconnecting in %s (attempt %d): %s\n", p.stamp(now), formatDelay(delay), attempt, msg)
	}
}

// formatDelay shows a delay as 1.3s, or in milliseconds below a second.
func formatDelay(d time.Duration) string {
	if d >= time.Second {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// release prints the held transitions; later ones are printed at once. The
// receive loop calls it once every message before the close is printed.
func (p *printer) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.released {
		return
	}
	p.released = true
	p.flushMessages() // they came before the close
	for _, ev := range p.held {
		p.printState(ev)
	}
	p.held = nil
}

// printState prints a transition. Called with p.mu held.
func (p *printer) printState(ev dualws.StateChange) {
	closing := ev.To == dualws.Closing || ev.To == dualws.Closed
	if p.json {
		e := &event{T: p.since(ev.At), Event: "state", From: ev.From.String(), To: ev.To.String()}
		if ev.To == dualws.Open {
			e.URL = p.url
		}
		if closing {
			code, reason, clean := int(ev.Status.Code), ev.Status.Reason, ev.Status.WasClean
			e.Code, e.Reason, e.Clean, e.By = &code, &reason, &clean, ev.Status.ClosedBy()
		}
		p.emit(e)
		return
	}
	if p.quiet {
		return
	}
	line := fmt.Sprintf("%s %-8s", p.stamp(ev.At), ev.To)
	switch {
	case ev.To == dualws.Open:
		line += " " + p.url
	case closing:
		st := ev.Status
		line += fmt.Sprintf(" code=%d reason=%q clean=%t by=%s", int(st.Code), st.Reason, st.WasClean, st.ClosedBy())
		// StatusCode.String adds the RFC name, as in "1006 (abnormal closure)".
		line += strings.TrimPrefix(st.Code.String(), strconv.Itoa(int(st.Code)))
	}
	fmt.Fprintln(p.stderr, line)
}

// subprotocol reports the subprotocol the server chose.
func (p *printer) subprotocol(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.json {
		p.emit(&event{T: p.since(now), Event: "subprotocol", Subprotocol: name})
		return
	}
	if !p.quiet {
		fmt.Fprintf(p.stderr, "%s subprotocol %q\n", p.stamp(now), name)
	}
}

// message prints a received message: text as it is on a line of its own,
// binary as its length and a hex preview, or raw with -binary-raw. With
// -json a message that arrives while a Send is in progress is held until
// that Send's "sent" event (see send).
func (p *printer) message(typ dualws.MessageType, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(data)
	if p.json {
		e := &event{T: p.since(time.Now()), Event: "message", Type: typ.String(), Len: &n}
		if typ == dualws.Text {
			s := string(data)
			e.Text = &s
		} else {
			s := base64.StdEncoding.EncodeToString(data)
			e.Base64 = &s
		}
		if p.sending && len(p.heldMsgs) < maxHeldMessages && p.heldBytes+n <= maxHeldBytes {
			p.heldMsgs = append(p.heldMsgs, e)
			p.heldBytes += n
			return
		}
		p.flushMessages()
		p.emit(e)
		return
	}
	switch {
	case typ == dualws.Text:
		p.stdout.Write(append(data, '\n'))
	case p.binaryRaw:
		p.stdout.Write(data)
	default:
		preview := data
		more := ""
		if len(preview) > hexPreview {
			preview, more = preview[:hexPreview], " ..."
		}
		fmt.Fprintf(p.stdout, "[binary %d bytes] %s%s\n", n, hex.EncodeToString(preview), more)
	}
}

// send runs do, a Send of a message of typ and n bytes, and reports with
// a "sent" event (-json only) that it returned nil: never for a Send that
// failed.
//
// With -json the messages that arrive while do runs are held and printed
// after its "sent" event, so that the echo of a message, which cannot
// arrive before do starts, comes after its "sent". They are held by the
// printer, not in the client: the receive loop goes on receiving, so a
// peer that reads only once its own writes get through does not stall a
// long Send. Past maxHeldMessages or maxHeldBytes they are printed as they
// come, before the "sent".
func (p *printer) send(typ dualws.MessageType, n int, do func() error) error {
	if !p.json {
		return do()
	}
	p.mu.Lock()
	p.sending = true
	p.mu.Unlock()
	err := do()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sending = false
	if err == nil {
		p.emit(&event{T: p.since(time.Now()), Event: "sent", Type: typ.String(), Len: &n})
	}
	p.flushMessages()
	return err
}

// flushMessages prints the messages held during a Send. Called with p.mu
// held.
func (p *printer) flushMessages() {
	for _, e := range p.heldMsgs {
		p.emit(e)
	}
	p.heldMsgs, p.heldBytes = nil, 0
}

// notice is an informational line on stderr, left out with -q and -json.
func (p *printer) notice(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json || p.quiet {
		return
	}
	fmt.Fprintf(p.stderr, "%s %s\n", p.stamp(time.Now()), msg)
}

// error reports a failure: always one line on stderr, and an error event
// with -json. op says what failed: usage, dial, send or input.
func (p *printer) error(op string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := oneLine(err.Error())
	if p.json {
		p.emit(&event{T: p.since(time.Now()), Event: "error", Op: op, Error: msg})
	}
	fmt.Fprintln(p.stderr, msg)
}

// exit reports the exit status with -json and returns it.
func (p *printer) exit(status int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		p.emit(&event{T: p.since(time.Now()), Event: "exit", Status: &status})
	}
	return status
}
