package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/dualws/dualws"
)

// With -json, a Send in progress holds the printing of what arrives, not
// the receiving of it: a peer that writes 16 MiB before it reads the
// client's 8 MiB line is read meanwhile. Blocking the receive loop for the
// Send filled the client's receive queue, which stopped its reading, and
// both sides waited for each other.
func TestJSONLongSendWhileThePeerWritesFirst(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(16 << 20)
		chunk := make([]byte, 64<<10)
		for range 256 {
			if c.Write(r.Context(), websocket.MessageBinary, chunk) != nil {
				return
			}
		}
		if _, _, err := c.Read(r.Context()); err != nil {
			return
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer ts.Close()
	s := start(t, "-json", "ws"+strings.TrimPrefix(ts.URL, "http"))
	go func() {
		io.WriteString(s.stdin, strings.Repeat("x", 8<<20)+"\n")
	}()
	s.expectExit(t, exitClean)
	out := s.stdout.String()
	if n := strings.Count(out, `"event":"message"`); n != 256 {
		t.Errorf("%d messages printed, want 256", n)
	}
	if !strings.Contains(out, `"event":"sent"`) {
		t.Error("no sent event")
	}
}

// The messages held during a Send are bounded in bytes as well as in
// count: of 40 messages of 1 MiB during one Send, at most 16 MiB are held
// at a time, and what was held is printed, in order, when the next would
// pass the bound (1024 of them held up to 1.4 GB of base64).
func TestJSONHeldMessagesAreBounded(t *testing.T) {
	out := newSyncBuffer()
	p := newPrinter(time.Now(), out, io.Discard, &config{json: true})
	big := make([]byte, 1<<20)
	p.send(dualws.Binary, 1, func() error {
		for range 40 {
			p.message(dualws.Binary, big)
			if p.heldBytes > maxHeldBytes {
				t.Fatalf("%d bytes held, at most %d", p.heldBytes, maxHeldBytes)
			}
		}
		return nil
	})
	before, after, sent := 0, 0, false
	for _, l := range lines(out.String()) {
		switch {
		case strings.Contains(l, `"event":"sent"`):
			sent = true
		case !strings.Contains(l, `"event":"message"`):
		case sent:
			after++
		default:
			before++
		}
	}
	if before+after != 40 || after == 0 || after > maxHeldBytes>>20 {
		t.Errorf("%d messages printed before \"sent\" and %d after, want 40 in all, at most %d after", before, after, maxHeldBytes>>20)
	}
}
