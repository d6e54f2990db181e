// Package scenarios holds the parity scenarios of dualws: each one is
// written once, against the scenario server (package testserver/server),
// and runs unchanged natively and in the browser (GOOS=js GOARCH=wasm, see
// wasm/harness). A run yields a Trace; two traces of the same scenario are
// compared with Compare, which ignores timings and the platform name.
package scenarios

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dualws/dualws"
)

// Trace is the normalised record of one scenario run. Everything in it is
// compared between platforms except the fields marked "not compared":
// timings and the platform name.
type Trace struct {
	// Scenario is the scenario's name.
	Scenario string `json:"scenario"`
	// Platform is runtime.GOOS/GOARCH of the run (not compared).
	Platform string `json:"platform,omitempty"`
	// Transitions are the state changes OnStateChange reported, in order.
	Transitions []Transition `json:"transitions,omitempty"`
	// Received are the data messages Receive returned, in order.
	Received []Message `json:"received,omitempty"`
	// Ops are the outcomes of the operations the scenario made (Dial,
	// Send, Receive's final error, Close, ...), in program order.
	Ops []Op `json:"ops,omitempty"`
	// Counts are scenario-specific numbers, e.g. sends accepted after the
	// peer's close.
	Counts map[string]int `json:"counts,omitempty"`
	// Facts are scenario-specific observations, e.g. the subprotocol.
	Facts map[string]string `json:"facts,omitempty"`
	// Failure is set when the scenario itself could not run as written
	// (unknown name, timeout of the whole run).
	Failure string `json:"failure,omitempty"`
	// Notes are observations that differ between platforms by nature and
	// are therefore not compared, e.g. whether data the browser still had
	// queued when the peer closed was discarded. Demos show them.
	Notes map[string]string `json:"notes,omitempty"`
	// ByNature lists what Comparable leaves out of this scenario's
	// comparison because it differs between platforms by nature; see
	// ByNatureCleanEnd.
	ByNature []string `json:"by_nature,omitempty"`

	// DurationMS is the run's wall time in milliseconds (not compared).
	DurationMS float64 `json:"duration_ms,omitempty"`
	// CloseDetectMS is the time from the moment the scenario triggered the
	// close (the message after which the server closes, the Close call,
	// ...) to the CLOSED transition, in milliseconds; -1 when the scenario
	// has no trigger or never reached CLOSED (not compared).
	CloseDetectMS float64 `json:"close_detect_ms"`
}

// Transition is one OnStateChange call.
type Transition struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Code     int    `json:"code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	WasClean bool   `json:"was_clean,omitempty"`
	Remote   bool   `json:"remote,omitempty"`
	// AtMS is the time since the start of the run (not compared).
	AtMS float64 `json:"at_ms,omitempty"`
}

// Message is a received data message: its type and length, and its text
// when it is a short text message, else a prefix of its SHA-256.
type Message struct {
	Type   string `json:"type"`
	Len    int    `json:"len"`
	Text   string `json:"text,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Op is the outcome of one operation.
type Op struct {
	// Op names the operation: "dial", "send", "receive", "close", ...
	Op string `json:"op"`
	// Arg describes its arguments, e.g. "text 125B" or "4000".
	Arg string `json:"arg,omitempty"`
	// Result is the kind of its error: "ok", "close", "usage", "dial",
	// "context" or "other".
	Result string `json:"result"`
	// Code is the close code of a *CloseError.
	Code int `json:"code,omitempty"`
	// Cause is "canceled" or "deadline" when the error wraps the context's.
	Cause string `json:"cause,omitempty"`
	// State is the client's state right after the operation, when the
	// scenario cares.
	State string `json:"state,omitempty"`
}

// ByNatureCleanEnd marks a scenario whose CLOSED transition's WasClean
// is not compared: a browser discards the data it still has queued when the
// peer's close frame arrives and reports the end not clean, while a native
// Send has written its data before returning. Native and browser are both
// truthful then, and differ.
const ByNatureCleanEnd = "closed.was_clean"

// shortText is the longest text message recorded verbatim.
const shortText = 32

func messageOf(typ dualws.MessageType, data []byte) Message {
	m := Message{Type: typ.String(), Len: len(data)}
	if typ == dualws.Text && len(data) <= shortText {
		m.Text = string(data)
	} else {
		sum := sha256.Sum256(data)
		m.SHA256 = hex.EncodeToString(sum[:8])
	}
	return m
}

// ErrorKind classifies an error the way traces record it: "ok" for nil,
// then "close", "usage", "dial", "context" or "other".
func ErrorKind(err error) string {
	var (
		ce *dualws.CloseError
		ue *dualws.UsageError
		de *dualws.DialError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ce):
		return "close"
	case errors.As(err, &ue):
		return "usage"
	case errors.As(err, &de):
		return "dial"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "context"
	}
	return "other"
}

func opOf(op, arg string, err error) Op {
	o := Op{Op: op, Arg: arg, Result: ErrorKind(err)}
	var ce *dualws.CloseError
	if errors.As(err, &ce) {
		o.Code = int(ce.Status.Code)
	}
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		o.Cause = "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		o.Cause = "deadline"
	}
	return o
}

