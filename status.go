package dualws

import "unicode/utf8"

// StatusCode is a WebSocket close code (RFC 6455, section 7.4).
type StatusCode int

// Close codes with their RFC 6455 names. Codes 1005, 1006 and 1015 are never
// sent on the wire; they only report what happened.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusRcvd            StatusCode = 1005
	StatusAbnormalClosure         StatusCode = 1006
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	StatusTLSHandshake            StatusCode = 1015
)

// MaxCloseReason is the longest close reason in bytes that Close accepts:
// a control frame carries at most 125 bytes, two of them the code.
const MaxCloseReason = 123

// maxCloseReasonText is MaxCloseReason in decimal, for validateClose's
// message without a second itoa in the bundle.
const maxCloseReasonText = "123"

// String returns the code's number, followed by its RFC name when it has one.
func (c StatusCode) String() string {
	s := itoa(int(c))
	if name := c.name(); name != "" {
		s += " (" + name + ")"
	}
	return s
}

func (c StatusCode) name() string {
	if c >= 1000 && int(c-1000) < len(statusNames) {
		return statusNames[c-1000]
	}
	return ""
}

// statusNames holds the RFC names of codes 1000 to 1015, "" where none:
// a table is smaller in the browser bundle than a switch.
var statusNames = [...]string{
	StatusNormalClosure - 1000:           "normal closure",
	StatusGoingAway - 1000:               "going away",
	StatusProtocolError - 1000:           "protocol error",
	StatusUnsupportedData - 1000:         "unsupported data",
	StatusNoStatusRcvd - 1000:            "no status received",
	StatusAbnormalClosure - 1000:         "abnormal closure",
	StatusInvalidFramePayloadData - 1000: "invalid frame payload data",
	StatusPolicyViolation - 1000:         "policy violation",
	StatusMessageTooBig - 1000:           "message too big",
	StatusMandatoryExtension - 1000:      "mandatory extension",
	StatusInternalError - 1000:           "internal error",
	StatusServiceRestart - 1000:          "service restart",
	StatusTryAgainLater - 1000:           "try again later",
	StatusBadGateway - 1000:              "bad gateway",
	StatusTLSHandshake - 1000:            "TLS handshake",
}

// CloseStatus is how a connection ended, or is ending.
type CloseStatus struct {
	// Code is the close code: the peer's when it closed first, the one
	// passed to Close when the client did, 1006 when the connection dropped
	// or the close handshake timed out, 1005 when the peer's close frame had
	// no code.
	Code StatusCode
	// Reason is the close reason that goes with Code.
	Reason string
	// WasClean reports whether close frames were exchanged in both
	// directions before the connection ended.
	WasClean bool
	// Remote reports whether the peer closed or the connection dropped,
	// as opposed to the client deciding to close.
	Remote bool
}

// ClosedBy names who ended the connection: "server" when the peer sent
// the close frame, "network" when the connection dropped without one, and
// "client" when this side decided (Close, a close or keepalive timeout, a
// message over ReadLimit).
func (s CloseStatus) ClosedBy() string {
	switch {
	case s.Remote && s.Code == StatusAbnormalClosure:
		return "network"
	case s.Remote:
		return "server"
	}
	return "client"
}

// validateClose applies the browser's rule to a close requested by the
// application: code 1000 or 3000–4999, and a UTF-8 reason of at most 123
// bytes. Natively the same rule holds, so that both platforms agree.
func validateClose(code StatusCode, reason string) error {
	var msg string
	switch {
	case code != StatusNormalClosure && (code < 3000 || code > 4999):
		msg = "close code " + itoa(int(code)) + " is not allowed: use 1000 or 3000-4999 (what browsers accept)"
	case len(reason) > MaxCloseReason:
		msg = "close reason is " + itoa(len(reason)) + " bytes, at most " + maxCloseReasonText + " are allowed"
	case !utf8.Valid([]byte(reason)): // not ValidString: Send links Valid, and one is enough in the bundle
		msg = "close reason is not valid UTF-8"
	default:
		return nil
	}
	return &UsageError{Op: "close", Msg: msg}
}

// itoa formats i in decimal; smaller in the bundle than strconv.
func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	u := uint64(i)
	if neg {
		u = uint64(-i)
	}
	for u > 0 {
		n--
		b[n] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

// peerWireCode reports whether a peer may send code in its close frame
// (RFC 6455 7.4; coder/websocket's validWireCloseCode): 1000-1014 but for
// 1004-1006, and 3000-4999. Natively coder/websocket fails the connection
// on another; browsers differ (machine.closeEvent).
func peerWireCode(code StatusCode) bool {
	switch code {
	case 1004, StatusNoStatusRcvd, StatusAbnormalClosure:
		return false
	}
	return code >= 1000 && code <= 1014 || code >= 3000 && code <= 4999
}
