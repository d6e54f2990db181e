package dualws

import "errors"

// ErrClosed matches, through errors.Is, every *CloseError: any operation
// that failed because the connection is closing or closed.
var ErrClosed = errors.New("dualws: connection closed")

// CloseError is returned by Send, SendText and Receive once the connection
// is closing or closed. Status carries the close code and reason, the
// peer's when it closed first.
type CloseError struct {
	Status CloseStatus
}

// Error describes who closed, the code and the reason.
func (e *CloseError) Error() string {
	by := " by client"
	switch e.Status.ClosedBy() {
	case "network":
		by = " abnormally (no close frame)"
	case "server":
		by = " by peer"
	}
	reason := ""
	if e.Status.Reason != "" {
		reason = " " + quote(e.Status.Reason)
	}
	return "dualws: connection closed" + by + ": " + e.Status.Code.String() + reason
}

// Is reports true for ErrClosed.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }

// UsageError reports an argument the API rejects before doing anything:
// an invalid URL, a close code or reason a browser would reject, text that
// is not UTF-8, an option that does not apply to the platform.
type UsageError struct {
	Op  string
	Msg string
}

// Error returns "dualws: <op>: <msg>".
func (e *UsageError) Error() string { return "dualws: " + e.Op + ": " + e.Msg }

// DialError is returned by Dial when the connection could not be opened.
// It wraps the cause, so errors.Is(err, context.DeadlineExceeded) and
// errors.Is(err, context.Canceled) work.
type DialError struct {
	URL string
	// Reason is a short description: "connection refused", "handshake
	// rejected", "handshake timed out", "cancelled", "connection failed".
	Reason string
	// HTTPStatus is the server's status code when it rejected the
	// handshake. Always 0 in the browser, which does not expose it.
	HTTPStatus int
	Err        error
}

// Error returns "dualws: dial <url>: <reason>: <cause>".
func (e *DialError) Error() string {
	s := "dualws: dial " + e.URL + ": " + e.Reason
	if e.HTTPStatus != 0 {
		s += " (HTTP " + itoa(e.HTTPStatus) + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *DialError) Unwrap() error { return e.Err }

// opError adds the operation's name to an error that is not a close.
type opError struct {
	_   [0]func() // not comparable: no equality function in the bundle (see machineConfig)
	op  string
	err error
}

func (e *opError) Error() string { return "dualws: " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }
