//go:build !js

package dualws

import (
	"io"
	"net"
	"testing"
)

// heldReader passes a read of the socket up only when released, holding
// the reader between taking bytes from the socket and returning them, as
// a reader that has just woken up with a close frame is.
type heldReader struct {
	sock    io.ReadCloser
	took    chan int
	release chan struct{}
}

func (h *heldReader) Read(p []byte) (int, error) {
	n, err := h.sock.Read(p)
	h.took <- n
	<-h.release
	return n, err
}

func (h *heldReader) Write(p []byte) (int, error) { return len(p), nil }
func (h *heldReader) Close() error                { return h.sock.Close() }

// TestReaderCaughtUpOnlyInAReadEnteredAfterTheBytes: a Read that has taken
// the socket's bytes but not returned them is not caught up, so a Send does
// not go on while the reader has yet to act on a close frame; once the
// reader is back in a Read entered after those bytes, it is (seen failing
// with the byte count taken at the check instead of at the Read's entry).
func TestReaderCaughtUpOnlyInAReadEnteredAfterTheBytes(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	sock := newCountingConn(client)
	held := &heldReader{sock: sock, took: make(chan int), release: make(chan struct{})}
	tc := &trackedConn{rwc: held, socket: sock, entered: make(chan struct{}, 1)}

	reads := make(chan error, 2)
	go func() {
		buf := make([]byte, 64)
		for range 2 {
			_, err := tc.Read(buf)
			reads <- err
		}
	}()
	go server.Write(closeFrameBytes(4000, []byte("bye")))
	n := <-held.took // the reader has the frame's bytes, in its first Read
	target := sock.read.Load()
	if target != int64(n) || n == 0 {
		t.Fatalf("socket count %d after a read of %d bytes", target, n)
	}
	if tc.caughtUp(true, target) {
		t.Fatal("caught up while the Read that took the close frame has not returned it")
	}
	tc.waiting.Store(true)
	held.release <- struct{}{}
	if err := <-reads; err != nil {
		t.Fatal(err)
	}
	<-tc.entered // the second Read, entered after the bytes
	if !tc.caughtUp(true, target) {
		t.Fatal("not caught up in a Read entered after every byte was taken")
	}
	tc.Close()
	<-held.took
	close(held.release)
	<-reads
}