// Comparable returns a copy of t without the fields that are not compared
// (timings, platform) and with empty collections as nil, so that a trace
// decoded from JSON equals the one it was encoded from.
func (t Trace) Comparable() Trace {
	c := t
	c.Platform = ""
	c.DurationMS = 0
	c.CloseDetectMS = 0
	c.Notes = nil
	c.Transitions = nil
	for _, tr := range t.Transitions {
		tr.AtMS = 0
		if tr.To == "CLOSED" && slices.Contains(t.ByNature, ByNatureCleanEnd) {
			tr.WasClean = false
		}
		c.Transitions = append(c.Transitions, tr)
	}
	if len(c.Received) == 0 {
		c.Received = nil
	}
	if len(c.Ops) == 0 {
		c.Ops = nil
	}
	if len(c.Counts) == 0 {
		c.Counts = nil
	}
	if len(c.Facts) == 0 {
		c.Facts = nil
	}
	return c
}

// Equal reports whether a and b record the same behaviour.
func Equal(a, b Trace) bool { return Diff(a, b) == "" }

// Diff returns "" when a and b record the same behaviour, else the lines
// of their comparable parts side by side, aligned where they agree, the
// differing lines marked with "!".
func Diff(a, b Trace) string {
	la, lb := a.Comparable().Lines(), b.Comparable().Lines()
	if slices.Equal(la, lb) {
		return ""
	}
	width := 10
	for _, l := range la {
		width = max(width, len(l))
	}
	width = min(width, 70)
	var sb strings.Builder
	for _, row := range align(la, lb) {
		mark := " "
		if row[0] != row[1] {
			mark = "!"
		}
		fmt.Fprintf(&sb, "%s %-*s | %s\n", mark, width, row[0], row[1])
	}
	return sb.String()
}

// align pairs the lines of a and b along their longest common subsequence;
// a line present on one side only is paired with "".
func align(a, b []string) [][2]string {
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var rows [][2]string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			rows = append(rows, [2]string{a[i], b[j]})
			i++
			j++
		case i < len(a) && j < len(b) && lcs[i+1][j] == lcs[i][j+1]:
			// Neither side is in the common part here: show them as a pair.
			rows = append(rows, [2]string{a[i], b[j]})
			i++
			j++
		case j >= len(b) || (i < len(a) && lcs[i+1][j] >= lcs[i][j+1]):
			rows = append(rows, [2]string{a[i], ""})
			i++
		default:
			rows = append(rows, [2]string{"", b[j]})
			j++
		}
	}
	return rows
}

// Lines renders the trace one item per line, for reports and diffs.
func (t Trace) Lines() []string {
	var ls []string
	ls = append(ls, "scenario "+t.Scenario)
	if t.Failure != "" {
		ls = append(ls, "FAILURE "+t.Failure)
	}
	for _, tr := range t.Transitions {
		l := "state " + tr.From + "->" + tr.To
		if tr.Code != 0 || tr.Reason != "" || tr.WasClean || tr.Remote {
			l += fmt.Sprintf(" code=%d reason=%q clean=%t remote=%t", tr.Code, tr.Reason, tr.WasClean, tr.Remote)
		}
		if tr.AtMS != 0 {
			l += fmt.Sprintf(" @%.1fms", tr.AtMS)
		}
		ls = append(ls, l)
	}
	for _, m := range t.Received {
		l := fmt.Sprintf("recv %s %dB", m.Type, m.Len)
		if m.SHA256 != "" {
			l += " sha256:" + m.SHA256
		} else {
			l += fmt.Sprintf(" %q", m.Text)
		}
		ls = append(ls, l)
	}
	for _, o := range t.Ops {
		l := o.Op
		if o.Arg != "" {
			l += "(" + o.Arg + ")"
		}
		l += " -> " + o.Result
		if o.Code != 0 {
			l += fmt.Sprintf(" %d", o.Code)
		}
		if o.Cause != "" {
			l += " " + o.Cause
		}
		if o.State != "" {
			l += " [" + o.State + "]"
		}
		ls = append(ls, l)
	}
	for _, k := range sortedKeys(t.Counts) {
		ls = append(ls, fmt.Sprintf("count %s=%d", k, t.Counts[k]))
	}
	for _, k := range sortedKeys(t.Facts) {
		ls = append(ls, fmt.Sprintf("fact %s=%q", k, t.Facts[k]))
	}
	for _, b := range t.ByNature {
		ls = append(ls, "not compared: "+b)
	}
	for _, k := range sortedKeys(t.Notes) {
		ls = append(ls, fmt.Sprintf("note (not compared) %s=%q", k, t.Notes[k]))
	}
	return ls
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Violations returns the promises of dualws that the trace shows broken,
// one sentence each, or nil: sends accepted although they started
// SeedMargin or more after the server's close or drop
// (Counts[AcceptedAfterClose] > 0). A trace with violations is never a
// parity success, even when both platforms break the promise alike.
func (t Trace) Violations() []string {
	var v []string
	if n := t.Counts[AcceptedAfterClose]; n > 0 {
		v = append(v, fmt.Sprintf("%d send(s) accepted %v or more after the server's close or drop", n, SeedMargin))
	}
	return v
}
