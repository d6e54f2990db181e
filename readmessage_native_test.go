//go:build !js

package dualws

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadMessageInOneFrame: while no message has come in fragments, a
// Read short of the scratch buffer ends the message, as coder/websocket
// reads a frame's payload whole: no second Read for its io.EOF. One that
// fills the buffer reads on. (Seen failing without: two Reads, and two of
// coder/websocket's locks, per small message.)
func TestReadMessageInOneFrame(t *testing.T) {
	d := &nativeConn{c: &Client{cfg: settings{readLimit: 5000}}, raw: &trackedConn{}}
	for _, n := range []int{1, 32, 511, 512, 513, 2000} {
		msg := bytes.Repeat([]byte{7}, n)
		r := &frameReader{payload: msg}
		got, err := d.readMessage(r, 0)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("size %d: got %d bytes, err %v", n, len(got), err)
		}
		if n < len(d.scratch) && r.reads != 1 {
			t.Errorf("size %d: %d Reads, want 1", n, r.reads)
		}
	}
}

// frameReader returns a frame's payload as coder/websocket does: as much
// as asked for, up to the end, then io.EOF on the next Read.
type frameReader struct {
	payload []byte
	reads   int
}

func (r *frameReader) Read(p []byte) (int, error) {
	r.reads++
	if len(r.payload) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.payload)
	r.payload = r.payload[n:]
	return n, nil
}

// TestReadMessage: every size comes back whole, through readers that
// return everything at once or one byte at a time; messages that fit the
// scratch buffer come back in a slice of their own size; one byte over
// the read limit is errTooBig.
func TestReadMessage(t *testing.T) {
	const limit = 5000
	d := &nativeConn{c: &Client{cfg: settings{readLimit: limit}}, raw: &trackedConn{}}
	d.raw.failed.Or(fragmentsCame) // short reads: a message may end only at io.EOF
	for _, n := range []int{0, 1, 32, 511, 512, 513, 1023, 1024, 1025, 2048, 4999, 5000, 5001} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i*7 + 1)
		}
		// A size from the frame header is only a capacity hint: a wrong
		// one still reads the message whole.
		for _, c := range []struct {
			oneByte bool
			size    int
		}{{false, 0}, {true, 0}, {false, n}, {true, n}, {false, n/2 + 1}, {false, 2*n + 1}} {
			oneByte := c.oneByte
			var r = iotest.DataErrReader(bytes.NewReader(msg)) // the last bytes come with io.EOF, as coder/websocket does
			if oneByte {
				r = iotest.OneByteReader(bytes.NewReader(msg))
			}
			got, err := d.readMessage(r, c.size)
			if n > limit {
				if !errors.Is(err, errTooBig) {
					t.Errorf("size %d (one byte at a time %v): err %v, want errTooBig", n, oneByte, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("size %d (one byte at a time %v, hint %d): got %d bytes, err %v", n, oneByte, c.size, len(got), err)
				continue
			}
			if (c.size == 0 && n <= len(d.scratch) || c.size == n) && cap(got) != n {
				t.Errorf("size %d (hint %d): a slice of capacity %d, want its size", n, c.size, cap(got))
			}
			if got == nil {
				t.Errorf("size %d: nil slice", n)
			}
		}
	}
	// A read error inside a message is returned.
	boom := errors.New("boom")
	if _, err := d.readMessage(iotest.ErrReader(boom), 0); !errors.Is(err, boom) {
		t.Errorf("read error: %v, want boom", err)
	}
	if _, err := d.readMessage(iotest.TimeoutReader(bytes.NewReader(make([]byte, 600))), 0); !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("read error after the scratch buffer: %v, want ErrTimeout", err)
	}
}
