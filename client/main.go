// Command dualws is a command-line WebSocket client built on the dualws
// package. It shows every state change of the connection, with the close
// code, reason, clean flag and who closed, and sends each line of its
// standard input as a message.
//
// Usage:
//
//	dualws [flags] ws://host/path
//
// State changes go to standard error, prefixed with the time since start;
// received text messages go to standard output as they are, one per line,
// binary ones as their length and a hex preview (raw with -binary-raw).
// Messages that arrived before a close frame are printed before the
// CLOSING line.
//
// With -json every event is one JSON object per line on standard output,
// with "t" (seconds since start) and "event": "state" (from, to, and on
// CLOSING/CLOSED code, reason, clean, by), "message" (type, len, and text
// or base64), "sent", "subprotocol", "error" (op, error) and last "exit"
// (status). "sent" (type, len) is printed once Send has returned nil, and
// before the echo of that line: no message is printed while a line is
// being sent.
//
// End of input closes the connection with 1000 once every line is sent
// (after -linger, if set, so that replies can arrive). Ctrl-C closes with
// 1000; a second Ctrl-C drops the connection at once, and its final CLOSED
// line (1006) is still printed; if the close handshake had already ended,
// only the wait for the server's end of TCP is cut short, and the close
// stays clean.
//
// With -reconnect the client connects again after a failed dial or a
// dropped connection, as dualws.Redial decides (-backoff-initial,
// -backoff-min and -backoff-max set the delays), and prints
// "reconnecting in 1.3s (attempt 2): <last error>" before each delay;
// standard input goes to the current connection. Ctrl-C stops it, and so
// does the end of input once every line has been handed to a connection (a
// line read while no connection is open keeps it dialing, to send it); the
// exit status is that of the last outcome. A line that a closing connection
// refused (nothing of it was sent) goes first to the next connection, and
// is reported not sent if none comes; a line sent before a drop is not sent
// again, since WebSocket does not tell whether it arrived.
//
// -cacert FILE trusts the CA certificates of a PEM file for wss://, and
// -insecure skips the verification of the server's certificate.
//
// Exit status: 0 the connection closed cleanly with 1000 or 1001, 1 it
// closed with any other code, 2 usage error, 3 the dial failed, 4 the
// connection dropped (1006).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	os.Exit(runSignals(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, sigs))
}
