package dualws

import "time"

// State is the connection state. Its values are the browser's
// WebSocket.readyState numbers, so a trace reads the same on both platforms.
//
// States only move forward: Connecting → Open → Closing → Closed, or
// straight to Closed when no close frame was sent or received (the dial
// failed, the connection dropped, or the protocol was violated).
type State int32

const (
	// Connecting is the state during the opening handshake.
	Connecting State = 0
	// Open means messages can be sent and received.
	Open State = 1
	// Closing means a close frame was sent or received; Send fails.
	Closing State = 2
	// Closed means the connection is gone; CloseStatus is final.
	Closed State = 3
)

// String returns "CONNECTING", "OPEN", "CLOSING" or "CLOSED".
func (s State) String() string {
	switch s {
	case Connecting:
		return "CONNECTING"
	case Open:
		return "OPEN"
	case Closing:
		return "CLOSING"
	case Closed:
		return "CLOSED"
	}
	return "State(" + itoa(int(s)) + ")"
}

// StateChange describes one transition. Status is set on transitions to
// Closing and Closed; it is the zero value otherwise.
type StateChange struct {
	From, To State
	Status   CloseStatus
	At       time.Time
}
